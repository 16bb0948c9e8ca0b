import KubeCore

/// The status one reconcile arrives at, built on the previous one so that conditions that say
/// the same thing keep their transition times and an unchanged status is not written again.
struct StatusReport {
    static let conditionOrder = [
        ConditionType.ready, ConditionType.keyValid, ConditionType.resourcesReady, ConditionType.cacheReady, ConditionType.inferenceServiceReady,
        ConditionType.modelVerified, ConditionType.progressing, ConditionType.degraded, ConditionType.rolledBack, ConditionType.progressiveRollout, "Idle",
        ConditionType.regionRestricted, ConditionType.scaleLimited,
    ]

    let previous: JSON
    let generation: Int
    let now: String
    var conditions: [Condition]
    var fields: [String: JSON] = [:]
    /// The problem that stopped this reconcile, if any.
    var problem: DeploymentProblem?
    var regionWarning: String?
    /// Replicas that could not all mount the cache claim.
    var scaleWarning: String?
    /// Where the predictor's pods stand; nil when there are none to read.
    var predictor: PredictorProgress?
    /// spec.storage.preload: where filling the claim stands; nil without preload.
    var cache: CacheProgress?
    /// spec.storage.preload is set: CacheReady stays as it was when this pass could not tell.
    var preloadRequested = false
    var suspended = false
    /// spec.readinessProbe is off: Ready cannot say the model answers.
    var readinessUnchecked = false
    var applied = false
    /// A key change waits for its Secret to settle (Progressing says so).
    var pendingRotation: String?
    /// What this reconcile did about the key, once everything was applied.
    var rotation: RotationOutcome?
    var forcePull = true
    /// The key read from the user's Secret, valid or not.
    var candidateFingerprint: String?
    /// The revisions, when this pass applied the deployment.
    var revisions: RevisionPlan?
    /// The stable and a candidate share a ReadWriteOnce cache claim.
    var sharedClaimReadWriteOnce = false
    /// spec.idleShutdown's verdict, when this pass applied the deployment.
    var idle: IdleRules.Verdict?

    static let rotationPendingReason = "KeyRotationPending"
    static let suspendedReason = "Suspended"
    /// What KServe's Ready says while it merely waits for pods (nothing failed).
    static let kserveWaitingReasons: Set<String> = ["", "MinimumReplicasUnavailable", "InferenceServiceNotReady", "InferenceServicePending", "InferenceServiceNotFound"]
    static let rollingOutReason = "RollingOut"

    init(previous status: JSON?, generation: Int, now: String) {
        previous = status ?? .object([:])
        self.generation = generation
        self.now = now
        conditions = (status?["conditions"]?.arrayValue ?? []).compactMap(Condition.init(json:))
        // Fields that stay true until something replaces them (what runs, which key it runs with).
        for field in ["image", "tag", "catalogEntry", "keyFingerprint", "lastKeyRotationTime", "url", "secretNames", "pvcName", "runtimeName", "inferenceServiceName",
            "revisions", "knownGoodRevision", "failedRevision", "retryAcknowledged", "httpRouteName", "networkPolicyName", "wakeAcknowledged",
        ] {
            if let value = status?[field] { fields[field] = value }
        }
    }

    var previousCondition: (String) -> Condition? { { type in StatusRules.previous(self.previous, type) } }

    mutating func set(_ type: String, _ status: Condition.Status, _ reason: String, _ message: String) {
        conditions.set(Condition(type: type, status: status, reason: reason, message: message, observedGeneration: generation), now: now)
    }

    mutating func remove(_ type: String) { conditions.removeAll { $0.type == type } }

    mutating func record(_ problem: DeploymentProblem) {
        self.problem = problem
        let status: Condition.Status = problem.isTransient ? .unknown : .false
        set(problem.conditionType, status, problem.reason, problem.message)
        if problem.conditionType == ConditionType.keyValid, !applied {
            let existing = fields["runtimeName"] != nil
            set(
                ConditionType.resourcesReady, existing ? .true : .false, existing ? "ResourcesUnchanged" : "WaitingForKey",
                existing
                    ? "The running deployment is left as it was until the key problem is solved."
                    : "Nothing is created until the key problem is solved.")
        }
    }

    /// Mirrors the InferenceService's Ready condition and URL.
    mutating func mirror(_ service: KubeObject?) {
        guard let service else {
            set(ConditionType.inferenceServiceReady, .unknown, "InferenceServiceNotFound", "The InferenceService does not exist yet.")
            return
        }
        if let url = service[dotted: "status.url"]?.stringValue, !url.isEmpty { fields["url"] = .string(url) }
        let ready = (service[dotted: "status.conditions"]?.arrayValue ?? []).compactMap(Condition.init(json:))[ConditionType.ready]
        switch ready?.status {
        case .true?:
            set(ConditionType.inferenceServiceReady, .true, "InferenceServiceReady", "KServe reports the InferenceService ready.")
        case let status?:
            set(
                ConditionType.inferenceServiceReady, status, ready?.reason.isEmpty == false ? ready?.reason ?? "" : "InferenceServiceNotReady",
                "KServe: " + (ready?.message.isEmpty == false ? ready?.message ?? "" : "the InferenceService is not ready yet."))
        case nil:
            set(ConditionType.inferenceServiceReady, .unknown, "InferenceServicePending", "Waiting for KServe to report on the InferenceService.")
        }
    }

