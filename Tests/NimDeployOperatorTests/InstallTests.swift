import Foundation
import Testing
import KubeCore
import LocalControlPlane
import TestSupport

/// `kubectl apply -k config/...` as an admin runs it, against the local control plane: every
/// object accepted, the manager as the restricted Pod Security Standard wants it.
@Suite struct InstallTests {
    static func kubectl(_ cluster: TestCluster, _ arguments: String...) async throws -> CommandResult {
        try await run(["kubectl", "--kubeconfig", try cluster.writeKubeconfig()] + arguments, timeout: 120)
    }

    @Test(arguments: ["config/default", "config/namespaced"])
    func eachOverlayAppliesAndTheSamplesAfterIt(_ overlay: String) async throws {
        let cluster = try TestCluster()
        for namespace in ["team-a", "team-b"] { try await cluster.createNamespace(namespace) }
        let install = try await Self.kubectl(cluster, "apply", "-k", Paths.repository.appendingPathComponent(overlay).path)
        #expect(install.status == 0, "\(install)")
        let documents = try await RBACTests.kustomize(overlay)
        for document in documents {
            let object = KubeObject(document)
            let resource = try #require(Self.resources[object.kind], "\(object.kind)")
            let stored = try await cluster.client.get(resource, namespace: object.namespace, name: object.name)
            #expect(!stored.uid.isEmpty, "\(object.kind)/\(object.name)")
        }
        try await eventually("the CRD is served") {
            (try? await cluster.client.list(ResourceType(group: "nim.opendatahub.io", version: "v1alpha1", plural: "nimdeployments", kind: "NimDeployment", namespaced: true), namespace: "team-a")) != nil
        }
        // The Kubernetes shapes are in the schema: kubectl explain knows them.
        let tolerations = try await Self.kubectl(cluster, "explain", "nimdeployments.spec.tolerations")
        #expect(tolerations.status == 0 && tolerations.stdout.contains("tolerationSeconds") && tolerations.stdout.contains("Taints the predictor pods tolerate"), "\(tolerations)")
        let probe = try await Self.kubectl(cluster, "explain", "nimdeployments.spec.readinessProbe.probe.httpGet")
        #expect(probe.status == 0 && probe.stdout.contains("path") && probe.stdout.contains("port"), "\(probe)")
        let samples = try await Self.kubectl(cluster, "apply", "-k", Paths.repository.appendingPathComponent("config/samples").path)
        #expect(samples.status == 0, "\(samples)")
        let listed = try await Self.kubectl(cluster, "get", "nimdeployments", "-n", "team-a", "-o", "name")
        #expect(listed.stdout.split(separator: "\n").sorted() == ["nimdeployment.nim.opendatahub.io/embedder", "nimdeployment.nim.opendatahub.io/llama"], "\(listed)")
        if overlay == "config/namespaced" {
            #expect(!documents.contains { $0["kind"] == "ClusterRoleBinding" && $0[dotted: "metadata.name"] == "nim-deploy-operator" })
            #expect(documents.filter { $0["kind"] == "RoleBinding" && $0[dotted: "roleRef.name"] == "nim-deploy-operator" && $0[dotted: "roleRef.kind"] == "ClusterRole" }.count == 2)
        }
    }

    static let resources: [String: ResourceType] = [
        "Namespace": .namespaces, "ServiceAccount": .serviceAccounts, "ConfigMap": .configMaps, "Deployment": .deployments, "Secret": .secrets,
        "Service": ResourceType(group: "", version: "v1", plural: "services", kind: "Service", namespaced: true),
        "CustomResourceDefinition": ResourceType(group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", kind: "CustomResourceDefinition", namespaced: false),
        "ClusterRole": ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", kind: "ClusterRole", namespaced: false),
        "ClusterRoleBinding": ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false),
        "Role": ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", kind: "Role", namespaced: true),
        "RoleBinding": ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", kind: "RoleBinding", namespaced: true),
    ]

