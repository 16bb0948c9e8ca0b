import Foundation
import KubeCore

/// A cache claim filled before the model server starts (spec.storage.preload): a Job per
/// attempt runs the NIM image's `download-to-cache`, and the claim is marked filled (an
/// annotation naming what it holds) only once a Job for that content succeeded, so a download
/// that failed halfway is never taken for a full cache.
public enum CachePreload {
    /// On the claim: the content it was filled with.
    public static let filledAnnotation = "nim.opendatahub.io/preloaded"
    /// On each Job: the content it fills, and which attempt it is.
    public static let contentLabel = "nim.opendatahub.io/cache-content"
    public static let attemptLabel = "nim.opendatahub.io/cache-attempt"
    public static let jobs = ResourceType(group: "batch", version: "v1", plural: "jobs", kind: "Job", namespaced: true)
    /// After a failed Job, the next attempt waits 1, 2, 4, ... minutes, at most an hour.
    static let firstRetry: TimeInterval = 60
    static let longestRetry: TimeInterval = 3600

    /// What the claim must hold: the image (as pulled) and the profile, or the GPU count NIM
    /// picks a profile for when none is named.
    static func content(_ inputs: DesiredInputs) -> String {
        let settings = inputs.deployment.spec.pod
        // The source's name: a moved mirror holds the same bytes and downloads nothing again.
        let what = inputs.image.image.description + "|" + (settings.modelProfile ?? "gpus=\(inputs.deployment.spec.resources.gpus)")
        return String(SHA256.hex(Array(what.utf8)).prefix(12))
    }

    /// Where the fill stands, from the claim and the Jobs of this deployment.
    public enum State: Sendable, Equatable {
        case filled
        /// A Job for the content exists and has not finished; `running`: its pod runs.
        case filling(job: String, running: Bool)
        /// The last attempt failed; the next one is made at `retryAt`.
        case failed(job: String, reason: String, message: String, attempts: Int, retryAt: Date)
        /// A Job for the content is to be made, as attempt `attempt`.
        case needsJob(attempt: Int)
    }

