import Foundation
import Testing
import KubeCore
import LocalControlPlane
import TestSupport

/// charts/nim-deploy-operator rendered by the real Helm engine (helm-python-sdk) and applied to
/// the local control plane; the same CRD, catalog and RBAC as config/; each value where it lands.
@Suite struct ChartTests {
    static let chart = Paths.repository.appendingPathComponent("charts/nim-deploy-operator").path

    static func render(_ values: JSON = [:], release: String = "nim-deploy-operator") async throws -> CommandResult {
        try await run([Paths.repository.appendingPathComponent("scripts/helm-render").path, chart, "--values", values.serialized(), "--name", release], timeout: 120)
    }

    static func documents(_ values: JSON = [:], release: String = "nim-deploy-operator") async throws -> [JSON] {
        let result = try await render(values, release: release)
        guard result.status == 0 else { throw DeadlineExceeded(description: "helm-render: \(result)") }
        return try YAML.parseAll(result.stdout)
    }

    static func arguments(_ documents: [JSON]) -> [String] {
        documents.first { $0["kind"] == "Deployment" }?[path: ["spec", "template", "spec", "containers"]]?[0]?["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// The manager Deployment's pod spec.
    static func pod(_ documents: [JSON]) throws -> JSON {
        try #require(documents.first { $0["kind"] == "Deployment" }?[path: ["spec", "template", "spec"]])
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
        for (kind, name) in [("CustomResourceDefinition", "nimdeployments.nim.opendatahub.io"), ("ConfigMap", "nim-model-metadata")] {
            let fromChart = chart.first { $0["kind"]?.stringValue == kind && $0[dotted: "metadata.name"]?.stringValue == name }
            let fromConfig = config.first { $0["kind"]?.stringValue == kind && $0[dotted: "metadata.name"]?.stringValue == name }
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
        #expect(defaults.contains("--leader-elect") && defaults.contains("--metrics-bind-address=127.0.0.1:8080") && !defaults.contains("--migrate-legacy"))
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
        #expect(!documents.contains { $0["kind"] == "ConfigMap" && $0[dotted: "metadata.name"] == "my-catalog" }, "no catalog when catalog.create is false")
        // Helm never templates crds/: the CRD is as config/ has it.
        for document in documents where document["kind"] != "CustomResourceDefinition" {
            #expect(document[path: ["metadata", "labels", "team"]] == "platform", "\(document["kind"] ?? "")")
            #expect(document[path: ["metadata", "annotations", "owner"]] == "ml-infra", "\(document["kind"] ?? "")")
        }
        // The operator takes every flag the chart can give it.
        let help = try await run([Paths.operatorBinary] + arguments + ["--help"], timeout: 60)
        #expect(help.status == 0, "\(help)")
        let connected = Self.arguments(try await Self.documents([
            "keyValidation": ["proxy": "http://proxy.example.com:3128", "noProxy": ".svc", "caBundle": ["configMapName": "trusted-ca"]],
            "nimPods": ["fsGroup": 1000],
        ]))
        let connectedHelp = try await run([Paths.operatorBinary] + connected + ["--help"], timeout: 60)
        #expect(connectedHelp.status == 0, "\(connectedHelp)")
    }

    @Test func theDefaultsRunUnderOpenShiftRestrictedV2() async throws {
        let documents = try await Self.documents()
        #expect(InstallTests.restrictedV2Violations(documents) == [])
        let pod = try Self.pod(documents)
        #expect(pod["securityContext"] == ["runAsNonRoot": true, "seccompProfile": ["type": "RuntimeDefault"]])
        #expect(pod[path: ["containers"]]?[0]?["securityContext"] == [
            "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true, "capabilities": ["drop": ["ALL"]],
        ])
    }

    @Test func theNameOverridesNameEverything() async throws {
        let full = try await Self.documents(["fullnameOverride": "nim-op"])
        let objects = full.filter { $0["kind"] != "CustomResourceDefinition" && $0["kind"] != "ConfigMap" }
        #expect(objects.count > 5)
        for object in objects {
            let name = object[dotted: "metadata.name"]?.stringValue ?? ""
            #expect(name == "nim-op" || name.hasPrefix("nim-op-"), "\(object["kind"] ?? ""): \(name)")
        }
        #expect(full.first { $0["kind"] == "Service" }?[dotted: "metadata.name"] == "nim-op-metrics")
        #expect(try Self.pod(full)["serviceAccountName"] == "nim-op")
        let binding = full.first { $0["kind"] == "ClusterRoleBinding" && $0[dotted: "roleRef.name"] == "nim-op" }
        #expect(binding?["subjects"]?[0]?["name"] == "nim-op")
        #expect(full.first { $0["kind"] == "ConfigMap" }?[dotted: "metadata.name"] == "nim-model-metadata", "the catalog keeps catalog.name")

        let named = try await Self.documents(["nameOverride": "nimdeploy"])
        let deployment = try #require(named.first { $0["kind"] == "Deployment" })
        #expect(deployment[dotted: "metadata.name"] == "nim-deploy-operator-nimdeploy")
        #expect(deployment[path: ["metadata", "labels", "app.kubernetes.io/name"]] == "nimdeploy")
        #expect(deployment[path: ["spec", "selector", "matchLabels", "app.kubernetes.io/name"]] == "nimdeploy")
        #expect(deployment[path: ["spec", "template", "metadata", "labels", "app.kubernetes.io/name"]] == "nimdeploy")
        let service = try #require(named.first { $0["kind"] == "Service" })
        #expect(service[dotted: "metadata.name"] == "nim-deploy-operator-nimdeploy-metrics")
        #expect(service[path: ["spec", "selector", "app.kubernetes.io/name"]] == "nimdeploy", "the Service still selects the manager")

        // Cut to 63, and the metrics Service stays a DNS label.
        let long = String(repeating: "n", count: 60)
        let cut = try await Self.documents(["nameOverride": .string(long)], release: "release")
        #expect(cut.first { $0["kind"] == "Deployment" }?[dotted: "metadata.name"]?.stringValue == "release-" + String(long.prefix(55)))
        #expect(cut.first { $0["kind"] == "Service" }?[dotted: "metadata.name"]?.stringValue == "release-" + String(long.prefix(47)) + "-metrics")
        let rendered = try await Self.render(["fullnameOverride": "nim-op"])
        #expect(rendered.stderr.contains("logs deploy/nim-op\n") && rendered.stderr.contains("metrics: service nim-op-metrics,"), "NOTES.txt: \(rendered.stderr)")
    }

    @Test func theManagerPodTakesEachOverride() async throws {
        let documents = try await Self.documents([
            "extraArgs": ["--ngc-timeout=30s", "--log-level=warn"],
            "extraEnv": [["name": "TZ", "value": "UTC"], ["name": "POD_NAME", "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"]]]],
            "imagePullSecrets": [["name": "registry-pull"]],
            "podSecurityContext": ["runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532],
            "securityContext": ["runAsUser": 65532],
            "nodeSelector": ["kubernetes.io/os": "linux"],
            "tolerations": [["key": "dedicated", "operator": "Equal", "value": "operators", "effect": "NoSchedule"]],
            "affinity": ["nodeAffinity": ["requiredDuringSchedulingIgnoredDuringExecution": ["nodeSelectorTerms": [["matchExpressions": [["key": "node-role.kubernetes.io/infra", "operator": "Exists"]]]]]]],
            "priorityClassName": "system-cluster-critical",
            "podLabels": ["team": "ml"], "podAnnotations": ["note": "x"],
        ])
        let arguments = Self.arguments(documents)
        #expect(Array(arguments.suffix(2)) == ["--ngc-timeout=30s", "--log-level=warn"], "appended last: \(arguments)")
        let deployment = try #require(documents.first { $0["kind"] == "Deployment" })
        let pod = try Self.pod(documents)
        let container = try #require(pod["containers"]?[0])
        #expect(container["env"] == [["name": "TZ", "value": "UTC"], ["name": "POD_NAME", "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"]]]])
        #expect(pod["imagePullSecrets"] == [["name": "registry-pull"]])
        // Helm merges a map into the default: the IDs come on top of the restricted settings.
        #expect(pod["securityContext"] == ["runAsNonRoot": true, "seccompProfile": ["type": "RuntimeDefault"], "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532])
        #expect(container["securityContext"] == [
            "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true, "capabilities": ["drop": ["ALL"]], "runAsUser": 65532,
        ])
        #expect(InstallTests.restrictedV2Violations(documents) == [
            "pod securityContext.runAsUser", "pod securityContext.runAsGroup", "pod securityContext.fsGroup", "container manager: securityContext.runAsUser",
            "container metrics-proxy: securityContext.runAsUser",
        ], "fixed IDs are for plain Kubernetes, not restricted-v2")
        #expect(pod["nodeSelector"] == ["kubernetes.io/os": "linux"])
        #expect(pod["tolerations"] == [["key": "dedicated", "operator": "Equal", "value": "operators", "effect": "NoSchedule"]])
        #expect(pod[path: ["affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]]?[0]?["matchExpressions"]?[0]?["key"] == "node-role.kubernetes.io/infra")
        #expect(pod["priorityClassName"] == "system-cluster-critical")
        #expect(deployment[path: ["spec", "template", "metadata", "labels", "team"]] == "ml")
        #expect(deployment[path: ["spec", "template", "metadata", "annotations", "note"]] == "x")

        let defaults = try Self.pod(try await Self.documents())
        for field in ["imagePullSecrets", "nodeSelector", "tolerations", "affinity", "priorityClassName"] { #expect(defaults[field] == nil, "\(field)") }
        #expect(defaults["containers"]?[0]?["env"] == nil)
        // null drops one of the defaults' keys.
        let dropped = try Self.pod(try await Self.documents(["securityContext": ["readOnlyRootFilesystem": nil]]))
        #expect(dropped["containers"]?[0]?["securityContext"] == ["allowPrivilegeEscalation": false, "runAsNonRoot": true, "capabilities": ["drop": ["ALL"]]])
    }

    @Test func theNGCProxyAndCABundleReachTheManager() async throws {
        let documents = try await Self.documents([
            "keyValidation": ["proxy": "http://proxy.corp.example:3128", "noProxy": ".svc,.cluster.local,10.0.0.0/8", "caBundle": ["configMapName": "trusted-ca", "key": "corp-ca.pem"]],
        ])
        let arguments = Self.arguments(documents)
        for expected in ["--ngc-proxy=http://proxy.corp.example:3128", "--ngc-no-proxy=.svc,.cluster.local,10.0.0.0/8", "--ngc-ca-bundle=/etc/nim-deploy-operator/ngc-ca/ca-bundle.crt"] {
            #expect(arguments.contains(expected), "\(expected) in \(arguments)")
        }
        let pod = try Self.pod(documents)
        let volume = pod["volumes"]?.arrayValue?.first { $0["name"] == "ngc-ca-bundle" }
        #expect(volume == ["name": "ngc-ca-bundle", "configMap": ["name": "trusted-ca", "items": [["key": "corp-ca.pem", "path": "ca-bundle.crt"]]]])
        let mount = pod["containers"]?[0]?["volumeMounts"]?.arrayValue?.first { $0["name"] == "ngc-ca-bundle" }
        #expect(mount == ["name": "ngc-ca-bundle", "mountPath": "/etc/nim-deploy-operator/ngc-ca", "readOnly": true])
        #expect(InstallTests.restrictedV2Violations(documents) == [], "a ConfigMap volume is allowed")

        // The key defaults to ca-bundle.crt, the one OpenShift's trusted-CA injection fills.
        let injected = try Self.pod(try await Self.documents(["keyValidation": ["caBundle": ["configMapName": "trusted-ca"]]]))
        #expect(injected["volumes"]?.arrayValue?.first { $0["name"] == "ngc-ca-bundle" }?[path: ["configMap", "items"]] == [["key": "ca-bundle.crt", "path": "ca-bundle.crt"]])

        let defaults = try await Self.documents()
        #expect(!Self.arguments(defaults).contains { $0.hasPrefix("--ngc-proxy") || $0.hasPrefix("--ngc-no-proxy") || $0.hasPrefix("--ngc-ca-bundle") }, "\(Self.arguments(defaults))")
        #expect(try Self.pod(defaults)["volumes"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["metrics-proxy-config", "metrics-tls", "metrics-proxy-tmp", "kube-api-access"])
        #expect(try Self.pod(defaults)["containers"]?[0]?["volumeMounts"]?.arrayValue?.count == 1)
    }

    @Test(arguments: [
        ([:] as JSON, "--nim-fs-group=auto"),
        (["nimPods": ["fsGroup": "auto"]] as JSON, "--nim-fs-group=auto"),
        (["nimPods": ["fsGroup": "none"]] as JSON, "--nim-fs-group=none"),
        (["nimPods": ["fsGroup": 1000]] as JSON, "--nim-fs-group=1000"),
        (["nimPods": ["fsGroup": 0]] as JSON, "--nim-fs-group=0"),
        (["nimPods": ["fsGroup": 2147483647]] as JSON, "--nim-fs-group=2147483647"),
    ])
    func theNIMPodsFSGroupBecomesItsFlag(_ values: JSON, _ expected: String) async throws {
        let arguments = Self.arguments(try await Self.documents(values))
        #expect(arguments.filter { $0.hasPrefix("--nim-fs-group") } == [expected], "\(arguments)")
    }

    @Test func registryMirrorsBecomeTheirFlags() async throws {
        #expect(Self.arguments(try await Self.documents()).filter { $0.contains("mirror") }.isEmpty, "none by default")
        let arguments = Self.arguments(try await Self.documents([
            "imageRegistryMirrors": [["source": "nvcr.io", "mirror": "registry.corp:5000/nvidia"], ["source": "docker.io", "mirror": "registry.corp:5000/hub"]],
            "mirrorPullSecret": "none",
        ]))
        #expect(arguments.filter { $0.contains("mirror") } == [
            "--image-registry-mirror=nvcr.io=registry.corp:5000/nvidia,docker.io=registry.corp:5000/hub", "--mirror-pull-secret=none",
        ], "\(arguments)")
    }

    @Test(arguments: ["EU", ""])
    func theSchemaAcceptsEachRegion(_ region: String) async throws {
        let result = try await Self.render(["region": .string(region)])
        #expect(result.status == 0, "\(result)")
        let arguments = Self.arguments(try YAML.parseAll(result.stdout))
        #expect(arguments.filter { $0.hasPrefix("--region") } == (region.isEmpty ? [] : ["--region=\(region)"]), "\(arguments)")
    }

    @Test(arguments: [
        (["replicas": -1] as JSON, "/replicas"),
        (["logLevel": "loud"] as JSON, "/logLevel"),
        (["keyRotation": ["settle": "soon"]] as JSON, "/keyRotation/settle"),
        (["watchNamespaces": ["Team A"]] as JSON, "/watchNamespaces/0"),
        (["imagePullPolicy": "Always"] as JSON, "imagePullPolicy"),
        (["region": "us"] as JSON, "at '/region'"),
        (["runAsUser": 65532] as JSON, "additional properties 'runAsUser' not allowed"),
        (["extraArgs": ["--ngc-timeout=30s", 30]] as JSON, "at '/extraArgs/1'"),
        (["extraEnv": [["value": "UTC"]]] as JSON, "at '/extraEnv/0'"),
        (["nimPods": ["fsGroup": "sometimes"]] as JSON, "at '/nimPods/fsGroup'"),
        (["nimPods": ["fsGroup": -1]] as JSON, "at '/nimPods/fsGroup'"),
        (["nimPods": ["fsGroup": 2147483648]] as JSON, "at '/nimPods/fsGroup'"),
        (["nimPods": ["fsGroups": 1000]] as JSON, "additional properties 'fsGroups' not allowed"),
        (["keyValidation": ["proxy": "ftp://x"]] as JSON, "at '/keyValidation/proxy'"),
        (["keyValidation": ["caBundle": ["key": "certs/ca.pem"]]] as JSON, "at '/keyValidation/caBundle/key'"),
        (["fullnameOverride": .string(String(repeating: "n", count: 64))] as JSON, "at '/fullnameOverride'"),
        (["nameOverride": 7] as JSON, "at '/nameOverride'"),
        (["imageRegistryMirrors": [["source": "nvcr.io"]]] as JSON, "at '/imageRegistryMirrors/0'"),
        (["imageRegistryMirrors": [["source": "nvcr.io", "mirror": "https://registry.corp"]]] as JSON, "at '/imageRegistryMirrors/0/mirror'"),
        (["mirrorPullSecret": "No_Secret"] as JSON, "at '/mirrorPullSecret'"),
    ])
    func theSchemaRefusesBadValues(_ values: JSON, _ path: String) async throws {
        let result = try await Self.render(values)
        #expect(result.status == 1 && result.stderr.contains(path), "\(result)")
    }
}

