import KubeCore

/// How Prometheus finds a deployment's NIM metrics: a PodMonitor (Prometheus Operator) beside
/// the InferenceService, in its namespace (where OpenShift's user-workload monitoring looks),
/// selecting the predictor pods of the deployment, stable and candidate alike.
public enum NIMMetrics {
    public static let podMonitors = ResourceType(group: "monitoring.coreos.com", version: "v1", plural: "podmonitors", kind: "PodMonitor", namespaced: true)
    public static let networkPolicies = ResourceType(group: "networking.k8s.io", version: "v1", plural: "networkpolicies", kind: "NetworkPolicy", namespaced: true)

    /// spec.networkPolicy: the predictor pods (stable and canary) take their API port only from
    /// the deployment's namespace, the serving gateway's and the monitoring namespaces named, and
    /// the operator's (which verifies each revision).
    static func networkPolicy(names: ChildNames, access: NetworkAccess, port: Int, operatorNamespace: String, metadata: KubeObject) -> KubeObject {
        var policy = metadata
        let namespaces = Array(Set(access.ingressNamespaces + access.monitoringNamespaces + [operatorNamespace])).sorted()
        policy["spec"] = [
            "podSelector": ["matchLabels": .object([ChildLabels.deployment: .string(names.deploymentLabel), "component": "predictor"])],
            "policyTypes": ["Ingress"],
            "ingress": [
                ["from": [["podSelector": [:]]], "ports": [["protocol": "TCP", "port": .int(port)]]],
                [
                    "from": [
                        ["namespaceSelector": ["matchExpressions": [["key": "kubernetes.io/metadata.name", "operator": "In", "values": .array(namespaces.map(JSON.string))]]]],
                        // OpenShift's routers run on the host network: they are matched by this label only.
                        ["namespaceSelector": ["matchLabels": ["policy-group.network.openshift.io/ingress": ""]]],
                    ],
                    "ports": [["protocol": "TCP", "port": .int(port)]],
                ],
            ],
        ]
        return policy
    }
    /// NIM serves its metrics on the API port, under `/v1/metrics`.
    public static let path = "/v1/metrics"

    /// Every series gets `nimdeployment` (the deployment's full name, from the pods' annotation:
    /// the label may be shortened), `inferenceservice` (stable or `-canary`) and `nim_revision`,
    /// beside the `namespace`, `pod` and `container` Prometheus adds: what the dashboards and
    /// alerts join on.
    static func podMonitor(names: ChildNames, metadata: KubeObject) -> KubeObject {
        var monitor = metadata
        func relabel(_ source: String, _ target: String) -> JSON {
            ["sourceLabels": [.string(source)], "targetLabel": .string(target), "action": "replace"]
        }
        var endpoint: JSON = [
            "path": .string(path), "interval": "30s", "scheme": "http",
            "relabelings": [
                relabel("__meta_kubernetes_pod_annotation_nim_opendatahub_io_deployment_name", "nimdeployment"),
                relabel("__meta_kubernetes_pod_label_serving_kserve_io_inferenceservice", "inferenceservice"),
                relabel("__meta_kubernetes_pod_annotation_nim_opendatahub_io_revision", "nim_revision"),
            ],
        ]
        // The HTTP API port (8000), which the runtime declares.
        endpoint["portNumber"] = .int(PodTemplate.httpPort)
        monitor["spec"] = [
            "selector": ["matchLabels": .object([ChildLabels.deployment: .string(names.deploymentLabel), "component": "predictor"])],
            "podMetricsEndpoints": [endpoint],
        ]
        return monitor
    }
}
