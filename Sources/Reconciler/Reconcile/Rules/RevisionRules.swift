import Foundation
import KubeCore

/// How traffic moves to a new revision, given the strategy and the cluster.
public enum TrafficSplit: Sendable, Equatable {
    /// The pods are replaced where they run.
    case inPlace
    /// Serverless: KServe's `canaryTrafficPercent` on the InferenceService.
    case canaryTrafficPercent
    /// RawDeployment: the candidate as its own InferenceService, a weighted HTTPRoute in front.
    case httpRoute(Rollout.GatewayReference)
    /// Progressive was asked for and cannot be done here (why); rolled in place.
    case unavailable(String)

    /// How a canary's traffic is split, as a revision record remembers it; nil in place.
    var kind: String? {
        switch self {
        case .canaryTrafficPercent: return "CanaryTrafficPercent"
        case .httpRoute: return "GatewayHTTPRoute"
        case .inPlace, .unavailable: return nil
        }
    }
}

/// Where the deployment's revisions stand and what to render for them: the spec (or the known
/// good revision's fields, while the spec asks for one that failed), a candidate beside it in a
/// progressive rollout, and what to say. Pure: the status holds the history.
struct RevisionPlan {
    var history: RevisionHistory
    /// What the stable objects are rendered from.
    var stable: NimDeployment
    var stableImage: ResolvedImage
    /// A progressive rollout over an HTTPRoute: the candidate, rendered beside the stable.
    var candidate: (deployment: NimDeployment, image: ResolvedImage)?
    var split: TrafficSplit
    /// The candidate's share of traffic now; nil when no canary step is under way.
    var canaryPercent: Int?
    /// The spec asks for this failed revision; the known-good one runs instead.
    var blocked: FailedRevision?
    var announcements: [Announcement] = []
    /// ModelVerified as this pass found it (nil: as it was; removed when verification is off).
    var verified: Condition?
    var verificationOff = false
    /// Progressing's message while a revision rolls out.
    var progress: String?
    /// Degraded while the latest revision failed (or a periodic check failed).
    var degraded: (reason: String, message: String)?
    var requeueAfter: TimeInterval?
}

enum RevisionRules {
    static let verifiedType = "ModelVerified"
    static let rolledBackType = "RolledBack"
    static let progressiveType = "ProgressiveRollout"

