import KubeCore

/// GPU ResourceQuota awareness: a deployment whose GPUs at its maximum replicas do not fit the
/// namespace's quota is refused before anything is written, with the numbers, rather than left
/// with pods the quota admission refuses (FailedCreate events nobody reads).
enum QuotaRules {
    /// Quota names for GPUs: an extended resource is quota'd by its requests only.
    static let resources = ["requests.nvidia.com/gpu"]

    static func check(_ deployment: NimDeployment, quotas: [KubeObject], pods: [KubeObject]) throws(DeploymentProblem) {
        let spec = deployment.spec
        guard !spec.suspend, spec.resources.gpus > 0 else { return }
        let asked = spec.resources.gpus * spec.maxReplicas
        // What this deployment's own pods hold already counts toward the quota's use.
        let own = pods.filter { !$0.isTerminating }.compactMap { gpus(of: $0) }.reduce(0, +)
        for quota in quotas {
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
