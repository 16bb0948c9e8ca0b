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
            report.preloadRequested = spec.storage.preload
        }
        report.regionWarning = facts.regionWarning
        report.candidateFingerprint = facts.candidateFingerprint
        report.pendingRotation = facts.pendingRotation
        if let condition = facts.keyCondition { report.set(condition.type, condition.status, condition.reason, condition.message) }
        if applied, let desired = facts.desired, let plan = facts.plan, let deployment = facts.deployment {
            report.applied = true
            record(desired, key: facts.key, plan: plan, deployment: deployment, report: &report)
            report.fields["catalogEntry"] = facts.image?.catalogEntry.map(JSON.string)
            report.fields["networkPolicyName"] = desired.networkPolicy.map { .string($0.name) }
            report.scaleWarning = facts.scaleWarning
        }
        if applied, let revisions = facts.revisions {
            revisions.history.write(into: &report.fields)
            report.fields["httpRouteName"] = facts.rollout?.routeName.map(JSON.string)
            report.revisions = revisions
            report.idle = facts.idle
            report.fields["wakeAcknowledged"] = facts.idle?.wakeAcknowledged.map(JSON.string)
            let storage = facts.deployment?.spec.storage
            report.sharedClaimReadWriteOnce = storage.map { ["ReadWriteOnce", "ReadWriteOncePod"].contains($0.accessMode) && $0.existingClaim == nil } ?? false
        }
        if let problem = facts.problem { report.record(problem) }
        if applied, let cache = facts.cache, let desired = facts.desired {
            report.cache = CacheProgress(cache, job: desired.cacheJob?.name, claim: desired.names.claim, now: o.now)
        }

        // What KServe and the pods say.
        let writesServing = applied && facts.desired?.waitsForCache != true
        let service = o.children.inferenceService ?? (writesServing ? facts.desired?.inferenceService : nil)
        report.mirror(service)
        let revision = writesServing
            ? facts.desired?.inferenceService[path: ["spec", "predictor", "annotations", DesiredState.revisionAnnotation]]?.stringValue
            : service?[path: ["spec", "predictor", "annotations", DesiredState.revisionAnnotation]]?.stringValue
        let startupBudget = writesServing ? facts.deployment.flatMap { PodTemplate.startupBudget($0.spec.pod) } : nil
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
        // What runs: unchanged while the next image's cache is being filled.
        if !desired.waitsForCache {
            report.fields["image"] = .string(desired.runtime[path: ["spec", "containers"]]?[0]?["image"]?.stringValue ?? "")
            report.fields["tag"] = desired.runtime[path: ["spec", "supportedModelFormats"]]?[0]?["version"]
        }
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
        if desired.waitsForCache {
            report.set(
                ConditionType.resourcesReady, .true, "WaitingForCache",
                "Secrets, claim \(desired.names.claim) and its cache Job are in place; ServingRuntime \(desired.names.runtime) and InferenceService \(desired.names.inferenceService) follow once the claim is filled.")
            return
        }
        report.set(
            ConditionType.resourcesReady, .true, "ResourcesApplied",
            key == nil
                ? "Claim \(desired.names.claim), ServingRuntime \(desired.names.runtime) and InferenceService \(desired.names.inferenceService) are in place (no Secrets: disconnected)."
                : "Secrets, claim \(desired.names.claim), ServingRuntime \(desired.names.runtime) and InferenceService \(desired.names.inferenceService) are in place.")
    }
}

/// Where filling the cache claim stands, as conditions say it.
struct CacheProgress {
    var filled: Bool
    var failed: Bool
    var reason: String
    var message: String

    init(_ state: CachePreload.State, job: String?, claim: String, now: Date) {
        switch state {
        case .filled:
            (filled, failed, reason) = (true, false, "CacheFilled")
            message = "Claim \(claim) holds the model (filled by download-to-cache)."
        case .needsJob:
            (filled, failed, reason) = (false, false, "CachePending")
            message = "Job \(job ?? "nim-cache") is made to fill claim \(claim) with download-to-cache; the model server starts once it succeeded."
        case .filling(let name, let running):
            (filled, failed) = (false, false)
            reason = running ? "CacheDownloading" : "CachePending"
            message = running
                ? "Job \(name) is downloading the model into claim \(claim); the model server starts once it succeeded."
                : "Job \(name) waits for its pod to start (scheduling, pulling the image); it then fills claim \(claim)."
        case .failed(let name, let why, let detail, let attempts, let retryAt):
            (filled, failed, reason) = (false, true, "CacheFailed")
            let said = detail.isEmpty ? why : "\(why): \(detail)"
            message = "Job \(name) could not fill claim \(claim) (\(said)), attempt \(attempts); the next attempt starts at \(KubeTime.format(retryAt)). kubectl logs job/\(name) shows why; the claim is not taken as filled."
        }
    }
}