    /// The revision the spec asks for, and what to render: the known-good revision while the spec
    /// asks for one that failed (until it changes or the retry annotation is set anew). Records a
    /// new revision when what is rendered is not the latest one.
    static func plan(_ deployment: NimDeployment, image: ResolvedImage, token: RestartToken, history found: RevisionHistory, o: Observation) -> RevisionPlan {
        var history = found
        let now = KubeTime.format(o.now)
        if let retry = deployment.retryRequest.map(RestartToken.requestHash), retry != history.retryAcknowledged {
            history.retryAcknowledged = retry
            history.failed = nil
            // A revision that failed where it runs (nothing to roll back to) is judged afresh.
            if var latest = history.latest, latest.outcome == .failed {
                latest.outcome = .progressing
                (latest.reason, latest.message, latest.verifiedAt, latest.startedAt) = (nil, nil, nil, now)
                history.records[0] = latest
            }
        }
        let wanted = RevisionHistory.digest(spec: RevisionHistory.revisionSpec(deployment.object["spec"]), image: image.image.description)
        var stable = deployment
        var stableImage = image
        var blocked: FailedRevision?
        var rendered = wanted
        var announcements: [Announcement] = []
        if let failed = history.failed {
            if failed.revision == wanted, let good = history.knownGood, let restored = restore(good, into: deployment, o: o) {
                (stable, stableImage) = restored
                blocked = failed
                rendered = good.revision
            } else if failed.revision == wanted {
                // The known-good fields no longer make a deployment (a spec field since refused):
                // the spec's revision is tried again rather than nothing served.
                announcements.append(.event(.warning, reason: "KnownGoodUnavailable", message: "Revision \(failed.number) failed, and the known-good revision can no longer be rendered: the spec's revision is tried again."))
                history.failed = nil
            } else {
                history.failed = nil
            }
        }
        let split = split(deployment.spec, o: o)
        let token = token.description
        resume(&history, suspended: deployment.spec.suspend, now: o.now)
        if history.latest?.revision != rendered || history.latest?.podToken != token {
            let previous = history.latest
            if var superseded = previous, superseded.outcome == .progressing {
                superseded.outcome = .superseded
                history.records[0] = superseded
            }
            var record = RevisionRecord(
                number: (previous?.number ?? 0) + 1, revision: rendered, podToken: token, image: stableImage.image.description,
                change: describe(from: previous, to: rendered, image: stableImage.image.description, token: token, blocked: blocked, knownGood: history.knownGood),
                startedAt: now)
            // Step through traffic only from a revision known to be good, and only for a new spec
            // (a new key rolls in place: the stable runs it as well).
            if blocked == nil, let good = history.knownGood, good.revision != rendered, let kind = split.kind {
                record.step = 0
                record.stepStartedAt = now
                record.split = kind
            }
            history.records.insert(record, at: 0)
            history.records = Array(history.records.prefix(RevisionHistory.limit))
        }
        // A canary whose traffic split went away (the strategy changed, the Gateway API is gone):
        // the revision rolls in place and is judged afresh there.
        if var latest = history.latest, latest.outcome == .progressing, latest.step != nil, latest.split != split.kind {
            (latest.step, latest.stepStartedAt, latest.split, latest.verifiedAt, latest.startedAt) = (nil, nil, nil, nil, now)
            history.records[0] = latest
        }
        // A step's share is written by this pass: its pause counts from now.
        if var latest = history.latest, latest.outcome == .progressing, latest.step != nil, latest.verifiedAt != nil, latest.stepStartedAt == nil {
            latest.stepStartedAt = now
            history.records[0] = latest
        }
        var plan = RevisionPlan(history: history, stable: stable, stableImage: stableImage, split: split, blocked: blocked)
        plan.announcements = announcements
        plan.verificationOff = !deployment.spec.verification.enabled || deployment.spec.servingProtocol == .grpc
        // A canary under way: the stable keeps the known-good fields; the candidate runs the spec.
        if let record = history.latest, record.outcome == .progressing, let step = record.step, let good = history.knownGood {
            let steps = deployment.spec.rollout.steps
            switch split {
            case .httpRoute:
                if step < steps.count, let restored = restore(good, into: deployment, o: o) {
                    plan.candidate = (deployment, image)
                    (plan.stable, plan.stableImage) = restored
                    // No share before it is verified: a Service with no ready endpoint answers 503.
                    plan.canaryPercent = record.verifiedAt == nil ? 0 : steps[step]
                } else if step >= steps.count {
                    // Promoting: the stable takes the candidate's spec; the candidate serves all until it is ready.
                    plan.candidate = (deployment, image)
                    plan.canaryPercent = 100
                }
            case .canaryTrafficPercent:
                // None before it is verified: KServe would send the share to it at once.
                if step < steps.count { plan.canaryPercent = record.verifiedAt == nil ? 0 : steps[step] }
            default: break
            }
        }
        // A Serverless rollback: the known-good revision comes back at 0% until it is Ready, so
        // traffic stays on the previous rolled-out revision rather than on the one that failed.
        if split == .canaryTrafficPercent, blocked != nil, let record = history.latest, record.outcome == .progressing, record.verifiedAt == nil {
            plan.canaryPercent = 0
        }
        return plan
    }

    /// Suspended time does not count toward a deadline or a pause: the start times move on by it
    /// once, when the deployment serves again.
    static func resume(_ history: inout RevisionHistory, suspended: Bool, now: Date) {
        guard var latest = history.latest, latest.outcome == .progressing else { return }
        if suspended {
            if latest.suspendedAt == nil { latest.suspendedAt = KubeTime.format(now) }
        } else if let since = latest.suspendedAt.flatMap(KubeTime.parse) {
            let paused = max(0, now.timeIntervalSince(since))
            func moved(_ time: String?) -> String? { time.flatMap(KubeTime.parse).map { KubeTime.format($0.addingTimeInterval(paused)) } }
            (latest.startedAt, latest.stepStartedAt, latest.suspendedAt) = (moved(latest.startedAt) ?? latest.startedAt, moved(latest.stepStartedAt), nil)
        }
        history.records[0] = latest
    }

    /// The deployment with a known-good revision's spec fields laid back, and its image.
    static func restore(_ good: KnownGoodRevision, into deployment: NimDeployment, o: Observation) -> (NimDeployment, ResolvedImage)? {
        var object = deployment.object
        object["spec"] = RevisionHistory.spec(deployment.object["spec"], restoring: good.spec)
        guard let restored = try? NimDeployment(object) else { return nil }
        let resolved = try? ImageRules.resolve(restored.spec, catalog: o.catalog, source: o.catalogSource, options: o.options).0
        // The image it ran, even if the catalog has moved on since (a tag withdrawn, a new digest).
        guard let ran = ImageReference(parsing: good.image) else { return resolved.map { (restored, $0) } }
        var image = resolved ?? ResolvedImage(
            image: ran, model: restored.spec.model ?? ModelProbe.servedName(ran), tag: ran.tag ?? "latest", displayName: restored.spec.model ?? ran.path)
        image.image = ran
        return (restored, image)
    }

