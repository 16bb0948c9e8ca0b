import KubeCore

/// `spec.networkPolicy`: who may reach the predictor pods, when a NetworkPolicy is asked for.
public struct NetworkAccess: Sendable, Equatable {
    public var enabled = false
    /// Namespaces of the serving gateway or ingress (their pods reach the model).
    public var ingressNamespaces: [String] = []
    /// Namespaces of the monitoring stack that scrapes `/v1/metrics`.
    public var monitoringNamespaces: [String] = []

    public init() {}

    init(spec: [String: JSON]) throws(DeploymentProblem) {
        guard let field = spec["networkPolicy"], !field.isNull else { return }
        guard let object = field.objectValue else { throw .invalidSpec("spec.networkPolicy must be an object") }
        enabled = object["enabled"]?.boolValue ?? true
        for (name, target) in [("ingressNamespaces", \NetworkAccess.ingressNamespaces), ("monitoringNamespaces", \NetworkAccess.monitoringNamespaces)] {
            let names = object[name]?.arrayValue?.compactMap(\.stringValue) ?? []
            if let bad = names.first(where: { NameValidation.dns1123LabelProblem($0) != nil }) {
                throw .invalidSpec("spec.networkPolicy.\(name): \"\(bad)\" is not a namespace name")
            }
            self[keyPath: target] = names
        }
    }
}
