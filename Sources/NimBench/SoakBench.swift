import Foundation
import KubeWatch
import Reconciler

/// `swift run -c release nim-bench soak [--deployments 1000] [--minutes 10] [--rate 5]`
///
/// The operator under steady change for a long time: N deployments converged, then `rate`
/// changes a second (a key rotation or a spec edit, alternating) for the duration. Every 30 s it
/// samples the operator's RSS, threads, open file descriptors and work queue depth; at the end
/// all must be Ready with the queue drained, and RSS, threads and descriptors must be flat
/// (the last third of the run no higher than the first third, with 10 % slack for RSS).
struct SoakBench {
    var deployments = 1000
    var namespaces = 10
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
            case ("--deployments", let n?) where n >= 1: bench.deployments = Int(n)
            case ("--minutes", let n?) where n > 0: bench.minutes = n
            case ("--rate", let n?) where n > 0: bench.rate = n
            default:
                print("usage: nim-bench soak [--deployments N] [--minutes M] [--rate CHANGES_PER_SECOND]")
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
        let world = try BenchWorld(root: root, expectedObjects: deployments + Int(minutes * 60 * rate) * 3)
        defer { world.stop() }
        var process = try OperatorProcess(binary: binary, kubeconfig: world.kubeconfig, ngc: world.ngc.baseURL, concurrency: 4, settleMilliseconds: 0)
        try await process.waitReady(timeout: 60)
        defer {
            kill(process.pid, SIGTERM)
            process.process.waitUntilExit()
        }
        print("nim-bench soak: \(deployments) deployments, \(rate) changes/s for \(minutes) min, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let names = (0..<namespaces).map { "soak-\($0)" }
        for (index, namespace) in names.enumerated() {
            try world.createNamespace(namespace)
            for secret in 0..<10 { try world.createKeySecret("key-\(secret)", namespace: namespace, key: "nvapi-soak-\(index)-\(secret)-0") }
        }
        let watcher = Informer(client: world.client, resource: NimDeployment.resource, namespaces: names)
        let watching = Task { await watcher.run() }
        defer { watching.cancel() }
        await watcher.waitForSync()
        for index in 0..<deployments {
            try await world.deploy("soak-\(index)", namespace: names[index % names.count], model: "llama-3.1-8b-instruct", secret: "key-\(index / names.count % 10)")
        }
        try await waitUntil(timeout: 600, "all Ready") { BenchWorld.readyCount(watcher.cache) == deployments }
        print("converged; changing \(rate)/s")

        var random = SystemRandomNumberGenerator()
        var samples: [Sample] = []
        let began = Date()
        let end = began.addingTimeInterval(minutes * 60)
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
                print(String(format: "  %5.0f s  RSS %6.1f MB  threads %3d  fds %4d  queue %5.0f", last.seconds, last.rss / 1_048_576, last.threads, last.descriptors, last.depth))
                nextSample = nextSample.addingTimeInterval(30)
            }
        }
        try await waitUntil(timeout: 600, "all Ready after the soak") { BenchWorld.readyCount(watcher.cache) == deployments }
        try await waitUntil(timeout: 120, "the queue drained") { (try? await process.queueDepth()) == 0 }
        let final = try await sample(process, since: began)
        samples.append(final)
        print(String(format: "after: %d changes; all Ready; queue drained; RSS %.1f MB, threads %d, fds %d", changes, final.rss / 1_048_576, final.threads, final.descriptors))

        // Flat: the last third against the first third.
        let third = max(1, samples.count / 3)
        let early = samples.prefix(third)
        let late = samples.suffix(third)
        let rssFlat = (late.map(\.rss).max() ?? 0) <= (early.map(\.rss).max() ?? 0) * 1.10
        let threadsFlat = (late.map(\.threads).max() ?? 0) <= (early.map(\.threads).max() ?? 0) + 2
        let descriptorsFlat = (late.map(\.descriptors).max() ?? 0) <= (early.map(\.descriptors).max() ?? 0) + 4
        print("flat: RSS \(rssFlat ? "yes" : "NO"), threads \(threadsFlat ? "yes" : "NO"), descriptors \(descriptorsFlat ? "yes" : "NO")")
        _ = process
        return rssFlat && threadsFlat && descriptorsFlat
    }

    func sample(_ process: OperatorProcess, since began: Date) async throws -> Sample {
        let status = (try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Double {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "0") ?? 0
        }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd").count) ?? 0
        return Sample(
            seconds: Date().timeIntervalSince(began), rss: field("VmRSS") * 1024, threads: Int(field("Threads")), descriptors: descriptors,
            depth: try await process.queueDepth())
    }
}
