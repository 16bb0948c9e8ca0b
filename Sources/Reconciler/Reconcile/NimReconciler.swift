import Foundation
import KubeCore
import KubeAPI
import KubeRuntime

/// Turns a NimDeployment into its five objects and reports on them, in three steps a reader
/// sees on one screen: observe (a value: the deployment, its children, what was read on
/// purpose, what this process last wrote), decide (a pure function of it: what to apply, the
/// status, what to announce, when to come back), act (the one place that writes, in the order
/// the decision gives). Bad input stops the decision before anything is written, so there is
/// never a half-built deployment, and a working deployment is never torn down by a bad change.
public final class NimReconciler: Sendable {
    let client: KubeClient
    let view: ClusterView
    let catalog: CatalogStore
    let keys: KeySource
    let caBundles: CABundleSource
    let ngc: NGCClient
    let verifier: ModelVerifier
    let options: ReconcilerOptions
    let events: EventRecorder?
    let time: any TimeSource
    /// What this process wrote and saw, that the caches may not show yet.
    public let ledger: WriteLedger
    let applier: ChildApplier
    let rotationMetrics: RotationMetrics?
    let revisionMetrics: RevisionMetrics?
    let readiness: Gauge?
    let log = Logger(name: "reconciler")

    public init(
        client: KubeClient, view: ClusterView, catalog: CatalogStore, keys: KeySource, ngc: NGCClient, options: ReconcilerOptions,
        events: EventRecorder? = nil, metrics: MetricsRegistry? = nil, time: any TimeSource = SystemTime(), ledger: WriteLedger = WriteLedger(),
        verifier: ModelVerifier = ModelVerifier()
    ) {
        self.verifier = verifier
        self.client = client
        self.view = view
        self.catalog = catalog
        self.keys = keys
        self.caBundles = CABundleSource(client: client, configMaps: view.configMaps)
        self.ngc = ngc
        self.options = options
        self.events = events
        self.time = time
        self.ledger = ledger
        self.applier = ChildApplier(client: client, ledger: ledger)
        self.rotationMetrics = RotationMetrics(metrics)
        self.revisionMetrics = RevisionMetrics(metrics)
        self.readiness = metrics?.gauge("nim_deployments", help: "NimDeployments by Ready status.", labels: ["ready"])
        for state in ["True", "False", "Unknown"] { readiness?.set(0, [state]) }
        if let entries = metrics?.gauge("nim_write_ledger_entries", help: "What this process remembers of its own writes and sightings, by kind.", labels: ["kind"]) {
            metrics?.collect { [ledger] in entries.replaceAll(Dictionary(uniqueKeysWithValues: ledger.sizes.map { ([$0.key], Double($0.value)) })) }
        }
    }

    /// A transient problem: the controller retries with backoff.
    public struct RetryLater: Error, CustomStringConvertible {
        public var problem: DeploymentProblem
        public var description: String { "\(problem.reason): \(problem.message)" }
    }

    public func reconcile(_ key: ObjectKey) async throws -> ReconcileResult {
        guard let object = view.deployments.get(key) else {
            ledger.forget(deployment: key)
            publishReadiness(nil, for: key)
            return .done
        }
        let (observation, facts) = await observe(object)
        let decision = Decide.decision(observation, facts: facts)
        return try await act(decision, on: observation)
    }

