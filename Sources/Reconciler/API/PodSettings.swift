import KubeCore

/// What a platform needs to say about the NIM's pods: where they may run, what they are told,
/// how they are probed, who they run as, how they reach NGC. All optional, nothing defaulted
/// into spec; the defaults that fit NIM are applied when the objects are made (`PodTemplate`).
public struct PodSettings: Sendable, Equatable {
    /// A probe as the spec asks for it.
    public enum Probe: Sendable, Equatable {
        /// The operator's default for NIM.
        case standard
        /// `enabled: false`.
        case disabled
        /// `probe:` given: a core/v1 Probe, used as is.
        case replaced(JSON)
    }

    public struct Proxy: Sendable, Equatable {
        public var httpProxy: String?
        public var httpsProxy: String?
        public var noProxy: String?
        public var caBundle: CABundle?

        /// Any of the three proxy settings (a CA bundle alone proxies nothing).
        public var proxies: Bool { httpProxy != nil || httpsProxy != nil || noProxy != nil }
    }

    /// A ConfigMap key, in the deployment's namespace, holding PEM certificates.
    public struct CABundle: Sendable, Equatable, Hashable {
        public var configMapName: String
        public var key: String
        public static let defaultKey = "ca-bundle.crt"
    }

    public struct SecurityContext: Sendable, Equatable {
        public var runAsUser: Int?
        public var runAsGroup: Int?
        public var fsGroup: Int?
        public var runAsNonRoot: Bool?
    }

    /// core/v1 EnvVar entries, in order.
    public var env: [JSON] = []
    public var modelProfile: String?
    public var nodeSelector: [String: String] = [:]
    /// `nil`: not set (the GPU toleration is still added when GPUs are requested).
    public var tolerations: [JSON]?
    public var affinity: JSON?
    public var runtimeClassName: String?
    public var priorityClassName: String?
    /// A GPU scheduler (kai-scheduler, volcano) instead of the default one.
    public var schedulerName: String?
    public var serviceAccountName: String?
    public var labels: [String: String] = [:]
    public var annotations: [String: String] = [:]
    public var sharedMemorySize: JSON?
    public var startupProbe = Probe.standard
    public var readinessProbe = Probe.standard
    public var livenessProbe = Probe.standard
    public var proxy: Proxy?
    public var securityContext = SecurityContext()

    public init() {}

    /// Whether the readiness probe asks NIM whether the model is loaded: the default, or a
    /// replacement on its ready endpoint (gRPC health too). Turned off, KServe's own probe
    /// checks only that the port is open.
    public var readinessAsksTheModel: Bool {
        switch readinessProbe {
        case .standard: return true
        case .disabled: return false
        case .replaced(let probe): return probe[path: ["httpGet", "path"]]?.stringValue == PodTemplate.readyPath || probe["grpc"] != nil
        }
    }

    /// Env names the operator sets itself, given these settings: a user's value for one would
    /// be overridden or would override the operator's (the key, the cache, the proxy, the CA).
    public var reservedEnvNames: [String: String] {
        var reserved = [
            "NGC_API_KEY": "the operator sets it from the per-deployment Secret (rotation depends on it)",
            "NGC_CLI_API_KEY": "NIM prefers it to NGC_API_KEY, so key rotation would no longer reach the pods",
            "NIM_CACHE_PATH": "the operator mounts the cache claim there",
        ]
        if modelProfile != nil { reserved["NIM_MODEL_PROFILE"] = "spec.modelProfile sets it" }
        if proxy?.proxies == true {
            for name in Self.proxyEnvNames { reserved[name] = "spec.proxy sets it" }
            reserved["NIM_SDK_USE_NATIVE_TLS"] = "spec.proxy sets it"
        }
        if proxy?.caBundle != nil {
            for name in Self.caEnvNames + ["NIM_SDK_USE_NATIVE_TLS"] { reserved[name] = "spec.proxy.caBundle sets it" }
        }
        return reserved
    }

