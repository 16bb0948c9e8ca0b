import Foundation
import KubeCore
import KubeRuntime

/// An Event, a log line or a rotation metric a decision makes: said after the status is
/// written, so a reconcile that must be repeated does not say it twice.
public enum Announcement: Sendable, Equatable {
    case event(EventRecorder.EventType, reason: String, message: String)
    case log(Logger.Level, String, [String: JSON])
    /// `nim_key_rotations_total{result}`.
    case rotationCounted(String)
    /// `nim_key_rotation_duration_seconds`, from `since` to the moment the writes are done.
    case rotationTimed(since: Date)
    /// `nim_model_verifications_total{outcome}`: the model answered a probe so.
    case verificationCounted(String)
    /// `nim_revision_rollbacks_total{reason}`.
    case rollbackCounted(String)
    /// Said only if this pass wrote the ServingRuntime (a takeover is done once it is).
    indirect case onceRuntimeWritten(Announcement)

    public var eventReason: String? {
        switch self {
        case .event(_, let reason, _): return reason
        case .onceRuntimeWritten(let inner): return inner.eventReason
        default: return nil
        }
    }
}

/// Transitions only: becoming ready, a new problem, a new warning, a rotation done.
enum Announcements {
    static func of(_ report: StatusReport, deployment: ObjectKey, options: ReconcilerOptions, takeover: String?, since changeSeen: Date) -> [Announcement] {
        var said: [Announcement] = []
        let before = report.previousCondition
        let fields = ["deployment": JSON.string(deployment.description)]
        func with(_ extra: [String: JSON]) -> [String: JSON] { fields.merging(extra) { $1 } }
        let ready = report.conditions[ConditionType.ready]
        if ready?.status == .true, before(ConditionType.ready)?.status != .true {
            said.append(.event(.normal, reason: "Deployed", message: ready?.message ?? "Ready."))
        }
        if let problem = report.problem, isNew(problem, before: before(problem.conditionType)) {
            said.append(.event(.warning, reason: problem.reason, message: problem.message))
            said.append(.log(.warn, "cannot deploy", with(["reason": .string(problem.reason), "message": .string(problem.message)])))
            // A new key (or none at all) that could not replace the working one.
            if problem.conditionType == ConditionType.keyValid, let working = report.fields["keyFingerprint"]?.stringValue,
                report.candidateFingerprint != working
            {
                said.append(.rotationCounted(problem.isTransient ? "deferred" : "rejected"))
            }
        }
        if let warning = report.regionWarning, before(ConditionType.regionRestricted)?.status != .true {
            said.append(.event(.warning, reason: "EURestrictedModel", message: warning))
        }
        if let warning = report.scaleWarning, before(ConditionType.scaleLimited)?.status != .true {
            said.append(.event(.warning, reason: "ReadWriteOnceCache", message: warning))
            said.append(.log(.warn, "replicas cannot all mount the cache", with(["message": .string(warning)])))
        }
        // Pods that cannot start: said once per new reason, as the kubelet's own events are.
        if let pods = report.predictor, [.unschedulable, .crashLooping, .imagePullFailed].contains(pods.stage),
            before(ConditionType.ready)?.reason != pods.reason, before(ConditionType.degraded)?.reason != pods.reason,
            before(ConditionType.progressing)?.message.contains(pods.message) != true
        {
            said.append(.event(.warning, reason: pods.reason, message: pods.message))
            said.append(.log(.warn, "predictor pods not starting", with(["reason": .string(pods.reason), "message": .string(pods.message)])))
        }
        if let cache = report.cache, before(ConditionType.cacheReady)?.reason != cache.reason {
            if cache.failed {
                said.append(.event(.warning, reason: cache.reason, message: cache.message))
                said.append(.log(.warn, "cache download failed", with(["message": .string(cache.message)])))
            } else if cache.filled, before(ConditionType.cacheReady) != nil {
                said.append(.event(.normal, reason: cache.reason, message: cache.message))
            }
        }
        if let pending = report.pendingRotation, before(ConditionType.progressing)?.reason != StatusReport.rotationPendingReason {
            said.append(.log(.info, "key change seen; waiting for the Secret to settle", with(["message": .string(pending)])))
        }
        if let takeover {
            said.append(.onceRuntimeWritten(.event(.normal, reason: "Adopted", message: takeover)))
            said.append(.onceRuntimeWritten(.log(.info, "legacy deployment adopted", with(["message": .string(takeover)]))))
        }
        if let rotation = report.rotation { said += of(rotation, forcePull: report.forcePull, options: options, since: changeSeen, fields: fields) }
        return said
    }

    static func of(_ rotation: RotationOutcome, forcePull: Bool, options: ReconcilerOptions, since changeSeen: Date, fields: [String: JSON]) -> [Announcement] {
        let pull = forcePull ? ", pulling the image again with it" : ""
        var said: [Announcement] = []
        switch rotation {
        case .rotated(let from, let to, let pods, _):
            let what: String
            switch pods {
            case .restarting: what = "the pods restart once to use it\(pull)"
            case .alreadyRunningIt: what = "the pods already run it"
            case .keepPrevious: what = "the running pods keep the previous key until they next start (keyRotation.restartPods is false)"
            }
            said.append(.event(.normal, reason: "KeyRotated", message: "Rotated to key \(to) (was \(from)): both Secrets updated; \(what)."))
            said.append(.log(.info, "key rotated", fields.merging(["from": .string(from), "to": .string(to), "podsRestart": .bool(pods == .restarting)]) { $1 }))
        case .podsRestarted(let fingerprint, let requested):
            let why = requested ? "as annotation \(NimDeployment.rotateAnnotation) asks" : "to run the key the Secrets hold"
            let checked = options.disconnected || options.disableKeyValidation ? "The" : "Key \(fingerprint) validated again with NGC; the"
            said.append(.event(.normal, reason: "PodsRestarted", message: "\(checked) pods restart once\(pull), \(why)."))
            said.append(.log(.info, "pods restarted", fields.merging(["key": .string(fingerprint), "requested": .bool(requested)]) { $1 }))
        }
        return said + [.rotationCounted(rotation.metricResult), .rotationTimed(since: changeSeen)]
    }

    /// A problem is announced when it is new: another reason than before, the condition was
    /// fine, or (for a lasting key problem) another key: each refused key gets its Warning.
    static func isNew(_ problem: DeploymentProblem, before: Condition?) -> Bool {
        if before?.reason != problem.reason || before?.status == .true { return true }
        return problem.conditionType == ConditionType.keyValid && !problem.isTransient && before?.message != problem.message
    }
}
