import Foundation
import KubeRuntime
import LocalControlPlane
import Reconciler

/// N NimDeployments applied together: the time until all are Ready, the operator's API
/// requests per deployment by verb, what a full resync and a restart cost once converged
/// (both must write nothing), and the operator's peak RSS. Leaves the operator running.
struct ScaleBench {
    /// This process's CPU time: the control plane's, the stand-ins' and the benchmark's own.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
    }

    let world: BenchWorld
    let deployments: Int
    let namespaces: Int
    let unrelatedSecrets: Int
    let timeout: TimeInterval
    let start: () throws -> OperatorProcess
    /// The plain writer's best run, for the ratio.
    let limit: PlainWriterBench.Run?

    func run(_ process: inout OperatorProcess) async throws {
        let world = self.world
        let plane = world.plane
        let client = world.client
        let namespaceNames = (0..<namespaces).map { "bench-\($0)" }
        for (index, name) in namespaceNames.enumerated() {
            try world.createNamespace(name)
            try world.createKeySecret("ngc-key", namespace: name, key: "nvapi-bench-key-\(index)-0123456789abcdef")
        }
        // Secrets that are none of the operator's business (service account tokens, Helm
        // releases, TLS), as a real cluster has them beside the deployments.
        let filler = Data(repeating: 0x41, count: 600).base64EncodedString()
        for index in 0..<unrelatedSecrets {
            try plane.apply([[
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": ["name": .string("unrelated-\(index)"), "namespace": .string(namespaceNames[index % namespaceNames.count]), "labels": ["app": "something-else"]],
                "data": ["payload": .string(filler)],
            ]])
        }
        let watcher = Informer(client: client, resource: NimDeployment.resource, namespaces: namespaceNames)
        let watching = Task { await watcher.run() }
        defer { watching.cancel() }
        await watcher.waitForSync()

        // 1. N deployments at once, until all are Ready.
        let models = ["llama-3.1-8b-instruct", "nv-embedqa-e5-v5"].filter { world.catalog[$0] != nil }
        let chosen = models.isEmpty ? Array(world.catalog.modelNames.prefix(2)) : models
        // NIM_BENCH_PERF=FILE: `perf record` of the operator while it converges (a profile of
        // where a reconcile's CPU goes; `perf report -i FILE`).
        let profiler = try ProcessInfo.processInfo.environment["NIM_BENCH_PERF"].map { file -> Process in
            let perf = Process()
            perf.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            perf.arguments = ["perf", "record", "-e", "cpu-clock", "-F", "1999", "-g", "-p", String(process.pid), "-o", file]
            perf.standardError = FileHandle.nullDevice
            perf.standardOutput = FileHandle.nullDevice
            try perf.run()
            return perf
        }
        let cpuBefore = try await process.cpuSeconds()
        let planeCPUBefore = Self.ownCPUSeconds()
        let began = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for index in 0..<deployments {
                if inFlight >= 32 {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask {
                    try await world.deploy("nim-\(index)", namespace: namespaceNames[index % namespaceNames.count], model: chosen[index % chosen.count], secret: "ngc-key")
                }
                inFlight += 1
            }
            try await group.waitForAll()
        }
        let applied = Date().timeIntervalSince(began)
        // Written: every deployment's children applied and a status for its generation (what the
        // plain writer does); Ready follows once the KServe stand-in says so.
        var written: TimeInterval?
        try await waitUntil(timeout: timeout, "all \(deployments) Ready") {
            let objects = watcher.cache.list()
            if written == nil, objects.count == deployments, objects.allSatisfy({ $0[dotted: "status.observedGeneration"]?.intValue == $0.generation }) {
                written = Date().timeIntervalSince(began)
            }
            return objects.filter(BenchWorld.isReady).count == deployments
        }
        let converged = Date().timeIntervalSince(began)
        let allWritten = written ?? converged
        if let profiler {
            kill(profiler.processIdentifier, SIGINT)
            profiler.waitUntilExit()
        }
        let operatorCPU = try await process.cpuSeconds() - cpuBefore
        let planeCPU = Self.ownCPUSeconds() - planeCPUBefore
        print(String(format: "CPU while converging: operator %.2f s (%.2f ms a deployment), control plane and stand-ins %.2f s", operatorCPU, operatorCPU * 1000 / Double(deployments), planeCPU))
        let convergence = plane.requestStats
        let operatorRequests = convergence.counts.filter { $0.key.agent == "nim-deploy-operator" }
        print(String(format: "converged: %.2f s written, %.2f s Ready (applying the deployments took %.2f s)", allWritten, converged, applied))
        if let limit {
            print(String(format: "ratio to the plain writer: %.2f (%.2f s against %.2f s by %d writers)", allWritten / limit.seconds, allWritten, limit.seconds, limit.writers))
        }
        print("operator API requests per deployment, by verb:")
        var byVerb: [String: Int] = [:]
        for (key, count) in operatorRequests { byVerb[key.verb, default: 0] += count }
        for verb in byVerb.keys.sorted() {
            print(String(format: "  %-8@ %6.2f   (%d total)", verb as NSString, Double(byVerb[verb] ?? 0) / Double(deployments), byVerb[verb] ?? 0))
        }
        let writes = convergence.writes(by: "nim-deploy-operator")
        let eventWrites = operatorRequests.filter { $0.key.resource == "events" && RequestStats.writeVerbs.contains($0.key.verb) }.values.reduce(0, +)
        print(String(format: "  writes   %6.2f per deployment (%.2f without events)", Double(writes) / Double(deployments), Double(writes - eventWrites) / Double(deployments)))
        func byResource(_ verbs: Set<String>) -> String {
            Dictionary(grouping: operatorRequests.filter { verbs.contains($0.key.verb) }, by: { $0.key.resource })
                .mapValues { $0.map(\.value).reduce(0, +) }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        print("  by resource: " + byResource(RequestStats.writeVerbs))
        print("  reads by resource: " + byResource(["get"]))

        // Events are sent in the background (and, past a queue of 1000, dropped, as client-go's
        // broadcaster does): they must be out before the next measurement, or they would count
        // as its writes. Out means the operator's event writes have stopped for two seconds.
        var lastEventWrites = -1
        var quietSince = Date()
        try await waitUntil(timeout: timeout, "the Events sent") {
            let now = plane.requestStats.counts.filter { $0.key.agent == "nim-deploy-operator" && $0.key.resource == "events" }.values.reduce(0, +)
            if now != lastEventWrites {
                lastEventWrites = now
                quietSince = Date()
            }
            return Date().timeIntervalSince(quietSince) >= 2
        }

        // 2. A full resync of a converged operator.
        let beforeResync = plane.requestStats
        let reconciled = try await process.reconciles()
        kill(process.pid, SIGHUP)
        let resyncing = process
        try await waitUntil(timeout: timeout, "the resync") {
            let now = (try? await resyncing.reconciles()) ?? 0
            let depth = (try? await resyncing.queueDepth()) ?? 1
            return now >= reconciled + Double(deployments) && depth == 0
        }
        let resync = (plane.requestStats - beforeResync).counts.filter { $0.key.agent == "nim-deploy-operator" }
        print("full resync: \(requestSummary(resync))")

        // 3. A restart of a converged operator.
        let firstPeak = process.peakRSS()
        // Settled: after the heap trimmer's next round (every 10 s) has given freed pages back.
        try await Task.sleep(nanoseconds: 11_000_000_000)
        let firstNow = process.status()["VmRSS"] ?? 0
        let beforeRestart = plane.requestStats
        let restartStart = Date()
        kill(process.pid, SIGTERM)
        await process.waitExit(timeout: 40)
        let spawned = Date()
        process = try start()
        try await process.waitReady(timeout: 60)
        let restarted = process
        try await waitUntil(timeout: timeout, "the first reconcile after the restart", every: 0.005) { ((try? await restarted.reconciles()) ?? 0) >= 1 }
        let firstReconcile = Date().timeIntervalSince(spawned)
        try await waitUntil(timeout: timeout, "the restarted operator to reconcile everything") {
            let done = (try? await restarted.reconciles()) ?? 0
            let depth = (try? await restarted.queueDepth()) ?? 1
            return done >= Double(deployments) && depth == 0
        }
        let restartTime = Date().timeIntervalSince(restartStart)
        let restart = (plane.requestStats - beforeRestart).counts.filter { $0.key.agent == "nim-deploy-operator" }
        print(String(format: "restart: %@; first reconcile %.0f ms after the process started, every deployment reconciled %.2f s after SIGTERM", requestSummary(restart), firstReconcile * 1000, restartTime))
        print(String(format: "operator peak RSS: %.1f MB (converging %d deployments), %.1f MB (restarted)", firstPeak / 1_048_576, deployments, process.peakRSS() / 1_048_576))
        try await Task.sleep(nanoseconds: 11_000_000_000)
        print(String(format: "operator RSS once settled: %.1f MB (converged), %.1f MB (restarted)", firstNow / 1_048_576, (process.status()["VmRSS"] ?? 0) / 1_048_576))
        let scraped = try await process.scrape()
        var cached: [(resource: String, objects: Double, bytes: Double)] = []
        for (series, value) in scraped where series.hasPrefix("informer_cache_objects{") {
            let resource = String(series.dropFirst("informer_cache_objects{resource=\"".count).dropLast(2))
            cached.append((resource, value, scraped["informer_cache_bytes{resource=\"\(resource)\"}"] ?? 0))
        }
        let cacheBytes = cached.map(\.bytes).reduce(0, +)
        print(String(format: "caches: %.1f MB in all, %.0f bytes a deployment; ", cacheBytes / 1_048_576, cacheBytes / Double(deployments))
            + cached.filter { $0.objects > 0 }.sorted { $0.bytes > $1.bytes }.map { String(format: "%@ %.0f × %.0f B", $0.resource as NSString, $0.objects, $0.bytes / $0.objects) }.joined(separator: ", "))
        if resync.filter({ RequestStats.writeVerbs.contains($0.key.verb) }).values.reduce(0, +) > 0
            || restart.filter({ RequestStats.writeVerbs.contains($0.key.verb) }).values.reduce(0, +) > 0
        {
            throw BenchFailure(description: "a converged operator wrote during a resync or a restart")
        }
    }
}
