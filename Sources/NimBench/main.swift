import Foundation
import KubeCore
import Reconciler

/// `swift run -c release nim-bench catalog ...`: see CatalogBench; `nim-bench soak ...`: SoakBench.
///
/// `swift run -c release nim-bench [--deployments N] [--namespaces M] [--concurrency W] [--rotations R] [--settle-ms MS]
/// [--plain-writer 0|1] [--unrelated-secrets S]`
///
/// First the limit: a plain writer doing the operator's writes for N deployments (PlainWriterBench).
/// Then the operator, as its own process, against the local control plane (with the NGC and KServe
/// stand-ins answering at once): N NimDeployments applied together beside S unrelated Secrets
/// (convergence and its ratio to the limit, CPU, requests, resync, restart and its first
/// reconcile, memory and the caches' bytes), then R key rotations one after the other on a
/// deployment of its own while the N are still managed (latency from the Secret written to the
/// restart token written).
struct Bench {
    var deployments = 1000
    var namespaces = 10
    var concurrency = 16
    var rotations = 50
    var settleMilliseconds = Int(ReconcilerOptions.defaultKeyRotationSettle * 1000)
    var timeout: TimeInterval = 300
    /// Secrets in the watched namespaces that are not the operator's (default: five a deployment).
    var unrelatedSecrets: Int?
    /// Run the plain writer (the limit) before the operator, for the ratio.
    var plainWriter = true

    static func main() async {
        if CommandLine.arguments.dropFirst().first == "catalog" {
            exit(await CatalogBench.main(CommandLine.arguments.dropFirst(2)))
        }
        if CommandLine.arguments.dropFirst().first == "json" {
            exit(JSONBench.main(CommandLine.arguments.dropFirst(2)))
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
            case ("--unrelated-secrets", let n?) where n >= 0: bench.unrelatedSecrets = n
            case ("--plain-writer", let n?) where n == 0 || n == 1: bench.plainWriter = n == 1
            default:
                print("usage: nim-bench [--deployments N] [--namespaces M] [--concurrency W] [--rotations R] [--settle-ms MS] [--timeout SECONDS] [--plain-writer 0|1] [--unrelated-secrets N]")
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
        var limit: PlainWriterBench.Run?
        if plainWriter {
            let (best, runs) = try await PlainWriterBench(root: root, deployments: deployments, namespaces: namespaces).run()
            print("plain writer (the limit): " + runs.map { String(format: "%d writes by %d writers in %.2f s (%.2f s of CPU)", $0.writes, $0.writers, $0.seconds, $0.planeSeconds) }.joined(separator: "; "))
            print("  requests while the fastest wrote: " + best.requests)
            limit = best
        }
        let world = try BenchWorld(root: root, expectedObjects: deployments + rotations)
        defer { world.stop() }
        let start = { try OperatorProcess(binary: operatorBinary, kubeconfig: world.kubeconfig, ngc: world.ngc.baseURL, concurrency: concurrency, settleMilliseconds: settleMilliseconds) }
        var process = try start()
        try await process.waitReady(timeout: 60)
        defer {
            kill(process.pid, SIGTERM)
            process.process.waitUntilExit()
        }
        try await ScaleBench(world: world, deployments: deployments, namespaces: namespaces, unrelatedSecrets: unrelatedSecrets ?? 5 * deployments, timeout: timeout, start: start, limit: limit).run(&process)
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

    /// The operator linked as its image links it (`--static-swift-stdlib`, see Containerfile),
    /// since the RSS this benchmark reports is the one a cluster would see: the shared Swift
    /// runtime and Foundation cost about 10 MB more of resident code pages. Built now, in its own
    /// scratch path, if missing or older than the sources.
    static func operatorBinary(root: URL) throws -> String {
        if let given = ProcessInfo.processInfo.environment["NIM_BENCH_OPERATOR"] { return given }
        let scratch = root.appendingPathComponent(".build/image")
        let binary = scratch.appendingPathComponent("release/nim-deploy-operator").path
        if FileManager.default.isExecutableFile(atPath: binary), let built = modified(binary), newestSource(root) < built { return binary }
        print("nim-bench: building nim-deploy-operator (release, static Swift runtime, in \(scratch.path))")
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        build.arguments = ["swift", "build", "-c", "release", "--product", "nim-deploy-operator", "--static-swift-stdlib", "--scratch-path", scratch.path]
        build.currentDirectoryURL = root
        try build.run()
        build.waitUntilExit()
        guard build.terminationStatus == 0, FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchFailure(description: "could not build nim-deploy-operator at \(binary)")
        }
        return binary
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
