import Foundation
import Testing
import KubeCore
import KubeAPI
import Reconciler
import TestSupport

/// What a platform's Prometheus needs to scrape the models: a PodMonitor per NimDeployment where
/// the Prometheus Operator is installed, accepted by its CRD schema, selecting the predictor pods
/// and labelling their series with the deployment, the InferenceService and the revision.
@Suite struct MonitoringTests {
    @Test func eachDeploymentGetsAPodMonitorForItsNIMsMetrics() async throws {
        let env = try await NimEnvironment(prometheusOperator: true)
        var options = env.options(podMonitors: true)
        options.podMonitorLabels = ["release": "kube-prometheus-stack"]
        try await env.startOperator(options)
        try await env.createKeySecret()
        try await env.deploy()
        try await env.deploy("grpc", spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "protocol": "grpc"])
        try await env.waitFor("Ready", "True")
        try await env.waitFor("Ready", "True", of: "grpc")
        let monitor = try await env.client.get(NIMMetrics.podMonitors, namespace: "team-a", name: "llama")
        #expect(monitor.ownerReferences.first?.name == "llama" && monitor.labels[ChildLabels.managedBy] == ChildLabels.operatorName)
        #expect(monitor.labels["release"] == "kube-prometheus-stack", "what Prometheus' podMonitorSelector asks for")
        #expect(monitor[path: ["spec", "selector", "matchLabels"]] == [ChildLabels.deployment: "llama", "component": "predictor"])
        let endpoint = monitor[path: ["spec", "podMetricsEndpoints"]]?[0]
        #expect(endpoint?["path"] == "/v1/metrics" && endpoint?["portNumber"] == 8000)
        let targets = (endpoint?["relabelings"]?.arrayValue ?? []).compactMap { $0["targetLabel"]?.stringValue }
        #expect(targets == ["nimdeployment", "inferenceservice", "nim_revision"])
        // The pods it selects: the predictor's, with the port it scrapes declared.
        let pod = try await env.currentPod()
        #expect(pod.labels[ChildLabels.deployment] == "llama" && pod.labels["component"] == "predictor")
        #expect(pod[path: ["spec", "containers"]]?[0]?["ports"]?[0]?["containerPort"] == 8000)
        #expect((try? await env.client.get(NIMMetrics.podMonitors, namespace: "team-a", name: "grpc")) == nil, "a gRPC NIM declares no HTTP port to scrape")
    }

    /// spec.idleShutdown reads the model's own request counters at its address (the idle and wake
    /// decisions themselves: DecisionTableTests, which can let an hour pass).
    @Test func idleShutdownCountsTheModelsRequestsAtItsAddress() async throws {
        let env = try await NimEnvironment.serving()
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "idleShutdown": ["afterSeconds": 3600]])
        try await env.waitFor("Idle", "False", reason: "Serving")
        try await eventually("the counters read") { env.models.requests(namespace: "team-a", name: "llama").contains("GET /v1/metrics") }
        #expect(try await env.condition("Ready")?["status"] == "True")
    }
}