    static func state(content: String, claim: KubeObject?, jobs: [KubeObject], now: Date) -> State {
        guard let claim else { return .needsJob(attempt: 1) }
        if claim.annotations[filledAnnotation] == content { return .filled }
        // One writer at a time: a Job of any content that has not finished (or whose pods may
        // still run while it goes) is waited for before another is made.
        if let active = jobs.first(where: { $0.isTerminating || (!condition($0, "Failed") && !condition($0, "Complete")) }) {
            return .filling(job: active.name, running: (active[path: ["status", "active"]]?.intValue ?? 0) > 0)
        }
        // A Job made before this claim filled another one (deleted since): it says nothing of this.
        let created = claim[path: ["metadata", "creationTimestamp"]]?.stringValue ?? ""
        let mine = jobs.filter { $0.labels[contentLabel] == content && ($0[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "") >= created }
        if mine.contains(where: { condition($0, "Complete") }) { return .filled }
        // The next attempt's number is past every Job of this content, counted or not: a name
        // is never reused.
        let next = (jobs.filter { $0.labels[contentLabel] == content }.map(attempt).max() ?? 0) + 1
        let failed = mine.sorted { attempt($0) < attempt($1) }
        guard let last = failed.last else { return .needsJob(attempt: next) }
        let failure = (last[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"] == "Failed" && $0["status"] == "True" }
        let failedAt = failure?["lastTransitionTime"]?.stringValue.flatMap(KubeTime.parse) ?? .distantPast
        let wait = min(longestRetry, firstRetry * pow(2, Double(max(0, failed.count - 1))))
        let retryAt = failedAt.addingTimeInterval(wait)
        if retryAt <= now { return .needsJob(attempt: next) }
        return .failed(
            job: last.name, reason: failure?["reason"]?.stringValue ?? "Failed", message: failure?["message"]?.stringValue ?? "", attempts: failed.count, retryAt: retryAt)
    }

    /// What of a Job the decision reads: its labels, annotations (the applied hash) and status.
    @Sendable public static func trimmed(_ job: KubeObject) -> KubeObject {
        var kept = KubeObject(apiVersion: job.apiVersion, kind: job.kind, namespace: job.namespace, name: job.name)
        for field in ["uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "labels", "annotations", "ownerReferences"] { kept[path: ["metadata", field]] = job[path: ["metadata", field]] }
        kept["status"] = job["status"]
        return kept
    }

    static func condition(_ job: KubeObject, _ type: String) -> Bool {
        (job[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"]?.stringValue == type && $0["status"] == "True" }
    }

    static func attempt(_ job: KubeObject) -> Int { job.labels[attemptLabel].flatMap(Int.init) ?? 1 }

    /// The Job of an attempt: the NIM image's own download command into the claim, with the
    /// deployment's key, proxy, CA bundle and security settings, placed as the predictor pods are
    /// (a claim bound where its first pod ran must be reachable from the GPU nodes); GPUs only
    /// when NIM must detect them to pick a profile.
    static func job(_ inputs: DesiredInputs, names: ChildNames, content: String, attempt: Int, runtimePullSecrets: JSON?, metadata: (String, String, String) -> KubeObject) -> KubeObject {
        let spec = inputs.deployment.spec
        let settings = spec.pod
        var job = metadata("batch/v1", "Job", ChildNames.fit("nim-cache-\(inputs.deployment.name)-\(content.prefix(8))-\(attempt)", limit: 63))
        job.labels[contentLabel] = content
        job.labels[attemptLabel] = String(attempt)
        var env: [JSON] = [["name": "NIM_CACHE_PATH", "value": .string(DesiredState.cacheMountPath)]]
        if inputs.key != nil {
            env.append(["name": "NGC_API_KEY", "valueFrom": ["secretKeyRef": ["name": .string(names.apiKeySecret), "key": "NGC_API_KEY"]]])
        }
        env += PodTemplate.predictorEnv(settings).filter { $0["name"] != "NIM_MODEL_PROFILE" }
        var mount: JSON = ["name": "nim-pvc", "mountPath": .string(DesiredState.cacheMountPath)]
        if let subPath = spec.storage.subPath { mount["subPath"] = .string(subPath) }
        let ca = PodTemplate.caBundle(settings)
        var container: JSON = [
            "name": "download", "image": .string(inputs.pulledImage.description),
            "command": .array((["download-to-cache"] + (settings.modelProfile.map { ["--profile", $0] } ?? [])).map(JSON.string)),
            "env": .array(env), "volumeMounts": .array([mount] + (ca?.mounts ?? [])), "securityContext": PodTemplate.containerSecurity,
        ]
        let gpus = settings.modelProfile == nil ? spec.resources.gpus : 0
        if gpus > 0 { container["resources"] = ["limits": ["nvidia.com/gpu": .int(gpus)]] }
        // On the GPU nodes (their toleration too) even with no GPU asked: a claim binds where its
        // first pod runs, and the predictor pods must reach it.
        var pod: [String: JSON] = PodTemplate.scheduling(settings, gpus: spec.resources.gpus)
        pod["restartPolicy"] = "Never"
        pod["containers"] = [container]
        pod["volumes"] = .array([["name": "nim-pvc", "persistentVolumeClaim": ["claimName": .string(names.claim)]]] + (ca.map { [$0.volume] } ?? []))
        if let secrets = runtimePullSecrets { pod["imagePullSecrets"] = secrets }
        if let security = PodTemplate.podSecurity(settings, defaultFSGroup: inputs.defaultFSGroup) { pod["securityContext"] = security }
        job["spec"] = [
            "backoffLimit": 3,
            // A first download of a 70B model behind a slow proxy takes hours: four at least,
            // and twice the startup probe's budget when that is longer.
            "activeDeadlineSeconds": .int(max(4 * 3600, Int(PodTemplate.startupBudget(settings) ?? 0) * 2)),
            "ttlSecondsAfterFinished": 86_400,
            "template": ["metadata": ["labels": .object(job.labels.mapValues(JSON.string))], "spec": .object(pod)],
        ]
        return job
    }
}
