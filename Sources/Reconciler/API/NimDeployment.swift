import KubeCore

/// `nim.opendatahub.io/v1alpha1 NimDeployment`, read from the object the API server stored.
/// Parsing is defensive: the CRD's schema catches most mistakes, but an operator must also cope
/// with objects written before a schema change or on a cluster that does not validate.
public struct NimDeployment: Sendable, Equatable {
    public static let resource = ResourceType(
        group: "nim.opendatahub.io", version: "v1alpha1", plural: "nimdeployments", kind: "NimDeployment", namespaced: true)

    public enum ServingProtocol: String, Sendable { case http, grpc }
    public enum DeletionPolicy: String, Sendable { case retain = "Retain", delete = "Delete" }

    public struct KeyReference: Sendable, Equatable {
        public var name: String
        /// `nil`: NGC_API_KEY, then api_key.
        public var key: String?
    }

    public struct Storage: Sendable, Equatable {
        public var size: JSON = "50Gi"
        public var storageClassName: String?
        public var accessMode = "ReadWriteOnce"
        public var existingClaim: String?
        public var subPath: String?
        public var whenDeleted = DeletionPolicy.retain
        /// Fill the claim with a Job before the model server starts.
        public var preload = false
    }

    public struct Resources: Sendable, Equatable {
        public var gpus = 1
        public var requests: [String: JSON] = [:]
        public var limits: [String: JSON] = [:]
    }

    public struct Spec: Sendable, Equatable {
        public var model: String?
        public var tag: String?
        public var image: String?
        public var apiKeySecretRef: KeyReference?
        public var servingProtocol = ServingProtocol.http
        public var storage = Storage()
        public var resources = Resources()
        public var minReplicas = 1
        public var maxReplicas = 1
        public var suspend = false
        public var restartPods = true
        public var forcePull = true
        /// Scheduling, env, probes, proxy and security of the predictor pods.
        public var pod = PodSettings()
        /// How a revision's model is asked whether it answers.
        public var verification = Verification()
        /// How a new revision replaces the running one, and when it is rolled back.
        public var rollout = Rollout()
        /// Who may reach the predictor pods (a NetworkPolicy, when asked for).
        public var networkPolicy = NetworkAccess()
        /// Scale to zero after this long without a request.
        public var idleShutdown = IdleShutdown()
    }

    public var object: KubeObject
    public var spec: Spec

    public var name: String { object.name }
    public var namespace: String { object.namespace ?? "" }
    public var generation: Int { object.generation }
    public var key: ObjectKey { object.key }
    /// A manual rotation trigger (issue-level contract: any new value re-validates and rolls once).
    public var rotateRequest: String? { object.annotations[Self.rotateAnnotation] }

    public static let rotateAnnotation = "nim.opendatahub.io/rotate"
    /// Try a revision that was rolled back again (any new value, as with the rotate annotation).
    public static let retryAnnotation = "nim.opendatahub.io/retry-revision"
    public var retryRequest: String? { object.annotations[Self.retryAnnotation].flatMap { $0.isEmpty ? nil : $0 } }
    /// Serve again after an idle shutdown (any new value).
    public static let wakeAnnotation = "nim.opendatahub.io/wake"
    public var wakeRequest: String? { object.annotations[Self.wakeAnnotation].flatMap { $0.isEmpty ? nil : $0 } }

