import Foundation
import Testing
import KubeCore
import KubeAPI
import LocalControlPlane
import TestSupport

/// TokenReview and SubjectAccessReview as kube-apiserver answers them: what a component guarding
/// its own /metrics asks (controller-runtime's secure metrics, kube-rbac-proxy). Only an account
/// allowed to create reviews (system:auth-delegator's rules) may ask; the answer is never stored.
@Suite struct ReviewTests {
    static func cluster() throws -> TestCluster {
        let cluster = try TestCluster()
        try cluster.controlPlane.apply([
            MetricsRBAC.readerRole("metrics-reader"), MetricsRBAC.binding("prometheus-metrics-reader", role: "metrics-reader", namespace: "monitoring", account: "prometheus"),
            ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": ["name": "auth-delegator"],
             "rules": [["apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]],
                       ["apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]]]],
            ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": ["name": "operator-auth-delegator"],
             "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "auth-delegator"],
             "subjects": [["kind": "ServiceAccount", "name": "nim-deploy-operator", "namespace": "nim-deploy-operator-system"]]],
        ])
        return cluster
    }

    static func client(_ cluster: TestCluster, token: String) -> KubeClient {
        KubeClient(configuration: ClientConfiguration(server: cluster.controlPlane.baseURL, credentials: .bearer(token)))
    }

    static func post(_ client: KubeClient, _ path: String, _ body: JSON) async throws -> (Int, JSON?) {
        let response = try await client.call(verb: "create", method: "POST", path: path, body: body, idempotent: false)
        return (response.status, try? JSON(parsing: response.body))
    }

    @Test func aTokenIsReviewedAndAPathsAccessDecidedByRBAC() async throws {
        let cluster = try Self.cluster()
        let plane = cluster.controlPlane
        let operatorClient = Self.client(cluster, token: plane.serviceAccountToken(namespace: "nim-deploy-operator-system", name: "nim-deploy-operator"))
        let prometheus = plane.serviceAccountToken(namespace: "monitoring", name: "prometheus")
        let stranger = plane.serviceAccountToken(namespace: "team-a", name: "default")

        let (code, review) = try await Self.post(operatorClient, "/apis/authentication.k8s.io/v1/tokenreviews", [
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": ["token": .string(prometheus)],
        ])
        #expect(code == 201 && review?[path: ["status", "authenticated"]] == true)
        #expect(review?[path: ["status", "user", "username"]] == "system:serviceaccount:monitoring:prometheus")
        let groups = review?[path: ["status", "user", "groups"]]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(groups.contains("system:serviceaccounts:monitoring"))
        let (_, bogus) = try await Self.post(operatorClient, "/apis/authentication.k8s.io/v1/tokenreviews", ["spec": ["token": "not-a-token"]])
        #expect(bogus?[path: ["status", "authenticated"]] == false)

        func mayGetMetrics(_ user: String, _ groups: [String]) async throws -> Bool {
            let (_, answer) = try await Self.post(operatorClient, "/apis/authorization.k8s.io/v1/subjectaccessreviews", [
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": ["user": .string(user), "groups": .array(groups.map(JSON.string)), "nonResourceAttributes": ["path": "/metrics", "verb": "get"]],
            ])
            return answer?[path: ["status", "allowed"]] == true
        }
        #expect(try await mayGetMetrics("system:serviceaccount:monitoring:prometheus", groups))
        #expect(try await !mayGetMetrics("system:serviceaccount:team-a:default", ["system:serviceaccounts", "system:authenticated"]))
        let (_, resource) = try await Self.post(operatorClient, "/apis/authorization.k8s.io/v1/subjectaccessreviews", [
            "spec": ["user": "system:serviceaccount:monitoring:prometheus", "resourceAttributes": ["verb": "list", "resource": "secrets", "namespace": "team-a"]],
        ])
        #expect(resource?[path: ["status", "allowed"]] == false, "the metrics reader reads no Secrets")

        // Asking is itself a permission.
        do {
            _ = try await Self.post(Self.client(cluster, token: stranger), "/apis/authentication.k8s.io/v1/tokenreviews", ["spec": ["token": .string(prometheus)]])
            Issue.record("an account without the auth-delegator's rules reviewed a token")
        } catch {
            #expect((error as? KubeError)?.status?.code == 403 && (error as? KubeError)?.status?.reason == "Forbidden", "\(error)")
        }
    }
}