    /// The manager Deployment of an install, as restricted PSS requires: the manager, its /metrics
    /// on the pod's loopback behind the token check, and the metrics-proxy serving it over HTTPS.
    static func checkManager(_ documents: [JSON], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let deployment = try #require(documents.first { $0["kind"] == "Deployment" }, sourceLocation: sourceLocation)
        let pod = try #require(deployment[path: ["spec", "template", "spec"]], sourceLocation: sourceLocation)
        #expect(pod["automountServiceAccountToken"] == false, "only the projected token", sourceLocation: sourceLocation)
        #expect(pod[path: ["securityContext", "runAsNonRoot"]] == true, sourceLocation: sourceLocation)
        #expect(pod[path: ["securityContext", "seccompProfile", "type"]] == "RuntimeDefault", sourceLocation: sourceLocation)
        let container = try #require(pod["containers"]?[0], sourceLocation: sourceLocation)
        #expect(container[path: ["securityContext", "readOnlyRootFilesystem"]] == true, sourceLocation: sourceLocation)
        #expect(container[path: ["securityContext", "allowPrivilegeEscalation"]] == false, sourceLocation: sourceLocation)
        #expect(container[path: ["securityContext", "capabilities", "drop"]] == ["ALL"], sourceLocation: sourceLocation)
        #expect(container[path: ["livenessProbe", "httpGet", "path"]] == "/healthz", sourceLocation: sourceLocation)
        #expect(container[path: ["readinessProbe", "httpGet", "path"]] == "/readyz", sourceLocation: sourceLocation)
        #expect(container[path: ["resources", "requests", "memory"]] != nil && container[path: ["resources", "limits", "memory"]] != nil, sourceLocation: sourceLocation)
        let arguments = container["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(arguments.first == "run" && arguments.contains("--leader-elect"), "\(arguments)", sourceLocation: sourceLocation)
        // Every flag is one the operator takes.
        let help = try await run([Paths.operatorBinary] + arguments + ["--help"], timeout: 60)
        #expect(help.status == 0, "\(help)", sourceLocation: sourceLocation)
        let token = pod["volumes"]?.arrayValue?.first { $0["name"] == "kube-api-access" }?[path: ["projected", "sources"]]?[0]?["serviceAccountToken"]
        #expect(token?["expirationSeconds"]?.intValue ?? 0 <= 3600, sourceLocation: sourceLocation)
        #expect(arguments.contains("--metrics-bind-address=127.0.0.1:8080") && arguments.contains("--metrics-auth=token"), sourceLocation: sourceLocation)
        let proxy = try #require(pod["containers"]?.arrayValue?.first { $0["name"] == "metrics-proxy" }, "the metrics-proxy sidecar", sourceLocation: sourceLocation)
        #expect(proxy["ports"] == [["name": "metrics", "containerPort": 8443, "protocol": "TCP"]], sourceLocation: sourceLocation)
        #expect(proxy["readinessProbe"] == nil, "the pod's readiness is the manager's", sourceLocation: sourceLocation)
        #expect(proxy[path: ["securityContext", "readOnlyRootFilesystem"]] == true && proxy[path: ["resources", "limits", "memory"]] != nil, sourceLocation: sourceLocation)
        let tls = pod["volumes"]?.arrayValue?.first { $0["name"] == "metrics-tls" }
        #expect(tls?[path: ["secret", "optional"]] == true, "a missing certificate stops only the sidecar", sourceLocation: sourceLocation)
        let service = documents.first { $0["kind"] == "Service" }
        #expect(service?[path: ["spec", "ports"]]?[0]?["port"] == 8443 && service?[path: ["spec", "ports"]]?[0]?["targetPort"] == "metrics", sourceLocation: sourceLocation)
    }

    /// The CRD in config/ and in the chart is what scripts/crd/ gives with KServe's shapes of the
    /// Kubernetes types, and carries no default (nothing is defaulted into spec).
    @Test func theCRDIsGeneratedFromItsSourceAndDefaultsNothing() async throws {
        let check = try await run(["python3", Paths.repository.appendingPathComponent("scripts/generate-crd").path, "--check"], environment: ["NIMDEPLOY_SHARED": Paths.shared.path], timeout: 60)
        #expect(check.status == 0, "\(check)")
        let crd = try String(contentsOf: Paths.repository.appendingPathComponent("config/crd/bases/nim.opendatahub.io_nimdeployments.yaml"), encoding: .utf8)
        #expect(!crd.contains("default:"), "no defaults in the schema")
        for field in ["tolerations", "affinity", "env", "readinessProbe", "nodeAffinity", "valueFrom", "tolerationSeconds"] {
            #expect(crd.contains("\(field):"), "\(field)")
        }
    }

    @Test func theManagerIsRestrictedProbedAndLeaderElected() async throws {
        try await Self.checkManager(try await RBACTests.kustomize("config/default"))
    }

    /// The volume types OpenShift's restricted-v2 SCC allows.
    static let restrictedV2Volumes: Set<String> = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]

