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
    /// ServingRuntimes this operator did not make: one of a deployment's name is adopted if it
    /// is a (migrated) legacy NIM runtime, and refused otherwise.
    public var foreignRuntimes: ObjectCache
    /// The predictor pods (trimmed to what their progress needs), indexed by deployment.
    public var pods: ObjectCache
    /// Metadata only: the CA bundles deployments name.
    public var configMaps: ObjectCache

    /// Index of pods by the deployment they serve (`namespace/name`).
    public static let podsByDeployment = "deployment"

    public init(
        deployments: ObjectCache, secrets: ObjectCache, claims: ObjectCache, runtimes: ObjectCache, inferenceServices: ObjectCache,
        foreignRuntimes: ObjectCache = ObjectCache(), pods: ObjectCache = ObjectCache(), configMaps: ObjectCache = ObjectCache()
    ) {
        self.deployments = deployments
        self.secrets = secrets
        self.claims = claims
        self.runtimes = runtimes
        self.inferenceServices = inferenceServices
        self.foreignRuntimes = foreignRuntimes
        self.pods = pods
        self.configMaps = configMaps
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
    let caBundles: CABundleSource
    let ngc: NGCClient
    let options: ReconcilerOptions
    let events: EventRecorder?
    let time: any TimeSource
    let applier: ChildApplier
    /// When each key Secret last changed: rotations wait for a burst of writes to settle.
    let keyChanges: SettleWindow
    let rotationMetrics: RotationMetrics?
    let log = Logger(name: "reconciler")
    let readiness: Gauge?
    let readyStates = Mutex<[ObjectKey: String]>([:])
    /// The status this process last wrote, by deployment and UID: fresher than a cache that has
    /// not seen the write yet (read-your-writes), so neither the status nor an event is repeated.
    let lastWrittenStatus = Mutex<[ObjectKey: (uid: String, status: [UInt8])]>([:])
    /// The restart token this process last wrote, by deployment and UID, for the same reason:
    /// a rotation must not be announced (or undone) because the cache has not seen it yet.
    let lastWrittenToken = Mutex<[ObjectKey: (uid: String, token: RestartToken)]>([:])

    public init(
        client: KubeClient, view: ClusterView, catalog: CatalogStore, keys: KeySource, ngc: NGCClient, options: ReconcilerOptions,
        events: EventRecorder? = nil, metrics: MetricsRegistry? = nil, time: any TimeSource = SystemTime()
    ) {
        self.client = client
        self.view = view
        self.catalog = catalog
        self.keys = keys
        self.caBundles = CABundleSource(client: client, configMaps: view.configMaps)
        self.ngc = ngc
        self.options = options
        self.events = events
        self.time = time
        self.applier = ChildApplier(client: client)
        self.keyChanges = SettleWindow(quiet: options.keyRotationSettle)
        self.rotationMetrics = RotationMetrics(metrics)
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
            lastWrittenToken.withLock { _ = $0.removeValue(forKey: key) }
            applier.forget(deployment: key)
            return .done
        }
        // Deleting: the children go by their owner references (the collector's job); a
        // retained cache claim stays for a deployment of the same name.
        if object.isTerminating { return .done }
        let started = time.now
        var report = StatusReport(previous: currentStatus(object), generation: object.generation, now: KubeTime.format(started))

        // Compute and apply.
        var outcome = Convergence()
        do {
            outcome = try await converge(object, started: started, report: &report)
        } catch {
            report.record(error)
        }

        // Report.
        let names = ChildNames(deployment: object.name, existingClaim: object[path: ["spec", "storage", "existingClaim"]]?.stringValue)
        let service = outcome.service ?? view.inferenceServices.get(namespace: object.namespace ?? "", name: names.inferenceService)
        report.mirror(service)
        let revision = outcome.revision ?? service?[path: ["spec", "predictor", "annotations", DesiredState.revisionAnnotation]]?.stringValue
        report.predictor = PredictorProgress.assess(
            pods: view.pods.byIndex(ClusterView.podsByDeployment, key.description), revision: revision, startupBudget: outcome.startupBudget)
        report.summarize()
        try await writeStatus(object, report)
        announce(object, report, since: outcome.changeSeen ?? started)
        updateReadiness(key, report)
        if let problem = report.problem, problem.isTransient { throw RetryLater(problem: problem) }
        return outcome.requeueAfter.map { .requeue(after: $0) } ?? .done
    }

    /// What one pass achieved, for the report.
    struct Convergence {
        /// The InferenceService as just written, when it was: fresher than the cache.
        var service: KubeObject?
        /// A key change waits for its Secret to settle.
        var requeueAfter: TimeInterval?
        /// When the key change this pass acted on was seen.
        var changeSeen: Date?
        /// The pods' revision the desired state gives, and how long their startup probe waits.
        var revision: String?
        var startupBudget: TimeInterval?
    }

    /// Computes what the deployment should be and writes what differs. Throws, before anything
    /// is written, when the input is bad: never a half-built deployment, never a working key
    /// replaced by a bad one.
    func converge(_ object: KubeObject, started: Date, report: inout StatusReport) async throws(DeploymentProblem) -> Convergence {
        let deployment = try NimDeployment(object)
        report.suspended = deployment.spec.suspend
        report.readinessUnchecked = !deployment.spec.pod.readinessAsksTheModel
        let image = try resolve(deployment, report: &report)
        let names = ChildNames(deployment: deployment.name, existingClaim: deployment.spec.storage.existingClaim)
        let liveService = view.inferenceServices.get(namespace: deployment.namespace, name: names.inferenceService)
        let key = try await readKey(deployment, report: &report)
        let plan = RotationPlan(
            previous: report.fields["keyFingerprint"]?.stringValue, current: key?.fingerprint ?? RestartToken.disconnected,
            live: liveToken(liveService, named: names.inferenceService, of: deployment), rotateRequest: deployment.rotateRequest, restartPods: deployment.spec.restartPods)
        let secret = deployment.spec.apiKeySecretRef.map { ObjectKey(namespace: deployment.namespace, name: $0.name) }
        if plan.keyChanged, let secret, let wait = keyChanges.remaining(secret, now: time.now) {
            let pending = "A new key (\(plan.current)) is in Secret \(secret.name), moments after the last change was rolled out: it is validated and rolled out once the Secret has not changed for \(Self.format(options.keyRotationSettle)) (a burst of writes rolls the pods twice at most, onto its first key and its last)."
            report.pendingRotation = pending
            report.set(ConditionType.keyValid, .unknown, StatusReport.rotationPendingReason, pending)
            return Convergence(requeueAfter: wait)
        }
        // A new key, or pods about to restart: NGC must have said so since.
        let changeSeen = plan.keyChanged ? secret.flatMap(keyChanges.lastChange) ?? started : nil
        let answeredSince = changeSeen ?? (plan.restartsPods ? started : nil)
        if let key { try await validate(key, for: deployment, image: image, answeredSince: answeredSince, report: &report) }
        let claimSize = try checkClaim(deployment, names: names)
        let caBundleDigest = try await caBundleDigest(deployment)
        let takeover = try await takeover(deployment, names: names)
        let desired = DesiredState(
            DesiredInputs(
                deployment: deployment, image: image, key: key, restartToken: plan.token,
                existingDeploymentMode: liveService.map { $0.annotations[DesiredState.deploymentModeAnnotation] }, adopted: takeover.settings,
                caBundleDigest: caBundleDigest, defaultFSGroup: options.defaultFSGroup, claimSize: claimSize))

        // The claim first (one that cannot grow stops the rest before anything else is made),
        // then the Secrets, the restart token last: pods restarted by it find the new key.
        var written: KubeObject?
        var wroteRuntime = false
        for (resource, child) in desired.objects {
            let live = cache(for: resource).get(namespace: child.namespace, name: child.name)
            let stored: KubeObject?
            do {
                stored = try await applier.apply(child, resource, live: live, liveIsComplete: resource != .secrets)
            } catch .applyFailed(_, 422, let message) where resource == .persistentVolumeClaims {
                throw .claimMismatch(claim: child.name, differences: ["the API server refused the change: \(message)"], retained: isRetained(live, of: deployment))
            }
            if resource == KServe.servingRuntimes, stored != nil { wroteRuntime = true }
            if resource == KServe.inferenceServices, let stored {
                written = stored
                lastWrittenToken.withLock { $0[deployment.key] = (deployment.object.uid, plan.token) }
            }
        }
        report.applied = true
        if wroteRuntime, !takeover.adopting.isEmpty {
            report.adopted = "Took over \(takeover.adopting.joined(separator: " and ")) as they run"
                + (takeover.settings?.claim.map { "; the model cache stays on claim \($0), which is never modified or deleted" } ?? "")
                + (takeover.settings.map { $0.env.isEmpty && $0.pullSecrets.isEmpty ? "" : "; its other env vars and pull secrets are kept" } ?? "") + "."
        }
        record(desired, key: key, plan: plan, deployment: deployment, report: &report)
        report.fields["catalogEntry"] = image.catalogEntry.map(JSON.string)
        report.scaleWarning = scaleWarning(deployment)
        return Convergence(
            service: written, changeSeen: changeSeen,
            revision: desired.inferenceService[path: ["spec", "predictor", "annotations", DesiredState.revisionAnnotation]]?.stringValue,
            startupBudget: PodTemplate.startupBudget(deployment.spec.pod))
    }

    /// The token on the InferenceService: the cache's, unless it has not yet seen what this
    /// process applied last.
    func liveToken(_ service: KubeObject?, named name: String, of deployment: NimDeployment) -> RestartToken? {
        let applied = applier.lastAppliedHash(KServe.inferenceServices, namespace: deployment.namespace, name: name)
        if let applied, service?.annotations[ChildApplier.hashAnnotation] != applied,
            let written = lastWrittenToken.withLock({ $0[deployment.key] }), written.uid == deployment.object.uid
        {
            return written.token
        }
        return RestartToken(service: service)
    }

    static func format(_ interval: TimeInterval) -> String {
        interval < 1 ? "\(Int((interval * 1000).rounded())) ms" : String(format: "%.1f s", interval)
    }

    func cache(for resource: ResourceType) -> ObjectCache {
        switch resource.plural {
        case "secrets": return view.secrets
        case "persistentvolumeclaims": return view.claims
        case "servingruntimes": return view.runtimes
        default: return view.inferenceServices
        }
    }

    func record(_ desired: DesiredState, key: APIKey?, plan: RotationPlan, deployment: NimDeployment, report: inout StatusReport) {
        report.fields["image"] = .string(desired.runtime[path: ["spec", "containers"]]?[0]?["image"]?.stringValue ?? "")
        report.fields["tag"] = desired.runtime[path: ["spec", "supportedModelFormats"]]?[0]?["version"]
        if let key {
            if plan.keyChanged { report.fields["lastKeyRotationTime"] = .string(report.now) }
            report.fields["keyFingerprint"] = .string(key.fingerprint)
            report.fields["secretNames"] = ["apiKey": .string(desired.names.apiKeySecret), "imagePull": .string(desired.names.pullSecret)]
            if !plan.podsRunCurrentKey, let valid = report.conditions[ConditionType.keyValid] {
                report.set(
                    ConditionType.keyValid, valid.status, valid.reason,
                    valid.message
                        + " The Secrets hold it; the running pods keep the previous key (\(plan.token.fingerprint)) until they next start,"
                        + " as keyRotation.restartPods is false. Set annotation \(NimDeployment.rotateAnnotation) to restart them now.")
            }
        } else {
            report.fields["keyFingerprint"] = nil
            report.fields["secretNames"] = nil
        }
        report.rotation = plan.outcome(restartPods: deployment.spec.restartPods)
        report.forcePull = deployment.spec.forcePull
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
