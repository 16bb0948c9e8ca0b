import Foundation
import KubeCore

/// The image a deployment runs and the model name KServe knows it by.
public struct ResolvedImage: Sendable, Equatable {
    public var image: ImageReference
    public var model: String
    public var tag: String
    public var displayName: String
    /// Set when the catalog marks the model EU-restricted.
    public var euRestricted = false
    /// The catalog entry chosen (its id, or its name in a catalog without ids); nil with spec.image.
    public var catalogEntry: String?

    public init(image: ImageReference, model: String, tag: String, displayName: String, euRestricted: Bool = false, catalogEntry: String? = nil) {
        self.catalogEntry = catalogEntry
        self.image = image
        self.model = model
        self.tag = tag
        self.displayName = displayName
        self.euRestricted = euRestricted
    }
}

/// Everything the desired objects depend on. Nothing else: no clock, no cluster.
public struct DesiredInputs: Sendable {
    public var deployment: NimDeployment
    public var image: ResolvedImage
    /// `nil` when running disconnected: no Secrets, no key in the runtime.
    public var key: APIKey?
    /// What the pods are restarted by when it changes: written to the predictor's annotations.
    public var restartToken: RestartToken
    /// The InferenceService's `serving.kserve.io/deploymentMode` as it exists (immutable once
    /// set); `nil` when the InferenceService does not exist yet (then RawDeployment is set).
    public var existingDeploymentMode: String??
    /// The cache claim of a legacy runtime this deployment took over (used like an
    /// existingClaim, and remembered on the runtime).
    public var adopted: AdoptedSettings?
    /// A digest of the CA bundle's content: the pods roll once when it changes (they read the
    /// bundle when they start).
    public var caBundleDigest: String?
    /// The pods' fsGroup when the spec sets none (`--nim-fs-group`).
    public var defaultFSGroup: Int?
    /// The size to request for the cache claim when the claim that exists is larger than the
    /// spec asks (a claim cannot shrink; a larger one fits).
    public var claimSize: JSON?
    /// Where images are pulled from instead of their registry, and with which pull secret.
    public var mirrors: [RegistryMirror] = []
    public var mirrorPullSecret: MirrorPullSecret = .ngcKey
    /// spec.storage.preload: what the claim must hold and where its filling stands.
    public var preload: (content: String, state: CachePreload.State)?
    /// A progressive rollout's candidate: only its runtime and InferenceService, under the
    /// candidate names, beside the stable ones (the Secrets and the claim are shared).
    public var candidate = false
    /// Serverless: the share of traffic KServe gives the latest revision (`canaryTrafficPercent`),
    /// and tag routing on, so the latest revision has its own URL to be verified at.
    public var canaryTrafficPercent: Int?
    public var tagRouting = false
    /// A PodMonitor for the NIM's metrics (the Prometheus Operator is installed), with these labels.
    public var podMonitor = false
    public var podMonitorLabels: [String: String] = [:]
    /// The operator's namespace, for a deployment's NetworkPolicy.
    public var operatorNamespace = ""

    public init(
        deployment: NimDeployment, image: ResolvedImage, key: APIKey?, restartToken: RestartToken, existingDeploymentMode: String??,
        adopted: AdoptedSettings? = nil, caBundleDigest: String? = nil, defaultFSGroup: Int? = nil, claimSize: JSON? = nil,
        mirrors: [RegistryMirror] = [], mirrorPullSecret: MirrorPullSecret = .ngcKey
    ) {
        self.mirrors = mirrors
        self.mirrorPullSecret = mirrorPullSecret
        self.deployment = deployment
        self.image = image
        self.key = key
        self.restartToken = restartToken
        self.existingDeploymentMode = existingDeploymentMode
        self.adopted = adopted
        self.caBundleDigest = caBundleDigest
        self.defaultFSGroup = defaultFSGroup
        self.claimSize = claimSize
        if let claim = adopted?.claim, deployment.spec.storage.existingClaim == nil {
            self.deployment.spec.storage.existingClaim = claim
            if deployment.spec.storage.subPath == nil { self.deployment.spec.storage.subPath = adopted?.subPath }
        }
    }
}

