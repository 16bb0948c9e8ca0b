import Foundation
import Testing
import KubeCore
import KubeAPI
import Reconciler
import TestSupport

/// spec.networkPolicy as users see it: a NetworkPolicy that lets only the namespace, the serving
/// gateway's, the monitoring and the operator's namespaces reach the predictor pods' API port,
/// stored by the API server as written, and gone again when no longer asked for.
@Suite struct NetworkPolicyTests {
    @Test func aDeploymentAskingForANetworkPolicyGetsOneAndLosesItWhenItStopsAsking() async throws {
        let env = try await NimEnvironment.serving()
        let spec: JSON = [
            "model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"],
            "networkPolicy": ["ingressNamespaces": ["istio-system"], "monitoringNamespaces": ["openshift-user-workload-monitoring"]],
        ]
        try await env.deploy(spec: spec)
        var policy: KubeObject?
        try await eventually("the NetworkPolicy") {
            policy = try? await env.client.get(NIMMetrics.networkPolicies, namespace: "team-a", name: "llama")
            return policy != nil
        }
        #expect(policy?.ownerReferences.first?.name == "llama")
        #expect(policy?[path: ["spec", "podSelector", "matchLabels"]] == [ChildLabels.deployment: "llama", "component": "predictor"])
        #expect(policy?[path: ["spec", "policyTypes"]] == ["Ingress"])
        let rules = policy?[path: ["spec", "ingress"]]?.arrayValue ?? []
        #expect(rules.first?["from"] == [["podSelector": [:]]], "the namespace's own pods")
        let allowed = rules.dropFirst().first?["from"]?[0]?[path: ["namespaceSelector", "matchExpressions"]]?[0]?["values"]
        #expect(rules.dropFirst().first?["from"]?[1]?[path: ["namespaceSelector", "matchLabels"]] == ["policy-group.network.openshift.io/ingress": ""], "OpenShift's host-network routers")
        #expect(allowed == ["istio-system", .string(NimEnvironment.operatorNamespace), "openshift-user-workload-monitoring"], "the gateway, the operator (it verifies), monitoring")
        #expect(rules.allSatisfy { $0["ports"] == [["protocol": "TCP", "port": 8000]] }, "the API port only")
        // The pods it selects are the predictor's.
        let pod = try await env.currentPod()
        #expect(pod.labels[ChildLabels.deployment] == "llama" && pod.labels["component"] == "predictor")
        // The status follows the policy's write in the same reconcile, not at the same instant.
        try await eventually("the status names the policy") { try await env.deployment()[dotted: "status.networkPolicyName"] == "llama" }

        // No longer asked for: deleted, and the status forgets it; no pod rolls for it.
        let rollouts = env.rollouts()
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await eventually("the NetworkPolicy deleted") {
            let gone = (try? await env.client.get(NIMMetrics.networkPolicies, namespace: "team-a", name: "llama")) == nil
            let status = try await env.deployment()[dotted: "status.networkPolicyName"]
            return gone && status == nil
        }
        #expect(env.rollouts() == rollouts)
    }

    @Test func aNamespaceNameThatIsNotOneIsRefused() async throws {
        let env = try await NimEnvironment.serving()
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "networkPolicy": ["ingressNamespaces": ["Istio_System"]]])
        try await env.waitFor("Ready", "False", reason: "InvalidSpec")
        let message = try await env.condition("Ready")?["message"]?.stringValue ?? ""
        #expect(message.contains("\"Istio_System\" is not a namespace name"), "\(message)")
    }
}
