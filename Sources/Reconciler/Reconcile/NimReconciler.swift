import Foundation
import Synchronization
import KubeWatch

/// The caches a reconcile reads: the cluster as the informers last saw it.
public struct ClusterView: Sendable {
    public var deployments: ObjectCache
    /// Metadata only.
    public var secrets: ObjectCache
    public var claims: ObjectCache
    public var runtimes: ObjectCache
    public var inferenceServices: ObjectCache

    public init(deployments: ObjectCache, secrets: ObjectCache, claims: ObjectCache, runtimes: ObjectCache, inferenceServices: ObjectCache) {
        self.deployments = deployments
        self.secrets = secrets
        self.claims = claims
        self.runtimes = runtimes
        self.inferenceServices = inferenceServices
    }
}

/// Turns a NimDeployment into its five objects and reports on them. A reconcile reads top to
/// bottom: observe (caches), compute (catalog, key, desired state), apply (only what differs),
/// report (status, events). Bad input stops it before anything is written, so there is never
/// a half-built deployment, and a working deployment is never torn down by a bad change.
public final class NimReconciler: Sendable {
    let client: KubeClient
    let view: ClusterView
    let catalog: CatalogStore
    let keys: KeySource
    let ngc: NGCClient
    let options: ReconcilerOptions
    let events: EventRecorder?
    let time: any TimeSource
    let applier: ChildApplier
    let log = Logger(name: "reconciler")
    let readiness: Gauge?
    let readyStates = Mutex<[ObjectKey: String]>([:])
    /// The status this process last wrote, by deployment and UID: fresher than a cache that has
    /// not seen the write yet (read-your-writes), so neither the status nor an event is repeated.
    let lastWrittenStatus = Mutex<[ObjectKey: (uid: String, status: [UInt8])]>([:])

    public init(
        client: KubeClient, view: ClusterView, catalog: CatalogStore, keys: KeySource, ngc: NGCClient, options: ReconcilerOptions,
        events: EventRecorder? = nil, metrics: MetricsRegistry? = nil, time: any TimeSource = SystemTime()
    ) {
        self.client = client
        self.view = view
        self.catalog = catalog
        self.keys = keys
        self.ngc = ngc
        self.options = options
        self.events = events
        self.time = time
        self.applier = ChildApplier(client: client)
        self.readiness = metrics?.gauge("nim_deployments", help: "NimDeployments by Ready status.", labels: ["ready"])
        for state in ["True", "False", "Unknown"] { readiness?.set(0, [state]) }
    }

    /// A transient problem: the controller retries with backoff.
    public struct RetryLater: Error, CustomStringConvertible {
        public var problem: DeploymentProblem
        public var description: String { "\(problem.reason): \(problem.message)" }
    }

    public func reconcile(_ key: ObjectKey) async throws -> ReconcileResult {
        // Observe.
        guard let object = view.deployments.get(key) else {
            forgetReadiness(key)
            lastWrittenStatus.withLock { _ = $0.removeValue(forKey: key) }
            applier.forget(deployment: key)
            return .done
        }
        // Deleting: the children go by their owner references (the collector's job); a
        // retained cache claim stays for a deployment of the same name.
        if object.isTerminating { return .done }
        var report = StatusReport(previous: currentStatus(object), generation: object.generation, now: KubeTime.format(time.now))
        // The InferenceService as just written, when it was: fresher than the cache.
        var writtenService: KubeObject?

        do {
            // Compute.
            let deployment = try NimDeployment(object)
            let image = try resolve(deployment, report: &report)
            let key = try await obtainKey(deployment, image: image, report: &report)
            let names = ChildNames(deployment: deployment.name, existingClaim: deployment.spec.storage.existingClaim)
            if let claim = deployment.spec.storage.existingClaim, view.claims.get(namespace: deployment.namespace, name: claim) == nil {
                throw DeploymentProblem.claimNotFound(claim: claim)
            }
            let liveService = view.inferenceServices.get(namespace: deployment.namespace, name: names.inferenceService)
            let desired = DesiredState(
                DesiredInputs(
                    deployment: deployment, image: image, key: key, restartToken: key?.fingerprint ?? "disconnected",
                    existingDeploymentMode: liveService.map { $0.annotations[DesiredState.deploymentModeAnnotation] }))

            // Apply.
            for (resource, child) in desired.objects {
                let live = cache(for: resource).get(namespace: child.namespace, name: child.name)
                let stored = try await applier.apply(child, resource, live: live, liveIsComplete: resource != .secrets)
                if resource == KServe.inferenceServices { writtenService = stored }
            }
            report.applied = true
            record(desired, key: key, report: &report)
        } catch let problem as DeploymentProblem {
            report.record(problem)
        }

        // Report.
        let names = ChildNames(deployment: object.name, existingClaim: object[path: ["spec", "storage", "existingClaim"]]?.stringValue)
        report.mirror(writtenService ?? view.inferenceServices.get(namespace: object.namespace ?? "", name: names.inferenceService))
        report.summarize()
        try await writeStatus(object, report)
        announce(object, report)
        updateReadiness(key, report)
        if let problem = report.problem, problem.isTransient { throw RetryLater(problem: problem) }
        return .done
    }

