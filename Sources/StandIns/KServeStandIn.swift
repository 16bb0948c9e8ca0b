import Foundation
import Synchronization
import KubeWatch
import Reconciler

/// Plays KServe's part where no KServe runs: every InferenceService is reported Ready (with a
/// URL) for its current generation, and each change of the predictor's pod template (its
/// annotations) counts as one rollout, so tests can assert "rolled exactly once".
///
/// With `rendersPredictors`, it also does what KServe's RawDeployment mode does on such a change:
/// renders the Deployment `<name>-predictor` from the ServingRuntime as it is then, and replaces
/// the predictor's Pod (one, named after the template). Like KServe releases that do not watch
/// ServingRuntimes, a runtime change shows only at the next InferenceService change.
public final class KServeStandIn: Sendable {
    public static let fieldManager = "kserve-stand-in"

    private let client: KubeClient
    private let informer: Informer
    private let state = Mutex<(templates: [ObjectKey: String], rollouts: [ObjectKey: Int], failing: Set<String>, seen: [ObjectKey: String])>(([:], [:], [], [:]))

    private let rendersPredictors: Bool

    public init(client: KubeClient, namespaces: [String]? = nil, rendersPredictors: Bool = false) {
        self.client = client
        self.rendersPredictors = rendersPredictors
        informer = Informer(client: client, resource: KServe.inferenceServices, namespaces: namespaces)
    }

    /// How many times the predictor's pods would have been replaced.
    public func rollouts(_ key: ObjectKey) -> Int { state.withLock { $0.rollouts[key] ?? 0 } }

    /// The resourceVersion of the InferenceService this stand-in has finished handling: once
    /// it is a version written after something, that something has been handled too.
    public func handledVersion(_ key: ObjectKey) -> String? { state.withLock { $0.seen[key] } }

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

    /// The predictor's Deployment and Pod, from the runtime as it is now.
    private func render(_ service: KubeObject) async {
        let namespace = service.namespace ?? ""
        let runtimeName = service[path: ["spec", "predictor", "model", "runtime"]]?.stringValue ?? service.name
        guard let runtime = try? await client.get(KServe.servingRuntimes, namespace: namespace, name: runtimeName) else { return }
        var podSpec: JSON = ["containers": runtime[path: ["spec", "containers"]] ?? []]
        for field in ["imagePullSecrets", "volumes"] { podSpec[field] = runtime[path: ["spec", field]] }
        let labels: JSON = ["serving.kserve.io/inferenceservice": .string(service.name), "app": .string("isvc.\(service.name)-predictor")]
        let annotations = service[path: ["spec", "predictor", "annotations"]] ?? [:]
        var deployment = KubeObject(apiVersion: "apps/v1", kind: "Deployment", namespace: namespace, name: "\(service.name)-predictor")
        deployment["spec"] = [
            "selector": ["matchLabels": labels],
            "template": ["metadata": ["labels": labels, "annotations": annotations], "spec": podSpec],
        ]
        _ = try? await client.apply(deployment, .deployments, fieldManager: Self.fieldManager)
        let selector = LabelSelector(matching: ["serving.kserve.io/inferenceservice": service.name])
        for pod in (try? await client.list(.pods, namespace: namespace, options: ListOptions(labelSelector: selector)).items) ?? [] {
            _ = try? await client.delete(.pods, namespace: namespace, name: pod.name)
        }
        var pod = KubeObject(apiVersion: "v1", kind: "Pod", namespace: namespace, name: "\(service.name)-predictor-\(SHA256.hex(podSpec.serializedBytes() + annotations.serializedBytes()).prefix(8))")
        pod.labels = ["serving.kserve.io/inferenceservice": service.name]
        pod["spec"] = podSpec
        _ = try? await client.create(pod, .pods, fieldManager: Self.fieldManager)
    }

    private func observe(_ service: KubeObject) async {
        let key = service.key
        let template = service[path: ["spec", "predictor", "annotations"]]?.serialized() ?? ""
        let (failing, changed) = state.withLock { state -> (Bool, Bool) in
            let previous = state.templates[key]
            if let previous, previous != template { state.rollouts[key, default: 0] += 1 }
            state.templates[key] = template
            return (state.failing.contains(service.name), previous != template)
        }
        if changed, rendersPredictors { await render(service) }
        defer { state.withLock { $0.seen[key] = service.resourceVersion } }
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
        // As a controller requeues: a status write the API server failed (5xx, 429, no answer)
        // is tried again, or the operator would wait on a report that never comes.
        for _ in 0..<100 {
            do {
                _ = try await client.patch(
                    KServe.inferenceServices, namespace: service.namespace, name: service.name, .merge(["status": status]), subresource: "status",
                    fieldManager: Self.fieldManager)
                return
            } catch {
                if error.isNotFound || Task.isCancelled { return }
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
        }
    }
}
