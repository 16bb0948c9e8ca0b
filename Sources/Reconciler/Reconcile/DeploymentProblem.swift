
/// Why a deployment cannot be what its spec asks for. One type, mapped in one place to the
/// condition it sets, the reason users search for, the Event, the metric label, and whether
/// time alone may fix it. Messages say what to do and never contain the key.
public enum DeploymentProblem: Error, Sendable, Equatable {
    case invalidSpec(String)
    /// spec.env sets a variable the operator sets itself.
    case reservedEnvVar(name: String, why: String)
    /// spec.podLabels or podAnnotations uses a key the operator or KServe sets.
    case reservedPodMetadata(field: String, key: String)
    /// spec.proxy.caBundle names a ConfigMap or key that does not exist (yet).
    case caBundleNotFound(configMap: String, key: String, present: [String]?)
    /// The key exists but holds no PEM certificate.
    case caBundleInvalid(configMap: String, key: String)
    /// A cache claim of this name exists that the spec's storage cannot use as it is.
    case claimMismatch(claim: String, differences: [String], retained: Bool)
    case keySecretNotFound(secret: String)
    case keyNotInSecret(secret: String, tried: [String], present: [String])
    case keyEmpty(secret: String, dataKey: String)
    case keyMalformed(secret: String, dataKey: String, why: String)
    case legacyKeyUnsupported(secret: String, fingerprint: String)
    case invalidKey(secret: String, code: Int, fingerprint: String)
    case keyNotEntitled(repository: String)
    case keyRequired
    case ngcUnreachable(String)
    case catalogUnavailable(catalog: String, why: String)
    case modelNotFound(model: String, catalog: String, suggestions: [String])
    case tagNotFound(model: String, tag: String, available: [String])
    case regionRestricted(model: String)
    case claimNotFound(claim: String)
    /// The GPUs at replicas.max do not fit the namespace's ResourceQuota.
    case quotaExceeded(quota: String, resource: String, asked: Int, hard: Int, usedByOthers: Int)
    case resourceConflict(kind: String, name: String, why: String)
    case applyFailed(object: String, status: Int, message: String)
    case apiUnavailable(String)

    /// The condition this problem is about.
    public var conditionType: String {
        switch self {
        case .keySecretNotFound, .keyNotInSecret, .keyEmpty, .keyMalformed, .legacyKeyUnsupported, .invalidKey, .keyNotEntitled, .keyRequired,
            .ngcUnreachable:
            return ConditionType.keyValid
        default:
            return ConditionType.resourcesReady
        }
    }

    public var reason: String {
        switch self {
        case .invalidSpec: return "InvalidSpec"
        case .reservedEnvVar: return "ReservedEnvVar"
        case .reservedPodMetadata: return "ReservedPodMetadata"
        case .caBundleNotFound: return "CABundleNotFound"
        case .caBundleInvalid: return "CABundleInvalid"
        case .claimMismatch: return "ClaimMismatch"
        case .keySecretNotFound: return "KeySecretNotFound"
        case .keyNotInSecret: return "KeyNotInSecret"
        case .keyEmpty: return "KeyEmpty"
        case .keyMalformed: return "KeyMalformed"
        case .legacyKeyUnsupported: return "LegacyKeyUnsupported"
        case .invalidKey: return "InvalidKey"
        case .keyNotEntitled: return "KeyNotEntitled"
        case .keyRequired: return "KeyRequired"
        case .ngcUnreachable: return "NGCUnreachable"
        case .catalogUnavailable: return "CatalogUnavailable"
        case .modelNotFound: return "ModelNotFound"
        case .tagNotFound: return "TagNotFound"
        case .regionRestricted: return "RegionRestricted"
        case .claimNotFound: return "ClaimNotFound"
        case .quotaExceeded: return "QuotaExceeded"
        case .resourceConflict: return "ResourceConflict"
        case .applyFailed: return "ApplyFailed"
        case .apiUnavailable: return "APIServerUnavailable"
        }
    }

