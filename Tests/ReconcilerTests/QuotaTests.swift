import Foundation
import Testing
import KubeCore
import KubeAPI
import Reconciler
import TestSupport

/// GPU ResourceQuota awareness as users see it: a deployment whose GPUs at replicas.max do not
/// fit its namespace's quota (with a rolling update's surge) is refused with the numbers
/// (nothing made, a Warning), and goes ahead as soon as the quota is raised; a running one that
/// grows past it keeps running as it was.
@Suite struct QuotaTests {
    static func quota(_ env: NimEnvironment, hard: Int, used: Int) async throws {
        var quota = KubeObject(apiVersion: "v1", kind: "ResourceQuota", namespace: "team-a", name: "gpus")
        quota["spec"] = ["hard": ["requests.nvidia.com/gpu": .string(String(hard))]]
        _ = try await env.client.apply(quota, .resourceQuotas, fieldManager: "admin")
        // What the quota controller reports.
        var status = KubeObject(apiVersion: "v1", kind: "ResourceQuota", namespace: "team-a", name: "gpus")
        status["status"] = ["hard": ["requests.nvidia.com/gpu": .string(String(hard))], "used": ["requests.nvidia.com/gpu": .string(String(used))]]
        _ = try await env.client.apply(status, .resourceQuotas, fieldManager: "resourcequota-controller", subresource: "status")
    }

    @Test func gpusBeyondTheQuotaAreRefusedWithTheNumbersUntilItIsRaised() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await Self.quota(env, hard: 2, used: 1)
        let spec: JSON = ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "replicas": ["min": 1, "max": 4]]
        try await env.deploy(spec: spec)
        try await env.waitFor("ResourcesReady", "False", reason: "QuotaExceeded")
        let message = try await env.condition("ResourcesReady")?["message"]?.stringValue ?? ""
        #expect(message.contains("asks for 5 GPUs") && message.contains("ResourceQuota gpus allows 2 requests.nvidia.com/gpu") && message.contains("1 of them used by other pods"), "\(message)")
        #expect(try await env.children().isEmpty, "nothing is made")
        try await eventually("a Warning says so") { try await !env.events("QuotaExceeded").isEmpty }
        // Raised: the deployment goes ahead without being touched.
        try await Self.quota(env, hard: 8, used: 1)
        try await env.waitFor("Ready", "True")
        // Grown past it while running: refused, and what runs stays (its own GPU counts as its).
        try await Self.quota(env, hard: 4, used: 2)
        let rollouts = env.rollouts()
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "replicas": ["min": 1, "max": 4], "resources": ["gpus": 2]])
        try await env.waitFor("ResourcesReady", "False", reason: "QuotaExceeded")
        let grown = try await env.condition("ResourcesReady")?["message"]?.stringValue ?? ""
        #expect(grown.contains("asks for 10 GPUs") && grown.contains("1 of them used by other pods"), "\(grown)")
        let running = try await env.predictor()[path: ["model", "resources", "limits", "nvidia.com/gpu"]]
        #expect(env.rollouts() == rollouts && running == "1")
    }

    /// The GPUs a namespace's deployments may take at their most replicas, for budget alerts:
    /// `nim_gpus_requested{namespace}`, following the specs.
    @Test func theGPUsANamespaceAsksForAreAMetric() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        func asked() throws -> Double? {
            try PrometheusText.parse(env.metrics.render()).first { $0.name == "nim_gpus_requested" && $0.labels == ["namespace": "team-a"] }?.value
        }
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "replicas": ["min": 1, "max": 4]])
        try await eventually("one GPU for each of 4 replicas") { try asked() == 4 }
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "replicas": ["min": 1, "max": 4], "resources": ["gpus": 2]])
        try await eventually("two GPUs each") { try asked() == 8 }
    }
}
