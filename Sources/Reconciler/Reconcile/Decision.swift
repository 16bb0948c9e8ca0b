import Foundation
import KubeCore

/// What a reconcile does, decided from an `Observation` alone: the objects to apply, in order;
/// the status to report; what to announce; when to come back.
public struct Decision: Sendable {
    /// Applied in this order: the claim first (one that cannot grow stops the rest before
    /// anything else is made), then the Secrets, the InferenceService (its restart token) last,
    /// so pods restarted by it find the new key. Empty when something stands in the way: never
    /// a half-built deployment, never a working key replaced by a bad one.
    public var writes: [(resource: ResourceType, object: KubeObject)]
    /// Deleted once the writes are done: a finished rollout's candidate, an HTTPRoute no longer used.
    public var deletes: [(resource: ResourceType, name: String)] = []
    /// The status to report; nil leaves it as it is.
    public var status: JSON?
    /// What stands in the way, if anything.
    public var problem: DeploymentProblem?
    public var announcements: [Announcement]
    public var requeueAfter: TimeInterval?
    /// The key Secret whose pending change this decision acts on (the settle rule's memory).
    public var actsOnKeyChange: ObjectKey?
    /// Ready's status, for `nim_deployments{ready}`.
    public var ready: String

    init(
        writes: [(resource: ResourceType, object: KubeObject)], status: JSON?, problem: DeploymentProblem?, announcements: [Announcement], requeueAfter: TimeInterval?,
        actsOnKeyChange: ObjectKey?, ready: String, deletes: [(resource: ResourceType, name: String)] = []
    ) {
        self.writes = writes
        self.status = status
        self.problem = problem
        self.announcements = announcements
        self.requeueAfter = requeueAfter
        self.actsOnKeyChange = actsOnKeyChange
        self.ready = ready
        self.deletes = deletes
    }

    /// Conditions by type, for reading a decision.
    public var conditions: [String: (status: String, reason: String)] {
        var byType: [String: (String, String)] = [:]
        for condition in status?["conditions"]?.arrayValue ?? [] {
            guard let type = condition["type"]?.stringValue else { continue }
            byType[type] = (condition["status"]?.stringValue ?? "", condition["reason"]?.stringValue ?? "")
        }
        return byType
    }
}

/// The reconcile's rules, composed: each step a small pure function, in the order they stop a
/// deployment. `need` says what must be read first; `decision` says what to do.
public enum Decide {
    /// What must be read before the decision can be made; nil when nothing more.
    public static func need(_ observation: Observation) -> Observation.Need? { facts(observation).need }

    /// What to do. `failedWrite`: a write of an earlier decision from this observation failed,
    /// and the status says so (nothing more is written).
    public static func decision(_ observation: Observation, failedWrite: DeploymentProblem? = nil) -> Decision {
        decision(observation, facts: facts(observation), failedWrite: failedWrite)
    }

    /// The same, from the facts `observe` already found (the rules run once more otherwise).
    static func decision(_ observation: Observation, facts found: Facts, failedWrite: DeploymentProblem? = nil) -> Decision {
        // Deleting: the children go by their owner references (the collector's job); a
        // retained cache claim stays for a deployment of the same name. Nothing to say.
        if observation.object.isTerminating {
            let ready = StatusRules.previous(observation.status, ConditionType.ready)?.status.rawValue ?? "Unknown"
            return Decision(writes: [], status: nil, problem: nil, announcements: [], requeueAfter: nil, actsOnKeyChange: nil, ready: ready)
        }
        var facts = found
        if let need = facts.need, facts.problem == nil { facts.problem = .apiUnavailable("\(need) could not be read") }
        if let failedWrite { facts.problem = failedWrite }
        let applied = facts.desired != nil && facts.problem == nil
        let report = StatusRules.report(observation, facts, applied: applied)
        let takeover = applied ? facts.takeover?.announcement : nil
        return Decision(
            writes: applied && failedWrite == nil ? facts.desired?.objects.map { ($0.0, $0.1) } ?? [] : [],
            status: report.statusJSON, problem: facts.problem,
            announcements: Announcements.of(report, deployment: observation.object.key, options: observation.options, takeover: takeover, since: facts.changeSeen ?? observation.now)
                + (applied ? (facts.revisions?.announcements ?? []) + (facts.idle?.announcements ?? []) : []),
            requeueAfter: facts.problem == nil ? facts.requeueAfter : nil, actsOnKeyChange: facts.actsOnKeyChange,
            ready: report.conditions[ConditionType.ready]?.status.rawValue ?? "Unknown",
            deletes: applied && failedWrite == nil ? facts.rollout?.deletes.map { ($0.0, $0.1) } ?? [] : [])
    }

