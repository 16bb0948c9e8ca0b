import KubeCore

/// A NimDeployment that takes over a migrated deployment as it runs: the same name (so the
/// ServingRuntime and InferenceService are adopted, not duplicated), the image pinned, the
/// cache claim as `existingClaim` (never touched), the GPUs and replicas it has. For users who
/// move to GitOps: commit it, and the operator manages the deployment from then on.
public enum Adoption {
    /// The NimDeployment for a migrated runtime and its InferenceService; `keySecret` is the
    /// Secret the key is read from from now on.
    public static func nimDeployment(runtime: KubeObject, service: KubeObject?, keySecret: String) -> JSON {
        let legacy = LegacyRuntime(runtime)
        let container = runtime[path: ["spec", "containers"]]?.arrayValue?.first
        let predictor = service?[path: ["spec", "predictor"]]
        var spec: JSON = [:]
        if let model = predictor?[path: ["model", "modelFormat", "name"]]?.stringValue ?? runtime[path: ["spec", "supportedModelFormats"]]?[0]?["name"]?.stringValue {
            spec["model"] = .string(model)
        }
        if let image = container?["image"]?.stringValue { spec["image"] = .string(image) }
        spec["apiKeySecretRef"] = ["name": .string(keySecret)]
        if (container?["ports"]?.arrayValue ?? []).contains(where: { $0["name"] == "h2c" }) { spec["protocol"] = "grpc" }
        if let cache = legacy.cacheClaim {
            var storage: JSON = ["existingClaim": .string(cache.claim)]
            if let subPath = cache.subPath { storage["subPath"] = .string(subPath) }
            spec["storage"] = storage
        }
        let resources = predictor?[path: ["model", "resources"]]
        var adopted: JSON = [:]
        if let gpus = resources?[path: ["limits", "nvidia.com/gpu"]] ?? resources?[path: ["requests", "nvidia.com/gpu"]] {
            adopted["gpus"] = .int(gpus.intValue ?? gpus.stringValue.flatMap { Int($0) } ?? 1)
        }
        for field in ["requests", "limits"] {
            let kept = (resources?[field]?.objectValue ?? [:]).filter { $0.key == "cpu" || $0.key == "memory" }
            if !kept.isEmpty { adopted[field] = .object(kept) }
        }
        if adopted.objectValue?.isEmpty == false { spec["resources"] = adopted }
        if let minimum = predictor?["minReplicas"]?.intValue, let maximum = predictor?["maxReplicas"]?.intValue, maximum >= 1 {
            spec["replicas"] = ["min": .int(minimum), "max": .int(max(minimum, maximum))]
        }
        return [
            "apiVersion": .string(NimDeployment.resource.apiVersion), "kind": .string(NimDeployment.resource.kind),
            "metadata": ["name": .string(runtime.name), "namespace": .string(runtime.namespace ?? "")],
            "spec": spec,
        ]
    }

}
