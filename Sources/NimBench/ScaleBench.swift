import Foundation
import KubeRuntime
import LocalControlPlane
import Reconciler

/// N NimDeployments applied together: the time until all are Ready, the operator's API
/// requests per deployment by verb, what a full resync and a restart cost once converged
/// (both must write nothing), and the operator's peak RSS. Leaves the operator running.
struct ScaleBench {
    let world: BenchWorld
    let deployments: Int
    let namespaces: Int
    let timeout: TimeInterval
    let start: () throws -> OperatorProcess

    func run(_ process: inout OperatorProcess) async throws {
        let world = self.world
        let plane = world.plane
        let client = world.client
        let namespaceNames = (0..<namespaces).map { "bench-\($0)" }
        for (index, name) in namespaceNames.enumerated() {
            try world.createNamespace(name)
            try world.createKeySecret("ngc-key", namespace: name, key: "nvapi-bench-key-\(index)-0123456789abcdef")
        }
        let watcher = Informer(client: client, resource: NimDeployment.resource, namespaces: namespaceNames)
        let watching = Task { await watcher.run() }
        defer { watching.cancel() }
        await watcher.waitForSync()

        // 1. N deployments at once, until all are Ready.
        let models = ["llama-3.1-8b-instruct", "nv-embedqa-e5-v5"].filter { world.catalog[$0] != nil }
        let chosen = models.isEmpty ? Array(world.catalog.modelNames.prefix(2)) : models
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
        try await waitUntil(timeout: timeout, "all \(deployments) Ready") { BenchWorld.readyCount(watcher.cache) == deployments }
        let converged = Date().timeIntervalSince(began)
        let convergence = plane.requestStats
        let operatorRequests = convergence.counts.filter { $0.key.agent == "nim-deploy-operator" }
        print(String(format: "converged: %.2f s (applying took %.2f s)", converged, applied))
        print("operator API requests per deployment, by verb:")
        var byVerb: [String: Int] = [:]
        for (key, count) in operatorRequests { byVerb[key.verb, default: 0] += count }
        for verb in byVerb.keys.sorted() {
            print(String(format: "  %-8@ %6.2f   (%d total)", verb as NSString, Double(byVerb[verb] ?? 0) / Double(deployments), byVerb[verb] ?? 0))
        }
        let writes = convergence.writes(by: "nim-deploy-operator")
        let eventWrites = operatorRequests.filter { $0.key.resource == "events" && RequestStats.writeVerbs.contains($0.key.verb) }.values.reduce(0, +)
        print(String(format: "  writes   %6.2f per deployment (%.2f without events)", Double(writes) / Double(deployments), Double(writes - eventWrites) / Double(deployments)))
        print("  by resource: " + Dictionary(grouping: operatorRequests.filter { RequestStats.writeVerbs.contains($0.key.verb) }, by: { $0.key.resource })
            .mapValues { $0.map(\.value).reduce(0, +) }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))

        // Events are sent in the background; a "Deployed" per deployment must be out before the
        // next measurement, or they would count as its writes.
        try await waitUntil(timeout: timeout, "the Deployed events") {
            var count = 0
            for namespace in namespaceNames { count += try await client.list(.events, namespace: namespace).items.count }
            return count >= deployments
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
        let beforeRestart = plane.requestStats
        let restartStart = Date()
        kill(process.pid, SIGTERM)
        await process.waitExit(timeout: 40)
        process = try start()
        try await process.waitReady(timeout: 60)
        let restarted = process
        try await waitUntil(timeout: timeout, "the restarted operator to reconcile everything") {
            let done = (try? await restarted.reconciles()) ?? 0
            let depth = (try? await restarted.queueDepth()) ?? 1
            return done >= Double(deployments) && depth == 0
        }
        let restartTime = Date().timeIntervalSince(restartStart)
        let restart = (plane.requestStats - beforeRestart).counts.filter { $0.key.agent == "nim-deploy-operator" }
        print(String(format: "restart: %@; every deployment reconciled %.2f s after SIGTERM", requestSummary(restart), restartTime))
        print(String(format: "operator peak RSS: %.1f MB (converging %d deployments), %.1f MB (restarted)", firstPeak / 1_048_576, deployments, process.peakRSS() / 1_048_576))
        if resync.filter({ RequestStats.writeVerbs.contains($0.key.verb) }).values.reduce(0, +) > 0
            || restart.filter({ RequestStats.writeVerbs.contains($0.key.verb) }).values.reduce(0, +) > 0
        {
            throw BenchFailure(description: "a converged operator wrote during a resync or a restart")
        }
    }
}