extension DesiredInputs {
    /// The image as the pods pull it: from its mirror, if it has one.
    var pulledImage: ImageReference { RegistryMirror.pulled(image.image, mirrors: mirrors) }
    var isMirrored: Bool { pulledImage != image.image }

    /// The per-deployment pull secret is written with the key for the registry the image comes
    /// from, unless a mirrored image is pulled with none or with the admin's.
    var writesPullSecret: Bool { key != nil && (!isMirrored || mirrorPullSecret == .ngcKey) }

    func pullSecretNames(_ names: ChildNames) -> [String] {
        if isMirrored, case .named(let name) = mirrorPullSecret { return [name] }
        return writesPullSecret ? [names.pullSecret] : []
    }
}

/// What a legacy runtime taken over had that a NimDeployment would not give it: its cache
/// claim, its other env vars, its other pull secrets. Kept on the runtime's annotations from then
/// on, so the deployment goes on as it ran (contract section 6: keep every other env var and
/// pull secret).
public struct AdoptedSettings: Sendable, Equatable {
    public var claim: String?
    public var subPath: String?
    /// Env entries of `kserve-container` other than the key and the cache path, as they were.
    public var env: [JSON] = []
    public var pullSecrets: [String] = []

    public static let claimAnnotation = "nim.opendatahub.io/adopted-claim"
    public static let subPathAnnotation = "nim.opendatahub.io/adopted-subpath"
    public static let envAnnotation = "nim.opendatahub.io/adopted-env"
    public static let pullSecretsAnnotation = "nim.opendatahub.io/adopted-pull-secrets"

    public init(claim: String?, subPath: String?, env: [JSON] = [], pullSecrets: [String] = []) {
        self.claim = claim
        self.subPath = subPath
        self.env = env
        self.pullSecrets = pullSecrets
    }

