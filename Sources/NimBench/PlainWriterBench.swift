import Foundation
import KubeCore
import KubeAPI
import LocalControlPlane
import Reconciler

/// The limit the operator's convergence is measured against: the same writes, on the same kind of
/// API server, from a client that does nothing else. For each of N deployments (created first,
/// untimed) its five children as the operator renders them (the two Secrets, the claim, the
/// ServingRuntime, the InferenceService) and a status, all by server-side apply through
/// KubeWatch's client, `writers` requests in flight, no work queue, no cache, nothing read.
/// Each run gets a world of its own (a fresh control plane with the KServe stand-in running), so
/// neither run pays for the other's objects.
struct PlainWriterBench {
    let root: URL
    let deployments: Int
    let namespaces: Int

    struct Run {
        var writers: Int
        var seconds: Double
        var writes: Int
        /// This process's CPU meanwhile: the control plane's, the stand-ins' and the writer's.
        var planeSeconds: Double
        /// The API server's requests meanwhile, by client.
        var requests: String
    }

    /// The fastest of the writer counts tried, and every run.
    func run(writerCounts: [Int] = [8, 16, 32]) async throws -> (best: Run, runs: [Run]) {
        var runs: [Run] = []
        for writers in writerCounts { runs.append(try await once(writers: writers, profiled: writers == writerCounts.last)) }
        guard let best = runs.min(by: { $0.seconds < $1.seconds }) else { throw BenchFailure(description: "no plain-writer run") }
        return (best, runs)
    }

    /// `profiled`: NIM_BENCH_PERF_PLAIN=FILE records this process (the control plane, the stand-ins
    /// and the writer) while it writes.
    private func once(writers: Int, profiled: Bool) async throws -> Run {
        let world = try BenchWorld(root: root, expectedObjects: deployments)
        defer { world.stop() }
        let client = world.client
        let namespaceNames = (0..<namespaces).map { "bench-\($0)" }
        for name in namespaceNames { try world.createNamespace(name) }
        guard let entry = world.catalog["llama-3.1-8b-instruct"] ?? world.catalog.modelNames.first.flatMap({ world.catalog[$0] }) else {
            throw BenchFailure(description: "an empty catalog")
        }
        let key = APIKey("nvapi-bench-key-plain-0123456789abcdef")
        let image = ResolvedImage(image: entry.imageReference(tag: entry.latestTag), model: entry.name, tag: entry.latestTag, displayName: entry.displayName)

        // The deployments, as the operator's benchmark makes them; not timed.
        var created: [KubeObject] = []
        created.reserveCapacity(deployments)
        for index in 0..<deployments {
            var object = KubeObject(apiVersion: NimDeployment.resource.apiVersion, kind: "NimDeployment", namespace: namespaceNames[index % namespaceNames.count], name: "nim-\(index)")
            object["spec"] = ["model": .string(entry.name), "apiKeySecretRef": ["name": "ngc-key"]]
            created.append(try await client.apply(object, NimDeployment.resource, fieldManager: "nim-bench"))
        }

        // Every write, rendered before the clock starts: what is timed is the API server's work.
        var writes: [(KubeObject, ResourceType, String?)] = []
        for object in created {
            let deployment = try NimDeployment(object)
            let desired = DesiredState(DesiredInputs(
                deployment: deployment, image: image, key: key, restartToken: RestartToken(fingerprint: key.fingerprint), existingDeploymentMode: .none))
            for child in [desired.apiKeySecret, desired.pullSecret].compactMap({ $0 }) { writes.append((child, .secrets, nil)) }
            if let claim = desired.claim { writes.append((claim, .persistentVolumeClaims, nil)) }
            writes.append((desired.runtime, KServe.servingRuntimes, nil))
            writes.append((desired.inferenceService, KServe.inferenceServices, nil))
            var status = KubeObject(apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name)
            status["status"] = Self.status(generation: object.generation)
            writes.append((status, NimDeployment.resource, "status"))
        }

        let profiler = profiled ? try ScaleBench.profile("NIM_BENCH_PERF_PLAIN", pids: [getpid()]) : nil
        defer { ScaleBench.stop(profiler) }
        let cpuBefore = ScaleBench.ownCPUSeconds()
        let requestsBefore = world.plane.requestStats
        let began = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                let (object, resource, subresource) = writes[next]
                next += 1
                group.addTask { _ = try await client.apply(object, resource, fieldManager: ReconcilerOptions.fieldManager, subresource: subresource) }
            }
            while next < min(writers, writes.count) { add() }
            while try await group.next() != nil {
                if next < writes.count { add() }
            }
        }
        let seconds = Date().timeIntervalSince(began)
        let planeSeconds = ScaleBench.ownCPUSeconds() - cpuBefore
        return Run(writers: writers, seconds: seconds, writes: writes.count, planeSeconds: planeSeconds, requests: requestsByAgent(world.plane.requestStats, since: requestsBefore))
    }

    /// A status the size of the operator's first one: its conditions, observedGeneration, names.
    static func status(generation: Int) -> JSON {
        let now = KubeTime.format(Date())
        let conditions = ["Ready", "KeyValid", "ModelResolved", "SecretsReady", "StorageReady", "RuntimeReady", "InferenceServiceReady", "Degraded"]
            .map { type -> JSON in
                ["type": .string(type), "status": type == "Ready" ? "False" : "True", "reason": "Progressing", "message": "written by the plain writer",
                 "lastTransitionTime": .string(now), "observedGeneration": .int(generation)]
            }
        return ["observedGeneration": .int(generation), "conditions": .array(conditions), "phase": "Progressing"]
    }
}
