import KubeCore

/// A strategic merge of pod specs as Kubernetes' `strategicpatch` does it with PodSpec's merge
/// keys (containers, env and volumes by name, mounts by path): what KServe does to lay an
/// InferenceService's predictor over its ServingRuntime. For the stand-in that plays KServe;
/// the same code the server's strategic merge patch runs.
public enum PodSpecMerge {
    static let listTypes = BuiltinResources.podSpecListTypes(prefix: "spec")

    static func listType(_ path: [String]) -> ListType { listTypes[path.joined(separator: ".")] ?? .atomic }

    /// `patch`, a PodSpec's fields, laid over `base`.
    public static func podSpec(_ base: JSON, with patch: JSON) -> JSON {
        StrategicMergePatch.apply(patch, to: base, listType: listType, path: ["spec"])
    }

    /// `patch`, a container's fields, laid over the container `base`.
    public static func container(_ base: JSON, with patch: JSON) -> JSON {
        StrategicMergePatch.apply(patch, to: base, listType: listType, path: ["spec", "containers"])
    }
}