    /// As remembered on a runtime this operator manages; nil when it adopted nothing.
    public init?(annotations: [String: String]) {
        let env = annotations[Self.envAnnotation].flatMap { try? JSON(parsing: Array($0.utf8)) }?.arrayValue ?? []
        let pulls = (annotations[Self.pullSecretsAnnotation] ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
        guard annotations[Self.claimAnnotation] != nil || !env.isEmpty || !pulls.isEmpty else { return nil }
        self.init(claim: annotations[Self.claimAnnotation], subPath: annotations[Self.subPathAnnotation], env: env, pullSecrets: pulls)
    }

    /// What a legacy NIM runtime has beyond what a NimDeployment gives one.
    public init(takingOver legacy: LegacyRuntime) {
        let container = (legacy.object[path: ["spec", "containers"]]?.arrayValue ?? []).first { $0["name"] == "kserve-container" }
        env = (container?["env"]?.arrayValue ?? []).filter { !["NGC_API_KEY", "NIM_CACHE_PATH"].contains($0["name"]?.stringValue ?? "") }
        pullSecrets = (legacy.object[path: ["spec", "imagePullSecrets"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.filter { name in
            LegacySecrets.kind(of: name, deployment: legacy.name) == nil && name != legacy.targets.pullSecret
        }
        claim = legacy.cacheClaim?.claim
        subPath = legacy.cacheClaim?.subPath
    }

    var annotations: [String: String] {
        var result: [String: String] = [:]
        if let claim { result[Self.claimAnnotation] = claim }
        if let subPath { result[Self.subPathAnnotation] = subPath }
        if !env.isEmpty { result[Self.envAnnotation] = JSON.array(env).serialized() }
        if !pullSecrets.isEmpty { result[Self.pullSecretsAnnotation] = pullSecrets.joined(separator: ",") }
        return result
    }
}

/// What one NimDeployment becomes (contract sections 2 and 3), as pure data.
public struct DesiredState: Sendable {
    public var names: ChildNames
    public var apiKeySecret: KubeObject?
    public var pullSecret: KubeObject?
    /// `nil` with `storage.existingClaim`: the user's claim is never touched.
    public var claim: KubeObject?
    /// The Job filling the claim, when one is to be made (spec.storage.preload).
    public var cacheJob: KubeObject?
    /// The model server waits for the claim to be filled: the runtime and InferenceService are
    /// not written (those that run go on serving).
    public var waitsForCache = false
    public var runtime: KubeObject
    public var inferenceService: KubeObject
    /// The Prometheus Operator's PodMonitor for the predictor pods' `/v1/metrics`.
    public var podMonitor: KubeObject?
    /// spec.networkPolicy: who may reach the predictor pods.
    public var networkPolicy: KubeObject?
    /// What a progressive rollout adds, applied last: a candidate runtime and InferenceService,
    /// the HTTPRoute that weighs the two.
    public var beside: [(ResourceType, KubeObject)] = []

    /// In the order they are applied: what others reference comes first, the claim before all
    /// (the one write that the API server may refuse for what already exists).
    public var objects: [(ResourceType, KubeObject)] {
        var list: [(ResourceType, KubeObject)] = []
        if let claim { list.append((.persistentVolumeClaims, claim)) }
        if let apiKeySecret { list.append((.secrets, apiKeySecret)) }
        if let pullSecret { list.append((.secrets, pullSecret)) }
        if let cacheJob { list.append((CachePreload.jobs, cacheJob)) }
        if waitsForCache { return list }
        list.append((KServe.servingRuntimes, runtime))
        list.append((KServe.inferenceServices, inferenceService))
        if let podMonitor { list.append((NIMMetrics.podMonitors, podMonitor)) }
        if let networkPolicy { list.append((NIMMetrics.networkPolicies, networkPolicy)) }
        return list + beside
    }

    public static let restartTokenAnnotation = "nim.opendatahub.io/key-fingerprint"
    /// On the predictor (and so on its pods): a digest of everything that shapes the pods but
    /// the restart token. It changes the InferenceService whenever the runtime's part changes,
    /// so KServe rolls the pods once for a runtime-only change too, and it tells the pods of the
    /// current revision from those of the previous one.
    public static let revisionAnnotation = "nim.opendatahub.io/revision"
    public static let caBundleDigestAnnotation = "nim.opendatahub.io/ca-bundle-digest"
    public static let deploymentModeAnnotation = "serving.kserve.io/deploymentMode"
    public static let tagRoutingAnnotation = "serving.kserve.io/enable-tag-routing"
    public static let cacheMountPath = "/mnt/models/cache"

    public init(_ inputs: DesiredInputs) {
        let deployment = inputs.deployment  // with an adopted claim as its existingClaim
        let spec = deployment.spec
        var names = ChildNames(deployment: deployment.name, existingClaim: spec.storage.existingClaim)
        if inputs.candidate { names = names.candidate }
        self.names = names
        let owner = OwnerReference(
            apiVersion: NimDeployment.resource.apiVersion, kind: NimDeployment.resource.kind, name: deployment.name, uid: deployment.object.uid,
            controller: true, blockOwnerDeletion: true)
        func metadata(_ apiVersion: String, _ kind: String, _ name: String, owned: Bool = true, extraLabels: [String: String] = [:]) -> KubeObject {
            var object = KubeObject(apiVersion: apiVersion, kind: kind, namespace: deployment.namespace, name: name)
            object.labels = ChildLabels.labels(for: names).merging(extraLabels) { _, extra in extra }
            object.annotations = [ChildLabels.deploymentNameAnnotation: deployment.name]
            if owned { object.ownerReferences = [owner] }
            return object
        }

        if let key = inputs.key {
            var secret = metadata("v1", "Secret", names.apiKeySecret)
            secret["type"] = "Opaque"
            secret["data"] = Self.apiKeyData(key)
            apiKeySecret = secret

            if inputs.writesPullSecret {
                var pull = metadata("v1", "Secret", names.pullSecret)
                pull["type"] = "kubernetes.io/dockerconfigjson"
                pull["data"] = Self.pullSecretData(registry: inputs.pulledImage.registry, key: key)
                pullSecret = pull
            }
        }

        if spec.storage.existingClaim == nil {
            // Retain: no owner, so the claim (and the model it cached) outlives the deployment.
            var claim = metadata("v1", "PersistentVolumeClaim", names.claim, owned: spec.storage.whenDeleted == .delete)
            var claimSpec: JSON = ["accessModes": [.string(spec.storage.accessMode)], "resources": ["requests": ["storage": Self.quantity(inputs.claimSize ?? spec.storage.size)]]]
            if let storageClass = spec.storage.storageClassName { claimSpec["storageClassName"] = .string(storageClass) }
            claim["spec"] = claimSpec
            if let preload = inputs.preload, preload.state == .filled { claim.annotations[CachePreload.filledAnnotation] = preload.content }
            self.claim = claim
        }

        let runtime = Self.runtime(inputs, names: names, metadata: metadata("serving.kserve.io/v1alpha1", "ServingRuntime", names.runtime, extraLabels: ["opendatahub.io/dashboard": "true"]))
        self.runtime = runtime
        inferenceService = Self.inferenceService(
            inputs, names: names, runtime: runtime,
            metadata: metadata("serving.kserve.io/v1beta1", "InferenceService", names.inferenceService, extraLabels: ["opendatahub.io/dashboard": "true"]))
        if spec.networkPolicy.enabled, !inputs.candidate {
            networkPolicy = NIMMetrics.networkPolicy(
                names: names, access: spec.networkPolicy, port: spec.servingProtocol == .grpc ? PodTemplate.grpcPort : PodTemplate.httpPort,
                operatorNamespace: inputs.operatorNamespace, metadata: metadata("networking.k8s.io/v1", "NetworkPolicy", names.inferenceService))
        }
        // gRPC deployments declare no HTTP port to scrape (Triton NIMs serve metrics elsewhere).
        if inputs.podMonitor, !inputs.candidate, spec.servingProtocol == .http {
            podMonitor = NIMMetrics.podMonitor(
                names: names, metadata: metadata("monitoring.coreos.com/v1", "PodMonitor", names.inferenceService, extraLabels: inputs.podMonitorLabels))
        }
        if let preload = inputs.preload, spec.storage.existingClaim == nil {
            waitsForCache = preload.state != .filled
            if case .needsJob(let attempt) = preload.state {
                cacheJob = CachePreload.job(
                    inputs, names: names, content: preload.content, attempt: attempt, runtimePullSecrets: runtime[path: ["spec", "imagePullSecrets"]],
                    metadata: { metadata($0, $1, $2) })
            }
        }
    }

    /// The Opaque Secret's data: the key under both names NIM images read.
    public static func apiKeyData(_ key: APIKey) -> JSON {
        let encoded = Data(key.secretValue.utf8).base64EncodedString()
        return ["NGC_API_KEY": .string(encoded), "api_key": .string(encoded)]
    }

    public static func pullSecretData(registry: String, key: APIKey) -> JSON {
        [".dockerconfigjson": .string(Data(dockerConfig(registry: registry, key: key).serializedBytes()).base64EncodedString())]
    }

    /// `{"auths":{REGISTRY:{"username":"$oauthtoken","password":KEY,"auth":base64("$oauthtoken:KEY")}}}`.
    static func dockerConfig(registry: String, key: APIKey) -> JSON {
        let auth = Data("$oauthtoken:\(key.secretValue)".utf8).base64EncodedString()
        return ["auths": [registry: ["username": "$oauthtoken", "password": .string(key.secretValue), "auth": .string(auth)]]]
    }

    static func quantity(_ value: JSON) -> JSON {
        if let number = value.intValue { return .string(String(number)) }
        return value
    }

    static let scratchMounts: [(name: String, path: String)] = [
        ("nim-workspace", "/opt/nim/workspace"), ("home-cache", "/.cache"), ("nim-nginx", "/opt/nim/nginx"),
        ("nim-generated-configs", "/opt/nim/generated_configs"), ("nim-dot-cache", "/opt/nim/.cache"), ("nim-dot-config", "/opt/nim/.config"),
        ("nim-dot-triton", "/opt/nim/.triton"),
    ]

    static func runtime(_ inputs: DesiredInputs, names: ChildNames, metadata: KubeObject) -> KubeObject {
        let spec = inputs.deployment.spec
        var runtime = metadata
        runtime.annotations = metadata.annotations.merging([
            "runtimes.opendatahub.io/nvidia-nim": "true",
            "opendatahub.io/recommended-accelerators": #"["nvidia.com/gpu"]"#,
            "openshift.io/display-name": "NVIDIA NIM - \(inputs.image.displayName)",
        ].merging(inputs.adopted?.annotations ?? [:]) { _, new in new }) { _, new in new }

        let env = PodTemplate.runtimeEnv(spec.pod, keySecret: inputs.key != nil ? names.apiKeySecret : nil, adopted: inputs.adopted?.env ?? [], cachePath: cacheMountPath)
        var cacheMount: JSON = ["name": "nim-pvc", "mountPath": .string(cacheMountPath)]
        if let subPath = spec.storage.subPath { cacheMount["subPath"] = .string(subPath) }
        let mounts: [JSON] = [cacheMount, ["name": "shm", "mountPath": "/dev/shm"]]
            + scratchMounts.map { ["name": .string($0.name), "mountPath": .string($0.path)] }
        let ports: [JSON] = spec.servingProtocol == .grpc
            ? [["containerPort": .int(PodTemplate.grpcPort), "name": "h2c", "protocol": "TCP"]]
            : [["containerPort": .int(PodTemplate.httpPort), "protocol": "TCP"]]
        var container: JSON = [
            "name": "kserve-container", "image": .string(inputs.pulledImage.description), "env": .array(env), "ports": .array(ports),
            "volumeMounts": .array(mounts),
        ]
        // Always: a rotated key must pull with the new credentials even if the node has the image.
        if spec.forcePull { container["imagePullPolicy"] = "Always" }
        // shm at the contract's 2Gi here; the predictor sets its size (laid over by name).
        let volumes: [JSON] = [
            ["name": "nim-pvc", "persistentVolumeClaim": ["claimName": .string(names.claim)]],
            ["name": "shm", "emptyDir": ["medium": "Memory", "sizeLimit": .string(PodTemplate.singleGPUSharedMemory)]],
        ] + scratchMounts.map { ["name": .string($0.name), "emptyDir": [:]] }
        var runtimeSpec: JSON = [
            "annotations": ["prometheus.io/path": "/v1/metrics", "prometheus.io/port": "8000"],
            "multiModel": false,
            "protocolVersions": ["grpc-v2", "v2"],
            "supportedModelFormats": [["name": .string(inputs.image.model), "version": .string(inputs.image.tag), "autoSelect": true, "priority": 1]],
            "containers": [container],
            "volumes": .array(volumes),
        ]
        let pullSecrets = inputs.pullSecretNames(names) + (inputs.adopted?.pullSecrets ?? []).filter { $0 != names.pullSecret }
        if !pullSecrets.isEmpty { runtimeSpec["imagePullSecrets"] = .array(pullSecrets.map { ["name": .string($0)] }) }
        runtime["spec"] = runtimeSpec
        return runtime
    }

    static func inferenceService(_ inputs: DesiredInputs, names: ChildNames, runtime: KubeObject, metadata: KubeObject) -> KubeObject {
        let spec = inputs.deployment.spec
        var service = metadata
        // Immutable once set: RawDeployment when creating, whatever is there afterwards.
        switch inputs.existingDeploymentMode {
        case .none: service.annotations[deploymentModeAnnotation] = "RawDeployment"
        case .some(.some(let mode)): service.annotations[deploymentModeAnnotation] = mode
        case .some(.none): break
        }
        var limits: [String: JSON] = spec.resources.limits
        var requests: [String: JSON] = spec.resources.requests
        if spec.resources.gpus > 0 {
            limits["nvidia.com/gpu"] = .string(String(spec.resources.gpus))
            requests["nvidia.com/gpu"] = .string(String(spec.resources.gpus))
        }
        var resources: JSON = [:]
        if !limits.isEmpty { resources["limits"] = .object(limits.mapValues(quantity)) }
        if !requests.isEmpty { resources["requests"] = .object(requests.mapValues(quantity)) }
        var model: JSON = .object(PodTemplate.predictorContainer(spec.pod, protocol: spec.servingProtocol))
        model["modelFormat"] = ["name": .string(inputs.image.model)]
        model["runtime"] = .string(names.runtime)
        if resources.objectValue?.isEmpty == false { model["resources"] = resources }
        // Serverless (a legacy InferenceService taken over as it was): Knative refuses pod fields
        // its feature flags have not enabled, so only what the spec asks for, no defaults.
        let mode = service.annotations[deploymentModeAnnotation] ?? "RawDeployment"
        let defaults = mode != "Serverless"
        var predictor: [String: JSON] = PodTemplate.scheduling(spec.pod, gpus: defaults ? spec.resources.gpus : 0)
        predictor["volumes"] = .array(PodTemplate.predictorVolumes(spec.pod, gpus: spec.resources.gpus))
        if let security = PodTemplate.podSecurity(spec.pod, defaultFSGroup: defaults ? inputs.defaultFSGroup : nil, defaults: defaults) {
            predictor["securityContext"] = security
        }
        predictor["labels"] = .object(spec.pod.labels.mapValues(JSON.string).merging([ChildLabels.deployment: .string(names.deploymentLabel)]) { $1 })
        predictor["model"] = model
        var annotations = spec.pod.annotations.mapValues(JSON.string)
        // The pods carry the deployment's full name, as the other children do.
        annotations[ChildLabels.deploymentNameAnnotation] = .string(inputs.deployment.name)
        if let digest = inputs.caBundleDigest { annotations[caBundleDigestAnnotation] = .string(digest) }
        annotations[restartTokenAnnotation] = .string(inputs.restartToken.description)
        annotations[revisionAnnotation] = .string(Self.revision(runtime: runtime, predictor: predictor, annotations: annotations))
        predictor["annotations"] = .object(annotations)
        // Traffic, not pods: left out of the revision.
        if let percent = inputs.canaryTrafficPercent { predictor["canaryTrafficPercent"] = .int(percent) }
        if inputs.tagRouting { service.annotations[tagRoutingAnnotation] = "true" }
        predictor["minReplicas"] = .int(spec.suspend ? 0 : spec.minReplicas)
        predictor["maxReplicas"] = .int(spec.suspend ? 0 : spec.maxReplicas)
        service["spec"] = ["predictor": .object(predictor)]
        return service
    }

    /// 16 hex digits of what shapes the predictor pods (the restart token among it), apart from
    /// the replica counts, which roll nothing.
    static func revision(runtime: KubeObject, predictor: [String: JSON], annotations: [String: JSON]) -> String {
        let runtimeSpec = runtime["spec"] ?? [:]
        let shaping: JSON = [
            "containers": runtimeSpec["containers"] ?? [], "volumes": runtimeSpec["volumes"] ?? [],
            "imagePullSecrets": runtimeSpec["imagePullSecrets"] ?? [], "podAnnotations": runtimeSpec["annotations"] ?? [:],
            "predictor": .object(predictor), "annotations": .object(annotations),
        ]
        return String(SHA256.hex(shaping.serializedBytes()).prefix(16))
    }
}

/// The KServe kinds the operator writes and watches.
public enum KServe {
    public static let servingRuntimes = ResourceType(
        group: "serving.kserve.io", version: "v1alpha1", plural: "servingruntimes", kind: "ServingRuntime", namespaced: true)
    public static let inferenceServices = ResourceType(
        group: "serving.kserve.io", version: "v1beta1", plural: "inferenceservices", kind: "InferenceService", namespaced: true)
}
