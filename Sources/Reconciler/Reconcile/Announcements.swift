import Foundation
import KubeWatch

extension NimReconciler {
    /// Events, log lines and rotation metrics, for transitions only: becoming ready, a new
    /// problem, a new warning, a rotation done. Called after the status is written, so a
    /// reconcile that must be repeated does not announce twice.
    func announce(_ object: KubeObject, _ report: StatusReport, since changeSeen: Date) {
        let before = report.previousCondition
        let deployment = ["deployment": JSON.string(object.key.description)]
        let ready = report.conditions[ConditionType.ready]
        if ready?.status == .true, before(ConditionType.ready)?.status != .true {
            events?.record(object, type: .normal, reason: "Deployed", message: ready?.message ?? "Ready.")
        }
        if let problem = report.problem, Self.isNew(problem, before: before(problem.conditionType)) {
            events?.record(object, type: .warning, reason: problem.reason, message: problem.message)
            log.warn("cannot deploy", deployment.merging(["reason": .string(problem.reason), "message": .string(problem.message)]) { $1 })
            // A new key (or none at all) that could not replace the working one.
            if problem.conditionType == ConditionType.keyValid, let working = report.fields["keyFingerprint"]?.stringValue,
                report.candidateFingerprint != working
            {
                rotationMetrics?.total.inc([problem.isTransient ? "deferred" : "rejected"])
            }
        }
        if let warning = report.regionWarning, before(ConditionType.regionRestricted)?.status != .true {
            events?.record(object, type: .warning, reason: "EURestrictedModel", message: warning)
        }
        if let warning = report.scaleWarning, before(ConditionType.scaleLimited)?.status != .true {
            events?.record(object, type: .warning, reason: "ReadWriteOnceCache", message: warning)
            log.warn("replicas cannot all mount the cache", deployment.merging(["message": .string(warning)]) { $1 })
        }
        // Pods that cannot start: said once per new reason, as the kubelet's own events are.
        if let pods = report.predictor, [.unschedulable, .crashLooping, .imagePullFailed].contains(pods.stage),
            before(ConditionType.ready)?.reason != pods.reason, before(ConditionType.degraded)?.reason != pods.reason,
            before(ConditionType.progressing)?.message.contains(pods.message) != true
        {
            events?.record(object, type: .warning, reason: pods.reason, message: pods.message)
            log.warn("predictor pods not starting", deployment.merging(["reason": .string(pods.reason), "message": .string(pods.message)]) { $1 })
        }
        if let pending = report.pendingRotation, before(ConditionType.progressing)?.reason != StatusReport.rotationPendingReason {
            log.info("key change seen; waiting for the Secret to settle", deployment.merging(["message": .string(pending)]) { $1 })
        }
        if let adopted = report.adopted {
            events?.record(object, type: .normal, reason: "Adopted", message: adopted)
            log.info("legacy deployment adopted", deployment.merging(["message": .string(adopted)]) { $1 })
        }
        if let rotation = report.rotation { announce(rotation, object: object, forcePull: report.forcePull, since: changeSeen, fields: deployment) }
    }

    private func announce(_ rotation: RotationOutcome, object: KubeObject, forcePull: Bool, since changeSeen: Date, fields: [String: JSON]) {
        let pull = forcePull ? ", pulling the image again with it" : ""
        switch rotation {
        case .rotated(let from, let to, let pods, _):
            let what: String
            switch pods {
            case .restarting: what = "the pods restart once to use it\(pull)"
            case .alreadyRunningIt: what = "the pods already run it"
            case .keepPrevious: what = "the running pods keep the previous key until they next start (keyRotation.restartPods is false)"
            }
            events?.record(object, type: .normal, reason: "KeyRotated", message: "Rotated to key \(to) (was \(from)): both Secrets updated; \(what).")
            log.info("key rotated", fields.merging(["from": .string(from), "to": .string(to), "podsRestart": .bool(pods == .restarting)]) { $1 })
        case .podsRestarted(let fingerprint, let requested):
            let why = requested ? "as annotation \(NimDeployment.rotateAnnotation) asks" : "to run the key the Secrets hold"
            let checked = options.disconnected || options.disableKeyValidation ? "The" : "Key \(fingerprint) validated again with NGC; the"
            events?.record(object, type: .normal, reason: "PodsRestarted", message: "\(checked) pods restart once\(pull), \(why).")
            log.info("pods restarted", fields.merging(["key": .string(fingerprint), "requested": .bool(requested)]) { $1 })
        }
        rotationMetrics?.total.inc([rotation.metricResult])
        rotationMetrics?.duration.observe(max(0, time.now.timeIntervalSince(changeSeen)))
    }

    /// A problem is announced when it is new: another reason than before, the condition was
    /// fine, or (for a lasting key problem) another key: each refused key gets its Warning.
    static func isNew(_ problem: DeploymentProblem, before: Condition?) -> Bool {
        if before?.reason != problem.reason || before?.status == .true { return true }
        return problem.conditionType == ConditionType.keyValid && !problem.isTransient && before?.message != problem.message
    }
}
