import Foundation
import Testing
import KubeAPI
import LocalControlPlane
import Reconciler
import TestSupport

/// The operator process against a control plane that misbehaves the ways real API servers do.
/// After each fault: every deployment converges, nothing is duplicated or orphaned, and both
/// Secrets of every deployment hold the key of its user Secret.
extension Resilience {
    @Suite struct APIServerFaults {
        static let checked = "all Ready, 5 children each owned by the current uid, no strays or duplicates, keys right"

        /// A converged fleet of `count` under a running operator.
        func converged(_ count: Int, _ extra: [String] = []) async throws -> (NimEnvironment, Fleet, OperatorProcess) {
            let env = try await NimEnvironment()
            var fleet = Fleet(env: env)
            let process = try OperatorProcess(env: env, extra)
            try await fleet.create(count)
            try await fleet.converge("the fleet at first")
            return (env, fleet, process)
        }

        @Test func restartsOfTheControlPlaneMidReconcile() async throws {
            var random = Seed.random()
            let env = try await NimEnvironment()
            var fleet = Fleet(env: env)
            let process = try OperatorProcess(env: env)
            try await fleet.create(12)
            // Down while the operator creates the children, for a seeded moment, twice.
            for _ in 0..<2 {
                try await Task.sleep(nanoseconds: UInt64.random(in: 0...300_000_000, using: &random))
                try env.controlPlane.restart(downFor: Double.random(in: 0.2...1.0, using: &random))
            }
            let seconds = try await fleet.converge("after restarts")
            // Down again while keys rotate.
            try await fleet.rotate(fleet.members[0], to: Fleet.key(900))
            try env.controlPlane.restart(downFor: 0.5)
            try await fleet.rotate(fleet.members[1], to: Fleet.key(901))
            report("API server restarted mid-reconcile (x3, storage kept)", converged: try await fleet.converge("after a restart during rotation") + seconds, Self.checked)
            #expect(process.isRunning && process.troubles.isEmpty, "\(process.troubles)")
        }

        @Test func watchesCutEveryFewSeconds() async throws {
            var random = Seed.random()
            let (env, initial, process) = try await converged(8)
            var fleet = initial
            let plane = env.controlPlane
            let delays = (0..<40).map { _ in UInt64.random(in: 200_000_000...1_500_000_000, using: &random) }
            let cutter = Task {
                for delay in delays {
                    try? await Task.sleep(nanoseconds: delay)
                    if Task.isCancelled { return }
                    plane.closeAllWatches()
                }
            }
            defer { cutter.cancel() }
            try await fleet.create(8, prefix: "late")
            for (index, member) in fleet.members.enumerated() where index % 5 == 0 { try await fleet.rotate(member, to: Fleet.key(1000 + index)) }
            let seconds = try await fleet.converge(timeout: 90, "with watches cut")
            cutter.cancel()
            report("all watches cut every 0.2-1.5 s", converged: seconds, Self.checked)
            #expect(process.isRunning && process.troubles.isEmpty)
        }

        /// This test found a transport bug: in about 5 % of runs under load a watch did not come
        /// back after the cut, so a key rotated meanwhile was not seen. Dropping a watch that had
        /// ended posts a cancel for its libcurl handle; the new watch's handle could have the
        /// same address, and the loop removed it. Fixed (TransportTests pins it down).
        /// RESILIENCE_DEBUG=1 keeps the operator's debug log in /tmp/resilience-410.log and
        /// prints, after each round, the operator's list and watch requests and the server's
        /// watch streams (open, or how each ended).
        @Test func goneOnResumeLeadsToAFreshList() async throws {
            let debug = ProcessInfo.processInfo.environment["RESILIENCE_DEBUG"] != nil
            let (env, initial, process) = try await converged(6, debug ? ["--log-level", "debug"] : [])
            defer {
                if debug { try? process.log.write(toFile: "/tmp/resilience-410.log", atomically: true, encoding: .utf8) }
            }
            var fleet = initial
            var total: TimeInterval = 0
            for round in 0..<3 {
                // The history is compacted while the watches are down: their resume gets 410.
                env.controlPlane.compactHistory()
                env.controlPlane.closeAllWatches()
                try await fleet.rotate(fleet.members[round], to: Fleet.key(2000 + round))
                let edited = fleet.members[round + 3]
                _ = try await retrying {
                    try await env.deploy(edited.name, namespace: edited.namespace, spec: [
                        "model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": .string(edited.keySecret)], "replicas": ["min": 1, "max": .int(round + 2)],
                    ])
                }
                total += try await fleet.converge(timeout: 20, "after 410 round \(round)")
                if debug {
                    let requests = env.controlPlane.requestStats.counts.filter { ["list", "watch"].contains($0.key.verb) && $0.key.agent == "nim-deploy-operator" }
                    print("DEBUG round \(round) requests: \(requests.map { "\($0.key.resource) \($0.key.verb)=\($0.value)" }.sorted())")
                    print("DEBUG round \(round) streams: \(env.controlPlane.watchStreams.map { "\($0.key)=\($0.value)" }.sorted())")
                }
            }
            report("410 Gone on watch resume (history compacted, x3)", converged: total / 3, Self.checked + "; rotations and spec edits made while the watches were gone")
            #expect(process.isRunning && process.troubles.isEmpty)
        }

