import Foundation
import Testing
import KubeCore
import KubeAPI
import Reconciler
import StandIns
import TestSupport

/// Revisions as users see them: each change verified by asking the model (the model stand-in
/// behind the KServe stand-in's address answers as the image it serves behaves), a failed
/// revision rolled back to the known-good one and not tried again until the spec changes or a
/// retry is asked, and progressive rollouts stepping traffic on the InferenceService
/// (Serverless) or on two InferenceServices and an HTTPRoute (RawDeployment with the Gateway
/// API), against KServe's and the Gateway API's CRD schemas.
@Suite struct RolloutTests {
    static let spec: JSON = ["model": "llama-3.1-8b-instruct", "tag": "1.15.5", "apiKeySecretRef": ["name": "my-ngc-key"]]

    static func serving(_ spec: JSON = RolloutTests.spec, gatewayAPI: Bool = false) async throws -> NimEnvironment {
        let env = try await NimEnvironment(gatewayAPI: gatewayAPI)
        try await env.startOperator(env.options(gatewayAPI: gatewayAPI))
        try await env.createKeySecret()
        try await env.deploy(spec: spec)
        try await env.waitForRevision("Verified")
        return env
    }

    static func with(_ spec: JSON, _ changes: [String: JSON]) -> JSON {
        var object = spec.objectValue ?? [:]
        for (key, value) in changes { object[key] = value }
        return .object(object)
    }

    static func image(_ env: NimEnvironment, _ name: String = "llama") async throws -> String? {
        let runtime = try await env.client.get(KServe.servingRuntimes, namespace: "team-a", name: name)
        return runtime[path: ["spec", "containers"]]?[0]?["image"]?.stringValue
    }

