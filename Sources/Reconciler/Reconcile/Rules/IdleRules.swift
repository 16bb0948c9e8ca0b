import Foundation
import KubeCore

/// spec.idleShutdown: a model that finished no request for the time given scales to zero, with
/// condition `Idle` (not Degraded) and an Event; a spec change or a new value of annotation
/// `nim.opendatahub.io/wake` serves it again. In Serverless mode KServe scales to zero itself
/// (replicas.min 0 is set), and the condition says so. Requests are counted from the model's
/// own counters (`request_success_total` + `request_failure_total` at `/v1/metrics`).
enum IdleRules {
    struct Verdict {
        /// Render with no replicas.
        var idle = false
        /// Serverless: replicas.min 0, KServe's scale-to-zero.
        var scaleToZero = false
        var condition: Condition?
        var need: Observation.Need?
        var requeueAfter: TimeInterval?
        var announcements: [Announcement] = []
        /// The wake annotation's digest acted on.
        var wakeAcknowledged: String?
    }

    static let type = "Idle"

    static func decide(_ deployment: NimDeployment, o: Observation, address: String?, ready: Bool, rollingOut: Bool) -> Verdict {
        var verdict = Verdict()
        guard let after = deployment.spec.idleShutdown.after, !deployment.spec.suspend else { return verdict }
        let idleFor = KubeTime.humanDuration(after)
        if o.children.inferenceService?.annotations[DesiredState.deploymentModeAnnotation] == "Serverless" {
            verdict.scaleToZero = true
            verdict.condition = Condition(type: type, status: .false, reason: "ServerlessScaleToZero", message: "Serverless: KServe scales the model to zero itself when no request comes (replicas.min is set to 0), and back up on the next one.")
            return verdict
        }
        let previous = StatusRules.previous(o.status, type)
        let wake = deployment.wakeRequest.map(RestartToken.requestHash)
        verdict.wakeAcknowledged = o.status?["wakeAcknowledged"]?.stringValue
        let woken = wake != nil && wake != verdict.wakeAcknowledged
        if woken { verdict.wakeAcknowledged = wake }
        let serving = Condition(type: type, status: .false, reason: "Serving", message: "Scales to zero after \(idleFor) without a request (spec.idleShutdown).")
        if previous?.status == .true {
            // Idle until a person or a new spec says otherwise.
            if !woken, previous?.observedGeneration == deployment.generation {
                verdict.idle = true
                verdict.condition = previous
                return verdict
            }
            verdict.condition = Condition(type: type, status: .false, reason: "Woken", message: woken ? "Woken by annotation \(NimDeployment.wakeAnnotation); scales to zero again after \(idleFor) without a request." : "Woken by a spec change; scales to zero again after \(idleFor) without a request.")
            verdict.announcements.append(.event(.normal, reason: "Woken", message: verdict.condition?.message ?? ""))
            return verdict
        }
        verdict.condition = previous?.reason == "Woken" ? previous : serving
        guard ready, !rollingOut, let address else { return verdict }
        let interval = deployment.spec.idleShutdown.checkInterval
        verdict.requeueAfter = interval
        guard let activity = o.activity, o.now.timeIntervalSince(activity.checked) < interval else {
            if o.activityUnreadable { return verdict }
            verdict.need = .activity(address)
            return verdict
        }
        // Since the last request, or since it last began serving (woken, created).
        let floor = [activity.lastChange, previous.flatMap { KubeTime.parse($0.lastTransitionTime) }].compactMap { $0 }.max() ?? activity.lastChange
        let quiet = o.now.timeIntervalSince(floor)
        guard quiet >= after else { return verdict }
        verdict.idle = true
        verdict.condition = Condition(
            type: type, status: .true, reason: "IdleShutdown",
            message: "No request for \(idleFor) (since \(KubeTime.format(floor))): scaled to zero as spec.idleShutdown asks; the key, the model cache, the runtime and the InferenceService are kept. Change the spec or set annotation \(NimDeployment.wakeAnnotation) to a new value to serve again.")
        verdict.announcements.append(.event(.normal, reason: "IdleShutdown", message: verdict.condition?.message ?? ""))
        verdict.announcements.append(.log(.info, "idle: scaled to zero", ["deployment": .string(deployment.key.description), "quietSeconds": .int(Int(quiet))]))
        return verdict
    }
}
