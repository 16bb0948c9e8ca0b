import Foundation
import Testing
import KubeCore
import KubeAPI
import LocalControlPlane
import Reconciler
import TestSupport

/// The RBAC in config/rbac is exactly what the operator needs: the operator binary runs as the
/// service account bound to it, against a control plane that enforces RBAC, through everything it
/// does (deploy, a refused key twice, rotation, legacy migration, leader election and release).
/// No request may be refused, and every verb of every rule bound to the account must have been used.
@Suite struct RBACTests {
    static let namespace = "nim-deploy-operator-system"
    static let account = "nim-deploy-operator"

    /// `kubectl kustomize` of a config/ directory, as documents.
    static func kustomize(_ directory: String) async throws -> [JSON] {
        let result = try await run(["kubectl", "kustomize", Paths.repository.appendingPathComponent(directory).path], timeout: 60)
        guard result.status == 0 else { throw DeadlineExceeded(description: "kubectl kustomize \(directory): \(result)") }
        return try YAML.parseAll(result.stdout)
    }

    /// Each verb on each resource of each rule of the roles the bindings give the account.
    static func grantsBound(in documents: [JSON]) -> Set<String> {
        let subject: JSON = ["kind": "ServiceAccount", "name": .string(account), "namespace": .string(namespace)]
        var grants: Set<String> = []
        for binding in documents where ["ClusterRoleBinding", "RoleBinding"].contains(binding["kind"]?.stringValue ?? "") {
            guard (binding["subjects"]?.arrayValue ?? []).contains(subject) else { continue }
            let kind = binding[dotted: "roleRef.kind"]?.stringValue ?? ""
            let name = binding[dotted: "roleRef.name"]?.stringValue ?? ""
            let roleNamespace = binding[dotted: "metadata.namespace"]?.stringValue ?? ""
            guard let role = documents.first(where: {
                $0["kind"]?.stringValue == kind && $0[dotted: "metadata.name"]?.stringValue == name
                    && (kind == "ClusterRole" || $0[dotted: "metadata.namespace"]?.stringValue == roleNamespace)
            }) else { continue }
            let label = kind == "ClusterRole" ? "ClusterRole/\(name)" : "Role/\(roleNamespace)/\(name)"
            for (index, rule) in (role["rules"]?.arrayValue ?? []).enumerated() {
                for group in rule["apiGroups"]?.arrayValue ?? [] {
                    for resource in rule["resources"]?.arrayValue ?? [] {
                        for verb in rule["verbs"]?.arrayValue ?? [] {
                            let name = group.stringValue.map { $0.isEmpty ? "" : ".\($0)" } ?? ""
                            grants.insert("\(label)#\(index): \(verb.stringValue ?? "") \(resource.stringValue ?? "")\(name)")
                        }
                    }
                }
            }
        }
        return grants
    }