    /// A revision that fails is rolled back, said once, and not tried again until asked.
    static func expectRolledBack(_ env: NimEnvironment, reason: String, revision: Int = 2) async throws {
        try await env.waitFor("RolledBack", "True", reason: reason, timeout: 30)
        let degraded = try await env.condition("Degraded")
        #expect(degraded?["status"] == "True" && degraded?["reason"] == "RolledBack")
        try await eventually(timeout: 30, "the known-good image runs again") { try await image(env) == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.15.5" }
        let rollback = try await env.waitForRevision("Verified")
        #expect(rollback["change"]?.stringValue?.hasPrefix("rollback to revision 1 (revision \(revision): \(reason))") == true, "\(rollback)")
        let revisions = try await env.revisions()
        #expect(revisions.dropFirst().first?["outcome"] == "RolledBack" && revisions.dropFirst().first?["reason"] == .string(reason))
        let status = try await env.deployment()["status"]
        #expect(status?[path: ["failedRevision", "number"]] == .int(revision))
        // The rollback, verified, is the known-good revision now: revision 1's spec, run again.
        #expect(status?[path: ["knownGoodRevision", "number"]] == rollback["number"] && rollback["revision"] == revisions.last?["revision"])
        try await env.waitFor("Ready", "True")
        try await eventually(timeout: 30, "RolledBack said") { try await !env.events("RolledBack").isEmpty }
        // Not retried by itself: a resync renders the known-good revision again, nothing rolls,
        // nothing more is said.
        let rollouts = env.rollouts()
        let records = revisions.count
        try await env.resyncAndSettle()
        let after = try await env.revisions().count
        #expect(env.rollouts() == rollouts && after == records)
        let events = try await env.events("RolledBack")
        #expect(events.count == 1 && (events.first?["count"]?.intValue ?? 1) == 1, "said once")
        #expect(events.first?["type"] == "Warning")
    }

    // MARK: - Verification

    @Test func aWrongAnswerIsRolledBackAndNotTriedAgainUntilTheSpecChanges() async throws {
        let env = try await Self.serving()
        env.models.behave(.wrongAnswer("Lyon."), whenServing: ":1.15.4")
        try await env.deploy(spec: Self.with(Self.spec, ["tag": "1.15.4"]))
        try await Self.expectRolledBack(env, reason: "WrongAnswer")
        let verified = try await env.condition("ModelVerified")
        #expect(verified?["status"] == "True", "the known-good revision answers again")
        let failed = try await env.deployment()[dotted: "status.failedRevision.message"]?.stringValue ?? ""
        #expect(failed.contains("it answered \"Lyon.\""), "\(failed)")
        let metrics = try PrometheusText.parse(env.metrics.render())
        func value(_ name: String, _ labels: [String: String]) -> Double { metrics.first { $0.name == name && $0.labels == labels }?.value ?? 0 }
        #expect(value("nim_revision_rollbacks_total", ["reason": "WrongAnswer"]) == 1)
        #expect(value("nim_model_verifications_total", ["outcome": "WrongAnswer"]) == 1 && value("nim_model_verifications_total", ["outcome": "Verified"]) >= 2)

        // A new spec is tried.
        try await env.deploy(spec: Self.with(Self.spec, ["tag": "1.13.1"]))
        let next = try await env.waitForRevision("Verified")
        #expect(next["image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.13.1" && next["number"] == 4)
        #expect(try await env.condition("RolledBack") == nil, "the spec no longer asks for what failed")
        #expect(try await env.condition("Degraded")?["status"] == "False")
    }

    @Test func aRetryAnnotationTriesTheFailedRevisionAgain() async throws {
        let env = try await Self.serving()
        env.models.behave(.failing(status: 500), whenServing: ":1.15.4")
        let failing = Self.with(Self.spec, ["tag": "1.15.4"])
        try await env.deploy(spec: failing)
        try await Self.expectRolledBack(env, reason: "RequestFailed")
        // Fixed (a new model build behind the same tag): a person asks for another try.
        env.models.behave(.answers, whenServing: ":1.15.4")
        _ = try await env.client.patch(
            NimDeployment.resource, namespace: "team-a", name: "llama", .merge(["metadata": ["annotations": [NimDeployment.retryAnnotation: "after-the-fix"]]]))
        try await eventually(timeout: 30, "1.15.4 verified") {
            let latest = try await env.revisions().first
            return latest?["outcome"] == "Verified" && latest?["image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.15.4"
        }
        #expect(try await env.condition("RolledBack") == nil)
        // Events follow the status they go with.
        try await eventually(timeout: 30, "RevisionVerified said") { try await !env.events("RevisionVerified").isEmpty }
        #expect(try await env.events("RevisionVerified").count == 1, "said of revision 4, not of the rollback")
    }

    @Test func aModelTooSlowToAnswerIsRolledBack() async throws {
        var spec = Self.spec
        spec["verification"] = ["timeoutSeconds": 1]
        let env = try await Self.serving(spec)
        env.models.behave(.slow(3), whenServing: ":1.15.4")
        try await env.deploy(spec: Self.with(spec, ["tag": "1.15.4"]))
        try await Self.expectRolledBack(env, reason: "TooSlow")
    }

    @Test func aModelThatDropsTheConnectionIsRolledBack() async throws {
        let env = try await Self.serving()
        env.models.behave(.dead, whenServing: ":1.15.4")
        try await env.deploy(spec: Self.with(Self.spec, ["tag": "1.15.4"]))
        try await Self.expectRolledBack(env, reason: "RequestFailed")
    }

    @Test func aRevisionNeverReadyIsRolledBackAtItsDeadline() async throws {
        var spec = Self.spec
        spec["rollout"] = ["progressDeadlineSeconds": 2]
        let env = try await Self.serving(spec)
        env.kserve.setPredictor(forImagesContaining: ":1.15.4", .loadingModel)
        try await env.deploy(spec: Self.with(spec, ["tag": "1.15.4"]))
        // Meanwhile the previous revision serves, and Progressing says the new one is starting.
        try await env.waitFor("Progressing", "True", reason: "RollingOut")
        #expect(try await env.condition("Ready")?["status"] == "True")
        try await Self.expectRolledBack(env, reason: "ProgressDeadlineExceeded")
    }

    @Test func aCrashLoopingRevisionIsRolledBack() async throws {
        let env = try await Self.serving()
        env.kserve.setPredictor(forImagesContaining: ":1.15.4", .crashLooping(reason: "Error", exitCode: 1, message: "profile not found"))
        try await env.deploy(spec: Self.with(Self.spec, ["tag": "1.15.4"]))
        try await Self.expectRolledBack(env, reason: "CrashLoopBackOff")
        let message = try await env.condition("RolledBack")?["message"]?.stringValue ?? ""
        #expect(message.contains("profile not found"), "\(message)")
    }

    @Test func aKeyRotationIsARevisionVerifiedLikeTheOthers() async throws {
        let env = try await Self.serving()
        let rotated = "nvapi-rotated-revision-key-000000000000001"
        try await env.setKey(rotated)
        try await eventually(timeout: 30, "the rotation verified as revision 2") {
            let latest = try await env.revisions().first
            return latest?["number"] == 2 && latest?["outcome"] == "Verified"
        }
        let latest = try await env.revisions().first
        let change = latest?["change"]?.stringValue ?? ""
        #expect(change.hasPrefix("key ") && change.contains(APIKey(rotated).fingerprint), "\(change)")
        #expect(latest?["podToken"]?.stringValue == APIKey(rotated).fingerprint)
        #expect(try await env.keysInSecrets().apiKey == rotated)
        let verified = try await env.condition("ModelVerified")?["message"]?.stringValue ?? ""
        #expect(verified.hasPrefix("Revision 2:"), "\(verified)")
    }

    @Test func aPeriodicCheckSeesAModelThatStopsAnswering() async throws {
        var spec = Self.spec
        spec["verification"] = ["periodSeconds": 10]
        let env = try await Self.serving(spec)
        env.models.behave(.wrongAnswer("I don't know."), whenServing: ":1.15.5")
        try await env.waitFor("ModelVerified", "False", reason: "WrongAnswer", timeout: 30)
        let degraded = try await env.condition("Degraded")
        #expect(degraded?["status"] == "True" && degraded?["reason"] == "WrongAnswer")
        #expect(try await env.condition("RolledBack") == nil, "a model that stops answering is said, not rolled back")
        try await eventually(timeout: 30, "VerificationFailed said") { try await !env.events("VerificationFailed").isEmpty }
    }

    // MARK: - Progressive rollouts

    @Test func serverlessStepsTrafficWithCanaryTrafficPercentAndPromotes() async throws {
        var spec = Self.spec
        spec["rollout"] = ["strategy": "Progressive", "steps": [10, 50], "pauseSeconds": 2]
        let env = try await Self.serverless(spec)
        try await env.waitFor("ProgressiveRollout", "True", reason: "CanaryTrafficPercent")
        try await env.deploy(spec: Self.with(spec, ["tag": "1.15.4"]))
        var seen: [Int?] = []
        try await eventually(timeout: 40, "steps 10, 50, then all") {
            let service = try await env.client.get(KServe.inferenceServices, namespace: "team-a", name: "llama")
            let percent = service[path: ["spec", "predictor", "canaryTrafficPercent"]]?.intValue
            if seen.last != .some(percent) { seen.append(percent) }
            let outcome = try await env.revisions().first?["outcome"]
            return seen.contains(10) && seen.contains(50) && percent == 100 && outcome == "Verified"
        }
        #expect(seen.filter { $0 != 100 } == [0, 10, 50], "none before it is verified, then the steps, then all: \(seen)")
        #expect(try await Self.image(env) == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.15.4")
        try await eventually(timeout: 30, "both steps said") { try await env.events("CanaryStep").count == 2 }
        let asked = env.models.requests(namespace: "team-a", name: "latest-llama")
        #expect(asked.contains("POST /v1/chat/completions"), "the candidate is asked at its own URL: \(asked)")
    }

    @Test func serverlessErrorRateBreachAtAStepRollsBack() async throws {
        var spec = Self.spec
        spec["rollout"] = ["strategy": "Progressive", "steps": [20], "pauseSeconds": 1, "analysis": ["maxErrorRate": 0.05, "minRequests": 10]]
        let env = try await Self.serverless(spec)
        env.models.report(ModelStandIn.Traffic(successes: 180, failures: 20), whenServing: ":1.15.4")
        try await env.deploy(spec: Self.with(spec, ["tag": "1.15.4"]))
        try await eventually(timeout: 30, "the canary at 20%") {
            try await env.client.get(KServe.inferenceServices, namespace: "team-a", name: "llama")[path: ["spec", "predictor", "canaryTrafficPercent"]] == 20
        }
        try await Self.expectRolledBack(env, reason: "AnalysisFailed")
        let message = try await env.condition("RolledBack")?["message"]?.stringValue ?? ""
        #expect(message.contains("error rate 10.0% of 200 requests"), "\(message)")
        // Back at 0% until the known-good revision was Ready again, then all traffic on it.
        try await eventually(timeout: 30, "all traffic on the known-good revision") {
            try await env.client.get(KServe.inferenceServices, namespace: "team-a", name: "llama")[path: ["spec", "predictor", "canaryTrafficPercent"]] == 100
        }
    }

    @Test func rawDeploymentStepsTwoInferenceServicesBehindAWeightedHTTPRoute() async throws {
        var spec = Self.spec
        spec["rollout"] = ["strategy": "Progressive", "steps": [10, 50], "pauseSeconds": 2, "gateway": ["name": "inference", "namespace": "gateway-system", "hostname": "llama.models.example.com"]]
        let env = try await Self.serving(spec, gatewayAPI: true)
        try await env.waitFor("ProgressiveRollout", "True", reason: "GatewayHTTPRoute")
        let route = "nim-traffic-llama"
        #expect(try await Self.weights(env, route) == ["llama-predictor": 100])
        try await env.deploy(spec: Self.with(spec, ["tag": "1.15.4"]))
        var seen: [[String: Int]] = []
        try await eventually(timeout: 40, "the candidate through 10 and 50, promoted") {
            let weights = try await Self.weights(env, route)
            if seen.last != weights { seen.append(weights) }
            let outcome = try await env.revisions().first?["outcome"]
            return weights == ["llama-predictor": 100] && seen.count > 1 && outcome == "Verified"
        }
        #expect(seen.contains(["llama-predictor": 90, "llama-canary-predictor": 10]) && seen.contains(["llama-predictor": 50, "llama-canary-predictor": 50]), "\(seen)")
        #expect(try await Self.image(env) == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.15.4", "the stable InferenceService runs the promoted revision")
        try await eventually(timeout: 30, "the candidate removed") {
            let service = try? await env.client.get(KServe.inferenceServices, namespace: "team-a", name: "llama-canary")
            let runtime = try? await env.client.get(KServe.servingRuntimes, namespace: "team-a", name: "llama-canary")
            return service == nil && runtime == nil
        }
        // In place again: the HTTPRoute goes.
        try await env.deploy(spec: Self.with(spec, ["tag": "1.15.4", "rollout": ["strategy": "InPlace"]]))
        // The route goes first, then the status says so.
        try await eventually(timeout: 30, "the HTTPRoute removed and the condition with it") {
            let gone = (try? await env.client.get(RolloutTests.httpRoutes, namespace: "team-a", name: route)) == nil
            let condition = try await env.condition("ProgressiveRollout")
            return gone && condition == nil
        }
    }

    @Test func rawDeploymentCandidateThatFailsIsRemovedAndTrafficStaysOnTheStable() async throws {
        var spec = Self.spec
        spec["rollout"] = ["strategy": "Progressive", "steps": [10], "pauseSeconds": 1, "gateway": ["name": "inference", "hostname": "llama.models.example.com"]]
        let env = try await Self.serving(spec, gatewayAPI: true)
        env.models.behave(.wrongAnswer("Berlin."), whenServing: ":1.15.4")
        try await env.deploy(spec: Self.with(spec, ["tag": "1.15.4"]))
        try await env.waitFor("RolledBack", "True", reason: "WrongAnswer", timeout: 30)
        try await eventually(timeout: 30, "the candidate removed, the stable takes all") {
            let candidate = try? await env.client.get(KServe.inferenceServices, namespace: "team-a", name: "llama-canary")
            let weights = try await Self.weights(env, "nim-traffic-llama")
            return candidate == nil && weights == ["llama-predictor": 100]
        }
        #expect(try await Self.image(env) == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.15.5", "the stable never left the known-good revision")
    }

    @Test func theProgressiveSampleConvergesBehindItsGateway() async throws {
        let env = try await NimEnvironment(gatewayAPI: true)
        try await env.startOperator(env.options(gatewayAPI: true))
        try await env.createKeySecret()
        let sample = try YAML.parse(String(contentsOf: Paths.repository.appendingPathComponent("config/samples/nim_v1alpha1_nimdeployment_progressive.yaml"), encoding: .utf8))
        _ = try await env.client.apply(KubeObject(sample), NimDeployment.resource, fieldManager: "kubectl")
        try await env.waitForRevision("Verified", of: "llama-canary")
        try await env.waitFor("ProgressiveRollout", "True", reason: "GatewayHTTPRoute", of: "llama-canary")
        let route = try await env.client.get(Self.httpRoutes, namespace: "team-a", name: "nim-traffic-llama-canary")
        #expect(route[path: ["spec", "parentRefs"]]?[0]?["name"] == "inference" && route[path: ["spec", "parentRefs"]]?[0]?["namespace"] == "gateway-system")
        #expect(route[path: ["spec", "hostnames"]] == ["llama.models.example.com"], "its own host: deployments share the Gateway")
        #expect(route.ownerReferences.first?.name == "llama-canary", "owned: it goes with the deployment")
    }

    // MARK: - Support

    static let httpRoutes = ResourceType(group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes", kind: "HTTPRoute", namespaced: true)

    static func weights(_ env: NimEnvironment, _ route: String) async throws -> [String: Int] {
        let object = try await env.client.get(httpRoutes, namespace: "team-a", name: route)
        let backends = object[path: ["spec", "rules"]]?[0]?["backendRefs"]?.arrayValue ?? []
        return Dictionary(backends.compactMap { backend in backend["name"]?.stringValue.map { ($0, backend["weight"]?.intValue ?? 1) } }) { $1 }
    }

    /// A deployment whose InferenceService runs in Serverless mode (KServe's mode is fixed when the
    /// InferenceService is made: here set as a platform that defaults to Serverless would). Knative
    /// refuses pod fields its flags have not enabled, so the operator adds no tolerations there:
    /// the GPU nodes of this cluster take any pod.
    static func serverless(_ spec: JSON) async throws -> NimEnvironment {
        let env = try await NimEnvironment(taintsGPUNodes: false)
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy(spec: spec)
        try await env.waitFor("Ready", "True")
        // Set while no operator runs: one would put its own value back.
        await env.stopOperator()
        _ = try await env.client.patch(
            KServe.inferenceServices, namespace: "team-a", name: "llama", .merge(["metadata": ["annotations": [DesiredState.deploymentModeAnnotation: "Serverless"]]]),
            fieldManager: "platform-defaults")
        try await env.startOperator()
        try await env.waitFor("ProgressiveRollout", "True", reason: "CanaryTrafficPercent")
        try await env.waitForRevision("Verified")
        return env
    }
}