    /// What the rules found, up to where they stopped.
    struct Facts {
        var need: Observation.Need?
        var problem: DeploymentProblem?
        var deployment: NimDeployment?
        var image: ResolvedImage?
        var regionWarning: String?
        var keyCondition: Condition?
        /// The key read from the user's Secret, valid or not.
        var candidateFingerprint: String?
        var key: APIKey?
        var plan: RotationPlan?
        var pendingRotation: String?
        var requeueAfter: TimeInterval?
        var actsOnKeyChange: ObjectKey?
        /// When the key change acted on was seen.
        var changeSeen: Date?
        var takeover: Takeover?
        var desired: DesiredState?
        var scaleWarning: String?
        /// spec.storage.preload: where filling the claim stands.
        var cache: CachePreload.State?
        /// The revisions, and what a progressive rollout adds (a candidate, the HTTPRoute).
        var revisions: RevisionPlan?
        var rollout: RolloutRender?
        /// spec.idleShutdown: whether it is idle, and what to say.
        var idle: IdleRules.Verdict?
    }

    static func facts(_ observation: Observation) -> Facts {
        var facts = Facts()
        do {
            try converge(observation, into: &facts)
        } catch {
            facts.problem = error
        }
        return facts
    }

    /// The rules in the order they stop a deployment: spec, image, key, settle window, NGC's
    /// verdict, claims, CA bundle, takeover; then the desired objects.
    static func converge(_ o: Observation, into facts: inout Facts) throws(DeploymentProblem) {
        guard !o.object.isTerminating else { return }
        let deployment = try NimDeployment(o.object)
        facts.deployment = deployment
        let spec = deployment.spec
        let names = ChildNames(deployment: deployment.name, existingClaim: spec.storage.existingClaim)
        (facts.image, facts.regionWarning) = try ImageRules.resolve(spec, catalog: o.catalog, source: o.catalogSource, options: o.options)
        guard let image = facts.image else { return }
        try QuotaRules.check(deployment, quotas: o.quotas, pods: o.pods, running: o.children.inferenceService)
        if spec.networkPolicy.enabled, o.children.inferenceService?.annotations[DesiredState.deploymentModeAnnotation] == "Serverless" {
            throw .invalidSpec("spec.networkPolicy is for RawDeployment mode: in Serverless mode Knative's activator, queue-proxy and autoscaler reach the pods on their own ports; use Knative's or your mesh's policies")
        }

        // The key: read, then (past the settle window) judged by NGC.
        var key: APIKey?
        let secret = spec.apiKeySecretRef.map { ObjectKey(namespace: deployment.namespace, name: $0.name) }
        if o.options.disconnected {
            facts.keyCondition = KeyRules.notRequired
        } else {
            guard let reference = spec.apiKeySecretRef else { throw .keyRequired }
            guard let reading = o.key else { facts.need = .key(reference); return }
            if case .read(let candidate, _) = reading { facts.candidateFingerprint = candidate.fingerprint }
            key = try KeyRules.accept(reading, secret: reference.name)
        }
        facts.key = key
        let previous = o.status?["keyFingerprint"]?.stringValue
        let plan = RotationPlan(
            previous: previous, current: key?.fingerprint ?? RestartToken.disconnected, live: o.liveToken, rotateRequest: deployment.rotateRequest,
            restartPods: spec.restartPods)
        facts.plan = plan
        if plan.keyChanged, let secret {
            if let wait = SettleRule.wait(o.keySighting, now: o.now, quiet: o.options.keyRotationSettle) {
                let pending = SettleRule.pendingMessage(current: plan.current, secret: secret.name, quiet: o.options.keyRotationSettle)
                facts.pendingRotation = pending
                facts.keyCondition = KeyRules.condition(.unknown, StatusReport.rotationPendingReason, pending)
                facts.requeueAfter = wait
                return
            }
            if o.keySighting?.firstPending != nil { facts.actsOnKeyChange = secret }
        }
        // A new key, or pods about to restart: NGC must have said so since.
        facts.changeSeen = plan.keyChanged ? o.keySighting?.last ?? o.now : nil
        let answeredSince = facts.changeSeen ?? (plan.restartsPods ? o.now : nil)
        if let key {
            if o.options.disableKeyValidation {
                facts.keyCondition = KeyRules.notValidated(key)
            } else {
                guard let verdict = o.verdict else { facts.need = .verdict(key, repository: image.image, answeredSince: answeredSince); return }
                let trusted = answeredSince == nil && previous == key.fingerprint && StatusRules.previous(o.status, ConditionType.keyValid)?.status == .true
                facts.keyCondition = try KeyRules.judge(verdict, key: key, secret: secret?.name ?? "", image: image, trusted: trusted)
            }
        }

        // The claims, the CA bundle, what others left under the children's names.
        let claimSize = try ClaimRules.check(deployment, names: names, children: o.children)
        var caBundleDigest: String?
        if let bundle = spec.pod.proxy?.caBundle {
            guard let reading = o.caBundle else { facts.need = .caBundle(bundle); return }
            caBundleDigest = try reading.get()
        }
        guard let takeover = try TakeoverRules.takeover(names: names, children: o.children) else {
            facts.need = .unlistedInferenceService(names.inferenceService)
            return
        }
        facts.takeover = takeover

        // The revision: the spec's, or the known-good one's while the spec asks for one that failed;
        // judged once it runs, and a failed one rolled back at once.
        let common = { (deployment: NimDeployment, image: ResolvedImage) in
            var inputs = DesiredInputs(
                deployment: deployment, image: image, key: key, restartToken: plan.token,
                existingDeploymentMode: o.children.inferenceService.map { $0.annotations[DesiredState.deploymentModeAnnotation] }, adopted: takeover.settings,
                caBundleDigest: caBundleDigest, defaultFSGroup: o.options.defaultFSGroup, claimSize: claimSize,
                mirrors: o.options.registryMirrors, mirrorPullSecret: o.options.mirrorPullSecret)
            inputs.podMonitor = o.options.podMonitors
            inputs.podMonitorLabels = o.options.podMonitorLabels
            inputs.operatorNamespace = o.options.operatorNamespace ?? o.options.catalog.namespace
            return inputs
        }
        var revisions = RevisionRules.plan(deployment, image: image, token: plan.token, history: RevisionHistory(status: o.status), o: o)
        var rendered = RolloutRender(revisions, o: o, common: common)
        var inputs = try preloaded(rendered.stableInputs, o, hasKey: key != nil, into: &facts)
        // While the claim is filled for the next revision, that revision has not started.
        if inputs.preload?.state != .filled, inputs.preload != nil {
            revisions.history = RevisionHistory(status: o.status)
        } else {
            switch RevisionRules.assess(&revisions, spec: spec, serving: rendered.serving, o: o) {
            case .need(let need):
                facts.need = need
                return
            case .rollBack:
                let judged = revisions
                revisions = RevisionRules.plan(deployment, image: image, token: plan.token, history: judged.history, o: o)
                (revisions.announcements, revisions.verified) = (judged.announcements, judged.verified)
                rendered = RolloutRender(revisions, o: o, common: common)
                inputs = try preloaded(rendered.stableInputs, o, hasKey: key != nil, into: &facts)
            case .done:
                break
            }
        }
        facts.revisions = revisions
        facts.rollout = rendered
        // Idle: no request for spec.idleShutdown's time scales the stable to zero.
        let rollingOut = revisions.history.latest?.outcome == .progressing || rendered.serving.service?.name != names.inferenceService
        let idle = IdleRules.decide(deployment, o: o, address: RolloutRender.address(o.children.inferenceService), ready: RevisionRules.isReady(o.children.inferenceService, revision: nil), rollingOut: rollingOut)
        if let need = idle.need {
            facts.need = need
            return
        }
        facts.idle = idle
        if idle.idle { inputs.deployment.spec.suspend = true }
        if idle.scaleToZero { inputs.deployment.spec.minReplicas = 0 }
        for wait in [revisions.requeueAfter, rendered.requeueAfter, idle.requeueAfter].compactMap({ $0 }) { facts.requeueAfter = min(facts.requeueAfter ?? wait, wait) }
        // Rendered once already, unless a preload or an idle shutdown changed the inputs since.
        var desired = inputs.preload == nil && !idle.idle && !idle.scaleToZero ? rendered.stable : DesiredState(inputs)
        desired.beside = rendered.beside
        // A NetworkPolicy no longer asked for goes (the status remembers the one made).
        if desired.networkPolicy == nil, let made = o.status?["networkPolicyName"]?.stringValue {
            facts.rollout?.deletes.append((NIMMetrics.networkPolicies, made))
        }
        facts.desired = desired
        facts.scaleWarning = ClaimRules.scaleWarning(deployment, existingClaim: o.children.existingClaim)
    }

    /// spec.storage.preload: what the claim must hold and where its filling stands (a claim taken
    /// over from a legacy runtime is used as an existingClaim: never written to).
    static func preloaded(_ stable: DesiredInputs, _ o: Observation, hasKey: Bool, into facts: inout Facts) throws(DeploymentProblem) -> DesiredInputs {
        var inputs = stable
        guard inputs.deployment.spec.storage.preload, inputs.deployment.spec.storage.existingClaim == nil else { return inputs }
        guard hasKey else {
            throw .invalidSpec("spec.storage.preload downloads from NGC with the key, and the operator runs disconnected: fill the claim beforehand (docs/airgap.md) and name it in spec.storage.existingClaim")
        }
        let content = CachePreload.content(inputs)
        let state = CachePreload.state(content: content, claim: o.children.claim, jobs: o.children.cacheJobs, now: o.now)
        inputs.preload = (content, state)
        facts.cache = state
        if case .failed(_, _, _, _, let retryAt) = state {
            let wait = max(1, retryAt.timeIntervalSince(o.now))
            facts.requeueAfter = min(facts.requeueAfter ?? wait, wait)
        }
        return inputs
    }
}
