import Foundation
import Testing
import KubeCore
import Reconciler
import TestSupport

/// Mirrored and disconnected clusters, through the API: what the pods are told to pull, and
/// with which credentials.
@Suite struct AirGapTests {
    static let mirror = RegistryMirror(source: "nvcr.io", mirror: "registry.corp:5000/nvidia")

    @Test func theMirrorIsWhatThePodsPullAndAChangedMirrorRollsThemOnce() async throws {
        let env = try await NimEnvironment()
        var options = env.options()
        options.registryMirrors = [Self.mirror]
        try await env.startOperator(options)
        try await env.createKeySecret()
        try await env.deploy()
        try await env.waitFor("Ready", "True")
        let image = "registry.corp:5000/nvidia/nim/meta/llama-3.1-8b-instruct:latest"
        let podImage = try await env.currentPod()[dotted: "spec.containers"]?[0]?["image"]?.stringValue
        #expect(podImage == image, "\(podImage ?? "none")")
        let statusImage = try await env.status("image")
        #expect(statusImage == .string(image), "\(statusImage ?? nil)")
        let pull = try await env.client.get(.secrets, namespace: "team-a", name: "nvidia-nim-image-pull-llama")
        let config = try JSON(parsing: Array(Data(base64Encoded: pull[path: ["data", ".dockerconfigjson"]]?.stringValue ?? "") ?? Data()))
        #expect(config["auths"]?["registry.corp:5000"] != nil && config["auths"]?["nvcr.io"] == nil)

        // The mirror moves and asks for the admin's credentials: the pods roll once onto it.
        try await env.quiesce()
        let before = env.rollouts()
        options.registryMirrors = [RegistryMirror(source: "nvcr.io", mirror: "mirror.corp/ngc")]
        options.mirrorPullSecret = .named("corp-registry")
        try await env.startOperator(options)
        try await eventually("the pods pull from the new mirror") {
            try await env.currentPod()[dotted: "spec.containers"]?[0]?["image"]?.stringValue == "mirror.corp/ngc/nim/meta/llama-3.1-8b-instruct:latest"
        }
        let secrets = try await env.currentPod()[dotted: "spec.imagePullSecrets"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(secrets == ["corp-registry"], "\(secrets ?? [])")
        try await env.waitFor("Ready", "True")
        try await env.quiesce()
        #expect(env.rollouts() - before == 1)
    }

    @Test func aPreloadedCacheJobRunsBeforeTheModelServerAndItsFailureIsSaid() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "storage": ["preload": true]])
        try await env.waitFor("CacheReady", "Unknown", reason: "CachePending")
        let jobs = try await env.client.list(CachePreload.jobs, namespace: "team-a").items
        #expect(jobs.count == 1)
        let job = try #require(jobs.first)
        #expect(job[path: ["spec", "template", "spec", "containers"]]?[0]?["command"] == ["download-to-cache"])
        #expect(job[path: ["spec", "template", "spec", "containers"]]?[0]?[path: ["resources", "limits", "nvidia.com/gpu"]] == 1, "no profile: NIM picks one for the GPUs")
        #expect(try await env.children()["inferenceservices"]?.isEmpty != false, "no model server before the cache")

        // The Job controller's word: running, then done.
        var status = KubeObject(apiVersion: "batch/v1", kind: "Job", namespace: "team-a", name: job.name)
        status["status"] = ["active": 1]
        _ = try await env.client.apply(status, CachePreload.jobs, fieldManager: "job-controller", subresource: "status")
        try await env.waitFor("CacheReady", "Unknown", reason: "CacheDownloading")
        status["status"] = ["succeeded": 1, "conditions": [["type": "Complete", "status": "True"]]]
        _ = try await env.client.apply(status, CachePreload.jobs, fieldManager: "job-controller", subresource: "status")
        try await env.waitFor("Ready", "True")
        try await env.waitFor("CacheReady", "True", reason: "CacheFilled")
        let claim = try await env.client.get(.persistentVolumeClaims, namespace: "team-a", name: "nim-cache-llama")
        #expect(claim.annotations[CachePreload.filledAnnotation] != nil)
        try await eventually("a CacheFilled event") { try await !env.events("CacheFilled").isEmpty }

        // A new tag: its download fails; the running one keeps serving, Degraded says why.
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "tag": "1.1.1", "apiKeySecretRef": ["name": "my-ngc-key"], "storage": ["preload": true]])
        var next: KubeObject?
        try await eventually("the new tag's Job") {
            next = try await env.client.list(CachePreload.jobs, namespace: "team-a").items.first { $0.name != job.name }
            return next != nil
        }
        var failed = KubeObject(apiVersion: "batch/v1", kind: "Job", namespace: "team-a", name: try #require(next).name)
        failed["status"] = ["failed": 4, "conditions": [["type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
                                                         "lastTransitionTime": .string(KubeTime.format(Date()))]]]
        _ = try await env.client.apply(failed, CachePreload.jobs, fieldManager: "job-controller", subresource: "status")
        try await env.waitFor("Degraded", "True", reason: "CacheFailed")
        #expect(try await env.condition("Ready")?["status"] == "True", "the previous revision serves")
        #expect(try await env.status("tag") != "1.1.1")
        try await eventually("a CacheFailed Warning") { try await !env.events("CacheFailed").isEmpty }
    }
}