    static func split(_ spec: NimDeployment.Spec, o: Observation) -> TrafficSplit {
        guard spec.rollout.strategy == .progressive else { return .inPlace }
        let mode = o.children.inferenceService?.annotations[DesiredState.deploymentModeAnnotation] ?? "RawDeployment"
        if mode == "Serverless" { return .canaryTrafficPercent }
        guard o.options.gatewayAPI else {
            return .unavailable("The InferenceService runs in RawDeployment mode, where KServe has no canary, and this cluster does not serve the Gateway API (gateway.networking.k8s.io/v1) for a weighted HTTPRoute: new revisions roll in place.")
        }
        guard let gateway = spec.rollout.gateway else {
            return .unavailable("The InferenceService runs in RawDeployment mode: set spec.rollout.gateway to the Gateway a weighted HTTPRoute attaches to. Until then new revisions roll in place.")
        }
        return .httpRoute(gateway)
    }



    static func describe(from previous: RevisionRecord?, to revision: String, image: String, token: String, blocked: FailedRevision?, knownGood: KnownGoodRevision?) -> String {
        if let blocked, let good = knownGood { return "rollback to revision \(good.number) (revision \(blocked.number): \(blocked.reason))" }
        guard let previous else { return "first revision: \(image)" }
        var changes: [String] = []
        if previous.image != image { changes.append("image \(previous.image) → \(image)") }
        else if previous.revision != revision { changes.append("pod settings") }
        let (from, to) = (RestartToken(parsing: previous.podToken), RestartToken(parsing: token))
        if from?.fingerprint != to?.fingerprint { changes.append("key \(from?.fingerprint ?? "none") → \(to?.fingerprint ?? "none")") }
        else if from?.request != to?.request { changes.append("restart requested") }
        return changes.isEmpty ? "re-rendered" : changes.joined(separator: ", ")
    }

    // MARK: - Assessing the latest revision

    /// What the latest revision's InferenceService and pods say.
    struct Serving {
        /// The InferenceService the latest revision runs in, and its revision annotation.
        var service: KubeObject?
        var revision: String?
        /// Where its model answers (the address, or a Serverless canary's own URL).
        var address: String?
    }

    enum Assessment {
        case done
        case need(Observation.Need)
        /// The latest revision failed and the known-good one is rendered again.
        case rollBack
    }

