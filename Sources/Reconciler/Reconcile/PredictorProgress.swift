import Foundation
import KubeCore

/// Where the predictor's pods stand, read from the pods themselves: what `Ready` waits for and
/// what `Progressing` says meanwhile. KServe's Ready says the Deployment is available; the pods
/// say why it is not yet (pulling, loading, unschedulable, crash-looping).
public struct PredictorProgress: Sendable, Equatable {
    public enum Stage: Sendable, Equatable {
        case waitingForPods
        case unschedulable
        case pullingImage
        case imagePullFailed
        case loadingModel
        case crashLooping
        case ready
    }

    public var stage: Stage
    public var message: String
    /// Some pod of the previous revision still serves (a rollout is under way).
    public var previousRevisionServes = false

    public var reason: String {
        switch stage {
        case .waitingForPods: return "WaitingForPods"
        case .unschedulable: return "Unschedulable"
        case .pullingImage: return "PullingImage"
        case .imagePullFailed: return "ImagePullBackOff"
        case .loadingModel: return "ModelLoading"
        case .crashLooping: return "CrashLoopBackOff"
        case .ready: return "Ready"
        }
    }

    /// Kubernetes retries these itself, but they rarely clear without a change from someone.
    public var isDegraded: Bool { stage == .crashLooping || stage == .imagePullFailed }

    /// From the deployment's predictor pods: those of `revision` decide; none of it yet means
    /// KServe has not replaced the pods yet. Nil when there are no pods at all (KServe's word
    /// stands, as with Serverless scaled to zero).
    public static func assess(pods: [KubeObject], revision: String?, startupBudget: TimeInterval?) -> PredictorProgress? {
        let live = pods.filter { !$0.isTerminating }
        guard !live.isEmpty else { return nil }
        let current = live.filter { revision == nil || $0.annotations[DesiredState.revisionAnnotation] == revision }
        let previousServes = live.contains { pod in !current.contains { $0.name == pod.name } && isReady(pod) }
        guard !current.isEmpty else {
            return PredictorProgress(stage: .waitingForPods, message: "Waiting for KServe to start pods of the current revision.", previousRevisionServes: previousServes)
        }
        if current.contains(where: isReady) { return PredictorProgress(stage: .ready, message: "The model answers ready.", previousRevisionServes: previousServes) }
        // The pod that tells most: a crash loop before a pull failure before the scheduler.
        let assessed = current.map { assess(pod: $0, startupBudget: startupBudget) }
        let order: [Stage] = [.crashLooping, .imagePullFailed, .unschedulable, .loadingModel, .pullingImage, .waitingForPods]
        var worst = assessed.min { (order.firstIndex(of: $0.stage) ?? 99) < (order.firstIndex(of: $1.stage) ?? 99) } ?? assessed[0]
        worst.previousRevisionServes = previousServes
        return worst
    }

    /// What of a pod the assessment reads; the rest (its spec, most of its metadata) is dropped
    /// before it is cached, so a cluster's pods cost little memory.
    @Sendable public static func trimmed(_ pod: KubeObject) -> KubeObject {
        var kept = KubeObject(apiVersion: pod.apiVersion, kind: pod.kind, namespace: pod.namespace, name: pod.name)
        for field in ["uid", "resourceVersion", "deletionTimestamp", "creationTimestamp"] { kept[path: ["metadata", field]] = pod[path: ["metadata", field]] }
        kept.labels = pod.labels.filter { $0.key == ChildLabels.deployment }
        kept.annotations = pod.annotations.filter { [DesiredState.revisionAnnotation, ChildLabels.deploymentNameAnnotation].contains($0.key) }
        let gpus = (pod[dotted: "spec.containers"]?.arrayValue ?? []).compactMap { $0[path: ["resources", "limits", "nvidia.com/gpu"]] }
        if let first = gpus.first { kept["spec"] = ["containers": [["resources": ["limits": ["nvidia.com/gpu": first]]]]] }
        var status: JSON = [:]
        status["phase"] = pod[dotted: "status.phase"]
        status["conditions"] = pod[dotted: "status.conditions"].map { conditions in
            .array((conditions.arrayValue ?? []).map { condition in
                var kept: JSON = [:]
                for field in ["type", "status", "reason", "message"] { kept[field] = condition[field] }
                return kept
            })
        }
        for list in ["initContainerStatuses", "containerStatuses"] {
            status[list] = pod[path: ["status", list]].map { statuses in
                .array((statuses.arrayValue ?? []).map { container in
                    var kept: JSON = [:]
                    for field in ["name", "image", "ready", "started", "restartCount", "state", "lastState"] { kept[field] = container[field] }
                    return kept
                })
            }
        }
        kept["status"] = status
        return kept
    }