    @Test func theOperatorNeedsEveryRuleAndNothingMore() async throws {
        let env = try await NimEnvironment.legacy(gatewayAPI: true, prometheusOperator: true)
        let rbac = try await Self.kustomize("config/rbac")
        try env.controlPlane.apply(rbac)
        let expected = Self.grantsBound(in: rbac)
        #expect(!expected.isEmpty)
        #expect(!expected.contains { $0.contains(" * ") || $0.hasSuffix(" *") || $0.contains(": * ") }, "no wildcard")

        let token = env.controlPlane.serviceAccountToken(namespace: Self.namespace, name: Self.account)
        let kubeconfig = NSTemporaryDirectory() + "rbac-\(UUID().uuidString).kubeconfig"
        try env.controlPlane.kubeconfig(token: token).write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        let process = BackgroundCommand([
            Paths.operatorBinary, "run", "--kubeconfig", kubeconfig, "--namespace", Self.namespace, "--leader-elect",
            "--ngc-api-url", env.ngc.baseURL, "--key-rotation-settle", "0",
            "--health-probe-bind-address", "0", "--metrics-bind-address", "127.0.0.1:0",
        ])
        try process.start()
        defer { process.kill() }

        // A scrape by Prometheus' account, bound to the metrics-reader ClusterRole: the operator
        // reviews its token and its access (--metrics-auth token, the default).
        try env.controlPlane.apply([MetricsRBAC.binding("prometheus-nim-metrics", role: "nim-deploy-operator-metrics-reader", namespace: "monitoring", account: "prometheus")])
        let metricsPort = try await process.servingLine()["metrics"]?.intValue ?? 0
        let scraper = env.controlPlane.serviceAccountToken(namespace: "monitoring", name: "prometheus")
        let scrape = try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(metricsPort)/metrics", headers: [("Authorization", "Bearer \(scraper)")]))
        #expect(scrape.status == 200)

        // A deployment, Ready.
        try await env.createKeySecret()
        try await env.deploy()
        try await env.waitFor("Ready", "True", timeout: 30)
        // The Prometheus Operator is installed: the binary found it and made the PodMonitor.
        #expect((try? await env.client.get(NIMMetrics.podMonitors, namespace: "team-a", name: "llama")) != nil)
        // A refused key, twice: the second Warning is the same event, counted (a patch).
        let refused = "nvapi-refused-key-0000000000000000"
        env.ngc.reject(refused)
        for key in [refused, NimEnvironment.validKey, refused] {
            try await env.setKey(key)
            try await env.waitFor("KeyValid", key == refused ? "False" : "True", timeout: 30)
        }
        try await eventually(timeout: 30, "the refusal counted twice") {
            try await env.events("InvalidKey").contains { ($0["count"]?.intValue ?? 0) >= 2 }
        }
        // A rotation.
        try await env.setKey("nvapi-rotated-key-0000000000000001")
        try await eventually(timeout: 30, "rotated") { try await env.events("KeyRotated").count == 1 }
        // A progressive rollout behind the Gateway API: its HTTPRoute applied, the candidate made,
        // promoted and deleted; the HTTPRoute deleted once the strategy no longer uses it.
        var progressive: JSON = [
            "model": "llama-3.1-8b-instruct", "tag": "1.15.5", "apiKeySecretRef": ["name": "my-ngc-key"],
            "rollout": ["strategy": "Progressive", "steps": [50], "pauseSeconds": 0, "gateway": ["name": "inference", "hostname": "canary.models.example.com"]],
            "networkPolicy": ["ingressNamespaces": ["gateway-system"]],
        ]
        try await env.deploy("canary", spec: progressive)
        try await env.waitForRevision("Verified", of: "canary")
        progressive["tag"] = "1.15.4"
        try await env.deploy("canary", spec: progressive)
        try await eventually(timeout: 30, "1.15.4 promoted and its candidate deleted") {
            let latest = try await env.revisions(of: "canary").first
            let candidate = try? await env.client.get(KServe.inferenceServices, namespace: "team-a", name: "canary-canary")
            return latest?["outcome"] == "Verified" && latest?["image"]?.stringValue?.hasSuffix(":1.15.4") == true && candidate == nil
        }
        progressive["rollout"] = ["strategy": "InPlace"]
        progressive["networkPolicy"] = nil
        try await env.deploy("canary", spec: progressive)
        try await eventually(timeout: 30, "the HTTPRoute and the NetworkPolicy deleted") {
            let status = try await env.deployment("canary")["status"]
            return status?["httpRouteName"] == nil && status?["networkPolicyName"] == nil
        }
        // A deployment named like someone else's InferenceService: read whole, and refused.
        var foreign = KubeObject(apiVersion: KServe.inferenceServices.apiVersion, kind: KServe.inferenceServices.kind, namespace: "team-a", name: "taken")
        foreign["spec"] = ["predictor": ["model": ["modelFormat": ["name": "sklearn"], "runtime": "someone-elses", "storageUri": "s3://models/iris"]]]
        _ = try await env.client.apply(foreign, KServe.inferenceServices, fieldManager: "another-team")
        try await env.deploy("taken", spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("ResourcesReady", "False", reason: "ResourceConflict", of: "taken", timeout: 30)
        // A deployment that fills its cache first: its Job.
        try await env.deploy("cached", spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "storage": ["preload": true]])
        try await eventually(timeout: 30, "its cache Job") { try await !env.client.list(CachePreload.jobs, namespace: "team-a").items.isEmpty }
        // Legacy migration in one namespace, with its summary written twice.
        _ = try await env.client.patch(.namespaces, name: "legacy", .merge(["metadata": ["annotations": [LegacyMigration.enableAnnotation: "true"]]]))
        try await eventually(timeout: 30, "migrated") {
            let summary = try? await env.client.get(.configMaps, namespace: "legacy", name: LegacyMigration.summaryName)
            return summary?[path: ["data", "summary"]]?.stringValue?.hasPrefix("3 already-migrated") == true
        }
        // Stopped: the Lease is released.
        kill(process.processIdentifier, SIGTERM)
        let result = await process.wait(timeout: 40)
        #expect(result.status == 0, "\(result.stderr.suffix(3000))")
        #expect(result.stderr.contains("released lease"))

        #expect(env.controlPlane.rbacDenials == [], "refused requests")
        let used = Set(env.controlPlane.rbacGrants.keys.map(\.description))
        #expect(expected.subtracting(used).sorted() == [], "granted but never used")
        #expect(used.subtracting(expected).sorted() == [], "used through a rule not bound")
        #expect(!result.stderr.contains(NimEnvironment.validKey) && !result.stderr.contains(refused))
    }
}