    /// What OpenShift's restricted-v2 SCC would refuse (or overrule) in the manager Deployment's
    /// pod, one line each; empty when it runs as given. No fixed user, group or fsGroup (the SCC
    /// assigns them from the namespace's range), non-root, no privilege escalation, every
    /// capability dropped (NET_BIND_SERVICE the only one added back), RuntimeDefault seccomp, and
    /// nothing of the host: no host namespaces, ports or hostPath (no volume type outside the
    /// SCC's list), nothing privileged. The chart's tests and the kustomize install's use it.
    static func restrictedV2Violations(_ documents: [JSON]) -> [String] {
        guard let pod = documents.first(where: { $0["kind"] == "Deployment" })?[path: ["spec", "template", "spec"]] else { return ["no Deployment"] }
        var violations: [String] = []
        let podContext = pod["securityContext"] ?? [:]
        for field in ["runAsUser", "runAsGroup", "fsGroup"] where podContext[field] != nil {
            violations.append("pod securityContext.\(field)")
        }
        for field in ["hostNetwork", "hostPID", "hostIPC"] where pod[field] == true {
            violations.append("pod \(field)")
        }
        for volume in pod["volumes"]?.arrayValue ?? [] {
            for type in (volume.objectValue?.keys.filter { $0 != "name" } ?? []).sorted() where !restrictedV2Volumes.contains(type) {
                violations.append("volume \(volume["name"]?.stringValue ?? "?"): \(type)")
            }
        }
        let containers = (pod["initContainers"]?.arrayValue ?? []) + (pod["containers"]?.arrayValue ?? [])
        if containers.isEmpty { violations.append("no containers") }
        for container in containers {
            let name = "container \(container["name"]?.stringValue ?? "?")"
            let context = container["securityContext"] ?? [:]
            for field in ["runAsUser", "runAsGroup"] where context[field] != nil {
                violations.append("\(name): securityContext.\(field)")
            }
            if (context["runAsNonRoot"] ?? podContext["runAsNonRoot"]) != true { violations.append("\(name): runAsNonRoot is not true") }
            if context["allowPrivilegeEscalation"] != false { violations.append("\(name): allowPrivilegeEscalation is not false") }
            if context["privileged"] == true { violations.append("\(name): privileged") }
            let dropped = context[path: ["capabilities", "drop"]]?.arrayValue?.compactMap(\.stringValue) ?? []
            if !dropped.contains("ALL") { violations.append("\(name): capabilities.drop has no ALL") }
            let added = context[path: ["capabilities", "add"]]?.arrayValue?.compactMap(\.stringValue) ?? []
            for capability in added where capability != "NET_BIND_SERVICE" { violations.append("\(name): capabilities.add \(capability)") }
            let seccomp = context[path: ["seccompProfile", "type"]] ?? podContext[path: ["seccompProfile", "type"]]
            if seccomp != "RuntimeDefault" { violations.append("\(name): seccompProfile is not RuntimeDefault") }
            for port in container["ports"]?.arrayValue ?? [] where port["hostPort"] != nil {
                violations.append("\(name): hostPort \(port["hostPort"]?.intValue ?? 0)")
            }
        }
        return violations
    }

    @Test(arguments: ["config/default", "config/namespaced"])
    func theManagerRunsUnderRestrictedV2(_ overlay: String) async throws {
        let documents = try await RBACTests.kustomize(overlay)
        #expect(Self.restrictedV2Violations(documents) == [])
        let pod = try #require(documents.first { $0["kind"] == "Deployment" }?[path: ["spec", "template", "spec"]])
        #expect(pod["securityContext"] == ["runAsNonRoot": true, "seccompProfile": ["type": "RuntimeDefault"]])
    }
}
