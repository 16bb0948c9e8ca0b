import Foundation
import Synchronization
import KubeCore
import KubeAPI

/// `nim-deploy-operator run` as a child process, with its probes and metrics on free ports.
struct OperatorProcess {
    let process: Process
    let stderr: Pipe
    var pid: Int32 { process.processIdentifier }
    private(set) var health = 0
    private(set) var metrics = 0
    /// When the operator logged its first NimDeployment reconcile done (its own clock, read from
    /// the log line: a scrape loop would add its own latency and wait for readiness).
    let firstReconcile = Box()

    final class Box: Sendable {
        private let value = Mutex<Date?>(nil)
        func withLock<T>(_ body: (inout Date?) -> T) -> T { value.withLock { body(&$0) } }
    }

    init(binary: String, kubeconfig: String, ngc: String, concurrency: Int, settleMilliseconds: Int) throws {
        process = Process()
        // NIM_BENCH_WRAPPER="valgrind --tool=callgrind": the operator run under a profiler.
        let wrapper = ProcessInfo.processInfo.environment["NIM_BENCH_WRAPPER"].map { $0.split(separator: " ").map(String.init) } ?? []
        process.executableURL = URL(fileURLWithPath: wrapper.isEmpty ? binary : "/usr/bin/env")
        process.arguments = (wrapper.isEmpty ? [] : wrapper + [binary]) + [
            "run", "--kubeconfig", kubeconfig, "--ngc-api-url", ngc, "--namespace", "nim-deploy-operator-system", "--concurrency", String(concurrency),
            "--health-probe-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0", "--metrics-auth", "none", "--log-level", ProcessInfo.processInfo.environment["NIM_BENCH_LOG_LEVEL"] ?? "info",
            "--key-rotation-settle", "\(settleMilliseconds)ms",
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
            guard !data.isEmpty else { throw BenchFailure(description: "the operator exited: \(buffer)") }
            buffer += String(decoding: data, as: UTF8.self)
            for line in buffer.split(separator: "\n") {
                if let json = try? JSON(parsing: String(line)), json["msg"] == "serving probes and metrics" {
                    health = json["health"]?.intValue ?? 0
                    metrics = json["metrics"]?.intValue ?? 0
                }
            }
            if Date() > deadline { throw BenchFailure(description: "the operator did not start: \(buffer)") }
        }
        // The rest of the log is not needed (NIM_BENCH_LOG=FILE appends it there); keep the
        // pipe from filling.
        let sink = ProcessInfo.processInfo.environment["NIM_BENCH_LOG"].flatMap { path -> FileHandle? in
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = FileHandle(forWritingAtPath: path)
            handle?.seekToEndOfFile()
            handle?.write(Data(buffer.utf8))
            return handle
        }
        let firstReconcile = self.firstReconcile
        let marker = Array(#""msg":"first reconcile done""#.utf8)
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            // End of file (the process exited): stop, or the handler fires again and again.
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            sink?.write(data)
            // Lines may be split between reads; the marker line is short and read whole here
            // in practice, and a missed one makes the benchmark fail, not mismeasure.
            let bytes = [UInt8](data)
            guard firstReconcile.withLock({ $0 == nil }), bytes.count >= marker.count else { return }
            for line in bytes.split(separator: 0x0A) where line.count >= marker.count && line.indices.contains(where: { line[$0...].starts(with: marker) }) {
                guard let json = try? JSON(parsing: Array(line)), json["controller"] == "nimdeployment", let stamp = json["ts"]?.stringValue else { continue }
                let format = ISO8601DateFormatter()
                format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                if let date = format.date(from: stamp) { firstReconcile.withLock { $0 = date } }
            }
        }
        let probe = KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(health)"))
        while (try? await probe.call(verb: "get", method: "GET", path: "/readyz", accept: "text/plain"))?.status != 200 {
            if Date() > deadline { throw BenchFailure(description: "the operator never became ready") }
            try await Task.sleep(nanoseconds: 5_000_000)
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

    /// `nim_write_ledger_entries` by kind, as `kind N, ...`.
    func ledgerEntries() async throws -> String {
        let prefix = "nim_write_ledger_entries{kind=\""
        return try await scrape().filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
            .map { "\($0.key.dropFirst(prefix.count).dropLast(2)) \(Int($0.value))" }.joined(separator: ", ")
    }

    func reconciles() async throws -> Double {
        try await scrape()["controller_runtime_reconcile_total{controller=\"nimdeployment\",result=\"success\"}"] ?? 0
    }

    /// Every pass, whatever it ended in.
    func passes() async throws -> Double {
        let scraped = try await scrape()
        return ["success", "error", "requeue", "requeue_after"].reduce(0) { $0 + (scraped["controller_runtime_reconcile_total{controller=\"nimdeployment\",result=\"\($1)\"}"] ?? 0) }
    }

    /// The operator's CPU time (user and system) so far.
    func cpuSeconds() async throws -> Double {
        try await scrape()["process_cpu_seconds_total"] ?? 0
    }

    /// Body bytes (sent, received) to and from the API server so far, by verb.
    func apiBytes() async throws -> (sent: [String: Double], received: [String: Double]) {
        let scraped = try await scrape()
        func byVerb(_ name: String) -> [String: Double] {
            var result: [String: Double] = [:]
            for (series, value) in scraped where series.hasPrefix(name + "{verb=\"") {
                result[String(series.dropFirst(name.count + 7).dropLast(2))] = value
            }
            return result
        }
        return (byVerb("rest_client_request_bytes_total"), byVerb("rest_client_response_bytes_total"))
    }

    func queueDepth() async throws -> Double {
        try await scrape()["workqueue_depth{name=\"nimdeployment\"}"] ?? 0
    }

    /// Whether the Swift runtime is shared or linked in (the image links it in), from the
    /// process's mappings.
    func linkage() -> String {
        let maps = (try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)) ?? ""
        return maps.contains("libswiftCore.so") ? "shared Swift runtime (the image links it statically: expect less)" : "static Swift runtime, as in the image"
    }

    /// VmHWM: the most resident memory the process has had.
    func peakRSS() -> Double { status()["VmHWM"] ?? 0 }

    /// /proc/<pid>/status's numeric fields (kB values in bytes), read once.
    func status() -> [String: Double] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        var fields: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let words = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let number = words.first.flatMap({ Double($0) }) else { continue }
            fields[String(line[..<colon])] = words.dropFirst().first == "kB" ? number * 1024 : number
        }
        return fields
    }

    func waitExit(timeout: TimeInterval) async {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try? await Task.sleep(nanoseconds: 20_000_000) }
        if process.isRunning { kill(pid, SIGKILL) }
    }
}