    /// Writes what the decision says, in its order; then the status, then the announcements.
    /// A write that fails stops the rest, and the status says why.
    func act(_ planned: Decision, on observation: Observation) async throws -> ReconcileResult {
        var decision = planned
        if let secret = decision.actsOnKeyChange { ledger.actedOnKeyChange(secret, at: observation.now) }
        var wroteRuntime = false
        for (resource, child) in decision.writes {
            let live = cache(for: resource)?.get(namespace: child.namespace, name: child.name)
            do {
                let stored = try await applier.apply(child, resource, live: live, view: Self.view(of: resource))
                if resource == KServe.servingRuntimes, stored != nil { wroteRuntime = true }
            } catch {
                var problem = error
                if case .applyFailed(_, 422, let message) = error, resource == .persistentVolumeClaims, let deployment = try? NimDeployment(observation.object) {
                    problem = ClaimRules.refused(child.name, message: message, live: live, of: deployment)
                }
                decision = Decide.decision(observation, failedWrite: problem)
                break
            }
        }
        // What is no longer wanted goes; one that could not be deleted stays named in the status
        // (so the next pass deletes it), and the status is written all the same.
        var failedDelete: DeploymentProblem?
        for (resource, name) in decision.deletes {
            let namespace = observation.object.namespace ?? ""
            do {
                _ = try await client.delete(resource, namespace: namespace, name: name)
                // Made again later (the strategy switched back) it is written, not taken for a lagging cache.
                ledger.forget(resource, namespace: namespace, name: name)
            } catch {
                guard !error.isNotFound else { continue }
                failedDelete = ChildApplier.problem(error, object: "\(resource.kind) \(name)")
                for field in ["httpRouteName", "networkPolicyName"] where observation.status?[field]?.stringValue == name { decision.status?[field] = .string(name) }
            }
        }
        try await writeStatus(observation, decision.status)
        for announcement in decision.announcements { say(announcement, about: observation.object, wroteRuntime: wroteRuntime) }
        publishReadiness(decision.ready, for: observation.object.key)
        if let problem = decision.problem, problem.isTransient { throw RetryLater(problem: problem) }
        if let failedDelete { throw RetryLater(problem: failedDelete) }
        return decision.requeueAfter.map { .requeue(after: $0) } ?? .done
    }

    /// How the cache of a kind of child trims what it holds; nil where it holds them whole.
    static func view(of resource: ResourceType) -> ChildApplier.CacheView {
        switch resource.plural {
        case "secrets": return SecretView.trimmed
        case "jobs": return CachePreload.trimmed
        default: return nil
        }
    }

    /// The cache that holds a kind of child; nil for kinds not watched (HTTPRoute, PodMonitor),
    /// whose writes the ledger alone decides.
    func cache(for resource: ResourceType) -> ObjectCache? {
        switch resource.plural {
        case "secrets": return view.secrets
        case "persistentvolumeclaims": return view.claims
        case "servingruntimes": return view.runtimes
        case "jobs": return view.jobs
        case "inferenceservices": return view.inferenceServices
        default: return nil
        }
    }

    func writeStatus(_ observation: Observation, _ status: JSON?) async throws {
        let object = observation.object
        guard let status, observation.status.map({ status.semanticallyEquals($0) }) != true else { return }
        var patch = KubeObject(apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name)
        patch["status"] = status
        do {
            let stored = try await client.apply(patch, NimDeployment.resource, fieldManager: ReconcilerOptions.fieldManager, subresource: "status")
            ledger.recordStatus(object.key, uid: object.uid, after: stored.resourceVersion, status: status)
        } catch {
            // Deleted meanwhile: nothing to report on.
            if error.isNotFound { return }
            throw RetryLater(problem: .apiUnavailable(error.description))
        }
    }

    func say(_ announcement: Announcement, about object: KubeObject, wroteRuntime: Bool) {
        switch announcement {
        case .event(let type, let reason, let message): events?.record(object, type: type, reason: reason, message: message)
        case .log(let level, let message, let fields): log.log(level, message, fields)
        case .rotationCounted(let result): rotationMetrics?.total.inc([result])
        case .rotationTimed(let since): rotationMetrics?.duration.observe(max(0, time.now.timeIntervalSince(since)))
        case .verificationCounted(let outcome): revisionMetrics?.verifications.inc([outcome])
        case .rollbackCounted(let reason): revisionMetrics?.rollbacks.inc([reason])
        case .onceRuntimeWritten(let inner): if wroteRuntime { say(inner, about: object, wroteRuntime: true) }
        }
    }

    private func publishReadiness(_ ready: String?, for key: ObjectKey) {
        guard let readiness else { return }
        let counts = ledger.report(ready: ready, for: key)
        readiness.replaceAll(Dictionary(uniqueKeysWithValues: counts.map { ([$0.key], Double($0.value)) }))
    }
}
