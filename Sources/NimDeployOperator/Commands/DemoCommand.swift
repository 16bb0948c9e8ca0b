import Foundation
import KubeWatch
import LocalControlPlane

/// `demo`: the operator on a control plane in this process, no cluster needed.
enum DemoCommand {
    struct Options: Sendable {
        var once = false
        var port: UInt16 = 0
        var kubeconfigPath = "demo.kubeconfig"
        var timeout: TimeInterval = 60
        var logLevel = Logger.Level.warn
    }

    static let valueFlags: Set<String> = ["port", "kubeconfig-out", "timeout", "log-level"]
    static let switchFlags: Set<String> = ["once", "help"]

    static func options(_ arguments: Arguments) throws(Arguments.UsageError) -> Options {
        var options = Options()
        options.once = arguments.flag("once")
        options.port = UInt16(try arguments.integer("port", default: 0, range: 0...65535))
        options.kubeconfigPath = arguments.value("kubeconfig-out") ?? options.kubeconfigPath
        options.timeout = TimeInterval(try arguments.integer("timeout", default: 60, range: 1...3600))
        if let level = arguments.value("log-level") {
            guard let parsed = Logger.Level(name: level) else { throw Arguments.UsageError(message: "--log-level must be debug, info, warn or error") }
            options.logLevel = parsed
        }
        return options
    }

    static func execute(_ demo: Options) async -> Int32 {
        Logger.sink.level = demo.logLevel
        var planeOptions = LocalControlPlane.Options()
        planeOptions.port = demo.port
        let plane = LocalControlPlane(options: planeOptions)
        let url: String
        do {
            url = try plane.start()
            try plane.kubeconfig(namespace: "default").write(toFile: demo.kubeconfigPath, atomically: true, encoding: .utf8)
        } catch {
            print("demo: cannot start the local control plane: \(error)")
            return 1
        }
        defer { plane.stop() }
        print("Local control plane: \(url)")
        print("kubectl:             KUBECONFIG=\(demo.kubeconfigPath) kubectl get namespaces\n")

        var options = OperatorOptions()
        options.logLevel = demo.logLevel
        let metrics = MetricsRegistry()
        let client = KubeClient(configuration: ClientConfiguration(server: url, source: "local control plane"), metrics: metrics)
        let parts = OperatorAssembly.parts(client: client, options: options, operatorNamespace: "nim-deploy-operator-system", metrics: metrics)
        let manager = Manager(client: client, options: options, operatorNamespace: "nim-deploy-operator-system", probes: nil)
        let running = Task { await manager.run(parts) }
        defer { running.cancel() }

        do {
            for name in ["nim-deploy-operator-system", "team-a"] {
                _ = try await client.apply(KubeObject(apiVersion: "v1", kind: "Namespace", namespace: nil, name: name), .namespaces, fieldManager: "demo")
            }
            let deadline = Date().addingTimeInterval(demo.timeout)
            for informer in parts.informers {
                while !informer.hasSynced {
                    guard Date() < deadline else {
                        print("demo: not converged within \(Int(demo.timeout)) s")
                        return 1
                    }
                    try await Task.sleep(nanoseconds: 20_000_000)
                }
            }
            print(try await TableView.render(client, .namespaces))
        } catch {
            print("demo: \(error)")
            return 1
        }
        if demo.once { return 0 }
        print("Running; Ctrl-C to stop.")
        _ = await running.value
        return 0
    }
}
