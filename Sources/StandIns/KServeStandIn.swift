import Foundation
import Synchronization
import KubeWatch
import Reconciler

/// Plays KServe's part where no KServe runs: every InferenceService is reported Ready (with a
/// URL) for its current generation, and each change of the predictor's pod template (its
/// annotations) counts as one rollout, so tests can assert "rolled exactly once".
public final class KServeStandIn: Sendable {
    public static let fieldManager = "kserve-stand-in"

    private let client: KubeClient
    private let informer: Informer
    private let state = Mutex<(templates: [ObjectKey: String], rollouts: [ObjectKey: Int], failing: Set<String>)>(([:], [:], []))

    public init(client: KubeClient, namespaces: [String]? = nil) {
        self.client = client
        informer = Informer(client: client, resource: KServe.inferenceServices, namespaces: namespaces)
    }

    /// How many times the predictor's pods would have been replaced.
    public func rollouts(_ key: ObjectKey) -> Int { state.withLock { $0.rollouts[key] ?? 0 } }

    /// InferenceServices of this name are reported not ready
    /// (as when a model fails to load).
    public func fail(_ name: String) { state.withLock { _ = $0.failing.insert(name) } }

    public func run() async {
        let (changes, continuation) = AsyncStream<KubeObject>.makeStream()
        informer.addHandler { event in
            if case .deleted = event { return }
            continuation.yield(event.object)
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.informer.run() }
            group.addTask {
                for await service in changes { await self.observe(service) }
            }
        }
    }

    private func observe(_ service: KubeObject) async {
        let key = service.key
        let template = service[path: ["spec", "predictor", "annotations"]]?.serialized() ?? ""
        let failing = state.withLock { state -> Bool in
            if let previous = state.templates[key], previous != template { state.rollouts[key, default: 0] += 1 }
            state.templates[key] = template
            return state.failing.contains(service.name)
        }
        let observed = service[dotted: "status.observedGeneration"]?.intValue
        let wasReady = (service[dotted: "status.conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
        guard observed != service.generation || wasReady == failing else { return }
        let now = KubeTime.format(Date())
        let ready: JSON = failing
            ? ["type": "Ready", "status": "False", "reason": "ModelLoadFailed", "message": "the model server exited", "lastTransitionTime": .string(now)]
            : ["type": "Ready", "status": "True", "lastTransitionTime": .string(now)]
        var status: JSON = [
            "observedGeneration": .int(service.generation),
            "conditions": [["type": "PredictorReady", "status": failing ? "False" : "True", "lastTransitionTime": .string(now)], ready],
        ]
        if !failing { status["url"] = .string("http://\(service.name)-\(service.namespace ?? "default").example.com") }
        _ = try? await client.patch(
            KServe.inferenceServices, namespace: service.namespace, name: service.name, .merge(["status": status]), subresource: "status",
            fieldManager: Self.fieldManager)
    }
}