    public static let proxyEnvNames = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"]
    /// Where the NIM's HTTP clients (OpenSSL, Python requests, curl) look for trusted CAs.
    public static let caEnvNames = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]

    /// Label keys KServe or the operator set on the predictor pods, and prefixes they own.
    static let reservedLabelKeys: Set<String> = [
        "app", "component", "pod-template-hash", ChildLabels.managedBy, ChildLabels.partOf, ChildLabels.odhManaged,
    ]
    static let reservedPrefixes = ["nim.opendatahub.io/", "serving.kserve.io/"]

    /// Parses `spec` fields of the pod settings; throws what admission would have refused (for
    /// objects written before a schema change) and what the operator owns.
    init(spec: [String: JSON]) throws(DeploymentProblem) {
        func text(_ value: JSON?, _ field: String) throws(DeploymentProblem) -> String? {
            guard let value, !value.isNull else { return nil }
            guard let string = value.stringValue else { throw .invalidSpec("spec.\(field) must be a string, not \(value.typeName)") }
            return string.isEmpty ? nil : string
        }
        func stringMap(_ field: String) throws(DeploymentProblem) -> [String: String] {
            guard let value = spec[field], !value.isNull else { return [:] }
            guard let object = value.objectValue else { throw .invalidSpec("spec.\(field) must be a map of strings") }
            var map: [String: String] = [:]
            for (key, entry) in object {
                guard let string = entry.stringValue else { throw .invalidSpec("spec.\(field).\(key) must be a string, not \(entry.typeName)") }
                map[key] = string
            }
            return map
        }
        func list(_ field: String) throws(DeploymentProblem) -> [JSON]? {
            guard let value = spec[field], !value.isNull else { return nil }
            guard let array = value.arrayValue else { throw .invalidSpec("spec.\(field) must be a list") }
            return array
        }

        if let env = try list("env") {
            var seen: Set<String> = []
            for entry in env {
                guard let name = entry["name"]?.stringValue, !name.isEmpty else { throw .invalidSpec("every entry of spec.env needs a name") }
                guard seen.insert(name).inserted else { throw .invalidSpec("spec.env sets \(name) twice") }
                if entry["value"] != nil, entry["valueFrom"] != nil { throw .invalidSpec("spec.env \(name) has value and valueFrom; give one") }
            }
            self.env = env
        }
        modelProfile = try text(spec["modelProfile"], "modelProfile")
        nodeSelector = try stringMap("nodeSelector")
        for (key, value) in nodeSelector {
            if let problem = NameValidation.qualifiedNameProblem(key) { throw .invalidSpec("spec.nodeSelector key \"\(key)\": \(problem)") }
            if let problem = NameValidation.labelValueProblem(value) { throw .invalidSpec("spec.nodeSelector.\(key) \"\(value)\": \(problem)") }
        }
        tolerations = try list("tolerations")
        if let affinity = spec["affinity"], !affinity.isNull {
            guard affinity.objectValue != nil else { throw .invalidSpec("spec.affinity must be an object") }
            self.affinity = affinity
        }
        let names: [(String, WritableKeyPath<PodSettings, String?>)] = [
            ("runtimeClassName", \.runtimeClassName), ("priorityClassName", \.priorityClassName), ("schedulerName", \.schedulerName),
            ("serviceAccountName", \.serviceAccountName),
        ]
        for (field, target) in names {
            guard let name = try text(spec[field], field) else { continue }
            if let problem = NameValidation.dns1123SubdomainProblem(name) { throw .invalidSpec("spec.\(field) \"\(name)\": \(problem)") }
            self[keyPath: target] = name
        }
        labels = try stringMap("podLabels")
        for (key, value) in labels {
            if let problem = NameValidation.qualifiedNameProblem(key) { throw .invalidSpec("spec.podLabels key \"\(key)\": \(problem)") }
            if let problem = NameValidation.labelValueProblem(value) { throw .invalidSpec("spec.podLabels.\(key) \"\(value)\": \(problem)") }
            if Self.reservedLabelKeys.contains(key) || Self.reservedPrefixes.contains(where: key.hasPrefix) {
                throw .reservedPodMetadata(field: "podLabels", key: key)
            }
        }
        annotations = try stringMap("podAnnotations")
        for key in annotations.keys {
            if let problem = NameValidation.qualifiedNameProblem(key) { throw .invalidSpec("spec.podAnnotations key \"\(key)\": \(problem)") }
            if Self.reservedPrefixes.contains(where: key.hasPrefix) { throw .reservedPodMetadata(field: "podAnnotations", key: key) }
        }
        if let size = spec["sharedMemorySize"], !size.isNull {
            guard QuantityText.isNonNegative(size), size.intValue != 0, size.stringValue.map({ !$0.allSatisfy { $0 == "0" || $0 == "." } }) ?? true else {
                throw .invalidSpec("spec.sharedMemorySize must be a quantity above zero such as 16Gi, not \(size.serialized())")
            }
            sharedMemorySize = size
        }
        startupProbe = try Self.probe(spec["startupProbe"], "startupProbe")
        readinessProbe = try Self.probe(spec["readinessProbe"], "readinessProbe")
        livenessProbe = try Self.probe(spec["livenessProbe"], "livenessProbe")
        if let proxy = spec["proxy"]?.objectValue {
            var parsed = Proxy()
            parsed.httpProxy = try text(proxy["httpProxy"], "proxy.httpProxy")
            parsed.httpsProxy = try text(proxy["httpsProxy"], "proxy.httpsProxy")
            parsed.noProxy = try text(proxy["noProxy"], "proxy.noProxy")
            for (field, url) in [("httpProxy", parsed.httpProxy), ("httpsProxy", parsed.httpsProxy)] {
                if let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) || url.contains(where: \.isWhitespace) {
                    throw .invalidSpec("spec.proxy.\(field) must be an http:// or https:// URL")
                }
            }
            if let bundle = proxy["caBundle"]?.objectValue {
                guard let name = try text(bundle["configMapName"], "proxy.caBundle.configMapName") else {
                    throw .invalidSpec("spec.proxy.caBundle.configMapName is required: the ConfigMap in this namespace that holds the CA bundle")
                }
                if let problem = NameValidation.dns1123SubdomainProblem(name) { throw .invalidSpec("spec.proxy.caBundle.configMapName \"\(name)\": \(problem)") }
                parsed.caBundle = CABundle(configMapName: name, key: try text(bundle["key"], "proxy.caBundle.key") ?? CABundle.defaultKey)
            }
            if parsed.proxies || parsed.caBundle != nil { self.proxy = parsed }
        }
        if let security = spec["securityContext"]?.objectValue {
            for (field, target) in [("runAsUser", \SecurityContext.runAsUser), ("runAsGroup", \.runAsGroup), ("fsGroup", \.fsGroup)] {
                guard let value = security[field], !value.isNull else { continue }
                guard let id = value.intValue, (0...Int(Int32.max)).contains(id) else { throw .invalidSpec("spec.securityContext.\(field) must be a whole number from 0 to 2147483647") }
                securityContext[keyPath: target] = id
            }
            securityContext.runAsNonRoot = security["runAsNonRoot"]?.boolValue
            if securityContext.runAsNonRoot == true, securityContext.runAsUser == 0 {
                throw .invalidSpec("spec.securityContext: runAsNonRoot true with runAsUser 0 cannot start")
            }
        }
        let reserved = reservedEnvNames
        for entry in env {
            if let name = entry["name"]?.stringValue, let why = reserved[name] { throw .reservedEnvVar(name: name, why: why) }
        }
    }

    static func probe(_ value: JSON?, _ field: String) throws(DeploymentProblem) -> Probe {
        guard let value, !value.isNull else { return .standard }
        guard let object = value.objectValue else { throw .invalidSpec("spec.\(field) must be an object") }
        let enabled = object["enabled"]?.boolValue ?? true
        if let probe = object["probe"], !probe.isNull {
            guard enabled else { throw .invalidSpec("spec.\(field): a probe that is turned off (enabled false) cannot be given") }
            let handlers = ["exec", "httpGet", "tcpSocket", "grpc"].filter { probe[$0] != nil }
            guard probe.objectValue != nil, handlers.count == 1 else {
                throw .invalidSpec("spec.\(field).probe must have exactly one of exec, httpGet, tcpSocket and grpc")
            }
            if field != "readinessProbe", let threshold = probe["successThreshold"]?.intValue, threshold != 1 {
                throw .invalidSpec("spec.\(field).probe.successThreshold must be 1")
            }
            return .replaced(probe)
        }
        return enabled ? .standard : .disabled
    }
}