    /// Time may fix it (the network, the API server): retried with backoff, the status says
    /// Unknown, nothing already working is touched.
    public var isTransient: Bool {
        switch self {
        case .ngcUnreachable, .apiUnavailable: return true
        // A ResourceQuota's 403 passes once the quota is raised or something else freed, and no
        // event of ours would say so: retried with backoff like a conflict.
        case .applyFailed(_, let status, let message): return status == 429 || status >= 500 || status == 409 || (status == 403 && message.contains("exceeded quota"))
        default: return false
        }
    }

    public var message: String {
        switch self {
        case .invalidSpec(let why):
            return "\(why). Fix the NimDeployment's spec."
        case .reservedEnvVar(let name, let why):
            return "spec.env sets \(name), which the operator owns (\(why)). Remove it from spec.env."
        case .reservedPodMetadata(let field, let key):
            return "spec.\(field) sets \(key), a key the operator or KServe sets on the predictor pods. Use a key outside nim.opendatahub.io/ and serving.kserve.io/ (and not app, component or the app.kubernetes.io/managed-by, part-of and opendatahub.io/managed labels)."
        case .caBundleNotFound(let configMap, let key, let present):
            guard let present else {
                return "ConfigMap \"\(configMap)\" named in spec.proxy.caBundle does not exist in this namespace. Create it with the PEM certificates under \(key) (on OpenShift, an empty ConfigMap labelled config.openshift.io/inject-trusted-cabundle=true gets the cluster's bundle as ca-bundle.crt); the deployment goes ahead once it exists."
            }
            let has = present.isEmpty ? "no keys" : "keys " + present.sorted().joined(separator: ", ")
            return "ConfigMap \"\(configMap)\" has no key \(key) (it has \(has)). Put the PEM bundle under \(key), or name its key in spec.proxy.caBundle.key."
        case .caBundleInvalid(let configMap, let key):
            return "ConfigMap \"\(configMap)\" key \(key) holds no PEM certificate (-----BEGIN CERTIFICATE-----). Put the CA bundle there."
        case .claimMismatch(let claim, let differences, let retained):
            let origin = retained ? "PersistentVolumeClaim \(claim) was kept from an earlier deployment of this name (whenDeleted: Retain) and" : "PersistentVolumeClaim \(claim)"
            return "\(origin) does not fit spec.storage: \(differences.joined(separator: "; ")). A claim's class and access mode cannot change, nor its size shrink. Set spec.storage to match the claim, or use it with spec.storage.existingClaim, or delete the claim (its cached model is lost) to let the operator make a new one."
        case .keySecretNotFound(let secret):
            return "Secret \"\(secret)\" named in spec.apiKeySecretRef does not exist in this namespace. Create it with your NGC personal API key: kubectl create secret generic \(secret) --from-literal=NGC_API_KEY=<key>."
        case .keyNotInSecret(let secret, let tried, let present):
            let has = present.isEmpty ? "no data" : "data keys " + present.sorted().joined(separator: ", ")
            return "Secret \"\(secret)\" has no \(tried.joined(separator: " or ")) (it has \(has)). Put the key under NGC_API_KEY, or name the data key in spec.apiKeySecretRef.key."
        case .keyEmpty(let secret, let dataKey):
            return "The key in Secret \"\(secret)\" under \(dataKey) is empty. Put your NGC personal API key there."
        case .keyMalformed(let secret, let dataKey, let why):
            return "The key in Secret \"\(secret)\" under \(dataKey) \(why). Put your NGC personal API key (nvapi-...) there."
        case .legacyKeyUnsupported(let secret, let fingerprint):
            return "The key in Secret \"\(secret)\" (\(fingerprint)) is not a personal API key (nvapi-...); older organization keys are no longer supported. Generate a personal key at ngc.nvidia.com and put it in the Secret."
        case .invalidKey(let secret, let code, let fingerprint):
            return "NGC rejected the key (\(fingerprint)) in Secret \"\(secret)\" (HTTP \(code)). Check that it is a current personal API key; the deployment keeps running with the key it had."
        case .keyNotEntitled(let repository):
            return "The key is valid but has no access to \(repository) (HTTP 403). Use a key of an organization entitled to NVIDIA AI Enterprise, or another model."
        case .keyRequired:
            return "spec.apiKeySecretRef is required unless the operator runs disconnected. Name the Secret holding your NGC personal API key."
        case .ngcUnreachable(let why):
            return "Cannot reach the NGC API to validate the key (\(why)). Retrying with backoff; nothing is changed meanwhile."
        case .catalogUnavailable(let catalog, let why):
            return "The model catalog \(catalog) cannot be used (\(why)). Set spec.image to deploy without it, or fix the catalog ConfigMap."
        case .modelNotFound(let model, let catalog, let suggestions):
            let hint = suggestions.isEmpty ? "" : " Similar: \(suggestions.joined(separator: ", "))."
            return "Model \"\(model)\" is not in the catalog \(catalog).\(hint) Use a model the catalog lists, or set spec.image."
        case .tagNotFound(let model, let tag, let available):
            let shown = available.prefix(12).joined(separator: ", ") + (available.count > 12 ? ", ..." : "")
            return "Tag \"\(tag)\" is not offered for model \(model). Available: \(shown)."
        case .regionRestricted(let model):
            return "Model \(model) is not available in the EU region this operator serves (--region EU). Choose another model."
        case .quotaExceeded(let quota, let resource, let asked, let hard, let others):
            return "The deployment asks for \(asked) GPU\(asked == 1 ? "" : "s") at its most (spec.resources.gpus × (spec.replicas.max, one more while a rolling update surges, and a progressive rollout's candidate)), and ResourceQuota \(quota) allows \(hard) \(resource) in this namespace, \(others) of them used by other pods: its pods would stay uncreated (FailedCreate). Raise the quota, or lower spec.replicas.max or spec.resources.gpus; what runs is left as it is."
        case .claimNotFound(let claim):
            return "PersistentVolumeClaim \"\(claim)\" named in spec.storage.existingClaim does not exist in this namespace. Create it, or remove existingClaim to let the operator make one."
        case .resourceConflict(let kind, let name, let why):
            return "\(kind) \(name) already exists and this operator did not make it (\(why)); it is left alone. Rename the NimDeployment, or delete the \(kind)."
        case .applyFailed(let object, let status, let message):
            return "The API server refused \(object) (HTTP \(status)): \(message)"
        case .apiUnavailable(let why):
            return "The API server could not be reached (\(why)). Retrying with backoff."
        }
    }
}

/// Condition types, as they appear in status.
public enum ConditionType {
    public static let ready = "Ready"
    public static let keyValid = "KeyValid"
    public static let resourcesReady = "ResourcesReady"
    /// spec.storage.preload: whether the cache claim holds the model yet.
    public static let cacheReady = "CacheReady"
    public static let inferenceServiceReady = "InferenceServiceReady"
    public static let progressing = "Progressing"
    public static let degraded = "Degraded"
    /// A warning only: the model is EU-restricted, and this operator is not serving the EU.
    public static let regionRestricted = "RegionRestricted"
    /// A warning only: more replicas than the cache claim's access mode lets mount it.
    public static let scaleLimited = "ScaleLimited"
    /// The revision's model answered the operator's probe (spec.verification).
    public static let modelVerified = "ModelVerified"
    /// The spec's revision failed and the known-good one runs instead.
    public static let rolledBack = "RolledBack"
    /// spec.rollout.strategy Progressive: whether traffic can be split here, and how.
    public static let progressiveRollout = "ProgressiveRollout"
}