    /// Ready, Progressing and Degraded, from the others.
    mutating func summarize() {
        if conditions[ConditionType.keyValid] == nil {
            set(ConditionType.keyValid, .unknown, "KeyNotChecked", "The key is checked once the model and image are resolved.")
        }
        if conditions[ConditionType.resourcesReady] == nil {
            set(ConditionType.resourcesReady, .false, "NotApplied", "Nothing has been created yet.")
        }
        let keyValid = conditions[ConditionType.keyValid]?.status
        let resources = conditions[ConditionType.resourcesReady]?.status
        let service = conditions[ConditionType.inferenceServiceReady]
        if let problem {
            if problem.conditionType == ConditionType.keyValid, let key = fields["keyFingerprint"]?.stringValue, resources == .true, service?.status == .true {
                // The new key is not used; the pods still serve with the one they have.
                set(
                    ConditionType.ready, .true, "ServingWithPreviousKey",
                    "Serving \(fields["image"]?.stringValue ?? "the model") with the key the Secrets hold (\(key)); the key now in the user's Secret is not used (\(problem.reason)).")
            } else {
                set(ConditionType.ready, .false, problem.reason, problem.message)
            }
            set(ConditionType.degraded, problem.isTransient ? .false : .true, problem.isTransient ? "Retrying" : problem.reason,
                problem.isTransient ? "A temporary problem; retrying with backoff." : problem.message)
            set(ConditionType.progressing, .false, "Blocked", "Waiting for the problem above to be solved.")
        } else if let cache, !cache.filled, !(service?.status == .true && keyValid != .false && resources == .true) {
            // Nothing serves yet: the claim is being filled first.
            set(ConditionType.ready, .false, cache.reason, cache.message)
            set(ConditionType.degraded, cache.failed ? .true : .false, cache.failed ? cache.reason : "AsExpected", cache.failed ? cache.message : "Nothing stands in the way.")
            set(ConditionType.progressing, cache.failed ? .false : .true, cache.reason, cache.message)
        } else if idle?.idle == true, keyValid != .false, resources == .true {
            let message = idle?.condition?.message ?? "Scaled to zero: idle."
            set(ConditionType.ready, .false, "Idle", message)
            set(ConditionType.degraded, .false, "AsExpected", "Nothing stands in the way.")
            set(ConditionType.progressing, .false, "Idle", message)
        } else if suspended, keyValid != .false, resources == .true {
            set(
                ConditionType.ready, .false, Self.suspendedReason,
                "Suspended: scaled to zero replicas as spec.suspend asks; the key, the model cache, the runtime and the InferenceService are kept. Set spec.suspend to false to serve again.")
            set(ConditionType.degraded, .false, "AsExpected", "Nothing stands in the way.")
            set(ConditionType.progressing, .false, Self.suspendedReason, "Scaled to zero as spec.suspend asks.")
        } else if keyValid != .false, resources == .true, service?.status == .true, predictor.map({ $0.stage == .ready || $0.previousRevisionServes }) ?? true {
            let url = fields["url"]?.stringValue.map { " at \($0)" } ?? ""
            let unchecked = readinessUnchecked ? " spec.readinessProbe does not ask NIM's /v1/health/ready: Ready says what that probe says, not that the model answers." : ""
            set(ConditionType.ready, .true, "Ready", "Serving \(fields["image"]?.stringValue ?? "the model")\(url).\(unchecked)")
            // A new revision that fails beside the one still serving: serving, but degraded.
            let starting = predictor.flatMap { $0.stage == .ready ? nil : $0 }
            if let starting, starting.isDegraded {
                set(ConditionType.degraded, .true, starting.reason, "The new revision fails; the previous one serves meanwhile. " + starting.message)
            } else {
                set(ConditionType.degraded, .false, "AsExpected", "Nothing stands in the way.")
            }
            if let cache, !cache.filled {
                // What runs serves while the claim is filled for what comes next.
                if cache.failed { set(ConditionType.degraded, .true, cache.reason, cache.message) }
                set(ConditionType.progressing, cache.failed ? .false : .true, cache.reason, "The running revision serves meanwhile. " + cache.message)
            } else if let pendingRotation {
                set(ConditionType.progressing, .true, Self.rotationPendingReason, pendingRotation)
            } else if let starting {
                set(ConditionType.progressing, .true, Self.rollingOutReason, "A new revision is starting while the previous one serves: " + starting.message)
            } else {
                set(ConditionType.progressing, .false, "Deployed", "The deployment is up to date.")
            }
        } else {
            // What the pods say beats what KServe says: it says why. But with no pod of this
            // revision yet, a KServe that reports a failure (a Deployment refused, pods not
            // admitted) says more.
            let kserveSaysWhy = service?.status == .false && !Self.kserveWaitingReasons.contains(service?.reason ?? "")
            let pods = predictor.flatMap { $0.stage == .ready || ($0.stage == .waitingForPods && kserveSaysWhy) ? nil : $0 }
            let reason = pods?.reason ?? service?.reason ?? "InferenceServiceNotReady"
            let message = pods?.message ?? service?.message ?? "Waiting for the InferenceService."
            set(ConditionType.ready, .false, reason, message)
            if let pods, pods.isDegraded {
                set(ConditionType.degraded, .true, pods.reason, pods.message)
            } else {
                set(ConditionType.degraded, .false, "AsExpected", "Nothing stands in the way.")
            }
            set(
                ConditionType.progressing, .true, pendingRotation == nil ? (pods?.reason ?? "Deploying") : Self.rotationPendingReason,
                pendingRotation ?? pods?.message ?? "The objects are in place; waiting for KServe to report the InferenceService ready.")
        }
        summarizeRevisions()
        if let condition = idle?.condition {
            set(condition.type, condition.status, condition.reason, condition.message)
        } else if applied {
            remove(IdleRules.type)
        }
        if let cache {
            set(ConditionType.cacheReady, cache.filled ? .true : cache.failed ? .false : .unknown, cache.reason, cache.message)
        } else if !preloadRequested {
            remove(ConditionType.cacheReady)
        }
        if let scaleWarning {
            set(ConditionType.scaleLimited, .true, "ReadWriteOnceCache", scaleWarning)
        } else {
            remove(ConditionType.scaleLimited)
        }
        if let regionWarning {
            set(ConditionType.regionRestricted, .true, "EURestrictedModel", regionWarning)
        } else {
            remove(ConditionType.regionRestricted)
        }
    }

