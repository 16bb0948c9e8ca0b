import Foundation
import Synchronization
import KubeCore
import KubeAPI
import KubeRuntime
import LocalControlPlane
import Reconciler

/// Plays the part of KServe's RawDeployment mode, the scheduler and the kubelet where none run.
///
/// For every InferenceService it renders the predictor pod as KServe would (the ServingRuntime
/// as it is then as the base, the predictor's pod settings laid over it, the pod labelled and
/// annotated as KServe labels it) and, when that pod template changes, rolls: a pod of the new
/// template, the previous one removed once it is ready (a rolling update with no unavailability,
/// as KServe's Deployments do with one replica). One rollout per template change, so tests can
/// assert "rolled exactly once". A tiny scheduler places the pod on GPU
/// nodes tainted `nvidia.com/gpu:NoSchedule` (as the GPU Operator and the clouds taint them):
/// a pod that does not tolerate the taint, or whose node selector no node matches, is
/// Unschedulable with the scheduler's own message. A scheduled pod then goes through the
/// kubelet's states (pulling, loading, ready, or a state a test sets: crash-looping, image pull
/// back-off), and the InferenceService is Ready once its pod is.
///
/// Like KServe releases that do not watch ServingRuntimes, a runtime change shows only at the
/// next InferenceService change. With `rendersPredictors` it also writes the predictor's
/// Deployment (what migration's cleanup looks at).
public final class KServeStandIn: Sendable {
    public static let fieldManager = "kserve-stand-in"

    /// What the kubelet reports for a predictor pod that was scheduled.
    public enum PredictorState: Sendable, Equatable {
        case ready
        case pullingImage
        case loadingModel
        case imagePullBackOff(message: String)
        case crashLooping(reason: String, exitCode: Int, message: String)
    }

    /// The nodes the tiny scheduler places predictor pods on: GPU nodes with these labels,
    /// tainted `nvidia.com/gpu=present:NoSchedule`.
    public static let gpuNodeCount = 3
    public static let gpuNodeLabels = ["nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"]

    private struct Predictor {
        var template: String?
        var rollouts = 0
        var pod: String?
        var state: PredictorState?
        var handled: String?
        var generation: Int?
        /// A test set the kubelet's state: render and report now, whatever changed.
        var forced = false
        /// The InferenceService this is about: one re-created under the same name starts afresh.
        var uid: String?
    }

    private let client: KubeClient
    private let informer: Informer
    private let state = Mutex<[ObjectKey: Predictor]>([:])
    private let failing = Mutex<Set<String>>([])
    private let controller = Mutex<Controller?>(nil)
    private let rendersPredictors: Bool
    private let taintsGPUNodes: Bool
    private let imageStates = Mutex<[(fragment: String, state: PredictorState)]>([])
    /// The NIMs behind the InferenceServices' addresses.
    public let models: ModelStandIn?

    /// - Parameter taintsGPUNodes: the GPU nodes carry `nvidia.com/gpu=present:NoSchedule`
    ///   (false: a cluster whose GPU nodes take any pod, as legacy deployments ran on).
    public init(client: KubeClient, namespaces: [String]? = nil, rendersPredictors: Bool = false, taintsGPUNodes: Bool = true, models: ModelStandIn? = nil) {
        self.client = client
        self.models = models
        self.rendersPredictors = rendersPredictors
        self.taintsGPUNodes = taintsGPUNodes
        informer = Informer(client: client, resource: KServe.inferenceServices, namespaces: namespaces)
    }

    /// How many times the predictor's pods have been replaced.
    public func rollouts(_ key: ObjectKey) -> Int { state.withLock { $0[key]?.rollouts ?? 0 } }

    /// The resourceVersion of the InferenceService this stand-in has finished handling: once
    /// it is a version written after something, that something has been handled too.
    public func handledVersion(_ key: ObjectKey) -> String? { state.withLock { $0[key]?.handled } }

    /// InferenceServices of this name fail to load their model: the container exits and
    /// crash-loops, and KServe reports ModelLoadFailed.
    public func fail(_ name: String) { failing.withLock { _ = $0.insert(name) } }

    /// Puts the predictor pod of an InferenceService in a state (as the kubelet would report it)
    /// and reports the InferenceService accordingly; `nil` returns to the default (ready).
    public func setPredictor(_ key: ObjectKey, _ predictorState: PredictorState?) async throws {
        state.withLock { states in
            states[key, default: Predictor()].state = predictorState
            states[key, default: Predictor()].forced = true
        }
        if let controller = controller.withLock({ $0 }) { controller.enqueue(key) } else { try await reconcile(key) }
    }