/// The operator's own NetworkPolicy, as kustomize and the chart install it: it selects the
/// manager's pod, lets in its probe and metrics ports, and lets out DNS, HTTPS and the models'
/// API port; the API server stores it.
@Suite struct OperatorNetworkPolicyTests {
    static func allows(_ policy: JSON, _ pod: JSON) -> (selects: Bool, ingressPorts: Set<Int>, egressPorts: Set<Int>) {
        let selector = KubeObject.stringMap(policy[path: ["spec", "podSelector", "matchLabels"]])
        let labels = KubeObject.stringMap(pod[path: ["metadata", "labels"]])
        let ports = { (rules: JSON?) in Set((rules?.arrayValue ?? []).flatMap { $0["ports"]?.arrayValue ?? [] }.compactMap { $0["port"]?.intValue }) }
        return (selector.allSatisfy { labels[$0.key] == $0.value }, ports(policy[path: ["spec", "ingress"]]), ports(policy[path: ["spec", "egress"]]))
    }

    @Test func kustomizeAndTheChartLetInTheProbesAndMetricsAndOutTheAPIServerNGCAndTheModels() async throws {
        let kustomized = try await RBACTests.kustomize("config/networkpolicy")
        let manager = try await RBACTests.kustomize("config/manager")
        let chart = try await ChartTests.documents(["networkPolicy": ["enabled": true]])
        let cases: [(policy: JSON?, deployment: JSON?)] = [
            (kustomized.first { $0["kind"] == "NetworkPolicy" }, manager.first { $0["kind"] == "Deployment" }),
            (chart.first { $0["kind"] == "NetworkPolicy" }, chart.first { $0["kind"] == "Deployment" }),
        ]
        let cluster = try TestCluster()
        try cluster.controlPlane.apply([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "nim-deploy-operator-system"]]])
        let resource = ResourceType(group: "networking.k8s.io", version: "v1", plural: "networkpolicies", kind: "NetworkPolicy", namespaced: true)
        for (policy, deployment) in cases {
            let policy = try #require(policy)
            let template = try #require(deployment?[path: ["spec", "template"]])
            let declared = Set((template[path: ["spec", "containers"]]?.arrayValue ?? []).flatMap { $0["ports"]?.arrayValue ?? [] }.compactMap { $0["containerPort"]?.intValue })
            let seen = Self.allows(policy, template)
            #expect(seen.selects, "the manager's pod")
            #expect(seen.ingressPorts == declared, "its probe and metrics ports: \(seen.ingressPorts) vs \(declared)")
            #expect(seen.egressPorts == [53, 80, 443, 6443, 8000])
            let stored = try await cluster.client.apply(KubeObject(policy), resource, fieldManager: "kubectl")
            #expect(stored[path: ["spec", "policyTypes"]] == ["Ingress", "Egress"])
        }
        #expect(try await ChartTests.documents().contains { $0["kind"] == "NetworkPolicy" } == false, "off unless asked")
    }
}

/// The chart's podMonitors values as the operator's flags.
@Suite struct PodMonitorValuesTests {
    @Test func theChartTurnsPodMonitorsOffOrLabelsThem() async throws {
        let labelled = ChartTests.arguments(try await ChartTests.documents(["podMonitors": ["labels": ["release": "kps", "team": "ml"]]]))
        #expect(labelled.contains("--pod-monitor-labels=release=kps,team=ml"))
        let off = ChartTests.arguments(try await ChartTests.documents(["podMonitors": ["enabled": false]]))
        #expect(off.contains("--no-pod-monitors") && !off.contains { $0.hasPrefix("--pod-monitor-labels") })
        let plain = ChartTests.arguments(try await ChartTests.documents())
        #expect(!plain.contains { $0.contains("pod-monitor") }, "on, unlabelled, by default")
    }
}
