import Foundation
import KubeCore
import KubeAPI
import LocalControlPlane
import Reconciler
import StandIns

/// Everything a NimDeployment needs, locally: the control plane with the NimDeployment CRD
/// from config/ and KServe's full CRDs, the model catalog, the NGC and KServe stand-ins, and an
/// operator that can be stopped and started again (a restart is a new operator on the same state).
public final class NimEnvironment: Sendable {
    public let cluster: TestCluster
    public let ngc: NGCStandIn
    public let kserve: KServeStandIn
    /// The NIMs behind the InferenceServices' addresses.
    public let models: ModelStandIn
    public let catalog: ModelCatalog
    public let operatorClient: KubeClient
    public let metrics = MetricsRegistry()
    private let kserveTask: Task<Void, Never>
    private let running = Locked<(nim: NimOperator, task: Task<Void, Never>)?>(nil)
    private let slot: EnvironmentSlot

    public static let operatorNamespace = "nim-deploy-operator-system"
    public static let validKey = "nvapi-test-0123456789abcdef0123"
    public var client: KubeClient { cluster.client }
    public var controlPlane: LocalControlPlane { cluster.controlPlane }

    /// - Parameter rendersPredictors: the KServe stand-in also renders predictor Deployments
    ///   and Pods from the runtimes (what migration's cleanup looks at).
    ///   - taintsGPUNodes: the stand-in's GPU nodes are tainted, as the GPU Operator taints them.
    ///   - gatewayAPI: the Gateway API's CRDs (HTTPRoute, Gateway, GRPCRoute, GatewayClass) are installed.
    ///   - prometheusOperator: the Prometheus Operator's CRDs (PodMonitor, ServiceMonitor, PrometheusRule) are installed.
    public init(installCatalog: Bool = true, rendersPredictors: Bool = false, taintsGPUNodes: Bool = true, gatewayAPI: Bool = false, prometheusOperator: Bool = false) async throws {
        slot = await EnvironmentSlot.acquire()
        cluster = try TestCluster()
        let plane = cluster.controlPlane
        try plane.apply(try YAML.parseAll(String(contentsOf: Paths.repository.appendingPathComponent("config/crd/bases/nim.opendatahub.io_nimdeployments.yaml"), encoding: .utf8)))
        for file in ["serving.kserve.io_servingruntimes.yaml", "serving.kserve.io_inferenceservices.yaml"] {
            try plane.apply(try YAML.parseAll(String(contentsOf: Paths.shared.appendingPathComponent("crds/full/\(file)"), encoding: .utf8)))
        }
        if gatewayAPI {
            for file in ["gatewayclasses", "gateways", "httproutes", "grpcroutes"] {
                try plane.apply(try YAML.parseAll(String(contentsOf: Paths.shared.appendingPathComponent("crds/gateway-api/gateway.networking.k8s.io_\(file).yaml"), encoding: .utf8)))
            }
        }
        if prometheusOperator {
            for file in ["podmonitors", "servicemonitors", "prometheusrules"] {
                try plane.apply(try YAML.parseAll(String(contentsOf: Paths.shared.appendingPathComponent("crds/prometheus-operator/monitoring.coreos.com_\(file).yaml"), encoding: .utf8)))
            }
        }
        for namespace in [Self.operatorNamespace, "team-a", "team-b"] {
            try plane.apply([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]]])
        }
        var catalogMap = try YAML.parse(String(contentsOf: Paths.shared.appendingPathComponent("ngc/nim-models-data.yaml"), encoding: .utf8))
        catalogMap[path: ["metadata", "name"]] = "nim-model-metadata"
        catalogMap[path: ["metadata", "namespace"]] = .string(Self.operatorNamespace)
        catalog = ModelCatalog.parse(configMap: KubeObject(catalogMap)).catalog
        if installCatalog { try plane.apply([catalogMap]) }
        ngc = NGCStandIn(catalog: catalog)
        try ngc.start()
        var operatorConfiguration = ClientConfiguration(server: plane.baseURL, source: "operator")
        operatorConfiguration.userAgent = "nim-deploy-operator"
        operatorConfiguration.dropsManagedFields = true
        operatorClient = KubeClient(configuration: operatorConfiguration, metrics: metrics)
        var kserveConfiguration = ClientConfiguration(server: plane.baseURL, source: "kserve")
        kserveConfiguration.userAgent = "kserve-stand-in"
        models = try ModelStandIn()
        let kserve = KServeStandIn(client: KubeClient(configuration: kserveConfiguration), rendersPredictors: rendersPredictors, taintsGPUNodes: taintsGPUNodes, models: models)
        self.kserve = kserve
        kserveTask = Task { await kserve.run() }
    }

    deinit {
        kserveTask.cancel()
        running.value?.task.cancel()
        ngc.stop()
        models.stop()
    }

    public func options(
        disconnected: Bool = false, disableKeyValidation: Bool = false, region: String? = nil,
        catalog: ObjectKey = ObjectKey(namespace: operatorNamespace, name: "nim-model-metadata"),
        keyRotationSettle: TimeInterval = ReconcilerOptions.defaultKeyRotationSettle, migrateLegacy: Bool = false, defaultFSGroup: Int? = nil,
        gatewayAPI: Bool = false, podMonitors: Bool = false
    ) -> ReconcilerOptions {
        var options = ReconcilerOptions(
            catalog: catalog, disconnected: disconnected, disableKeyValidation: disableKeyValidation, region: region, keyRotationSettle: keyRotationSettle,
            migrateLegacy: migrateLegacy, defaultFSGroup: defaultFSGroup)
        options.gatewayAPI = gatewayAPI
        options.podMonitors = podMonitors
        return options
    }

    /// Starts an operator (stopping a running one first) and waits for its caches.
    @discardableResult
    public func startOperator(_ options: ReconcilerOptions? = nil, namespaces: [String]? = nil) async throws -> NimOperator {
        await stopOperator()
        let nim = NimOperator(
            client: operatorClient, namespaces: namespaces, options: options ?? self.options(), ngc: NGCClient(baseURL: ngc.baseURL, metrics: metrics),
            concurrency: 4, metrics: metrics)
        let task = Task { await nim.run() }
        running.update { $0 = (nim, task) }
        try await eventually(timeout: 30, "the operator's caches sync") { nim.hasSynced }
        return nim
    }

    /// An environment with the operator running and the default deployment (llama in team-a,
    /// with its key Secret) Ready: where most scenarios start.
    public static func serving(_ options: ReconcilerOptions? = nil) async throws -> NimEnvironment {
        let env = try await NimEnvironment()
        try await env.startOperator(options)
        try await env.createKeySecret()
        try await env.deploy()
        try await env.waitFor("Ready", "True")
        return env
    }

    public func stopOperator() async {
        guard let current = running.update({ state -> (nim: NimOperator, task: Task<Void, Never>)? in
            defer { state = nil }
            return state
        }) else { return }
        current.task.cancel()
        await current.task.value
    }

    /// Reconciles every deployment once (what SIGHUP does).
    public func resyncAll() { running.value?.nim.resyncAll() }

    /// Reconciles every deployment once more and waits until the operator has done so (its
    /// reconcile count grew by as many), then until KServe has handled what that wrote.
    public func resyncAndSettle(_ names: [String] = ["llama"], namespace: String = "team-a") async throws {
        func reconciles() throws -> Double {
            try PrometheusText.parse(metrics.render()).filter { $0.name == "controller_runtime_reconcile_total" && $0.labels["controller"] == NimOperator.controllerName }
                .reduce(0) { $0 + $1.value }
        }
        let before = try reconciles()
        resyncAll()
        try await eventually("the resync reconciled") { try reconciles() >= before + Double(names.count) }
        try await settleKServe(names, namespace: namespace)
    }

    // MARK: - What a user does

    public func createKeySecret(_ name: String = "my-ngc-key", namespace: String = "team-a", key: String = NimEnvironment.validKey, dataKey: String = "NGC_API_KEY") async throws {
        var secret = KubeObject(apiVersion: "v1", kind: "Secret", namespace: namespace, name: name)
        secret["data"] = [dataKey: .string(Data(key.utf8).base64EncodedString())]
        _ = try await client.apply(secret, .secrets, fieldManager: "test-user")
    }

    public func setKey(_ key: String, secret name: String = "my-ngc-key", namespace: String = "team-a", dataKey: String = "NGC_API_KEY") async throws {
        _ = try await client.patch(.secrets, namespace: namespace, name: name, .merge(["data": [dataKey: .string(Data(key.utf8).base64EncodedString())]]))
    }

    @discardableResult
    public func deploy(_ name: String = "llama", namespace: String = "team-a", spec: JSON = ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]]) async throws -> KubeObject {
        var object = KubeObject(apiVersion: NimDeployment.resource.apiVersion, kind: NimDeployment.resource.kind, namespace: namespace, name: name)
        object["spec"] = spec
        return try await client.apply(object, NimDeployment.resource, fieldManager: "test-user")
    }

    public func deployment(_ name: String = "llama", namespace: String = "team-a") async throws -> KubeObject {
        try await client.get(NimDeployment.resource, namespace: namespace, name: name)
    }

    public func condition(_ type: String, of name: String = "llama", namespace: String = "team-a") async throws -> JSON? {
        try await deployment(name, namespace: namespace)[dotted: "status.conditions"]?.arrayValue?.first { $0["type"]?.stringValue == type }
    }

    /// The deployment's revisions, newest first (status.revisions).
    public func revisions(of name: String = "llama", namespace: String = "team-a") async throws -> [JSON] {
        try await deployment(name, namespace: namespace)[dotted: "status.revisions"]?.arrayValue ?? []
    }

    /// Waits until the status describes the current generation and its latest revision has this
    /// outcome (Verified: Ready and the model answered), returning that revision.
    @discardableResult
    public func waitForRevision(_ outcome: String = "Verified", of name: String = "llama", namespace: String = "team-a", timeout: TimeInterval = 30) async throws -> JSON {
        var latest: JSON = [:]
        try await eventually(timeout: timeout, "\(namespace)/\(name)'s latest revision \(outcome)") {
            let object = try await deployment(name, namespace: namespace)
            latest = object[dotted: "status.revisions"]?[0] ?? [:]
            return object[dotted: "status.observedGeneration"]?.intValue == object.generation && latest["outcome"]?.stringValue == outcome
        }
        return latest
    }

    /// Waits until the condition has the status (and reason, if given) for the current generation.
    public func waitFor(
        _ type: String, _ status: String, reason: String? = nil, of name: String = "llama", namespace: String = "team-a", timeout: TimeInterval = 15
    ) async throws {
        try await eventually(timeout: timeout, "\(name) \(type)=\(status) \(reason ?? "")") {
            let object = try await deployment(name, namespace: namespace)
            guard let condition = object[dotted: "status.conditions"]?.arrayValue?.first(where: { $0["type"]?.stringValue == type }) else { return false }
            return condition["status"]?.stringValue == status && (reason == nil || condition["reason"]?.stringValue == reason)
                && object[dotted: "status.observedGeneration"]?.intValue == object.generation
        }
    }

    /// Names of what exists in a namespace, by kind, for "nothing was created" checks.
    public func children(namespace: String = "team-a") async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        let selector = LabelSelector(matching: ["app.kubernetes.io/managed-by": "nim-deploy-operator"])
        for (label, resource) in [("secrets", ResourceType.secrets), ("pvc", .persistentVolumeClaims), ("runtimes", KServe.servingRuntimes), ("isvc", KServe.inferenceServices)] {
            let names = try await client.list(resource, namespace: namespace, options: ListOptions(labelSelector: selector)).items.map(\.name)
            if !names.isEmpty { result[label] = names }
        }
        return result
    }

    public func events(namespace: String = "team-a") async throws -> [KubeObject] {
        try await client.list(.events, namespace: namespace).items
    }

    /// Events of one reason about one deployment.
    public func events(_ reason: String, of name: String = "llama", namespace: String = "team-a") async throws -> [KubeObject] {
        try await events(namespace: namespace).filter { $0["reason"]?.stringValue == reason && $0[dotted: "involvedObject.name"]?.stringValue == name }
    }

    /// The restart token on the deployment's InferenceService.
    public func restartToken(of name: String = "llama", namespace: String = "team-a") async throws -> String? {
        try await client.get(KServe.inferenceServices, namespace: namespace, name: name)[path: ["spec", "predictor", "annotations", DesiredState.restartTokenAnnotation]]?.stringValue
    }

    /// The keys the deployment's two Secrets hold: the Opaque one (both data keys must agree)
    /// and the password in the pull secret.
    /// The `NGC_API_KEY` a Secret holds, decoded.
    public func secretKey(_ name: String, namespace: String) async throws -> String? {
        Self.decode(try await client.get(.secrets, namespace: namespace, name: name)[path: ["data", "NGC_API_KEY"]])
    }

    static func decode(_ value: JSON?) -> String? { value?.stringValue.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } }

    public func keysInSecrets(of name: String = "llama", namespace: String = "team-a") async throws -> (apiKey: String?, pull: String?) {
        let decode = Self.decode
        let opaque = try await client.get(.secrets, namespace: namespace, name: "nvidia-nim-secrets-\(name)")
        let first = decode(opaque[path: ["data", "NGC_API_KEY"]])
        let apiKey = first == decode(opaque[path: ["data", "api_key"]]) ? first : nil
        let pull = try await client.get(.secrets, namespace: namespace, name: "nvidia-nim-image-pull-\(name)")
        let config = try decode(pull[path: ["data", ".dockerconfigjson"]]).map { try JSON(parsing: $0) }
        return (apiKey, config?[path: ["auths", "nvcr.io", "password"]]?.stringValue)
    }

    /// Sets (or with `nil` removes) the manual rotation annotation, as a user would.
    public func requestRotation(_ value: String?, of name: String = "llama", namespace: String = "team-a") async throws {
        _ = try await client.patch(
            NimDeployment.resource, namespace: namespace, name: name, .merge(["metadata": ["annotations": [NimDeployment.rotateAnnotation: value.map(JSON.string) ?? .null]]]))
    }

    /// Waits until KServe (the stand-in) has handled everything the operator wrote so far, so a
    /// count of rollouts is final: raises the deployment's replicas.max (a change that reaches
    /// the InferenceService without restarting pods) and waits for the stand-in's answer to it.
    public func quiesce(_ name: String = "llama", namespace: String = "team-a") async throws {
        let object = try await deployment(name, namespace: namespace)
        var spec = object["spec"] ?? [:]
        let minimum = spec[path: ["replicas", "min"]]?.intValue ?? 1
        let maximum = max(spec[path: ["replicas", "max"]]?.intValue ?? 1, minimum) + 1
        spec["replicas"] = ["min": .int(minimum), "max": .int(maximum)]
        try await deploy(name, namespace: namespace, spec: spec)
        try await eventually("KServe answered replicas.max \(maximum)") {
            let service = try await client.get(KServe.inferenceServices, namespace: namespace, name: name)
            return service[path: ["spec", "predictor", "maxReplicas"]]?.intValue == maximum
                && service[dotted: "status.observedGeneration"]?.intValue == service.generation
        }
    }

    /// The same for InferenceServices no NimDeployment owns: touches each (an annotation, no
    /// restart) and waits until the stand-in has handled that change.
    public func settleKServe(_ names: [String], namespace: String) async throws {
        for name in names {
            let touched = try await client.patch(
                KServe.inferenceServices, namespace: namespace, name: name, .merge(["metadata": ["annotations": ["test/settle": .string(UUID().uuidString)]]]))
            // The local control plane's resourceVersions are increasing integers (real ones are
            // opaque); the stand-in may already be past the touch, on its own status write.
            let wanted = Int(touched.resourceVersion) ?? .max
            try await eventually("KServe handled \(name)") { (kserve.handledVersion(touched.key).flatMap { Int($0) } ?? 0) >= wanted }
        }
    }

    /// The deployment's ServingRuntime container (`kserve-container`) and InferenceService
    /// predictor as stored.
    public func runtimeContainer(of name: String = "llama", namespace: String = "team-a") async throws -> JSON {
        let runtime = try await client.get(KServe.servingRuntimes, namespace: namespace, name: name)
        return (runtime[path: ["spec", "containers"]]?.arrayValue ?? []).first { $0["name"] == "kserve-container" } ?? [:]
    }

    public func predictor(of name: String = "llama", namespace: String = "team-a") async throws -> JSON {
        try await client.get(KServe.inferenceServices, namespace: namespace, name: name)[path: ["spec", "predictor"]] ?? [:]
    }

    /// The pod of the deployment's current revision, as the KServe stand-in rendered it from the
    /// runtime and the predictor (what the kubelet would run), once there is one.
    public func currentPod(of name: String = "llama", namespace: String = "team-a") async throws -> KubeObject {
        var found: KubeObject?
        try await eventually("a pod of \(name)'s current revision") {
            let revision = try await predictor(of: name, namespace: namespace)[path: ["annotations", DesiredState.revisionAnnotation]]?.stringValue
            found = try await pods(of: name, namespace: namespace).first { $0.annotations[DesiredState.revisionAnnotation] == revision }
            return found != nil
        }
        return found ?? KubeObject(apiVersion: "v1", kind: "Pod", namespace: namespace, name: "")
    }

    /// That pod's `kserve-container`.
    public func podContainer(of name: String = "llama", namespace: String = "team-a") async throws -> JSON {
        (try await currentPod(of: name, namespace: namespace)[dotted: "spec.containers"]?.arrayValue ?? []).first { $0["name"] == "kserve-container" } ?? [:]
    }

    /// The predictor pods the KServe stand-in runs for the deployment.
    public func pods(of name: String = "llama", namespace: String = "team-a") async throws -> [KubeObject] {
        try await client.list(.pods, namespace: namespace, options: ListOptions(labelSelector: LabelSelector(matching: ["serving.kserve.io/inferenceservice": name]))).items
    }

    public func rollouts(of name: String = "llama", namespace: String = "team-a") -> Int { kserve.rollouts(ObjectKey(namespace: namespace, name: name)) }

    public func status(_ field: String, of name: String = "llama", namespace: String = "team-a") async throws -> JSON? {
        try await deployment(name, namespace: namespace)[path: ["status", field]]
    }

    /// Everything a key could leak into, as text, by place: the deployment's status (if there is
    /// one), the namespace's Events and ConfigMaps (the migration summary), the runtimes'
    /// annotations, the log lines `capturingLogs` kept, the metrics.
    public func placesAKeyCouldLeak(deployment name: String = "llama", namespace: String = "team-a") async throws -> [String: String] {
        let status: String
        do {
            status = try await deployment(name, namespace: namespace)["status"]?.serialized() ?? ""
        } catch {
            guard (error as? KubeError)?.isNotFound == true else { throw error }
            status = ""
        }
        return [
            "status": status,
            "configMaps": try await client.list(.configMaps, namespace: namespace).items.map { $0.body.serialized() }.joined(separator: "\n"),
            "runtimeAnnotations": try await client.list(KServe.servingRuntimes, namespace: namespace).items.map { JSON.object($0.annotations.mapValues(JSON.string)).serialized() }.joined(separator: "\n"),
            "events": try await events(namespace: namespace).map { $0.body.serialized() }.joined(separator: "\n"),
            "logs": Logger.sink.captured().joined(separator: "\n"),
            "metrics": metrics.render(),
        ]
    }

    public func operatorWrites() -> Int { controlPlane.requestStats.writes(by: "nim-deploy-operator") }
}
