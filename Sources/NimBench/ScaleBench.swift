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

    /// NIM_BENCH_SMAPS=FILE: the settled operator's mappings (FILE converged, FILE.restarted
    /// after the restart), to see what its RSS is made of.
    static func saveMappings(of pid: pid_t, suffix: String) {
        guard let path = ProcessInfo.processInfo.environment["NIM_BENCH_SMAPS"],
              let smaps = try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/smaps")).readToEnd() else { return }
        _ = FileManager.default.createFile(atPath: path + suffix, contents: smaps)
    }

    /// `perf record` of the given processes (none: the whole machine) into the file the environment variable names.
    static func profile(_ variable: String, pids: [Int32]) throws -> Int32? {
        guard let file = ProcessInfo.processInfo.environment[variable] else { return nil }
        let scope = pids.isEmpty ? ["-a"] : ["-p", pids.map(String.init).joined(separator: ",")]
        return try spawnInterruptible(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "-g"] + scope + ["-o", file])
    }

    /// A malloc uprobe counted on the process by `perf stat`, when NIM_BENCH_ALLOCS=1.
    static func countAllocations(pid: Int32) throws -> (pid: Int32, output: String)? {
        guard ProcessInfo.processInfo.environment["NIM_BENCH_ALLOCS"] == "1" else { return nil }
        let libc = ["/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6", "/lib64/libc.so.6"].first { FileManager.default.fileExists(atPath: $0) } ?? "libc.so.6"
        // Fails harmlessly when the probe exists already.
        if let probe = try spawnInterruptible(["perf", "probe", "-q", "-x", libc, "malloc"]) { _ = waitExit(probe) }
        let output = NSTemporaryDirectory() + "nim-bench-mallocs-\(pid).csv"
        guard let perf = try spawnInterruptible(["perf", "stat", "-x", ",", "-o", output, "-e", "probe_libc:malloc", "-p", String(pid)]) else { return nil }
        return (perf, output)
    }

    static func stop(counting: (pid: Int32, output: String)?) -> Double? {
        guard let (perf, output) = counting else { return nil }
        stop(perf)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in line.contains("malloc") ? Double(line.split(separator: ",").first ?? "") : nil }.first
    }

    static func stop(_ profiler: Int32?) {
        guard let profiler else { return }
        kill(profiler, SIGINT)
        _ = waitExit(profiler)
    }

    static func waitExit(_ pid: Int32) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        return status
    }

    /// Starts a command (through PATH) with no signal blocked: Foundation's Process hands the
    /// child the spawning thread's mask, in which the Swift runtime blocks SIGINT, so perf
    /// would never hear that it should stop and write its figures.
    static func spawnInterruptible(_ arguments: [String]) throws -> Int32? {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: Int32 = 0
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard result == 0 else { throw BenchFailure(description: "\(arguments[0]) did not start: \(String(cString: strerror(result)))") }
        return pid
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
        let progress = DeploymentProgress(watcher, expected: deployments)
        let watching = Task { await watcher.run() }
        defer { watching.cancel() }
        await watcher.waitForSync()

        // 1. N deployments at once, until all are Ready.
        let models = ["llama-3.1-8b-instruct", "nv-embedqa-e5-v5"].filter { world.catalog[$0] != nil }
        let chosen = models.isEmpty ? Array(world.catalog.modelNames.prefix(2)) : models
        // NIM_BENCH_PERF=FILE: `perf record` of the operator while it converges (a profile of
        // where a reconcile's CPU goes; `perf report -i FILE`).
        let profiler = try Self.profile("NIM_BENCH_PERF", pids: [process.pid])
        // NIM_BENCH_PERF_PLANE=FILE: the whole machine meanwhile (`perf script --pid` splits this
        // process, the control plane and stand-ins, from the operator), to compare with the plain
        // writer's (NIM_BENCH_PERF_PLAIN). Not `-p`: perf misses this process's older threads.
        let planeProfiler = try Self.profile("NIM_BENCH_PERF_PLANE", pids: [])
        // NIM_BENCH_ALLOCS=1: the operator's malloc calls while it converges, counted by a
        // uprobe (root and perf needed; the probe slows every allocation, so this run's times
        // are not comparable with others).
        let allocations = try Self.countAllocations(pid: process.pid)
        let bytesBefore = try await process.apiBytes()
        let cpuBefore = try await process.cpuSeconds()
        let passesBefore = try await process.passes()
        let planeCPUBefore = Self.ownCPUSeconds()
        let requestsBefore = plane.requestStats
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
        // Where the time until written went: read at the first poll that sees it (50 ms late at most).
        var atWritten: (passes: Double, operatorCPU: Double, planeCPU: Double, writes: Int, requests: String)?
        try await waitUntil(timeout: timeout, "all \(deployments) Ready") {
            if atWritten == nil, progress.allWritten != nil {
                let requests = plane.requestStats
                atWritten = (try await process.passes() - passesBefore, try await process.cpuSeconds() - cpuBefore, Self.ownCPUSeconds() - planeCPUBefore,
                             (requests - requestsBefore).writes(by: "nim-deploy-operator"), requestsByAgent(requests, since: requestsBefore))
            }
            return progress.ready == deployments
        }
        let converged = Date().timeIntervalSince(began)
        let allWritten = progress.allWritten.map { $0.timeIntervalSince(began) } ?? converged
        Self.stop(profiler)
        Self.stop(planeProfiler)
        let mallocs = Self.stop(counting: allocations)
        let bytesAfter = try await process.apiBytes()
        let operatorCPU = try await process.cpuSeconds() - cpuBefore
        let planeCPU = Self.ownCPUSeconds() - planeCPUBefore
        let passes = try await process.passes() - passesBefore
        print(String(format: "CPU while converging: operator %.2f s (%.2f ms a deployment), control plane and stand-ins %.2f s", operatorCPU, operatorCPU * 1000 / Double(deployments), planeCPU))
        print(String(format: "reconciles while converging: %.2f a deployment (%.0f), %.2f ms of operator CPU each", passes / Double(deployments), passes, operatorCPU * 1000 / max(passes, 1)))
        let convergence = plane.requestStats
        let operatorRequests = convergence.counts.filter { $0.key.agent == "nim-deploy-operator" }
        print(String(format: "converged: %.2f s written, %.2f s Ready (applying the deployments took %.2f s)", allWritten, converged, applied))
        if let atWritten {
            print(String(format: "until written: %.2f reconciles and %.2f writes a deployment, CPU operator %.2f s, control plane and stand-ins %.2f s",
                         atWritten.passes / Double(deployments), Double(atWritten.writes) / Double(deployments), atWritten.operatorCPU, atWritten.planeCPU))
            print("  requests until written: " + atWritten.requests)
        }
        if let limit {
            print(String(format: "ratio to the plain writer: %.2f (%.2f s against %.2f s by %d writers)", allWritten / limit.seconds, allWritten, limit.seconds, limit.writers))
            // Both processes share the cores: the control plane's and the stand-ins' own CPU
            // until written, at every core busy, is a time no operator could beat on this machine
            // (at the requests it made and the stand-ins' answers), whatever its own CPU.
            if let atWritten {
                let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
                print(String(format: "  floor: the control plane and stand-ins alone needed %.2f s of CPU until written, %.2f s on %.0f cores: a ratio of %.2f with an operator that took none",
                             atWritten.planeCPU, atWritten.planeCPU / cores, cores, atWritten.planeCPU / cores / limit.seconds))
            }
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
        func perDeployment(_ after: [String: Double], _ before: [String: Double]) -> String {
            let verbs = after.keys.sorted().filter { (after[$0] ?? 0) > (before[$0] ?? 0) }
            let total = verbs.map { (after[$0] ?? 0) - (before[$0] ?? 0) }.reduce(0, +)
            return String(format: "%.0f B", total / Double(deployments))
                + " (" + verbs.map { String(format: "%@ %.0f", $0 as NSString, ((after[$0] ?? 0) - (before[$0] ?? 0)) / Double(deployments)) }.joined(separator: ", ") + ")"
        }
        print("  body bytes per deployment: sent " + perDeployment(bytesAfter.sent, bytesBefore.sent) + ", received " + perDeployment(bytesAfter.received, bytesBefore.received))
        if let mallocs { print(String(format: "  allocations (malloc calls) per deployment: %.0f (%.0f in all)", mallocs / Double(deployments), mallocs)) }
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
        let firstNow = process.status()
        let firstLedger = try await process.ledgerEntries()
        Self.saveMappings(of: process.pid, suffix: "")
        let beforeRestart = plane.requestStats
        let restartStart = Date()
        kill(process.pid, SIGTERM)
        await process.waitExit(timeout: 40)
        let spawned = Date()
        process = try start()
        // NIM_BENCH_PERF_RESTART=FILE: the restarted operator and this process (the control
        // plane serving its lists) until the first reconcile.
        let restartProfiler = try Self.profile("NIM_BENCH_PERF_RESTART", pids: [process.pid, getpid()])
        try await process.waitReady(timeout: 60)
        let ready = Date().timeIntervalSince(spawned)
        let restarted = process
        try await waitUntil(timeout: timeout, "the first reconcile after the restart", every: 0.005) { restarted.firstReconcile.withLock { $0 != nil } }
        let firstReconcile = (restarted.firstReconcile.withLock { $0 } ?? Date()).timeIntervalSince(spawned)
        Self.stop(restartProfiler)
        let listed = try await restarted.apiBytes().received
        try await waitUntil(timeout: timeout, "the restarted operator to reconcile everything") {
            let done = (try? await restarted.reconciles()) ?? 0
            let depth = (try? await restarted.queueDepth()) ?? 1
            return done >= Double(deployments) && depth == 0
        }
        let restartTime = Date().timeIntervalSince(restartStart)
        print(String(format: "restart: %.1f MB received until ready (", listed.values.reduce(0, +) / 1_048_576)
            + listed.keys.sorted().map { String(format: "%@ %.1f MB", $0 as NSString, (listed[$0] ?? 0) / 1_048_576) }.joined(separator: ", ") + ")")
        let restart = (plane.requestStats - beforeRestart).counts.filter { $0.key.agent == "nim-deploy-operator" }
        print(String(format: "restart: %@; first reconcile %.0f ms after the process started (its log), ready (every cache synced) after %.0f ms, every deployment reconciled %.2f s after SIGTERM", requestSummary(restart), firstReconcile * 1000, ready * 1000, restartTime))
        print(String(format: "operator peak RSS: %.1f MB (converging %d deployments), %.1f MB (restarted)", firstPeak / 1_048_576, deployments, process.peakRSS() / 1_048_576))
        try await Task.sleep(nanoseconds: 11_000_000_000)
        let restartedNow = process.status()
        print("write ledger entries once settled: \(firstLedger) converged, \(try await process.ledgerEntries()) restarted")
        Self.saveMappings(of: process.pid, suffix: ".restarted")
        func settled(_ status: [String: Double]) -> String {
            String(format: "%.1f MB (heap and stacks %.1f, mapped files %.1f)", (status["VmRSS"] ?? 0) / 1_048_576, (status["RssAnon"] ?? 0) / 1_048_576, (status["RssFile"] ?? 0) / 1_048_576)
        }
        print("operator RSS once settled: \(settled(firstNow)) converged, \(settled(restartedNow)) restarted; \(process.linkage())")
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
