import Foundation
import KubeWatch
import LocalControlPlane
import Reconciler
import StandIns

/// `swift run -c release nim-bench [--deployments N] [--namespaces M] [--concurrency W]`
///
/// The operator, as its own process, against the local control plane (with the NGC and KServe
/// stand-ins answering at once): N NimDeployments applied together. Prints the time until all
/// are Ready, the operator's API requests per deployment by verb, what a full resync and a
/// restart cost once converged (both must write nothing), and the operator's peak RSS.
struct Bench {
    var deployments = 1000
    var namespaces = 10
    var concurrency = 4
    var timeout: TimeInterval = 300

    static func main() async {
        var bench = Bench()
        var arguments = CommandLine.arguments.dropFirst()
        while let flag = arguments.popFirst() {
            let value = arguments.popFirst().flatMap(Int.init)
            switch (flag, value) {
            case ("--deployments", let n?) where n > 0: bench.deployments = n
            case ("--namespaces", let n?) where n > 0: bench.namespaces = n
            case ("--concurrency", let n?) where n > 0: bench.concurrency = n
            case ("--timeout", let n?) where n > 0: bench.timeout = TimeInterval(n)
            default:
                print("usage: nim-bench [--deployments N] [--namespaces M] [--concurrency W] [--timeout SECONDS]")
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

    struct Failure: Error, CustomStringConvertible { var description: String }

    func run() async throws {
        Logger.sink.level = .error
        let root = Self.packageRoot()
        let operatorBinary = try Self.operatorBinary(root: root)
        print("nim-bench: \(deployments) NimDeployments in \(namespaces) namespaces, \(concurrency) workers, \(ProcessInfo.processInfo.activeProcessorCount) cores")

        // The world: control plane, CRDs, catalog, stand-ins.
        var planeOptions = LocalControlPlane.Options()
        planeOptions.historyWindow = max(10_000, deployments * 12)
        let plane = LocalControlPlane(options: planeOptions)
        let url = try plane.start()
        defer { plane.stop() }
        try plane.apply(try Self.documents(root.appendingPathComponent("config/crd/bases/nim.opendatahub.io_nimdeployments.yaml")))
        let shared = root.deletingLastPathComponent().appendingPathComponent("shared")
        var kserve: [JSON] = []
        for file in ["serving.kserve.io_servingruntimes.yaml", "serving.kserve.io_inferenceservices.yaml"] {
            let full = shared.appendingPathComponent("crds/full/\(file)")
            if FileManager.default.fileExists(atPath: full.path) { kserve += try Self.documents(full) }
        }
        if kserve.count < 2 { kserve = try Self.documents(root.appendingPathComponent("config/demo/kserve-crds.yaml")) }
        try plane.apply(kserve)
        let realCatalog = shared.appendingPathComponent("ngc/nim-models-data.yaml")
        var catalogMap = try Self.documents(FileManager.default.fileExists(atPath: realCatalog.path) ? realCatalog : root.appendingPathComponent("config/demo/nim-model-metadata.yaml"))[0]
        catalogMap[path: ["metadata", "name"]] = "nim-model-metadata"
        catalogMap[path: ["metadata", "namespace"]] = "nim-deploy-operator-system"
        let namespaceNames = (0..<namespaces).map { "bench-\($0)" }
        for name in ["nim-deploy-operator-system"] + namespaceNames {
            try plane.apply([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]]])
        }
        try plane.apply([catalogMap])
        for (index, name) in namespaceNames.enumerated() {
            let key = "nvapi-bench-key-\(index)-0123456789abcdef"
            try plane.apply([["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "ngc-key", "namespace": .string(name)], "type": "Opaque",
                              "data": ["NGC_API_KEY": .string(Data(key.utf8).base64EncodedString())]]])
        }
        let catalog = ModelCatalog.parse(configMap: KubeObject(catalogMap)).catalog
        let ngc = NGCStandIn(catalog: catalog)
        try ngc.start()
        defer { ngc.stop() }
        var kserveConfiguration = ClientConfiguration(server: url, source: "kserve")
        kserveConfiguration.userAgent = "kserve-stand-in"
        let kserveStandIn = KServeStandIn(client: KubeClient(configuration: kserveConfiguration))
        let kserveTask = Task { await kserveStandIn.run() }
        defer { kserveTask.cancel() }
        let kubeconfig = NSTemporaryDirectory() + "nim-bench-\(getpid()).kubeconfig"
        try plane.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)

        // The operator, in its own process.
        var process = try OperatorProcess(binary: operatorBinary, kubeconfig: kubeconfig, ngc: ngc.baseURL, concurrency: concurrency)
        try await process.waitReady(timeout: 60)

        var benchConfiguration = ClientConfiguration(server: url, source: "bench")
        benchConfiguration.userAgent = "nim-bench"
        let client = KubeClient(configuration: benchConfiguration)
        let watcher = Informer(client: client, resource: NimDeployment.resource)
        let watching = Task { await watcher.run() }
        defer { watching.cancel() }
        await watcher.waitForSync()

        // 1. N deployments at once, until all are Ready.
        let models = ["llama-3.1-8b-instruct", "nv-embedqa-e5-v5"].filter { catalog[$0] != nil }
        let chosen = models.isEmpty ? Array(catalog.modelNames.prefix(2)) : models
        let start = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for index in 0..<deployments {
                if inFlight >= 32 {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask {
                    var object = KubeObject(apiVersion: NimDeployment.resource.apiVersion, kind: "NimDeployment", namespace: namespaceNames[index % namespaceNames.count], name: "nim-\(index)")
                    object["spec"] = ["model": .string(chosen[index % chosen.count]), "apiKeySecretRef": ["name": "ngc-key"]]
                    _ = try await client.apply(object, NimDeployment.resource, fieldManager: "nim-bench")
                }
                inFlight += 1
            }
            try await group.waitForAll()
        }
        let applied = Date().timeIntervalSince(start)
        try await waitUntil(timeout: timeout, "all \(deployments) Ready") { Self.readyCount(watcher.cache) == deployments }
        let converged = Date().timeIntervalSince(start)
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
        try await waitUntil(timeout: timeout, "the resync") {
            let now = (try? await process.reconciles()) ?? 0
            let depth = (try? await process.queueDepth()) ?? 1
            return now >= reconciled + Double(deployments) && depth == 0
        }
        let resync = (plane.requestStats - beforeResync).counts.filter { $0.key.agent == "nim-deploy-operator" }
        print("full resync: \(Self.summary(resync))")

        // 3. A restart of a converged operator.
        let firstPeak = process.peakRSS()
        let beforeRestart = plane.requestStats
        let restartStart = Date()
        kill(process.pid, SIGTERM)
        await process.waitExit(timeout: 40)
        process = try OperatorProcess(binary: operatorBinary, kubeconfig: kubeconfig, ngc: ngc.baseURL, concurrency: concurrency)
        try await process.waitReady(timeout: 60)
        try await waitUntil(timeout: timeout, "the restarted operator to reconcile everything") {
            let done = (try? await process.reconciles()) ?? 0
            let depth = (try? await process.queueDepth()) ?? 1
            return done >= Double(deployments) && depth == 0
        }
        let restarted = Date().timeIntervalSince(restartStart)
        let restart = (plane.requestStats - beforeRestart).counts.filter { $0.key.agent == "nim-deploy-operator" }
        print(String(format: "restart: %@; every deployment reconciled %.2f s after SIGTERM", Self.summary(restart), restarted))
        let secondPeak = process.peakRSS()
        kill(process.pid, SIGTERM)
        await process.waitExit(timeout: 40)
        print(String(format: "operator peak RSS: %.1f MB (converging %d deployments), %.1f MB (restarted)", firstPeak / 1_048_576, deployments, secondPeak / 1_048_576))
        if resync.filter({ RequestStats.writeVerbs.contains($0.key.verb) }).values.reduce(0, +) > 0
            || restart.filter({ RequestStats.writeVerbs.contains($0.key.verb) }).values.reduce(0, +) > 0
        {
            throw Failure(description: "a converged operator wrote during a resync or a restart")
        }
    }