    static func isReady(_ pod: KubeObject) -> Bool {
        (pod[dotted: "status.conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
    }

    static func assess(pod: KubeObject, startupBudget: TimeInterval?) -> PredictorProgress {
        let conditions = pod[dotted: "status.conditions"]?.arrayValue ?? []
        if let scheduled = conditions.first(where: { $0["type"] == "PodScheduled" }), scheduled["status"] == "False" {
            let why = scheduled["message"]?.stringValue ?? scheduled["reason"]?.stringValue ?? "no node fits"
            return PredictorProgress(
                stage: .unschedulable,
                message: "The predictor pod cannot be scheduled: \(why) Check spec.tolerations, spec.nodeSelector and spec.affinity against the GPU nodes' taints and labels, and that a node has \(gpusRequested(pod)) free.")
        }
        let statuses = (pod[dotted: "status.initContainerStatuses"]?.arrayValue ?? []) + (pod[dotted: "status.containerStatuses"]?.arrayValue ?? [])
        let container = statuses.first { $0["name"] == "kserve-container" } ?? statuses.first
        guard let container else {
            return PredictorProgress(stage: .waitingForPods, message: "The predictor pod \(pod.name) is scheduled; its containers have not started yet.")
        }
        let image = container["image"]?.stringValue ?? "the image"
        if let waiting = container[path: ["state", "waiting"]] {
            let reason = waiting["reason"]?.stringValue ?? ""
            let detail = waiting["message"]?.stringValue.map { ": \($0)" } ?? ""
            switch reason {
            case "CrashLoopBackOff", "RunContainerError", "CreateContainerError", "CreateContainerConfigError":
                return crashLoop(pod: pod, container: container, waitingReason: reason, detail: detail)
            case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
                return PredictorProgress(
                    stage: .imagePullFailed,
                    message: "The node cannot pull \(image) (\(reason)\(detail)). Check the image reference and that the key's organization may pull it; the pull is retried with back-off.")
            default:
                return PredictorProgress(stage: .pullingImage, message: "Pulling \(image) and mounting the cache (\(reason.isEmpty ? "ContainerCreating" : reason)); a first pull of a NIM image takes minutes.")
            }
        }
        if container[path: ["state", "running"]] != nil {
            if (container["restartCount"]?.intValue ?? 0) > 0, container[path: ["lastState", "terminated"]] != nil, container["started"]?.boolValue != true {
                // Running again after exits: say why it exited, or the restarts look like loading.
                var progress = crashLoop(pod: pod, container: container, waitingReason: nil, detail: "")
                progress.stage = .loadingModel
                return progress
            }
            // When it started, not for how long: a message that changed every minute would be
            // written every minute, and one written once goes stale.
            var running = ""
            if let started = container[path: ["state", "running", "startedAt"]]?.stringValue, KubeTime.parse(started) != nil {
                running = " (running since \(started)"
                running += startupBudget.map { budget in
                    "; the startup probe allows \(budget.truncatingRemainder(dividingBy: 3600) == 0 ? "\(Int(budget / 3600))h" : KubeTime.humanDuration(budget)))"
                } ?? ")"
            }
            return PredictorProgress(stage: .loadingModel, message: "The NIM is downloading and loading the model\(running); it is Ready once /v1/health/ready answers.")
        }
        if let terminated = container[path: ["state", "terminated"]] {
            return crashLoop(pod: pod, container: container, waitingReason: terminated["reason"]?.stringValue, detail: "")
        }
        return PredictorProgress(stage: .pullingImage, message: "The predictor pod \(pod.name) is starting.")
    }

    static func crashLoop(pod: KubeObject, container: JSON, waitingReason: String?, detail: String) -> PredictorProgress {
        let restarts = container["restartCount"]?.intValue ?? 0
        var last = ""
        if let terminated = container[path: ["lastState", "terminated"]] ?? container[path: ["state", "terminated"]] {
            let reason = terminated["reason"]?.stringValue ?? "exited"
            let code = terminated["exitCode"]?.intValue.map { ", exit code \($0)" } ?? ""
            let said = terminated["message"]?.stringValue.flatMap { $0.isEmpty ? nil : ": \($0.prefix(300))" } ?? ""
            last = "; last exit: \(reason)\(code)\(said)"
            if reason == "OOMKilled" { last += ". It ran out of memory: raise spec.resources.limits.memory (and requests), or choose a smaller profile" }
        }
        let waiting = waitingReason.map { " (\($0)\(detail))" } ?? ""
        return PredictorProgress(
            stage: .crashLooping,
            message: "The NIM container keeps exiting\(waiting), restarted \(restarts) time\(restarts == 1 ? "" : "s")\(last). kubectl logs --previous \(pod.name) -c kserve-container shows why.")
    }

    static func gpusRequested(_ pod: KubeObject) -> String {
        let containers = pod[dotted: "spec.containers"]?.arrayValue ?? []
        let gpus = containers.compactMap { $0[path: ["resources", "limits", "nvidia.com/gpu"]] }.first
        return gpus.map { "\($0.stringValue ?? $0.serialized()) nvidia.com/gpu" } ?? "the resources requested"
    }
}