    /// ModelVerified, RolledBack, ProgressiveRollout, and what a failed or progressing
    /// revision adds to Ready, Degraded and Progressing.
    mutating func summarizeRevisions() {
        guard let revisions else { return }
        if revisions.verificationOff {
            remove(ConditionType.modelVerified)
        } else if let verified = revisions.verified {
            set(verified.type, verified.status, verified.reason, verified.message)
        }
        let fine = problem == nil && conditions[ConditionType.ready]?.status == .true
        if let blocked = revisions.blocked {
            let good = revisions.history.knownGood
            let message = "Revision \(blocked.number) \(blocked.reason): \(blocked.message) Rolled back to revision \(good?.number ?? 0) (\(good?.image ?? "")); the spec's revision is not tried again until the spec changes or annotation \(NimDeployment.retryAnnotation) is set anew."
            set(ConditionType.rolledBack, .true, blocked.reason, message)
            set(ConditionType.degraded, .true, ConditionType.rolledBack, message)
            if fine {
                set(ConditionType.ready, .true, "Ready", "Serving the known-good revision \(good?.number ?? 0) (\(good?.image ?? "")) at \(fields["url"]?.stringValue ?? "its address"); the spec's revision \(blocked.number) was rolled back (\(blocked.reason)).")
            }
        } else {
            remove(ConditionType.rolledBack)
            if let degraded = revisions.degraded { set(ConditionType.degraded, .true, degraded.reason, degraded.message) }
        }
        // What the pods and KServe say is more precise while they start; a canary's step, or a
        // revision being verified once everything is up, is said here.
        let settled = conditions[ConditionType.progressing].map { $0.status == .false && $0.reason == "Deployed" } ?? true
        if let progress = revisions.progress, problem == nil, revisions.history.latest?.step != nil || settled {
            set(ConditionType.progressing, .true, revisions.history.latest?.step != nil ? "CanaryStep" : Self.rollingOutReason, progress)
        }
        switch revisions.split {
        case .inPlace: remove(ConditionType.progressiveRollout)
        case .canaryTrafficPercent:
            set(ConditionType.progressiveRollout, .true, "CanaryTrafficPercent", "Serverless: new revisions take traffic in steps through KServe's canaryTrafficPercent.")
        case .httpRoute(let gateway):
            let claimNote = sharedClaimReadWriteOnce
                ? " The cache claim is ReadWriteOnce: a candidate scheduled on another node than the stable cannot mount it (use accessMode ReadWriteMany)." : ""
            set(
                ConditionType.progressiveRollout, .true, "GatewayHTTPRoute",
                "RawDeployment: new revisions run as their own InferenceService beside the stable (with its own GPUs); HTTPRoute \(fields["httpRouteName"]?.stringValue ?? "") on Gateway \(gateway.name) for \(gateway.hostname) moves traffic in steps.\(claimNote)")
        case .unavailable(let why):
            set(ConditionType.progressiveRollout, .false, "NoTrafficSplitting", why)
        }
    }

    var statusJSON: JSON {
        var status: [String: JSON] = fields
        status["observedGeneration"] = .int(generation)
        let ordered = conditions.sorted {
            (Self.conditionOrder.firstIndex(of: $0.type) ?? 99) < (Self.conditionOrder.firstIndex(of: $1.type) ?? 99)
        }
        status["conditions"] = .array(ordered.map(\.json))
        return .object(status)
    }
}
