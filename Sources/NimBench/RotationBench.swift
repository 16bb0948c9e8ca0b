import Foundation
import Synchronization
import KubeCore
import KubeRuntime
import Reconciler

/// Key rotation latency: the user's Secret written (just before the request is sent) to the
/// new restart token on the InferenceService (as a watch delivers it), one rotation after the
/// other (each a settle window after the last, so each is a single rotation, acted on at once),
/// with the NGC stand-in answering at once. Every rotation must roll the pods exactly once. Then a
/// burst: five writes 150 ms apart must roll the pods twice at most, the last key last.
struct RotationBench {
    let world: BenchWorld
    let rotations: Int
    let settleMilliseconds: Int
    let timeout: TimeInterval
    static let namespace = "bench-rotation"

    func run(_ process: OperatorProcess) async throws {
        let namespace = Self.namespace
        try world.createNamespace(namespace)
        let keys = (0...rotations).map { "nvapi-bench-rotation-\($0)-0123456789abcdef" }
        try world.createKeySecret("rotating-key", namespace: namespace, key: keys[0])
        // When each token was first seen on the InferenceService.
        let seen = Mutex<[String: Date]>([:])
        let services = Informer(client: world.client, resource: KServe.inferenceServices, namespaces: [namespace])
        services.addHandler { event in
            guard let token = event.object[path: ["spec", "predictor", "annotations", DesiredState.restartTokenAnnotation]]?.stringValue else { return }
            let now = Date()
            seen.withLock { if $0[token] == nil { $0[token] = now } }
        }
        let watching = Task { await services.run() }
        defer { watching.cancel() }
        await services.waitForSync()
        guard let model = world.catalog.modelNames.contains("llama-3.1-8b-instruct") ? "llama-3.1-8b-instruct" : world.catalog.modelNames.first else {
            throw BenchFailure(description: "the catalog lists no model")
        }
        try await world.deploy("rotating", namespace: namespace, model: model, secret: "rotating-key")
        let first = APIKey(keys[0]).fingerprint
        try await waitUntil(timeout: timeout, "the rotating deployment") { seen.withLock { $0[first] != nil } }
        let before = try await process.scrape()

        var latencies: [TimeInterval] = []
        let pace = Double(settleMilliseconds) / 1000 + 0.05
        for key in keys.dropFirst() {
            // The writer's pace, not a wait for the operator: a change within the window of the
            // last is a burst's, held by design.
            try await Task.sleep(nanoseconds: UInt64(pace * 1e9))
            let token = APIKey(key).fingerprint
            let written = Date()
            _ = try await world.client.patch(
                .secrets, namespace: namespace, name: "rotating-key", .merge(["data": ["NGC_API_KEY": .string(Data(key.utf8).base64EncodedString())]]))
            try await waitUntil(timeout: timeout, "restart token \(token)", every: 0.002) { seen.withLock { $0[token] != nil } }
            latencies.append((seen.withLock { $0[token] } ?? written).timeIntervalSince(written))
        }
        // The count is taken after the status write that follows the last token.
        let counter = "nim_key_rotations_total{result=\"rotated\"}"
        try await waitUntil(timeout: 10, "the operator to count the rotations") {
            (try await process.scrape()[counter] ?? 0) - (before[counter] ?? 0) >= Double(rotations)
        }
        let after = try await process.scrape()
        let rolled = world.kserve.rollouts(ObjectKey(namespace: namespace, name: "rotating"))
        let counted = { (name: String) in (after[name] ?? 0) - (before[name] ?? 0) }
        let rotated = counted(counter)
        let operatorMean = counted("nim_key_rotation_duration_seconds_sum") / max(1, counted("nim_key_rotation_duration_seconds_count"))

        latencies.sort()
        guard !latencies.isEmpty else { return }
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)] * 1000 }
        print(String(
            format: "key rotation, Secret written to restart token written (%d rotations, settle window %d ms): p50 %.1f ms, p99 %.1f ms, max %.1f ms",
            rotations, settleMilliseconds, percentile(0.5), percentile(0.99), (latencies.last ?? 0) * 1000))
        print(String(format: "  operator: %.0f rotations counted, mean %.1f ms from the change seen; %d rollouts", rotated, operatorMean * 1000, rolled))
        guard rolled == rotations, Int(rotated) == rotations else {
            throw BenchFailure(description: "\(rotations) rotations made \(rolled) rollouts and \(Int(rotated)) counted rotations: each must roll exactly once")
        }
        try await burst(namespace: namespace, seen: seen, rolledBefore: rolled, pace: pace)
    }

    /// Five writes 150 ms apart (a script, a secret store retrying): two rollouts at most, onto
    /// the first key and the last.
    func burst(namespace: String, seen: borrowing Mutex<[String: Date]>, rolledBefore: Int, pace: TimeInterval) async throws {
        try await Task.sleep(nanoseconds: UInt64(pace * 1e9))
        let keys = (0..<5).map { "nvapi-bench-burst-\($0)-0123456789abcdef" }
        var lastWritten = Date()
        for (index, key) in keys.enumerated() {
            if index > 0 { try await Task.sleep(nanoseconds: 150_000_000) }
            lastWritten = Date()
            _ = try await world.client.patch(
                .secrets, namespace: namespace, name: "rotating-key", .merge(["data": ["NGC_API_KEY": .string(Data(key.utf8).base64EncodedString())]]))
        }
        let last = APIKey(keys[4]).fingerprint
        try await waitUntil(timeout: timeout, "the burst's last token") { seen.withLock { $0[last] != nil } }
        let latency = (seen.withLock { $0[last] } ?? lastWritten).timeIntervalSince(lastWritten)
        // Settled: nothing rolls after the last token.
        try await Task.sleep(nanoseconds: UInt64(pace * 1e9))
        let rollouts = world.kserve.rollouts(ObjectKey(namespace: namespace, name: "rotating")) - rolledBefore
        let first = seen.withLock { $0[APIKey(keys[0]).fingerprint] } != nil
        print(String(format: "  burst of 5 writes 150 ms apart: %d rollouts (first key %@, then the last), last key's token %.0f ms after its write", rollouts, first ? "at once" : "skipped", latency * 1000))
        guard rollouts <= 2 else { throw BenchFailure(description: "a burst of 5 writes rolled the pods \(rollouts) times; at most 2") }
    }
}
