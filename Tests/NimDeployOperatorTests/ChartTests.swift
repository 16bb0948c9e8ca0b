import Foundation
import Testing
import KubeWatch
import LocalControlPlane
import TestSupport

/// charts/nim-deploy-operator rendered by the real Helm engine (helm-python-sdk) and applied to
/// the local control plane; the same CRD, catalog and RBAC as config/; each value where it lands.
@Suite struct ChartTests {
    static let chart = Paths.repository.appendingPathComponent("charts/nim-deploy-operator").path

    static func render(_ values: JSON = [:]) async throws -> CommandResult {
        try await run([Paths.repository.appendingPathComponent("scripts/helm-render").path, chart, "--values", values.serialized()], timeout: 120)
    }

    static func documents(_ values: JSON = [:]) async throws -> [JSON] {
        let result = try await render(values)
        guard result.status == 0 else { throw DeadlineExceeded(description: "helm-render: \(result)") }
        return try YAML.parseAll(result.stdout)
    }

    static func arguments(_ documents: [JSON]) -> [String] {
        documents.first { $0["kind"] == "Deployment" }?[path: ["spec", "template", "spec", "containers"]]?[0]?["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// What the roles bound to the operator's account allow, as `Kind scope: verb resource.group`,
    /// whatever the roles are called.
    static func permissions(_ documents: [JSON]) -> Set<String> {
        Set(RBACTests.grantsBound(in: documents).map { grant -> String in
            let role = grant.prefix { $0 != "#" }
            let kind = role.hasPrefix("ClusterRole/") ? "cluster" : "namespace"
            return "\(kind): " + (grant.split(separator: ":", maxSplits: 1).last.map(String.init) ?? "")
        })
    }

    @Test func theDefaultsInstallOnTheLocalControlPlane() async throws {
        let rendered = try await Self.render()
        #expect(rendered.status == 0, "\(rendered)")
        #expect(rendered.stderr.contains("NimDeploy 0.1.0 is installed in namespace nim-deploy-operator-system, managing every namespace."))
        let cluster = try TestCluster()
        try await cluster.createNamespace("nim-deploy-operator-system")
        let apply = try await run(["kubectl", "--kubeconfig", try cluster.writeKubeconfig(), "apply", "-f", "-"], input: rendered.stdout, timeout: 120)
        #expect(apply.status == 0, "\(apply)")
        let documents = try YAML.parseAll(rendered.stdout)
        for document in documents {
            let object = KubeObject(document)
            let resource = try #require(InstallTests.resources[object.kind], "\(object.kind)")
            _ = try await cluster.client.get(resource, namespace: object.namespace, name: object.name)
        }
        try await InstallTests.checkManager(documents)
    }

    @Test func theSameCRDCatalogAndPermissionsAsConfig() async throws {
        let chart = try await Self.documents()
        let config = try await RBACTests.kustomize("config/default")
        for kind in ["CustomResourceDefinition", "ConfigMap"] {
            let fromChart = chart.first { $0["kind"]?.stringValue == kind }
            let fromConfig = config.first { $0["kind"]?.stringValue == kind }
            #expect(fromChart?["spec"] == fromConfig?["spec"] && fromChart?["data"] == fromConfig?["data"], "\(kind)")
        }
        #expect(Self.permissions(chart) == Self.permissions(config))
        #expect(!Self.permissions(chart).isEmpty)
        let namespaced = try await Self.documents(["watchNamespaces": ["team-a", "team-b"]])
        #expect(Self.permissions(namespaced) == Self.permissions(try await RBACTests.kustomize("config/namespaced")))
        #expect(Self.arguments(namespaced).contains("--watch-namespaces=team-a,team-b"))
        #expect(!namespaced.contains { $0["kind"] == "ClusterRoleBinding" && $0[dotted: "roleRef.name"] == "nim-deploy-operator" })
    }

    @Test func eachValueLandsWhereItShould() async throws {
        let defaults = Self.arguments(try await Self.documents())
        #expect(defaults.contains("--leader-elect") && defaults.contains("--metrics-bind-address=:8080") && !defaults.contains("--migrate-legacy"))
        let documents = try await Self.documents([
            "region": "EU", "disconnected": true, "migration": ["enabled": true], "keyValidation": ["enabled": false],
            "keyRotation": ["settle": "2s"], "logLevel": "debug", "concurrency": 8, "leaderElection": ["enabled": false],
            "image": ["repository": "registry.example.com/nim", "tag": "dev"], "replicas": 1,
            "metrics": ["serviceMonitor": ["enabled": true, "labels": ["release": "prometheus"]]],
            "commonLabels": ["team": "platform"], "commonAnnotations": ["owner": "ml-infra"], "catalog": ["create": false, "name": "my-catalog"],
        ])
        let arguments = Self.arguments(documents)
        for expected in ["--region=EU", "--disconnected", "--migrate-legacy", "--disable-key-validation", "--key-rotation-settle=2s", "--log-level=debug",
                         "--concurrency=8", "--catalog=nim-deploy-operator-system/my-catalog"] {
            #expect(arguments.contains(expected), "\(expected) in \(arguments)")
        }
        #expect(!arguments.contains("--leader-elect"))
        let deployment = try #require(documents.first { $0["kind"] == "Deployment" })
        #expect(deployment[path: ["spec", "template", "spec", "containers"]]?[0]?["image"] == "registry.example.com/nim:dev")
        #expect(deployment[path: ["spec", "replicas"]] == 1)
        #expect(documents.first { $0["kind"] == "ServiceMonitor" }?[path: ["metadata", "labels", "release"]] == "prometheus")
        #expect(!documents.contains { $0["kind"] == "ConfigMap" }, "no catalog when catalog.create is false")
        // Helm never templates crds/: the CRD is as config/ has it.
        for document in documents where document["kind"] != "CustomResourceDefinition" {
            #expect(document[path: ["metadata", "labels", "team"]] == "platform", "\(document["kind"] ?? "")")
            #expect(document[path: ["metadata", "annotations", "owner"]] == "ml-infra", "\(document["kind"] ?? "")")
        }
        // The operator takes every flag the chart can give it.
        let help = try await run([Paths.operatorBinary] + arguments + ["--help"], timeout: 60)
        #expect(help.status == 0, "\(help)")
    }

    @Test(arguments: [
        (["replicas": -1] as JSON, "/replicas"),
        (["logLevel": "loud"] as JSON, "/logLevel"),
        (["keyRotation": ["settle": "soon"]] as JSON, "/keyRotation/settle"),
        (["watchNamespaces": ["Team A"]] as JSON, "/watchNamespaces/0"),
        (["imagePullPolicy": "Always"] as JSON, "imagePullPolicy"),
    ])
    func theSchemaRefusesBadValues(_ values: JSON, _ path: String) async throws {
        let result = try await Self.render(values)
        #expect(result.status == 1 && result.stderr.contains(path), "\(result)")
    }
}
