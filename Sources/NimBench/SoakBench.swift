import Foundation
import KubeCore
import KubeRuntime
import Reconciler

/// `swift run -c release nim-bench soak [--deployments 1000] [--warmup 10] [--minutes 10] [--rate 5]`
///
/// The operator under steady change for a long time: N deployments converged, then `rate`
/// changes a second (a key rotation or a spec edit, alternating) for the warm-up and then the
/// judged minutes. Every 30 s it samples the operator's RSS, threads, open file descriptors and
/// work queue depth; at the end all must be Ready with the queue drained, and RSS, threads and
/// descriptors must be flat over the judged minutes (their last third no higher than their first
/// third, with 10 % slack for RSS). The warm-up is the operator's longest window of per-change
/// state, Event aggregation's 10 minutes: until it has passed, that state fills by design.
struct SoakBench {
    var deployments = 1000
    var namespaces = 10
    var warmup = EventRecorder.aggregationWindow / 60
    var minutes = 10.0
    var rate = 5.0

    struct Sample {
        var seconds: Double
        var rss: Double
        var threads: Int
        var descriptors: Int
        var depth: Double
    }

    static func main(_ arguments: ArraySlice<String>) async -> Int32 {
        var bench = SoakBench()
        var arguments = arguments
        while let flag = arguments.popFirst() {
            let value = arguments.popFirst().flatMap(Double.init)
            switch (flag, value) {
            case ("--deployments", let n?) where n >= 1 && n.isFinite: bench.deployments = Int(n)
            case ("--minutes", let n?) where n >= 1.5 && n.isFinite: bench.minutes = n
            case ("--warmup", let n?) where n >= 0 && n.isFinite: bench.warmup = n
            case ("--rate", let n?) where n > 0 && n.isFinite: bench.rate = n
            default:
                // At least 1.5 judged minutes: three samples, so the first and last thirds differ.
                print("usage: nim-bench soak [--deployments N] [--warmup MINUTES] [--minutes MINUTES (>= 1.5)] [--rate CHANGES_PER_SECOND]")
                return 2
            }
        }
        do {
            return try await bench.run() ? 0 : 1
        } catch {
            print("nim-bench soak: \(error)")
            return 1
        }
    }

    func run() async throws -> Bool {
        Logger.sink.level = .error
        let root = Bench.packageRoot()
        let binary = try Bench.operatorBinary(root: root)
        let world = try BenchWorld(root: root, expectedObjects: deployments + Int((warmup + minutes) * 60 * rate) * 3)
        defer { world.stop() }
        var process = try OperatorProcess(binary: binary, kubeconfig: world.kubeconfig, ngc: world.ngc.baseURL, concurrency: 16, settleMilliseconds: 0)
        try await process.waitReady(timeout: 60)
        defer {
            kill(process.pid, SIGTERM)
            process.process.waitUntilExit()
        }
        print("nim-bench soak: \(deployments) deployments, \(rate) changes/s for \(warmup) min of warm-up and \(minutes) min judged, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let names = (0..<namespaces).map { "soak-\($0)" }
        for (index, namespace) in names.enumerated() {
            try world.createNamespace(namespace)
            for secret in 0..<10 { try world.createKeySecret("key-\(secret)", namespace: namespace, key: "nvapi-soak-\(index)-\(secret)-0") }
        }
        let watcher = Informer(client: world.client, resource: NimDeployment.resource, namespaces: names)
        let progress = DeploymentProgress(watcher, expected: deployments)
        let watching = Task { await watcher.run() }
        defer { watching.cancel() }
        await watcher.waitForSync()
        for index in 0..<deployments {
            try await world.deploy("soak-\(index)", namespace: names[index % names.count], model: "llama-3.1-8b-instruct", secret: "key-\(index / names.count % 10)")
        }
        try await waitUntil(timeout: 600, "all Ready") { progress.ready == deployments }
        print("converged; changing \(rate)/s")

        var random = SystemRandomNumberGenerator()
        var samples: [Sample] = []
        let began = Date()
        let judgedFrom = warmup * 60
        let end = began.addingTimeInterval((warmup + minutes) * 60)
        var nextSample = began
        var changes = 0
        while Date() < end {
            let due = began.addingTimeInterval(Double(changes) / rate)
            if due > Date() { try await Task.sleep(nanoseconds: UInt64(due.timeIntervalSinceNow * 1e9)) }
            let slot = Int.random(in: 0..<names.count, using: &random)
            let namespace = names[slot]
            if changes % 2 == 0 {
                try world.createKeySecret("key-\(Int.random(in: 0..<10, using: &random))", namespace: namespace, key: "nvapi-soak-rotated-\(changes)-0")
            } else {
                let index = min(deployments - 1, Int.random(in: 0..<max(1, deployments / names.count), using: &random) * names.count + slot)
                _ = try await world.client.patch(
                    NimDeployment.resource, namespace: namespace, name: "soak-\(index)", .merge(["spec": ["replicas": ["min": 1, "max": .int(2 + changes % 5)]]]))
            }
            changes += 1
            if Date() >= nextSample {
                samples.append(try await sample(process, since: began))
                let last = samples[samples.count - 1]
                let line = String(format: "  %5.0f s  RSS %6.1f MB  threads %3d  fds %4d  queue %5.0f", last.seconds, last.rss / 1_048_576, last.threads, last.descriptors, last.depth)
                print(line + (last.seconds < judgedFrom ? "  (warm-up)" : ""))
                nextSample = nextSample.addingTimeInterval(30)
            }
        }
        try await waitUntil(timeout: 600, "all Ready after the soak") { progress.ready == deployments }
        try await waitUntil(timeout: 120, "the queue drained") { (try? await process.queueDepth()) == 0 }
        let final = try await sample(process, since: began)
        samples.append(final)
        print(String(format: "after: %d changes; all Ready; queue drained; RSS %.1f MB, threads %d, fds %d", changes, final.rss / 1_048_576, final.threads, final.descriptors))

        // Flat: the judged samples' last third against their first third.
        let judged = samples.filter { $0.seconds >= judgedFrom }
        let third = max(1, judged.count / 3)
        let early = judged.prefix(third)
        let late = judged.suffix(third)
        let rssFlat = (late.map(\.rss).max() ?? 0) <= (early.map(\.rss).max() ?? 0) * 1.10
        let threadsFlat = (late.map(\.threads).max() ?? 0) <= (early.map(\.threads).max() ?? 0) + 2
        let descriptorsFlat = (late.map(\.descriptors).max() ?? 0) <= (early.map(\.descriptors).max() ?? 0) + 4
        print("flat: RSS \(rssFlat ? "yes" : "NO"), threads \(threadsFlat ? "yes" : "NO"), descriptors \(descriptorsFlat ? "yes" : "NO")")
        return rssFlat && threadsFlat && descriptorsFlat
    }

    func sample(_ process: OperatorProcess, since began: Date) async throws -> Sample {
        let status = process.status()
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd").count) ?? 0
        return Sample(
            seconds: Date().timeIntervalSince(began), rss: status["VmRSS"] ?? 0, threads: Int(status["Threads"] ?? 0), descriptors: descriptors,
            depth: try await process.queueDepth())
    }
}