    /// Predictor pods of images whose reference contains `fragment` (`:1.3.0`) start in this state
    /// (unless a state was set for their InferenceService); nil: ready again.
    public func setPredictor(forImagesContaining fragment: String, _ predictorState: PredictorState?) {
        imageStates.withLock { states in
            states.removeAll { $0.fragment == fragment }
            if let predictorState { states.append((fragment, predictorState)) }
        }
    }

    /// A controller, as KServe is: several workers, never two on one InferenceService, each
    /// reconcile on the latest the cache holds.
    public static let workers = 8

    public func run() async {
        let controller = Controller(name: "kserve-stand-in", workers: Self.workers) { [self] key in
            try await self.reconcile(key)
            return .done
        }
        self.controller.withLock { $0 = controller }
        controller.watch(informer) { event in [event.object.key] }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.informer.run() }
            // The controller waits for the informer it watches.
            group.addTask { await controller.run() }
        }
    }

    /// Fails (and is retried with backoff, as KServe's reconciles are) when a request fails.
    private func reconcile(_ key: ObjectKey) async throws {
        guard let service = informer.cache.get(key) else {
            // Gone (once the cache is whole; before, not seen yet).
            if informer.hasSynced { state.withLock { _ = $0.removeValue(forKey: key) } }
            return
        }
        let force = state.withLock { $0[key]?.forced ?? false }
        try await observe(service, force: force)
        if force { state.withLock { $0[key]?.forced = false } }
    }


    // MARK: - KServe

    /// The predictor pod as KServe renders it: the runtime's container and pod fields as the
    /// base, the predictor's model container and pod fields laid over them by strategic merge;
    /// labelled and annotated with the InferenceService's own labels and annotations (KServe
    /// copies them into the pod template), the runtime's pod annotations and the predictor's.
    private func podTemplate(_ service: KubeObject) async throws -> (spec: JSON, labels: [String: String], annotations: [String: String]) {
        let namespace = service.namespace ?? ""
        let runtimeName = service[path: ["spec", "predictor", "model", "runtime"]]?.stringValue ?? service.name
        // A runtime not there (yet, or again): the reconcile fails and is retried until it is.
        let runtime = try await client.get(KServe.servingRuntimes, namespace: namespace, name: runtimeName)
        let predictor = service[path: ["spec", "predictor"]]?.objectValue ?? [:]
        var containers = runtime[path: ["spec", "containers"]]?.arrayValue ?? []
        if !containers.isEmpty, var model = predictor["model"]?.objectValue {
            for field in ["modelFormat", "runtime", "storageUri", "storage", "protocolVersion", "runtimeVersion"] { model[field] = nil }
            containers[0] = PodSpecMerge.container(containers[0], with: .object(model))
        }
        var base: JSON = [:]
        for field in ["imagePullSecrets", "volumes", "nodeSelector", "tolerations", "affinity"] { base[field] = runtime[path: ["spec", field]] }
        var overrides: JSON = [:]
        let podFields = [
            "nodeSelector", "tolerations", "affinity", "runtimeClassName", "priorityClassName", "schedulerName", "serviceAccountName", "securityContext", "initContainers",
            "imagePullSecrets", "volumes",
        ]
        for field in podFields { overrides[field] = predictor[field] }
        var spec = PodSpecMerge.podSpec(base, with: overrides)
        spec["containers"] = .array(containers)
        var labels = service.labels.merging(KubeObject.stringMap(predictor["labels"])) { $1 }
        labels["serving.kserve.io/inferenceservice"] = service.name
        labels["component"] = "predictor"
        let annotations = service.annotations.filter { $0.key != "kubectl.kubernetes.io/last-applied-configuration" }
            .merging(KubeObject.stringMap(runtime[path: ["spec", "annotations"]])) { $1 }
            .merging(KubeObject.stringMap(predictor["annotations"])) { $1 }
        return (spec, labels, annotations)
    }

    private func observe(_ service: KubeObject, force: Bool) async throws {
        let key = service.key
        let replicas = service[path: ["spec", "predictor", "maxReplicas"]]?.intValue ?? 1
        // As a controller that reconciles on spec changes: an event that changed only the
        // status (its own writes among them) renders nothing, so it never reads a runtime
        // changed after the spec it belongs with.
        let seen = state.withLock { states -> Int? in
            if states[key]?.uid != service.uid { states[key] = Predictor(rollouts: states[key]?.rollouts ?? 0, uid: service.uid) }
            return states[key]?.generation
        }
        if force || seen != service.generation {
            let template = try await podTemplate(service)
            let digest = SHA256.hex(template.spec.serializedBytes() + JSON.object(template.annotations.mapValues(JSON.string)).serializedBytes()
                + JSON.object(template.labels.mapValues(JSON.string)).serializedBytes())
            let (changed, current) = state.withLock { states -> (Bool, Predictor) in
                var predictor = states[key, default: Predictor()]
                let changed = predictor.template != digest
                if changed, predictor.template != nil { predictor.rollouts += 1 }
                predictor.template = digest
                states[key] = predictor
                return (changed, predictor)
            }
            if changed, rendersPredictors { try await renderDeployment(service, template) }
            if replicas == 0 {
                try await deletePods(of: service, except: nil)
            } else if changed || force || current.pod == nil {
                try await runPod(service, template, digest: digest, state: current.state)
            }
            // Only now: a reconcile that failed half-way renders again when retried.
            state.withLock { $0[key]?.generation = service.generation }
        }
        let pods = replicas == 0 ? [] : try await livePods(service)
        let latest = state.withLock { $0[key]?.pod }
        // A canary promoted (or ended): the latest revision takes all, the previous one goes.
        if Self.canaryPercent(service) == nil, let latest, pods.contains(where: { $0.name == latest && Self.isReady($0) }), pods.count > 1 {
            try await deletePods(of: service, except: latest)
        }
        try await report(service, ready: replicas == 0 ? true : pods.contains(where: Self.isReady), pods: pods, latest: latest)
        state.withLock { $0[key, default: Predictor()].handled = service.resourceVersion }
    }

    private func renderDeployment(_ service: KubeObject, _ template: (spec: JSON, labels: [String: String], annotations: [String: String])) async throws {
        let selector: JSON = ["serving.kserve.io/inferenceservice": .string(service.name), "app": .string("isvc.\(service.name)-predictor")]
        var deployment = KubeObject(apiVersion: "apps/v1", kind: "Deployment", namespace: service.namespace, name: "\(service.name)-predictor")
        deployment.ownerReferences = [Self.owner(service)]
        deployment["spec"] = [
            "selector": ["matchLabels": selector],
            "template": ["metadata": ["labels": selector, "annotations": .object(template.annotations.mapValues(JSON.string))], "spec": template.spec],
        ]
        _ = try await client.apply(deployment, .deployments, fieldManager: Self.fieldManager)
    }

    private func deletePods(of service: KubeObject, except keep: String?) async throws {
        let selector = LabelSelector(matching: ["serving.kserve.io/inferenceservice": service.name])
        for pod in try await client.list(.pods, namespace: service.namespace, options: ListOptions(labelSelector: selector)).items where pod.name != keep {
            do { _ = try await client.delete(.pods, namespace: service.namespace ?? "", name: pod.name) } catch { if !error.isNotFound { throw error } }
        }
        if keep == nil { state.withLock { $0[service.key]?.pod = nil } }
    }

    /// Starts the predictor pod of this template, in the state the scheduler and the kubelet
    /// would report, and, as a rolling update without unavailability does, removes the previous
    /// revision's pods once it is ready (until then they serve).
    private func runPod(_ service: KubeObject, _ template: (spec: JSON, labels: [String: String], annotations: [String: String]), digest: String, state wanted: PredictorState?) async throws {
        // Per InferenceService (its uid) and template, as a ReplicaSet's pods are named.
        let name = "\(service.name)-predictor-\(SHA256.hex(Array((digest + service.uid).utf8)).prefix(10))"
        var pod = KubeObject(apiVersion: "v1", kind: "Pod", namespace: service.namespace, name: name)
        // KServe's pods belong to a ReplicaSet of a Deployment the InferenceService owns: they go
        // with it (and free the cache claim, which pvc-protection holds while a pod mounts it).
        pod.ownerReferences = [Self.owner(service)]
        pod.labels = template.labels
        pod.annotations = template.annotations
        pod["spec"] = template.spec
        do {
            _ = try await client.create(pod, .pods, fieldManager: Self.fieldManager)
        } catch {
            if error.status?.code != 409 { throw error }
        }
        let image = template.spec["containers"]?[0]?["image"]?.stringValue ?? ""
        let status: JSON
        var ready = false
        if let unschedulable = schedulingProblem(template.spec) {
            status = Self.unschedulableStatus(unschedulable)
        } else {
            let byImage = imageStates.withLock { states in states.last { image.contains($0.fragment) }?.state }
            let kubelet: PredictorState = failing.withLock { $0.contains(service.name) }
                ? .crashLooping(reason: "Error", exitCode: 1, message: "the model server exited") : (wanted ?? byImage ?? .ready)
            ready = kubelet == .ready
            status = Self.kubeletStatus(kubelet, image: image, pod: name)
        }
        _ = try await client.patch(.pods, namespace: service.namespace, name: name, .merge(["status": status]), subresource: "status", fieldManager: Self.fieldManager)
        state.withLock { $0[service.key]?.pod = name }
        // A Serverless canary keeps the previous revision serving its share.
        if ready, Self.canaryPercent(service) == nil { try await deletePods(of: service, except: name) }
    }

    /// Serverless with `canaryTrafficPercent` below 100: the latest revision takes that share.
    static func canaryPercent(_ service: KubeObject) -> Int? {
        guard service.annotations[DesiredState.deploymentModeAnnotation] == "Serverless",
            let percent = service[path: ["spec", "predictor", "canaryTrafficPercent"]]?.intValue, percent < 100
        else { return nil }
        return percent
    }

    private func livePods(_ service: KubeObject) async throws -> [KubeObject] {
        let selector = LabelSelector(matching: ["serving.kserve.io/inferenceservice": service.name])
        return try await client.list(.pods, namespace: service.namespace, options: ListOptions(labelSelector: selector)).items.filter { !$0.isTerminating }
    }

    static func isReady(_ pod: KubeObject) -> Bool {
        (pod[dotted: "status.conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
    }

    static func image(_ pod: KubeObject?) -> String? { pod?[dotted: "spec.containers"]?[0]?["image"]?.stringValue }

    /// Tells the model stand-in which image answers where: the InferenceService's address (the
    /// latest ready revision), and with tag routing a Serverless canary's `latest-` and `prev-` URLs.
    /// Returns KServe's traffic report for a Serverless InferenceService.
    private func route(_ service: KubeObject, pods: [KubeObject], latest: String?) -> JSON? {
        let namespace = service.namespace ?? ""
        let ready = pods.filter(Self.isReady)
        let latestPod = ready.first { $0.name == latest }
        let previousPod = ready.first { $0.name != latest }
        models?.serve(Self.image(latestPod ?? previousPod), namespace: namespace, name: service.name)
        guard service.annotations[DesiredState.deploymentModeAnnotation] == "Serverless" else { return nil }
        models?.serve(Self.image(latestPod), namespace: namespace, name: "latest-" + service.name)
        models?.serve(Self.image(previousPod), namespace: namespace, name: "prev-" + service.name)
        func url(_ tag: String) -> JSON { .string(models?.address(namespace: namespace, name: tag + service.name) ?? "http://\(tag)\(service.name)-predictor-\(namespace).example.com") }
        if let percent = Self.canaryPercent(service), previousPod != nil {
            return [
                ["tag": "prev", "revisionName": .string("\(service.name)-predictor-prev"), "percent": .int(100 - percent), "latestRevision": false, "url": url("prev-")],
                ["tag": "latest", "revisionName": .string("\(service.name)-predictor-latest"), "percent": .int(percent), "latestRevision": true, "url": url("latest-")],
            ]
        }
        return [["tag": "latest", "revisionName": .string("\(service.name)-predictor-latest"), "percent": 100, "latestRevision": true, "url": url("latest-")]]
    }

    /// The InferenceService's status: Ready once its predictor pod is (KServe's RawDeployment
    /// mode reports the Deployment's availability).
    private func report(_ service: KubeObject, ready podReady: Bool, pods: [KubeObject], latest: String?) async throws {
        let failing = failing.withLock { $0.contains(service.name) }
        let ready = podReady && !failing
        let traffic = route(service, pods: pods, latest: latest)
        let observed = service[dotted: "status.observedGeneration"]?.intValue
        let wasReady = (service[dotted: "status.conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
        let reportedTraffic = service[path: ["status", "components", "predictor", "traffic"]]
        guard observed != service.generation || wasReady != ready || (traffic != nil && reportedTraffic.map { traffic?.semanticallyEquals($0) != true } ?? true) else { return }
        let now = KubeTime.format(Date())
        let condition: JSON
        if ready {
            condition = ["type": "Ready", "status": "True", "lastTransitionTime": .string(now)]
        } else if failing {
            condition = ["type": "Ready", "status": "False", "reason": "ModelLoadFailed", "message": "the model server exited", "lastTransitionTime": .string(now)]
        } else {
            condition = [
                "type": "Ready", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability.",
                "lastTransitionTime": .string(now),
            ]
        }
        var status: JSON = [
            "observedGeneration": .int(service.generation),
            "conditions": [["type": "PredictorReady", "status": ready ? "True" : "False", "lastTransitionTime": .string(now)], condition],
        ]
        status["url"] = .string("http://\(service.name)-\(service.namespace ?? "default").example.com")
        if let models { status["address"] = ["url": .string(models.address(namespace: service.namespace ?? "", name: service.name))] }
        if let traffic { status["components"] = ["predictor": ["traffic": traffic]] }
        // A status write the API server failed (5xx, 429, no answer) fails the reconcile, which
        // is retried, or the operator would wait on a report that never comes.
        do {
            _ = try await client.patch(
                KServe.inferenceServices, namespace: service.namespace, name: service.name, .merge(["status": status]), subresource: "status",
                fieldManager: Self.fieldManager)
        } catch {
            if !error.isNotFound { throw error }
        }
    }

    static func owner(_ service: KubeObject) -> OwnerReference {
        OwnerReference(apiVersion: service.apiVersion, kind: service.kind, name: service.name, uid: service.uid, controller: true, blockOwnerDeletion: true)
    }

    // MARK: - The scheduler

    /// Why no GPU node takes the pod, in the scheduler's words; nil when one does.
    func schedulingProblem(_ spec: JSON) -> String? {
        let nodes = Self.gpuNodeCount
        let selector = KubeObject.stringMap(spec["nodeSelector"])
        if !selector.allSatisfy({ Self.gpuNodeLabels[$0.key] == $0.value }) {
            return "0/\(nodes) nodes are available: \(nodes) node(s) didn't match Pod's node affinity/selector. preemption: 0/\(nodes) nodes are available: \(nodes) Preemption is not helpful for scheduling."
        }
        let tolerated = (spec["tolerations"]?.arrayValue ?? []).contains { toleration in
            let key = toleration["key"]?.stringValue
            let effect = toleration["effect"]?.stringValue
            let matchesKey = key == "nvidia.com/gpu" || (key == nil && toleration["operator"] == "Exists")
            let matchesValue = toleration["operator"] == "Exists" || toleration["value"] == "present"
            return matchesKey && matchesValue && (effect == nil || effect == "NoSchedule")
        }
        if taintsGPUNodes, !tolerated {
            return "0/\(nodes) nodes are available: \(nodes) node(s) had untolerated taint {nvidia.com/gpu: present}. preemption: 0/\(nodes) nodes are available: \(nodes) Preemption is not helpful for scheduling."
        }
        return nil
    }

    static func unschedulableStatus(_ message: String) -> JSON {
        [
            "phase": "Pending",
            "conditions": [["type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": .string(message), "lastTransitionTime": .string(KubeTime.format(Date()))]],
        ]
    }

    // MARK: - The kubelet

    static func kubeletStatus(_ state: PredictorState, image: String, pod: String) -> JSON {
        let now = KubeTime.format(Date())
        func conditions(ready: Bool) -> JSON {
            .array(["PodScheduled", "Initialized", "ContainersReady", "Ready"].map { type in
                let status = type == "PodScheduled" || type == "Initialized" || ready
                return ["type": .string(type), "status": status ? "True" : "False", "lastTransitionTime": .string(now)]
            })
        }
        var container: JSON = ["name": "kserve-container", "image": .string(image), "imageID": "", "restartCount": 0, "ready": false, "started": false]
        var phase = "Running"
        switch state {
        case .ready:
            container["ready"] = true
            container["started"] = true
            container["state"] = ["running": ["startedAt": .string(now)]]
        case .pullingImage:
            phase = "Pending"
            container["state"] = ["waiting": ["reason": "ContainerCreating"]]
        case .loadingModel:
            container["state"] = ["running": ["startedAt": .string(now)]]
        case .imagePullBackOff(let message):
            phase = "Pending"
            container["state"] = ["waiting": ["reason": "ImagePullBackOff", "message": .string("Back-off pulling image \"\(image)\": \(message)")]]
        case .crashLooping(let reason, let exitCode, let message):
            container["restartCount"] = 5
            container["state"] = ["waiting": ["reason": "CrashLoopBackOff", "message": .string("back-off 5m0s restarting failed container=kserve-container pod=\(pod)")]]
            container["lastState"] = ["terminated": ["reason": .string(reason), "exitCode": .int(exitCode), "message": .string(message), "finishedAt": .string(now)]]
        }
        return ["phase": .string(phase), "conditions": conditions(ready: state == .ready), "containerStatuses": [container]]
    }
}
