import Foundation
import KubeCore

/// The status a decision reports, built in one place from what the rules found: the previous
/// status (so conditions that say the same keep their transition times), the facts, and what
/// KServe and the pods say.
enum StatusRules {
    static func report(_ o: Observation, _ facts: Decide.Facts, applied: Bool) -> StatusReport {
        var report = StatusReport(previous: o.status, generation: o.object.generation, now: KubeTime.format(o.now))
        if let spec = facts.deployment?.spec {
            report.suspended = spec.suspend
            report.readinessUnchecked = !spec.pod.readinessAsksTheModel
        }
        report.regionWarning = facts.regionWarning
        report.candidateFingerprint = facts.candidateFingerprint
        report.pendingRotation = facts.pendingRotation
        if let condition = facts.keyCondition { report.set(condition.type, condition.status, condition.reason, condition.message) }
        if applied, let desired = facts.desired, let plan = facts.plan, let deployment = facts.deployment {
            report.applied = true
            record(desired, key: facts.key, plan: plan, deployment: deployment, report: &report)
            report.fields["catalogEntry"] = facts.image?.catalogEntry.map(JSON.string)
            report.scaleWarning = facts.scaleWarning
        }
        if let problem = facts.problem { report.record(problem) }

        // What KServe and the pods say.
        let service = o.children.inferenceService ?? (applied ? facts.desired?.inferenceService : nil)
        report.mirror(service)
        let revision = applied
            ? facts.desired?.inferenceService[path: ["spec", "predictor", "annotations", DesiredState.revisionAnnotation]]?.stringValue
            : service?[path: ["spec", "predictor", "annotations", DesiredState.revisionAnnotation]]?.stringValue
        let startupBudget = applied ? facts.deployment.flatMap { PodTemplate.startupBudget($0.spec.pod) } : nil
        report.predictor = PredictorProgress.assess(pods: o.pods, revision: revision, startupBudget: startupBudget)
        report.summarize()
        return report
    }

    /// The previous status's condition of a type.
    static func previous(_ status: JSON?, _ type: String) -> Condition? {
        (status?["conditions"]?.arrayValue ?? []).compactMap(Condition.init(json:))[type]
    }

    /// What runs, with which key, under which names.
    static func record(_ desired: DesiredState, key: APIKey?, plan: RotationPlan, deployment: NimDeployment, report: inout StatusReport) {
        report.fields["image"] = .string(desired.runtime[path: ["spec", "containers"]]?[0]?["image"]?.stringValue ?? "")
        report.fields["tag"] = desired.runtime[path: ["spec", "supportedModelFormats"]]?[0]?["version"]
        if let key {
            if plan.keyChanged { report.fields["lastKeyRotationTime"] = .string(report.now) }
            report.fields["keyFingerprint"] = .string(key.fingerprint)
            // The pull secret the pods use: the per-deployment one, an admin's for a mirror, or none.
            let pull = desired.pullSecret?.name ?? desired.runtime[path: ["spec", "imagePullSecrets"]]?[0]?["name"]?.stringValue
            report.fields["secretNames"] = .object(["apiKey": .string(desired.names.apiKeySecret), "imagePull": pull.map(JSON.string)].compactMapValues { $0 })
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
}