    // MARK: - Compute

    /// The image to run: spec.image as given, or the catalog's entry for spec.model and tag.
    func resolve(_ deployment: NimDeployment, report: inout StatusReport) throws(DeploymentProblem) -> ResolvedImage {
        let spec = deployment.spec
        var entry: ModelCatalog.Entry?
        if case .loaded(let catalog, _) = catalog.current, let model = spec.model { entry = catalog[model] }
        if let text = spec.image {
            guard let reference = ImageReference(parsing: text) else { throw .invalidSpec("spec.image \"\(text)\" is not an image reference") }
            let model = spec.model ?? reference.name
            let resolved = ResolvedImage(
                image: reference, model: model, tag: reference.tag ?? reference.digest ?? "latest", displayName: entry?.displayName ?? model,
                euRestricted: entry?.euRestricted ?? false)
            try checkRegion(resolved, report: &report)
            return resolved
        }
        let model = spec.model ?? ""
        let source = catalog.source.description
        switch catalog.current {
        case .notLoaded: throw .catalogUnavailable(catalog: source, why: "not read yet")
        case .missing: throw .catalogUnavailable(catalog: source, why: "the ConfigMap does not exist")
        case .loaded(let catalog, let problems):
            guard let entry = catalog[model] else {
                if catalog.entries.isEmpty {
                    throw .catalogUnavailable(catalog: source, why: "it lists no usable model: " + problems.prefix(3).map(\.description).joined(separator: "; "))
                }
                throw .modelNotFound(model: model, catalog: source, suggestions: catalog.suggestions(for: model))
            }
            let tag = spec.tag ?? entry.latestTag
            guard entry.tags.contains(tag) else { throw .tagNotFound(model: model, tag: tag, available: entry.tags) }
            let resolved = ResolvedImage(
                image: entry.imageReference(tag: tag), model: model, tag: tag, displayName: entry.displayName, euRestricted: entry.euRestricted)
            try checkRegion(resolved, report: &report)
            return resolved
        }
    }

    func checkRegion(_ image: ResolvedImage, report: inout StatusReport) throws(DeploymentProblem) {
        guard image.euRestricted else { return }
        if options.refusesEURestricted { throw .regionRestricted(model: image.model) }
        report.regionWarning = "Model \(image.model) is not available in the EU; it is deployed because this operator does not serve the EU region."
    }

    /// The key to put in the Secrets, validated; `nil` when disconnected.
    func obtainKey(_ deployment: NimDeployment, image: ResolvedImage, report: inout StatusReport) async throws(DeploymentProblem) -> APIKey? {
        if options.disconnected {
            report.set(
                ConditionType.keyValid, .true, "KeyNotRequired",
                "Disconnected: no key is collected; the cluster's global pull secret and mirror settings serve.")
            return nil
        }
        guard let reference = deployment.spec.apiKeySecretRef else { throw .keyRequired }
        let key = try await keys.key(for: reference, namespace: deployment.namespace)
        guard key.isPersonal else { throw .legacyKeyUnsupported(secret: reference.name) }
        if options.disableKeyValidation {
            report.set(ConditionType.keyValid, .true, "ValidationDisabled", "The key (\(key.fingerprint)) is not checked with NGC: key validation is disabled.")
            return key
        }
        let repository = Self.ngcRepository(image.image)
        switch await ngc.verify(key, repository: repository) {
        case .valid:
            report.set(ConditionType.keyValid, .true, "KeyValid", "NGC accepts the key (\(key.fingerprint)).")
        case .invalid(let code):
            throw .invalidKey(secret: reference.name, code: code)
        case .notEntitled:
            throw .keyNotEntitled(repository: image.image.repository)
        case .regionRestricted:
            throw .regionRestricted(model: image.model)
        case .unreachable(let why):
            // A key NGC accepted before is trusted while NGC is down: an outage must not stop
            // spec changes to a working deployment.
            let previous = report.previousCondition(ConditionType.keyValid)
            guard report.fields["keyFingerprint"]?.stringValue == key.fingerprint, previous?.status == .true else { throw .ngcUnreachable(why) }
            report.set(ConditionType.keyValid, .true, previous?.reason ?? "KeyValid", previous?.message ?? "NGC accepted the key before.")
        }
        return key
    }

    /// NGC's org/team/name for images on nvcr.io; other registries are not NGC's to judge.
    static func ngcRepository(_ image: ImageReference) -> (org: String, team: String, name: String)? {
        guard image.registry == "nvcr.io" else { return nil }
        let parts = image.path.split(separator: "/").map(String.init)
        guard parts.count == 3 else { return nil }
        return (parts[0], parts[1], parts[2])
    }

