import KubeCore

/// GPU ResourceQuota awareness: a deployment whose GPUs at its maximum replicas do not fit the
/// namespace's quota is refused before anything is written, with the numbers, rather than left
/// with pods the quota admission refuses (FailedCreate events nobody reads).
enum QuotaRules {
    /// Quota names for GPUs: an extended resource is quota'd by its requests only.
    static let resources = ["requests.nvidia.com/gpu"]

    /// Refuses a deployment whose GPUs do not fit: at its most replicas, plus one replica for a
    /// rolling update's surge (KServe's Deployments surge 25%, at least one pod), plus a
    /// progressive rollout's candidate at its most replicas. A running deployment is refused only
    /// when the spec asks for more than runs: one whose quota was lowered under it goes on
    /// serving and rotating its key.
    static func check(_ deployment: NimDeployment, quotas: [KubeObject], pods: [KubeObject], running: KubeObject?) throws(DeploymentProblem) {
        let spec = deployment.spec
        guard !spec.suspend, spec.resources.gpus > 0 else { return }
        let replicas = spec.maxReplicas + 1 + (spec.rollout.strategy == .progressive ? spec.maxReplicas : 0)
        let asked = spec.resources.gpus * replicas
        if let running {
            let predictor = running[path: ["spec", "predictor"]]
            let runningGPUs = quantity(predictor?[path: ["model", "resources", "limits", "nvidia.com/gpu"]]) ?? 0
            let runningMax = predictor?["maxReplicas"]?.intValue ?? 1
            guard spec.resources.gpus * spec.maxReplicas > runningGPUs * runningMax else { return }
        }
        // What this deployment's own pods hold counts toward the quota's use as the quota counts
        // it: every pod not finished, terminating ones too.
        let own = pods.filter { !["Succeeded", "Failed"].contains($0[dotted: "status.phase"]?.stringValue ?? "") }.compactMap { gpus(of: $0) }.reduce(0, +)
        // A scoped quota (priority class, terminating) may not count these pods: not judged.
        for quota in quotas where quota[path: ["spec", "scopes"]] == nil && quota[path: ["spec", "scopeSelector"]] == nil {
            for resource in resources {
                guard let hard = quantity(quota[path: ["status", "hard", resource]] ?? quota[path: ["spec", "hard", resource]]) else { continue }
                let used = quantity(quota[path: ["status", "used", resource]]) ?? 0
                let others = max(0, used - own)
                if asked > hard - others {
                    throw .quotaExceeded(quota: quota.name, resource: resource, asked: asked, hard: hard, usedByOthers: others)
                }
            }
        }
    }

    static func gpus(of pod: KubeObject) -> Int? {
        quantity(pod[path: ["spec", "containers"]]?[0]?[path: ["resources", "limits", "nvidia.com/gpu"]])
    }

    /// Whole GPUs, as quotas and pods write them ("4", 4).
    static func quantity(_ value: JSON?) -> Int? {
        guard let value else { return nil }
        return value.intValue ?? value.stringValue.flatMap { Int($0) }
    }
}