    /// Judges the latest revision from what runs: not ready past its deadline, crash-looping,
    /// a wrong answer, a canary step's analysis breached. Moves a canary on between steps.
    static func assess(_ plan: inout RevisionPlan, spec: NimDeployment.Spec, serving: Serving, o: Observation) -> Assessment {
        // Suspended: nothing runs to judge; the revision is judged once it runs again.
        guard var record = plan.history.latest, !spec.suspend else { return .done }
        let rollout = spec.rollout
        let now = o.now
        let started = KubeTime.parse(record.stepStartedAt ?? record.startedAt) ?? now
        let pods = PredictorProgress.assess(pods: o.pods, revision: serving.revision, startupBudget: nil)
        // No pod in the cache is "not yet", unless the spec lets it scale to zero.
        let ready = isReady(serving.service, revision: serving.revision) && (pods.map { $0.stage == .ready } ?? (spec.minReplicas == 0))
        defer { plan.history.records[0] = record }

        switch record.outcome {
        case .verified:
            // Asked again on a period, if the spec says so: a model that stops answering is seen,
            // and Degraded until it answers again.
            if !plan.verificationOff, let last = o.status.flatMap({ StatusRules.previous($0, verifiedType) }), last.status == .false {
                plan.degraded = (last.reason, "The model stopped answering as it should. " + last.message)
            }
            guard !plan.verificationOff, let period = spec.verification.period, let address = serving.address, ready else { return .done }
            let due = (KubeTime.parse(record.verifiedAt ?? "") ?? .distantPast).addingTimeInterval(period)
            if due > now {
                plan.requeueAfter = due.timeIntervalSince(now)
                return .done
            }
            guard let verdict = o.modelVerdict else { return .need(.verification(probe(spec, plan: plan, address: address))) }
            record.verifiedAt = KubeTime.format(now)
            plan.verified = condition(verdict, record: record, plan: &plan)
            plan.requeueAfter = period
            plan.degraded = nil
            if verdict.failsRevision {
                plan.degraded = (verdict.outcome.rawValue, "The model stopped answering as it should. Revision \(record.number): \(verdict.message)")
                if o.status.flatMap({ StatusRules.previous($0, verifiedType) })?.status != .false {
                    plan.announcements.append(.event(.warning, reason: "VerificationFailed", message: "Revision \(record.number): \(verdict.message)"))
                }
            }
            return .done
        case .failed:
            plan.degraded = (record.reason ?? "RevisionFailed", "Revision \(record.number) failed: \(record.message ?? "") Nothing to roll back to; fix the spec.")
            return .done
        case .rolledBack, .superseded:
            return .done
        case .progressing:
            break
        }

        // Failed: crash-looping, or not ready by the deadline.
        // A loop, not one exit (a first start may be killed once while it downloads).
        if let pods, pods.stage == .crashLooping, restarts(o.pods, revision: serving.revision) >= 3 {
            return fail(&plan, &record, reason: "CrashLoopBackOff", message: pods.message, rollout: rollout, o: o)
        }
        if !ready {
            let deadline = started.addingTimeInterval(rollout.progressDeadline)
            if now >= deadline {
                let why = pods?.message ?? "the InferenceService did not report Ready"
                return fail(&plan, &record, reason: "ProgressDeadlineExceeded", message: "not Ready within \(KubeTime.humanDuration(rollout.progressDeadline)) (spec.rollout.progressDeadlineSeconds): \(why)", rollout: rollout, o: o)
            }
            plan.requeueAfter = deadline.timeIntervalSince(now)
            if !plan.verificationOff { plan.verified = Condition(type: verifiedType, status: .unknown, reason: "VerificationPending", message: "Revision \(record.number) is asked once it is Ready.") }
            plan.progress = stepMessage(record, rollout: rollout, plan: plan, waiting: "starting")
            return .done
        }

        // Ready: ask the model, once per revision.
        if record.verifiedAt == nil {
            if plan.verificationOff {
                record.verifiedAt = KubeTime.format(now)
            } else if pods == nil {
                // Scaled to zero (replicas.min 0): a probe would wait out a cold start.
                plan.verified = Condition(
                    type: verifiedType, status: .unknown, reason: "ScaledToZero",
                    message: "Revision \(record.number): no predictor pod runs (scaled to zero), so the model is not asked; KServe's Ready counts.")
                record.verifiedAt = KubeTime.format(now)
            } else {
                guard let address = serving.address else {
                    plan.progress = stepMessage(record, rollout: rollout, plan: plan, waiting: "waiting for KServe to report its address")
                    return .done
                }
                guard let verdict = o.modelVerdict else { return .need(.verification(probe(spec, plan: plan, address: address))) }
                plan.verified = condition(verdict, record: record, plan: &plan)
                if verdict.failsRevision { return fail(&plan, &record, reason: verdict.outcome.rawValue, message: verdict.message, rollout: rollout, o: o) }
                if verdict.outcome == .unreachable {
                    plan.announcements.append(.event(.warning, reason: verdict.outcome.rawValue, message: "Revision \(record.number) is Ready but not verified: \(verdict.message)"))
                }
                record.verifiedAt = KubeTime.format(now)
                if record.step != nil {
                    // Its first share is written next pass, and the step's pause counts from then.
                    record.stepStartedAt = nil
                    plan.requeueAfter = max(rollout.pause, 0.001)
                    plan.progress = stepMessage(record, rollout: rollout, plan: plan, waiting: "verified, taking its share")
                    return .done
                }
            }
        }

        // A canary step: held for the pause, judged by the analysis, then the next step.
        if let step = record.step, step < rollout.steps.count {
            let stepStarted = KubeTime.parse(record.stepStartedAt ?? "") ?? now
            let due = stepStarted.addingTimeInterval(rollout.pause)
            if due > now {
                plan.requeueAfter = due.timeIntervalSince(now)
                plan.progress = stepMessage(record, rollout: rollout, plan: plan, waiting: "pausing until \(KubeTime.format(due))")
                return .done
            }
            if let analysis = rollout.analysis, let address = serving.address {
                guard let reading = o.traffic else { return .need(.traffic(address)) }
                switch reading {
                case .failure(let error) where error.isConnectFailure:
                    // As with verification: a NetworkPolicy says nothing about the revision.
                    plan.announcements.append(.event(.warning, reason: "AnalysisUnavailable", message: "Revision \(record.number): step \(step + 1) is not judged, its metrics cannot be reached (\(error))."))
                case .failure(let error):
                    return fail(&plan, &record, reason: "AnalysisFailed", message: "its metrics could not be read (\(error)).", rollout: rollout, o: o)
                case .success(let traffic):
                    if let breach = breach(traffic, analysis) { return fail(&plan, &record, reason: "AnalysisFailed", message: breach, rollout: rollout, o: o) }
                }
            }
            record.step = step + 1
            record.stepStartedAt = nil
            plan.announcements.append(.event(.normal, reason: "CanaryStep", message: stepAnnouncement(record, rollout: rollout)))
            // The next step is rendered by the next pass (the history is written first).
            plan.requeueAfter = 0.001
            plan.progress = stepMessage(record, rollout: rollout, plan: plan, waiting: "moving on")
            return .done
        }

        // Done: in place, or promoted.
        record.outcome = .verified
        plan.history.knownGood = KnownGoodRevision(
            number: record.number, revision: record.revision, image: record.image, spec: RevisionHistory.revisionSpec(plan.stable.object["spec"]))
        if plan.blocked == nil, plan.candidate == nil, record.number > 1 { plan.announcements.append(.event(.normal, reason: "RevisionVerified", message: "Revision \(record.number) (\(record.change)) is Ready and verified; it is the known-good revision.")) }
        if let period = spec.verification.period, !plan.verificationOff { plan.requeueAfter = period }
        return .done
    }