    static func summary(_ counts: [RequestStats.Key: Int]) -> String {
        var byVerb: [String: Int] = [:]
        for (key, count) in counts { byVerb[key.verb, default: 0] += count }
        let writes = counts.filter { RequestStats.writeVerbs.contains($0.key.verb) }.values.reduce(0, +)
        return "\(writes) writes; requests " + byVerb.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    static func readyCount(_ cache: ObjectCache) -> Int {
        cache.list().filter { object in
            object[dotted: "status.observedGeneration"]?.intValue == object.generation
                && (object[dotted: "status.conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
        }.count
    }

    func waitUntil(timeout: TimeInterval, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw Failure(description: "timed out waiting for \(what)")
    }

    static func documents(_ url: URL) throws -> [JSON] { try YAML.parseAll(String(contentsOf: url, encoding: .utf8)) }

    static func packageRoot() -> URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }

    /// The operator built with the same configuration as this benchmark, built now if missing.
    static func operatorBinary(root: URL) throws -> String {
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("nim-deploy-operator").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        print("nim-bench: building nim-deploy-operator (release)")
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        build.arguments = ["swift", "build", "-c", "release", "--product", "nim-deploy-operator"]
        build.currentDirectoryURL = root
        try build.run()
        build.waitUntilExit()
        guard FileManager.default.isExecutableFile(atPath: sibling) else { throw Failure(description: "could not build nim-deploy-operator at \(sibling)") }
        return sibling
    }
}

/// `nim-deploy-operator run` as a child process, with its probes and metrics on free ports.
struct OperatorProcess {
    let process: Process
    let stderr: Pipe
    var pid: Int32 { process.processIdentifier }
    private(set) var health = 0
    private(set) var metrics = 0

    init(binary: String, kubeconfig: String, ngc: String, concurrency: Int) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "run", "--kubeconfig", kubeconfig, "--ngc-api-url", ngc, "--namespace", "nim-deploy-operator-system", "--concurrency", String(concurrency),
            "--health-probe-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0", "--log-level", "info",
        ]
        stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    /// Reads the operator's log until it says where it serves, then waits for /readyz.
    mutating func waitReady(timeout: TimeInterval) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = ""
        while health == 0 {
            let data = stderr.fileHandleForReading.availableData
            guard !data.isEmpty else { throw Bench.Failure(description: "the operator exited: \(buffer)") }
            buffer += String(decoding: data, as: UTF8.self)
            for line in buffer.split(separator: "\n") {
                if let json = try? JSON(parsing: String(line)), json["msg"] == "serving probes and metrics" {
                    health = json["health"]?.intValue ?? 0
                    metrics = json["metrics"]?.intValue ?? 0
                }
            }
            if Date() > deadline { throw Bench.Failure(description: "the operator did not start: \(buffer)") }
        }
        // The rest of the log is not needed; keep the pipe from filling.
        stderr.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
        let probe = KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(health)"))
        while (try? await probe.call(verb: "get", method: "GET", path: "/readyz", accept: "text/plain"))?.status != 200 {
            if Date() > deadline { throw Bench.Failure(description: "the operator never became ready") }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }

    func scrape() async throws -> [String: Double] {
        let response = try await KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(metrics)")).call(verb: "get", method: "GET", path: "/metrics", accept: "text/plain")
        var values: [String: Double] = [:]
        for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return values
    }

    func reconciles() async throws -> Double {
        try await scrape()["controller_runtime_reconcile_total{controller=\"nimdeployment\",result=\"success\"}"] ?? 0
    }

    func queueDepth() async throws -> Double {
        try await scrape()["workqueue_depth{name=\"nimdeployment\"}"] ?? 0
    }

    /// VmHWM: the most resident memory the process has had.
    func peakRSS() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return 0 }
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        return kilobytes * 1024
    }

    func waitExit(timeout: TimeInterval) async {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try? await Task.sleep(nanoseconds: 20_000_000) }
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

await Bench.main()
