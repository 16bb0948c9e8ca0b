import Foundation
import KubeCore
import KubeAPI
import LocalControlPlane
import Reconciler
import StandIns
import NimDeployManager

/// `demo`: the product with no cluster. A Kubernetes API server in this process, the CRDs
/// (NimDeployment and KServe's), a model catalog, local stand-ins for the NGC API and for
/// KServe, the samples from config/samples, the operator converging them, then what exists and
/// each deployment's status.
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
    static let operatorNamespace = "nim-deploy-operator-system"
    /// A key the NGC stand-in accepts (any `nvapi-` key it has not been told to reject).
    static let demoKey = "nvapi-demo-0123456789abcdef"

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

    struct DemoError: Error, CustomStringConvertible {
        var description: String
    }

    static func execute(_ demo: Options) async -> Int32 {
        Logger.sink.level = demo.logLevel
        var planeOptions = LocalControlPlane.Options()
        planeOptions.port = demo.port
        let plane = LocalControlPlane(options: planeOptions)
        let ngc: NGCStandIn
        let url: String
        do {
            url = try plane.start()
            try plane.kubeconfig(namespace: "team-a").write(toFile: demo.kubeconfigPath, atomically: true, encoding: .utf8)
            let (catalog, source) = try installBasics(plane)
            StandardStreams.say("Model catalog:       \(source) (\(catalog.entries.count) models)")
            ngc = NGCStandIn(catalog: catalog)
            try ngc.start()
        } catch {
            StandardStreams.say("demo: cannot set up: \(error)")
            return 1
        }
        defer {
            ngc.stop()
            plane.stop()
        }
        StandardStreams.say("Local control plane: \(url)   (kubectl: KUBECONFIG=\(demo.kubeconfigPath) kubectl get nimdeployments)")
        StandardStreams.say("NGC API stand-in:    \(ngc.baseURL)\n")

        let metrics = MetricsRegistry()
        var client = ClientConfiguration(server: url, source: "local control plane")
        client.userAgent = "nim-deploy-operator"
        client.dropsManagedFields = true
        let operatorClient = KubeClient(configuration: client, metrics: metrics)
        var options = OperatorOptions()
        options.ngcAPIURL = ngc.baseURL
        options.logLevel = demo.logLevel
        guard let (nim, parts) = await OperatorAssembly.build(client: operatorClient, options: options, operatorNamespace: operatorNamespace, metrics: metrics) else { return 1 }
        let manager = Manager(client: operatorClient, options: options, operatorNamespace: operatorNamespace, probes: nil)
        // The NIMs behind the InferenceServices' addresses, for the operator's verification.
        let models: ModelStandIn
        do { models = try ModelStandIn() } catch {
            StandardStreams.say("demo: cannot start the model stand-in: \(error)")
            return 1
        }
        defer { models.stop() }
        let kserve = KServeStandIn(client: KubeClient(configuration: ClientConfiguration(server: url, source: "kserve stand-in")), models: models)
        let running = Task { await manager.run(parts) }
        let standIn = Task { await kserve.run() }
        defer {
            running.cancel()
            standIn.cancel()
        }

        var user = ClientConfiguration(server: url, source: "demo user")
        user.userAgent = "kubectl"
        let userClient = KubeClient(configuration: user)
        do {
            let samples = try await applySamples(userClient)
            let converged = try await waitForReady(userClient, samples: samples, timeout: demo.timeout)
            StandardStreams.say(try await report(userClient, nim: nim))
            if demo.once { return converged ? 0 : 1 }
        } catch {
            StandardStreams.say("demo: \(error)")
            return 1
        }
        StandardStreams.say("Running; Ctrl-C to stop. Try: KUBECONFIG=\(demo.kubeconfigPath) kubectl edit nimd llama")
        // Ctrl-C cancels this task; the manager's and the stand-in's are their own, so they are
        // told here (the manager drains in flight reconciles and returns at once when idle).
        await withTaskCancellationHandler {
            _ = await running.value
        } onCancel: {
            running.cancel()
            standIn.cancel()
        }
        StandardStreams.say("demo: stopped")
        return 0
    }

    /// CRDs, namespaces, the catalog and the user's key Secret. Returns the catalog installed
    /// and where it came from.
    static func installBasics(_ plane: LocalControlPlane) throws -> (ModelCatalog, String) {
        guard let crd = Manifests.config("crd/bases/nim.opendatahub.io_nimdeployments.yaml") else {
            throw DemoError(description: "config/crd/bases is not here: run the demo from the repository (scripts/demo)")
        }
        try plane.apply(try Manifests.documents(crd))
        var kserve: [JSON] = []
        for file in ["serving.kserve.io_servingruntimes.yaml", "serving.kserve.io_inferenceservices.yaml"] {
            if let full = Manifests.shared("crds/full/\(file)") { kserve.append(contentsOf: try Manifests.documents(full)) }
        }
        if kserve.count < 2, let minimal = Manifests.config("demo/kserve-crds.yaml") { kserve = try Manifests.documents(minimal) }
        try plane.apply(kserve)
        for namespace in [operatorNamespace, "team-a"] {
            try plane.apply([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]]])
        }
        // The release's catalog (config/catalog), else the workplace's generated one, else a
        // small one.
        var catalogMap: JSON
        let source: String
        if let release = Manifests.config("catalog/nim-model-metadata.yaml"), let document = try Manifests.documents(release).first {
            (catalogMap, source) = (document, "config/catalog/nim-model-metadata.yaml")
        } else if let real = Manifests.shared("ngc/nim-models-data.yaml"), let document = try Manifests.documents(real).first {
            (catalogMap, source) = (document, real.path)
        } else if let small = Manifests.config("demo/nim-model-metadata.yaml"), let document = try Manifests.documents(small).first {
            (catalogMap, source) = (document, "config/demo/nim-model-metadata.yaml (a small fallback)")
        } else {
            throw DemoError(description: "no model catalog found (config/demo/nim-model-metadata.yaml)")
        }
        catalogMap[path: ["metadata", "name"]] = "nim-model-metadata"
        catalogMap[path: ["metadata", "namespace"]] = .string(operatorNamespace)
        try plane.apply([catalogMap])
        try plane.apply([[
            "apiVersion": "v1", "kind": "Secret", "metadata": ["name": "my-ngc-key", "namespace": "team-a"], "type": "Opaque",
            "data": ["NGC_API_KEY": .string(Data(demoKey.utf8).base64EncodedString())],
        ]])
        return (ModelCatalog.parse(configMap: KubeObject(catalogMap)).catalog, source)
    }

    static func applySamples(_ client: KubeClient) async throws -> [ObjectKey] {
        var keys: [ObjectKey] = []
        for name in ["nim_v1alpha1_nimdeployment_minimal.yaml", "nim_v1alpha1_nimdeployment_full.yaml"] {
            guard let file = Manifests.config("samples/\(name)") else { throw DemoError(description: "config/samples/\(name) is missing") }
            for document in try Manifests.documents(file) {
                let applied = try await client.apply(KubeObject(document), NimDeployment.resource, fieldManager: "kubectl")
                keys.append(applied.key)
            }
        }
        return keys
    }

    /// Waits until every sample reports Ready=True, or the timeout.
    static func waitForReady(_ client: KubeClient, samples: [ObjectKey], timeout: TimeInterval) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var ready = 0
            for key in samples {
                let object = try? await client.get(NimDeployment.resource, namespace: key.namespace, name: key.name)
                let conditions = object?[dotted: "status.conditions"]?.arrayValue ?? []
                if conditions.contains(where: { $0["type"] == "Ready" && $0["status"] == "True" }) { ready += 1 }
            }
            if ready == samples.count { return true }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return false
    }

    static func report(_ client: KubeClient, nim: NimOperator) async throws -> String {
        var text = "$ kubectl get nimdeployments -A\n" + (try await TableView.render(client, NimDeployment.resource)) + "\n"
        text += "$ kubectl get secrets,pvc,servingruntimes,inferenceservices -n team-a\n"
        for resource in [ResourceType.secrets, .persistentVolumeClaims, KServe.servingRuntimes, KServe.inferenceServices] {
            text += try await TableView.render(client, resource, namespace: "team-a") + "\n"
        }
        for deployment in try await client.list(NimDeployment.resource).items {
            text += "NimDeployment \(deployment.namespace ?? "")/\(deployment.name): image \(deployment[dotted: "status.image"]?.stringValue ?? "-"), key \(deployment[dotted: "status.keyFingerprint"]?.stringValue ?? "-"), url \(deployment[dotted: "status.url"]?.stringValue ?? "-")\n"
            for condition in deployment[dotted: "status.conditions"]?.arrayValue ?? [] {
                let type = (condition["type"]?.stringValue ?? "").padding(toLength: 22, withPad: " ", startingAt: 0)
                let status = (condition["status"]?.stringValue ?? "").padding(toLength: 8, withPad: " ", startingAt: 0)
                text += "  \(type) \(status) \(condition["reason"]?.stringValue ?? ""): \(condition["message"]?.stringValue ?? "")\n"
            }
        }
        return text
    }
}