    func cache(for resource: ResourceType) -> ObjectCache {
        switch resource.plural {
        case "secrets": return view.secrets
        case "persistentvolumeclaims": return view.claims
        case "servingruntimes": return view.runtimes
        default: return view.inferenceServices
        }
    }

    func record(_ desired: DesiredState, key: APIKey?, report: inout StatusReport) {
        report.fields["image"] = .string(desired.runtime[path: ["spec", "containers"]]?[0]?["image"]?.stringValue ?? "")
        report.fields["tag"] = desired.runtime[path: ["spec", "supportedModelFormats"]]?[0]?["version"]
        if let key {
            if report.fields["keyFingerprint"]?.stringValue != key.fingerprint {
                report.fields["lastKeyRotationTime"] = .string(report.now)
            }
            report.fields["keyFingerprint"] = .string(key.fingerprint)
            report.fields["secretNames"] = ["apiKey": .string(desired.names.apiKeySecret), "imagePull": .string(desired.names.pullSecret)]
        } else {
            report.fields["keyFingerprint"] = nil
            report.fields["secretNames"] = nil
        }
        report.fields["pvcName"] = .string(desired.names.claim)
        report.fields["runtimeName"] = .string(desired.names.runtime)
        report.fields["inferenceServiceName"] = .string(desired.names.inferenceService)
        report.set(
            ConditionType.resourcesReady, .true, "ResourcesApplied",
            key == nil
                ? "Claim \(desired.names.claim), ServingRuntime \(desired.names.runtime) and InferenceService \(desired.names.inferenceService) are in place (no Secrets: disconnected)."
                : "Secrets, claim \(desired.names.claim), ServingRuntime \(desired.names.runtime) and InferenceService \(desired.names.inferenceService) are in place.")
    }

    // MARK: - Report

    /// The status as it is now: what this process wrote last, unless the cache already shows it.
    func currentStatus(_ object: KubeObject) -> JSON? {
        guard let written = lastWrittenStatus.withLock({ $0[object.key] }), written.uid == object.uid,
            let status = try? JSON(parsing: written.status)
        else { return object["status"] }
        return status
    }

    func writeStatus(_ object: KubeObject, _ report: StatusReport) async throws {
        let status = report.statusJSON
        guard status != currentStatus(object) else { return }
        var patch = KubeObject(apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name)
        patch["status"] = status
        do {
            _ = try await client.apply(patch, NimDeployment.resource, fieldManager: ReconcilerOptions.fieldManager, subresource: "status")
            lastWrittenStatus.withLock { $0[object.key] = (object.uid, status.serializedBytes()) }
        } catch {
            // Deleted meanwhile: nothing to report on.
            if error.isNotFound { return }
            throw RetryLater(problem: .apiUnavailable(error.description))
        }
    }

    /// Events for transitions only: becoming ready, a new problem, a new warning.
    func announce(_ object: KubeObject, _ report: StatusReport) {
        guard let events else { return }
        let before = report.previousCondition
        let ready = report.conditions[ConditionType.ready]
        if ready?.status == .true, before(ConditionType.ready)?.status != .true {
            events.record(object, type: .normal, reason: "Deployed", message: ready?.message ?? "Ready.")
        }
        if let problem = report.problem, !problem.isTransient || before(problem.conditionType)?.reason != problem.reason {
            let previous = before(problem.conditionType)
            if previous?.reason != problem.reason || previous?.status == .true {
                events.record(object, type: .warning, reason: problem.reason, message: problem.message)
                log.warn("cannot deploy", ["deployment": .string(object.key.description), "reason": .string(problem.reason), "message": .string(problem.message)])
            }
        }
        if let warning = report.regionWarning, before(ConditionType.regionRestricted)?.status != .true {
            events.record(object, type: .warning, reason: "EURestrictedModel", message: warning)
        }
    }

    func updateReadiness(_ key: ObjectKey, _ report: StatusReport) {
        let state = report.conditions[ConditionType.ready]?.status.rawValue ?? "Unknown"
        publishReadiness { $0[key] = state }
    }

    func forgetReadiness(_ key: ObjectKey) { publishReadiness { $0[key] = nil } }

    private func publishReadiness(_ change: (inout [ObjectKey: String]) -> Void) {
        guard let readiness else { return }
        let counts = readyStates.withLock { states -> [String: Int] in
            change(&states)
            var counts = ["True": 0, "False": 0, "Unknown": 0]
            for state in states.values { counts[state, default: 0] += 1 }
            return counts
        }
        readiness.replaceAll(Dictionary(uniqueKeysWithValues: counts.map { ([$0.key], Double($0.value)) }))
    }
}