    /// Parses the spec; the message names the field and says what is wrong.
    public init(_ object: KubeObject) throws(DeploymentProblem) {
        self.object = object
        guard let spec = object["spec"]?.objectValue else { throw .invalidSpec("spec is missing or not an object") }
        var parsed = Spec()
        func string(_ field: String) throws(DeploymentProblem) -> String? {
            guard let value = spec[field], !value.isNull else { return nil }
            guard let text = value.stringValue else { throw .invalidSpec("spec.\(field) must be a string, not \(value.typeName)") }
            return text.isEmpty ? nil : text
        }
        parsed.model = try string("model")
        parsed.tag = try string("tag")
        parsed.image = try string("image")
        if parsed.model == nil && parsed.image == nil {
            throw .invalidSpec("spec.model (a model of the catalog) or spec.image (a full image reference) is required")
        }
        if let reference = spec["apiKeySecretRef"], !reference.isNull {
            guard let name = reference["name"]?.stringValue, !name.isEmpty else {
                throw .invalidSpec("spec.apiKeySecretRef.name is required: the Secret in this namespace that holds the NGC API key")
            }
            if NameValidation.dns1123SubdomainProblem(name) != nil {
                throw .invalidSpec("spec.apiKeySecretRef.name \"\(name)\" is not a Secret name")
            }
            parsed.apiKeySecretRef = KeyReference(name: name, key: reference["key"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
        }
        if let value = try string("protocol") {
            guard let choice = ServingProtocol(rawValue: value) else { throw .invalidSpec("spec.protocol must be http or grpc, not \"\(value)\"") }
            parsed.servingProtocol = choice
        }
        if let storage = spec["storage"]?.objectValue {
            if let size = storage["size"], !size.isNull {
                guard QuantityText.isNonNegative(size) else {
                    throw .invalidSpec("spec.storage.size must be a quantity such as 50Gi, not \(size.serialized())")
                }
                parsed.storage.size = size
            }
            parsed.storage.storageClassName = storage["storageClassName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            if let mode = storage["accessMode"]?.stringValue {
                guard ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"].contains(mode) else {
                    throw .invalidSpec("spec.storage.accessMode \"\(mode)\" is not an access mode")
                }
                parsed.storage.accessMode = mode
            }
            parsed.storage.existingClaim = storage["existingClaim"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            if let subPath = storage["subPath"]?.stringValue, !subPath.isEmpty {
                if subPath.hasPrefix("/") || subPath.split(separator: "/").contains("..") {
                    throw .invalidSpec("spec.storage.subPath must be a relative path without '..'")
                }
                parsed.storage.subPath = subPath
            }
            if let policy = storage["whenDeleted"]?.stringValue {
                guard let choice = DeletionPolicy(rawValue: policy) else { throw .invalidSpec("spec.storage.whenDeleted must be Retain or Delete") }
                parsed.storage.whenDeleted = choice
            }
            parsed.storage.preload = storage["preload"]?.boolValue ?? false
            if parsed.storage.preload, parsed.storage.existingClaim != nil {
                throw .invalidSpec("spec.storage.preload fills a claim the operator makes; an existingClaim is yours and is never written to")
            }
        }
        if let resources = spec["resources"]?.objectValue {
            if let gpus = resources["gpus"], !gpus.isNull {
                guard let count = gpus.intValue, (0...64).contains(count) else { throw .invalidSpec("spec.resources.gpus must be a whole number from 0 to 64") }
                parsed.resources.gpus = count
            }
            for (field, target) in [("requests", \Resources.requests), ("limits", \Resources.limits)] {
                for (name, value) in resources[field]?.objectValue ?? [:] where name == "cpu" || name == "memory" {
                    guard QuantityText.isNonNegative(value) else {
                        throw .invalidSpec("spec.resources.\(field).\(name) must be a quantity of 0 or more (such as 500m or 16Gi), not \(value.serialized())")
                    }
                    parsed.resources[keyPath: target][name] = value
                }
            }
        }
        if let replicas = spec["replicas"]?.objectValue {
            let minimum = replicas["min"]?.intValue
            let maximum = replicas["max"]?.intValue
            if let minimum { parsed.minReplicas = minimum }
            parsed.maxReplicas = maximum ?? max(parsed.minReplicas, 1)
            guard parsed.minReplicas >= 0, parsed.maxReplicas >= 1, parsed.minReplicas <= parsed.maxReplicas else {
                throw .invalidSpec("spec.replicas: min must be 0 or more, max 1 or more, and min not above max")
            }
        }
        parsed.suspend = spec["suspend"]?.boolValue ?? false
        if let rotation = spec["keyRotation"]?.objectValue {
            parsed.restartPods = rotation["restartPods"]?.boolValue ?? true
            parsed.forcePull = rotation["forcePull"]?.boolValue ?? true
        }
        parsed.pod = try PodSettings(spec: spec)
        parsed.verification = try Verification(spec: spec)
        parsed.rollout = try Rollout(spec: spec)
        parsed.networkPolicy = try NetworkAccess(spec: spec)
        parsed.idleShutdown = try IdleShutdown(spec: spec)
        self.spec = parsed
    }
}

/// Resource quantities (`50Gi`, `500m`, `1.5`), for values the schema may not have checked.
enum QuantityText {
    /// A quantity of zero or more, as a number or as text: what a pod's resources and a claim's
    /// size accept (the API server refuses negative ones only when the pod is created, long
    /// after the NimDeployment said Ready).
    static func isNonNegative(_ value: JSON) -> Bool {
        if let number = value.intValue { return number >= 0 }
        guard let text = value.stringValue else { return false }
        return isValid(text) && !text.hasPrefix("-")
    }

    /// The amount a quantity stands for, for comparing two (a claim's size with the spec's).
    static func amount(_ value: JSON) -> Double? {
        if let number = value.intValue { return Double(number) }
        guard let text = value.stringValue, isValid(text) else { return nil }
        let multipliers: [String: Double] = [
            "": 1, "Ki": 1024, "Mi": 1_048_576, "Gi": 1_073_741_824, "Ti": 1_099_511_627_776, "Pi": 1_125_899_906_842_624,
            "Ei": 1_152_921_504_606_846_976, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
        ]
        let number = text.prefix { $0.isASCII && ($0.isNumber || $0 == "." || $0 == "+" || $0 == "-") }
        guard let base = Double(number), let multiplier = multipliers[String(text.dropFirst(number.count))] else { return nil }
        return base * multiplier
    }

    static func isValid(_ text: String) -> Bool {
        var body = Substring(text)
        if body.hasPrefix("+") || body.hasPrefix("-") { body = body.dropFirst() }
        let number = body.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1 else { return false }
        let suffix = body.dropFirst(number.count)
        return ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"].contains(String(suffix))
    }
}
