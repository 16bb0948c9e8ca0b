import KubeCore

/// The names of what one NimDeployment makes (contract section 2), fitted to Kubernetes limits
/// by one rule: a name that fits is used as is; one that does not keeps a prefix and gains a
/// hash of the whole, so it stays unique and is the same every time.
public struct ChildNames: Sendable, Equatable {
    public var apiKeySecret: String
    public var pullSecret: String
    public var claim: String
    public var runtime: String
    public var inferenceService: String
    /// The deployment's name as a label value (63 characters at most).
    public var deploymentLabel: String

    /// Secret and claim names are DNS subdomains (253).
    static let subdomainLimit = 253
    /// The InferenceService's predictor Service is `<name>-predictor`, and a Service name is a
    /// DNS-1035 label of at most 63 characters: so 53 for the InferenceService and its runtime.
    static let servingLimit = 53

    public init(deployment name: String, existingClaim: String? = nil) {
        apiKeySecret = Self.fit("nvidia-nim-secrets-" + name, limit: Self.subdomainLimit)
        pullSecret = Self.fit("nvidia-nim-image-pull-" + name, limit: Self.subdomainLimit)
        claim = existingClaim ?? Self.fit("nim-cache-" + name, limit: Self.subdomainLimit)
        let serving = Self.dns1035(name)
        runtime = serving
        inferenceService = serving
        deploymentLabel = Self.fit(name, limit: 63)
    }

    /// A progressive rollout's candidate runtime and InferenceService, beside the stable ones.
    public var candidate: ChildNames {
        var names = self
        names.runtime = Self.fit(runtime + "-canary", limit: Self.servingLimit)
        names.inferenceService = Self.fit(inferenceService + "-canary", limit: Self.servingLimit)
        return names
    }

    /// The HTTPRoute weighing the stable and candidate InferenceServices (KServe's own routes,
    /// when it makes any, are named after the InferenceService).
    public var trafficRoute: String { Self.fit("nim-traffic-" + inferenceService, limit: Self.subdomainLimit) }

    /// Shortens deterministically: `<prefix>-<8 hex of SHA-256 of the whole name>`.
    public static func fit(_ name: String, limit: Int) -> String {
        guard name.count > limit else { return name }
        let hash = String(SHA256.hex(Array(name.utf8)).prefix(8))
        var prefix = String(name.prefix(limit - hash.count - 1))
        while let last = prefix.last, !(last.isLetter || last.isNumber) { prefix.removeLast() }
        return prefix + "-" + hash
    }

    /// A DNS-1035 label (what KServe accepts for an InferenceService): lower-case, starting with
    /// a letter, no dots; anything changed to get there is marked with a hash so two
    /// deployments cannot end up with one name.
    static func dns1035(_ name: String) -> String {
        var label = name.replacingOccurrences(of: ".", with: "-")
        if label.first?.isLetter != true { label = "n-" + label }
        guard label != name else { return fit(name, limit: servingLimit) }
        let hash = String(SHA256.hex(Array(name.utf8)).prefix(8))
        return fit(String(label.prefix(servingLimit - 9)), limit: servingLimit - 9) + "-" + hash
    }
}

/// The labels every child carries (contract section 2). The CR's own labels are never copied:
/// Argo CD tracks its apps by `app.kubernetes.io/instance` and would prune the children.
public enum ChildLabels {
    public static let managedBy = "app.kubernetes.io/managed-by"
    public static let partOf = "app.kubernetes.io/part-of"
    public static let odhManaged = "opendatahub.io/managed"
    public static let deployment = "nim.opendatahub.io/deployment"
    /// The deployment's full name, for mapping a child back when the label had to be shortened.
    public static let deploymentNameAnnotation = "nim.opendatahub.io/deployment-name"
    public static let operatorName = "nim-deploy-operator"

    public static func labels(for names: ChildNames) -> [String: String] {
        [managedBy: operatorName, partOf: "nim-integration", odhManaged: "true", deployment: names.deploymentLabel]
    }

    /// Selects everything this operator made.
    public static let selector = LabelSelector(matching: [managedBy: operatorName])
}
