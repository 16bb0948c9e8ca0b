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
}