    /// Reasons the pods give: they may still clear by themselves, so a revision that cannot be
    /// rolled back stays in progress while they last. A wrong answer or a breached analysis is
    /// a verdict on the revision: it stays failed until the spec changes or a retry is asked.
    static let podReasons: Set<String> = ["CrashLoopBackOff", "ProgressDeadlineExceeded"]

    static func fail(_ plan: inout RevisionPlan, _ record: inout RevisionRecord, reason: String, message: String, rollout: Rollout, o: Observation) -> Assessment {
        let said = record.reason == reason
        record.reason = reason
        record.message = message
        let restorable = plan.history.knownGood.flatMap { restore($0, into: plan.stable, o: o) } != nil
        guard rollout.autoRollback, plan.blocked == nil, let good = plan.history.knownGood, good.revision != record.revision, restorable else {
            if !podReasons.contains(reason) { record.outcome = .failed }
            let why = !rollout.autoRollback ? "spec.rollout.autoRollback is false"
                : plan.blocked != nil ? "it is the known-good revision itself"
                : plan.history.knownGood == nil ? "no revision before it was verified"
                : !restorable ? "the known-good revision's fields no longer make a deployment"
                : "only the key changed, and a rollback never brings back a key that was rotated away"
            plan.degraded = (reason, "Revision \(record.number) (\(record.change)) failed: \(message) It is not rolled back: \(why).")
            // The pods' own reasons are announced with the pods.
            if !said, reason != "CrashLoopBackOff" {
                plan.announcements.append(.event(.warning, reason: reason, message: "Revision \(record.number) failed: \(message) Not rolled back: \(why)."))
            }
            return .done
        }
        record.outcome = .rolledBack
        plan.history.failed = FailedRevision(number: record.number, revision: record.revision, reason: reason, message: message)
        plan.announcements.append(.event(
            .warning, reason: rolledBackType,
            message: "Revision \(record.number) (\(record.change)) \(reason): \(message) Rolled back to revision \(good.number) (\(good.image)); it is not tried again until the spec changes or annotation \(NimDeployment.retryAnnotation) is set anew."))
        plan.announcements.append(.rollbackCounted(reason))
        plan.announcements.append(.log(.warn, "revision rolled back", ["revision": .int(record.number), "reason": .string(reason), "to": .int(good.number)]))
        return .rollBack
    }

    /// The most restarts of a container among the revision's pods.
    static func restarts(_ pods: [KubeObject], revision: String?) -> Int {
        pods.filter { revision == nil || $0.annotations[DesiredState.revisionAnnotation] == revision }
            .flatMap { $0[dotted: "status.containerStatuses"]?.arrayValue ?? [] }
            .compactMap { $0["restartCount"]?.intValue }.max() ?? 0
    }