        @Test func burstsOfThrottlingAndServerErrors() async throws {
            let (env, initial, process) = try await converged(6)
            var fleet = initial
            let faults = env.controlPlane.faults
            faults.failNext(30, code: 429, retryAfterSeconds: 1)
            try await fleet.create(6, prefix: "burst")
            faults.failNext(25, code: 500)
            faults.failNext(25, code: 503)
            try await fleet.rotate(fleet.members[2], to: Fleet.key(3000))
            let seconds = try await fleet.converge(timeout: 90, "after 429/500/503 bursts")
            report("bursts: 30x 429 (Retry-After 1), 25x 500, 25x 503", converged: seconds, Self.checked)
            #expect(process.isRunning && process.troubles.isEmpty)
        }

        @Test func aSecondWriterTouchingTheChildren() async throws {
            var random = Seed.random()
            let (env, initial, process) = try await converged(6)
            var fleet = initial
            var intruderConfiguration = ClientConfiguration(server: env.controlPlane.baseURL, source: "intruder")
            intruderConfiguration.userAgent = "intruder"
            let intruder = KubeClient(configuration: intruderConfiguration)
            let targets = (0..<30).map { _ in fleet.members[Int.random(in: 0..<fleet.members.count, using: &random)] }
            // Read-modify-write with the version read, as kubectl edit does: the operator's
            // writes in between make some of these 409, and theirs make the operator retry.
            let writer = Task {
                var conflicts = 0
                for (index, member) in targets.enumerated() {
                    let names = ChildNames(deployment: member.name)
                    do {
                        var secret = try await intruder.get(.secrets, namespace: member.namespace, name: names.apiKeySecret)
                        secret["data"] = ["NGC_API_KEY": .string(Data("nvapi-wrong-\(index)".utf8).base64EncodedString())]
                        _ = try await intruder.update(secret, .secrets)
                        var runtime = try await intruder.get(KServe.servingRuntimes, namespace: member.namespace, name: names.runtime)
                        runtime.labels["intruder"] = "\(index)"
                        var containers = runtime[path: ["spec", "containers"]]?.arrayValue ?? []
                        if !containers.isEmpty { containers[0]["image"] = "nvcr.io/nim/other/model:1" }
                        runtime[path: ["spec", "containers"]] = .array(containers)
                        _ = try await intruder.update(runtime, KServe.servingRuntimes)
                    } catch {
                        if (error as? KubeError)?.status?.code == 409 { conflicts += 1 }
                    }
                }
                return conflicts
            }
            try await fleet.rotate(fleet.members[0], to: Fleet.key(4000))
            try await fleet.rotate(fleet.members[3], to: Fleet.key(4001))
            let conflicts = await writer.value
            print("resilience: the second writer got \(conflicts) conflicts (409) of 30 read-modify-writes")
            let seconds = try await fleet.converge("after the second writer stopped")
            for member in fleet.members {
                let runtime = try await env.client.get(KServe.servingRuntimes, namespace: member.namespace, name: ChildNames(deployment: member.name).runtime)
                #expect(runtime[path: ["spec", "containers"]]?[0]?["image"]?.stringValue?.hasPrefix("nvcr.io/nim/meta/llama-3.1-8b-instruct") == true)
            }
            report("a second writer replacing keys and images in the children (30 edits)", converged: seconds, Self.checked + "; the intruder's keys and images undone")
            #expect(process.isRunning && process.troubles.isEmpty)
        }

        @Test func latencyOf200msOnEveryCall() async throws {
            let env = try await NimEnvironment()
            env.controlPlane.faults.latency = 0.2
            var fleet = Fleet(env: env)
            let process = try OperatorProcess(env: env)
            try await fleet.create(6)
            try await fleet.rotate(fleet.members[1], to: Fleet.key(5000))
            let seconds = try await fleet.converge(timeout: 120, "at 200 ms a call")
            env.controlPlane.faults.latency = 0
            report("200 ms latency on every API call", converged: seconds, Self.checked)
            #expect(process.isRunning && process.troubles.isEmpty)
        }
    }
}

