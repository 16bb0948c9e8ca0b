import Foundation
import KubeCore
import Reconciler

/// `swift run -c release nim-bench catalog ...`: see CatalogBench; `nim-bench soak ...`: SoakBench.
///
/// `swift run -c release nim-bench [--deployments N] [--namespaces M] [--concurrency W] [--rotations R] [--settle-ms MS]`
///
/// The operator, as its own process, against the local control plane (with the NGC and KServe
/// stand-ins answering at once): first N NimDeployments applied together (convergence, requests,
/// resync, restart, memory), then R key rotations one after the other on a deployment of its own
/// while the N are still managed (latency from the Secret written to the restart token written).
struct Bench {
    var deployments = 1000
    var namespaces = 10
    var concurrency = 4
    var rotations = 50
    var settleMilliseconds = Int(ReconcilerOptions.defaultKeyRotationSettle * 1000)
    var timeout: TimeInterval = 300

    static func main() async {
        if CommandLine.arguments.dropFirst().first == "catalog" {
            exit(await CatalogBench.main(CommandLine.arguments.dropFirst(2)))
        }
        if CommandLine.arguments.dropFirst().first == "soak" {
            exit(await SoakBench.main(CommandLine.arguments.dropFirst(2)))
        }
        var bench = Bench()
        var arguments = CommandLine.arguments.dropFirst()
        while let flag = arguments.popFirst() {
            let value = arguments.popFirst().flatMap(Int.init)
            switch (flag, value) {
            case ("--deployments", let n?) where n > 0: bench.deployments = n
            case ("--namespaces", let n?) where n > 0: bench.namespaces = n
            case ("--concurrency", let n?) where n > 0: bench.concurrency = n
            case ("--rotations", let n?) where n >= 0: bench.rotations = n
            case ("--settle-ms", let n?) where n >= 0: bench.settleMilliseconds = n
            case ("--timeout", let n?) where n > 0: bench.timeout = TimeInterval(n)
            default:
                print("usage: nim-bench [--deployments N] [--namespaces M] [--concurrency W] [--rotations R] [--settle-ms MS] [--timeout SECONDS]")
                exit(2)
            }
        }
        do {
            try await bench.run()
            exit(0)
        } catch {
            print("nim-bench: \(error)")
            exit(1)
        }
    }

    func run() async throws {
        Logger.sink.level = .error
        let root = Self.packageRoot()
        let operatorBinary = try Self.operatorBinary(root: root)
        print("nim-bench: \(deployments) NimDeployments in \(namespaces) namespaces, \(concurrency) workers, \(rotations) rotations, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let world = try BenchWorld(root: root, expectedObjects: deployments + rotations)
        defer { world.stop() }
        let start = { try OperatorProcess(binary: operatorBinary, kubeconfig: world.kubeconfig, ngc: world.ngc.baseURL, concurrency: concurrency, settleMilliseconds: settleMilliseconds) }
        var process = try start()
        try await process.waitReady(timeout: 60)
        defer {
            kill(process.pid, SIGTERM)
            process.process.waitUntilExit()
        }
        try await ScaleBench(world: world, deployments: deployments, namespaces: namespaces, timeout: timeout, start: start).run(&process)
        if rotations > 0 { try await RotationBench(world: world, rotations: rotations, settleMilliseconds: settleMilliseconds, timeout: timeout).run(process) }
    }

    static func packageRoot() -> URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }

    /// The operator built with the same configuration as this benchmark, built now if missing
    /// or older than the sources (`swift run nim-bench` builds only the benchmark).
    static func operatorBinary(root: URL) throws -> String {
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("nim-deploy-operator").path
        if FileManager.default.isExecutableFile(atPath: sibling), let built = modified(sibling), newestSource(root) < built { return sibling }
        print("nim-bench: building nim-deploy-operator (release)")
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        build.arguments = ["swift", "build", "-c", "release", "--product", "nim-deploy-operator"]
        build.currentDirectoryURL = root
        try build.run()
        build.waitUntilExit()
        guard build.terminationStatus == 0, FileManager.default.isExecutableFile(atPath: sibling) else {
            throw BenchFailure(description: "could not build nim-deploy-operator at \(sibling)")
        }
        return sibling
    }

    static func modified(_ path: String) -> Date? { (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date }

    static func newestSource(_ root: URL) -> Date {
        let sources = root.appendingPathComponent("Sources")
        var newest = Date.distantPast
        guard let files = FileManager.default.enumerator(atPath: sources.path) else { return newest }
        for case let file as String in files {
            if let date = modified(sources.appendingPathComponent(file).path), date > newest { newest = date }
        }
        return newest
    }
}

await Bench.main()