    static func isReady(_ service: KubeObject?, revision: String?) -> Bool {
        guard let service else { return false }
        if let revision, service[path: ["spec", "predictor", "annotations", DesiredState.revisionAnnotation]]?.stringValue != revision { return false }
        if let observed = service[dotted: "status.observedGeneration"]?.intValue, observed < service.generation { return false }
        // Serverless: Ready may still speak of the revision before the latest one.
        let predictor = service[path: ["status", "components", "predictor"]]
        if let created = predictor?["latestCreatedRevision"]?.stringValue, let latest = predictor?["latestReadyRevision"]?.stringValue, created != latest { return false }
        return (service[dotted: "status.conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
    }

    static func probe(_ spec: NimDeployment.Spec, plan: RevisionPlan, address: String) -> ModelProbe {
        let image = plan.candidate?.image ?? plan.stableImage
        let env = Dictionary(spec.pod.env.compactMap { entry in entry["name"]?.stringValue.flatMap { name in entry["value"]?.stringValue.map { (name, $0) } } }) { $1 }
        return ModelProbe(address: address, image: image.image, model: image.model, verification: spec.verification, env: env)
    }

    static func condition(_ verdict: ModelVerdict, record: RevisionRecord, plan: inout RevisionPlan) -> Condition {
        plan.announcements.append(.verificationCounted(verdict.outcome.rawValue))
        let status: Condition.Status = verdict.outcome == .verified ? .true : verdict.failsRevision ? .false : .unknown
        return Condition(type: verifiedType, status: status, reason: verdict.outcome.rawValue, message: "Revision \(record.number): \(verdict.message)")
    }

    static func breach(_ traffic: TrafficReading, _ analysis: Rollout.Analysis) -> String? {
        guard traffic.finished >= Double(analysis.minRequests), traffic.finished > 0 else { return nil }
        if let limit = analysis.maxErrorRate, traffic.errorRate > limit {
            return "error rate \(percent(traffic.errorRate)) of \(Int(traffic.finished)) requests is above spec.rollout.analysis.maxErrorRate \(percent(limit))."
        }
        if let limit = analysis.maxTimeToFirstToken, let p95 = traffic.timeToFirstTokenP95, p95 > limit {
            return "time to first token p95 \(String(format: "%.3f", p95)) s is above spec.rollout.analysis.maxTimeToFirstTokenSeconds \(limit) s."
        }
        return nil
    }

    static func percent(_ fraction: Double) -> String { String(format: "%.1f%%", fraction * 100) }

    static func stepMessage(_ record: RevisionRecord, rollout: Rollout, plan: RevisionPlan, waiting: String) -> String {
        guard let step = record.step else { return "Revision \(record.number) (\(record.change)) is \(waiting)." }
        if step >= rollout.steps.count { return "Revision \(record.number) (\(record.change)): promoting, it takes all traffic while the stable InferenceService rolls to it; \(waiting)." }
        return "Revision \(record.number) (\(record.change)): canary step \(step + 1) of \(rollout.steps.count), \(rollout.steps[step])% of traffic; \(waiting)."
    }

    static func stepAnnouncement(_ record: RevisionRecord, rollout: Rollout) -> String {
        guard let step = record.step else { return "" }
        if step >= rollout.steps.count { return "Revision \(record.number) passed every step; promoting it to all traffic." }
        return "Revision \(record.number) passed step \(step) of \(rollout.steps.count); now \(rollout.steps[step])% of traffic."
    }
}

/// What revisions come to, for dashboards and alerts.
struct RevisionMetrics: Sendable {
    let verifications: Counter
    let rollbacks: Counter

    init?(_ registry: MetricsRegistry?) {
        guard let registry else { return nil }
        verifications = registry.counter(
            "nim_model_verifications_total", help: "The operator's probes of a revision's model, by outcome (Verified, WrongAnswer, TooSlow, ModelNotListed, RequestFailed, ModelUnreachable).",
            labels: ["outcome"])
        rollbacks = registry.counter("nim_revision_rollbacks_total", help: "Revisions rolled back to the known-good one, by reason.", labels: ["reason"])
        for outcome in ["Verified", "WrongAnswer", "TooSlow", "ModelNotListed", "RequestFailed", "ModelUnreachable"] { verifications.touch([outcome]) }
        // Exported at zero from the start, so increase() sees the first rollback.
        for reason in ["CrashLoopBackOff", "ProgressDeadlineExceeded", "WrongAnswer", "TooSlow", "ModelNotListed", "RequestFailed", "AnalysisFailed"] { rollbacks.touch([reason]) }
    }
}
