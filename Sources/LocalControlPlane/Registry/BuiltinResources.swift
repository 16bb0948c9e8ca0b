import Foundation
import KubeCore

/// The built-in kinds an operator touches, with the parts of their real strategies that
/// controllers observe: defaults, validation, status subresources, generation, table columns.
enum BuiltinResources {
    static var all: [ResourceDefinition] {
        [namespaces, secrets, configMaps, persistentVolumeClaims, serviceAccounts, services, pods, events, leases, deployments,
         eventsV1, customResourceDefinitions, clusterRoles, clusterRoleBindings, roles, roleBindings,
         statefulSets, daemonSets, replicaSets, jobs, cronJobs, networkPolicies, resourceQuotas]
    }

    static let namespaces = ResourceDefinition(
        group: "", versions: ["v1"], plural: "namespaces", singular: "namespace", kind: "Namespace",
        listKind: "NamespaceList", namespaced: false, shortNames: ["ns"], hasStatusSubresource: true,
        verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
        columns: [.name, column("Status", "The phase of the namespace") { .string($0[dotted: "status.phase"]?.stringValue ?? "") }, .age],
        fieldLabels: ["status.phase": { $0[dotted: "status.phase"]?.stringValue }],
        defaulter: { object, _ in
            let name = object[dotted: "metadata.name"]?.stringValue ?? ""
            // The API server stamps this label on every namespace so selectors can name one.
            object[path: ["metadata", "labels", "kubernetes.io/metadata.name"]] = .string(name)
        },
        prepare: { object, old in
            if old == nil {
                object[dotted: "spec.finalizers"] = ["kubernetes"]
                object[dotted: "status.phase"] = "Active"
            }
        })

    static let secrets = ResourceDefinition(
        group: "", versions: ["v1"], plural: "secrets", singular: "secret", kind: "Secret", listKind: "SecretList",
        namespaced: true,
        columns: [
            .name,
            column("Type", "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types") {
                .string($0["type"]?.stringValue ?? "")
            },
            column("Data", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4") {
                .int($0["data"]?.objectValue?.count ?? 0)
            },
            .age,
        ],
        fieldLabels: ["type": { $0["type"]?.stringValue }],
        defaulter: { object, _ in
            if (object["type"]?.stringValue ?? "").isEmpty { object["type"] = "Opaque" }
            // stringData is write-only: folded into data, never stored (the real strategy does the same).
            if let stringData = object["stringData"]?.objectValue {
                var data = object["data"]?.objectValue ?? [:]
                for (key, value) in stringData {
                    data[key] = .string(Data((value.stringValue ?? "").utf8).base64EncodedString())
                }
                object["data"] = .object(data)
                object["stringData"] = nil
            }
        },
        validator: { new, old in BuiltinValidation.secret(new, old: old) })

    static let configMaps = ResourceDefinition(
        group: "", versions: ["v1"], plural: "configmaps", singular: "configmap", kind: "ConfigMap",
        listKind: "ConfigMapList", namespaced: true, shortNames: ["cm"],
        columns: [
            .name,
            column("Data", "Data contains the configuration data.") {
                .int(($0["data"]?.objectValue?.count ?? 0) + ($0["binaryData"]?.objectValue?.count ?? 0))
            },
            .age,
        ],
        validator: { new, _ in BuiltinValidation.configMap(new) })

    static let persistentVolumeClaims = ResourceDefinition(
        group: "", versions: ["v1"], plural: "persistentvolumeclaims", singular: "persistentvolumeclaim",
        kind: "PersistentVolumeClaim", listKind: "PersistentVolumeClaimList", namespaced: true, shortNames: ["pvc"],
        hasStatusSubresource: true,
        columns: [
            .name,
            column("Status", "") { .string($0[dotted: "status.phase"]?.stringValue ?? "") },
            column("Volume", "") { .string($0[dotted: "spec.volumeName"]?.stringValue ?? "") },
            column("Capacity", "") { .string($0[path: ["status", "capacity", "storage"]]?.stringValue ?? "") },
            column("Access Modes", "") {
                .string(($0[dotted: "status.accessModes"]?.arrayValue ?? []).compactMap(\.stringValue).map(BuiltinResources.accessModeShort).joined(separator: ","))
            },
            column("StorageClass", "") { .string($0[dotted: "spec.storageClassName"]?.stringValue ?? "") },
            column("VolumeAttributesClass", "") { .string($0[dotted: "spec.volumeAttributesClassName"]?.stringValue ?? "<unset>") },
            .age,
        ],
        defaulter: { object, _ in
            if object[dotted: "spec.volumeMode"] == nil { object[dotted: "spec.volumeMode"] = "Filesystem" }
        },
        prepare: { object, old in
            if old == nil {
                object[dotted: "status.phase"] = "Pending"
                // The StorageObjectInUseProtection admission plugin: a PVC is only removed once no
                // pod uses it. The garbage collector here plays the pvc-protection controller.
                var finalizers = object[dotted: "metadata.finalizers"]?.arrayValue ?? []
                if !finalizers.contains("kubernetes.io/pvc-protection") { finalizers.append("kubernetes.io/pvc-protection") }
                object[dotted: "metadata.finalizers"] = .array(finalizers)
            }
        },
        validator: { new, old in BuiltinValidation.persistentVolumeClaim(new, old: old) },
        listTypes: ["spec.accessModes": .atomic])

    static let serviceAccounts = ResourceDefinition(
        group: "", versions: ["v1"], plural: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount",
        listKind: "ServiceAccountList", namespaced: true, shortNames: ["sa"],
        listTypes: ["secrets": .map(keys: ["name"]), "imagePullSecrets": .atomic])

    static let pods = ResourceDefinition(
        group: "", versions: ["v1"], plural: "pods", singular: "pod", kind: "Pod", listKind: "PodList", namespaced: true,
        shortNames: ["po"], categories: ["all"], hasStatusSubresource: true, deleteReturnsObject: true,
        columns: [
            .name,
            column("Ready", "The aggregate readiness state of this pod for accepting traffic.") { pod in
                let statuses = pod[dotted: "status.containerStatuses"]?.arrayValue ?? []
                let ready = statuses.filter { $0["ready"]?.boolValue == true }.count
                let total = pod[dotted: "spec.containers"]?.arrayValue?.count ?? 0
                return .string("\(ready)/\(total)")
            },
            column("Status", "The aggregate status of the containers in this pod.") { .string($0[dotted: "status.phase"]?.stringValue ?? "") },
            column("Restarts", "The number of times the containers in this pod have been restarted.") { pod in
                .int((pod[dotted: "status.containerStatuses"]?.arrayValue ?? []).reduce(0) { $0 + ($1["restartCount"]?.intValue ?? 0) })
            },
            .age,
        ],
        fieldLabels: [
            "spec.nodeName": { $0[dotted: "spec.nodeName"]?.stringValue },
            "spec.restartPolicy": { $0[dotted: "spec.restartPolicy"]?.stringValue },
            "spec.schedulerName": { $0[dotted: "spec.schedulerName"]?.stringValue },
            "spec.serviceAccountName": { $0[dotted: "spec.serviceAccountName"]?.stringValue },
            "status.phase": { $0[dotted: "status.phase"]?.stringValue },
            "status.podIP": { $0[dotted: "status.podIP"]?.stringValue },
        ],
        prepare: { object, old in
            if old == nil, object[dotted: "status.phase"] == nil { object[dotted: "status.phase"] = "Pending" }
        },
        validator: { new, _ in
            (new[dotted: "spec.containers"]?.arrayValue ?? []).isEmpty
                ? [APIStatus.Cause(reason: "FieldValueRequired", message: "Required value", field: "spec.containers")] : []
        },
        listTypes: podSpecListTypes(prefix: "spec"))

    static let events = ResourceDefinition(
        group: "", versions: ["v1"], plural: "events", singular: "event", kind: "Event", listKind: "EventList",
        namespaced: true, shortNames: ["ev"],
        columns: [
            column("Last Seen", "") { event in
                let last = event["lastTimestamp"]?.stringValue ?? event["eventTime"]?.stringValue
                guard let last, let date = KubeTime.parse(last) else { return "<unknown>" }
                return .string(KubeTime.humanDuration(Date().timeIntervalSince(date)))
            },
            column("Type", "") { .string($0["type"]?.stringValue ?? "") },
            column("Reason", "") { .string($0["reason"]?.stringValue ?? "") },
            column("Object", "") { event in
                .string("\((event[dotted: "involvedObject.kind"]?.stringValue ?? "").lowercased())/\(event[dotted: "involvedObject.name"]?.stringValue ?? "")")
            },
            column("Message", "") { .string($0["message"]?.stringValue ?? "") },
        ],
        fieldLabels: [
            "involvedObject.kind": { $0[dotted: "involvedObject.kind"]?.stringValue },
            "involvedObject.namespace": { $0[dotted: "involvedObject.namespace"]?.stringValue },
            "involvedObject.name": { $0[dotted: "involvedObject.name"]?.stringValue },
            "involvedObject.uid": { $0[dotted: "involvedObject.uid"]?.stringValue },
            "involvedObject.apiVersion": { $0[dotted: "involvedObject.apiVersion"]?.stringValue },
            "involvedObject.resourceVersion": { $0[dotted: "involvedObject.resourceVersion"]?.stringValue },
            "involvedObject.fieldPath": { $0[dotted: "involvedObject.fieldPath"]?.stringValue },
            "reason": { $0["reason"]?.stringValue },
            "reportingComponent": { $0["reportingComponent"]?.stringValue },
            "source": { $0[dotted: "source.component"]?.stringValue },
            "type": { $0["type"]?.stringValue },
        ])

    /// events.k8s.io/v1, stored apart from core/v1 Events (a real server serves both as views of
    /// one store; see the simplifications in the module documentation).
    static let eventsV1 = ResourceDefinition(
        group: "events.k8s.io", versions: ["v1"], plural: "events", singular: "event", kind: "Event",
        listKind: "EventList", namespaced: true, shortNames: ["ev"],
        prepare: { object, _ in
            // What the real server echoes back for an event created through this API.
            if object["deprecatedSource"] == nil { object["deprecatedSource"] = [:] }
            if object["deprecatedFirstTimestamp"] == nil { object["deprecatedFirstTimestamp"] = .null }
            if object["deprecatedLastTimestamp"] == nil { object["deprecatedLastTimestamp"] = .null }
        },
        validator: { new, _ in BuiltinValidation.eventV1(new) })

    static let leases = ResourceDefinition(
        group: "coordination.k8s.io", versions: ["v1"], plural: "leases", singular: "lease", kind: "Lease",
        listKind: "LeaseList", namespaced: true,
        columns: [.name, column("Holder", "") { .string($0[dotted: "spec.holderIdentity"]?.stringValue ?? "") }, .age])

    static let deployments = ResourceDefinition(
        group: "apps", versions: ["v1"], plural: "deployments", singular: "deployment", kind: "Deployment",
        listKind: "DeploymentList", namespaced: true, shortNames: ["deploy"], categories: ["all"],
        hasStatusSubresource: true, hasGeneration: true,
        columns: [
            .name,
            column("Ready", "Number of the pod with ready state") { deployment in
                .string("\(deployment[dotted: "status.readyReplicas"]?.intValue ?? 0)/\(deployment[dotted: "spec.replicas"]?.intValue ?? 1)")
            },
            column("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.") {
                .int($0[dotted: "status.updatedReplicas"]?.intValue ?? 0)
            },
            column("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.") {
                .int($0[dotted: "status.availableReplicas"]?.intValue ?? 0)
            },
            .age,
        ],
        defaulter: { object, _ in
            if object[dotted: "spec.replicas"] == nil { object[dotted: "spec.replicas"] = 1 }
        },
        validator: { new, _ in BuiltinValidation.deployment(new) },
        listTypes: podSpecListTypes(prefix: "spec.template.spec"))

    /// No quota controller runs here: status.hard and status.used are what a test writes.
    static let resourceQuotas = ResourceDefinition(
        group: "", versions: ["v1"], plural: "resourcequotas", singular: "resourcequota", kind: "ResourceQuota",
        listKind: "ResourceQuotaList", namespaced: true, shortNames: ["quota"], hasStatusSubresource: true)

    static let networkPolicies = ResourceDefinition(
        group: "networking.k8s.io", versions: ["v1"], plural: "networkpolicies", singular: "networkpolicy", kind: "NetworkPolicy",
        listKind: "NetworkPolicyList", namespaced: true, shortNames: ["netpol"],
        columns: [.name, column("Pod-Selector", "") { .string(($0[dotted: "spec.podSelector.matchLabels"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: ",")) }, .age],
        defaulter: { object, _ in
            // The real strategy's default: Ingress always, Egress when egress rules are given.
            if (object[dotted: "spec.policyTypes"]?.arrayValue ?? []).isEmpty {
                object[dotted: "spec.policyTypes"] = .array(["Ingress"] + (object[dotted: "spec.egress"] != nil ? ["Egress"] : []))
            }
        })

    static let customResourceDefinitions = ResourceDefinition(
        group: "apiextensions.k8s.io", versions: ["v1"], plural: "customresourcedefinitions",
        singular: "customresourcedefinition", kind: "CustomResourceDefinition",
        listKind: "CustomResourceDefinitionList", namespaced: false, shortNames: ["crd", "crds"],
        categories: ["api-extensions"], hasStatusSubresource: true, hasGeneration: true,
        columns: [.name, column("Created At", "") { .string($0[dotted: "metadata.creationTimestamp"]?.stringValue ?? "") }],
        defaulter: { object, _ in
            if object[dotted: "spec.conversion"] == nil { object[dotted: "spec.conversion"] = ["strategy": "None"] }
        },
        prepare: { object, old in
            guard old == nil else { return }
            // What a CRD looks like until the establishing controller has accepted its names.
            let storage = (object[dotted: "spec.versions"]?.arrayValue ?? []).first { $0["storage"]?.boolValue == true }?["name"]
            object["status"] = ["conditions": nil, "acceptedNames": ["plural": "", "kind": ""], "storedVersions": .array(storage.map { [$0] } ?? [])]
        },
        validator: { new, old in CRDRegistration.validate(new, old: old) },
        listTypes: ["spec.versions": .atomic, "status.conditions": .map(keys: ["type"])])

    static func column(_ name: String, _ description: String, cell: @escaping @Sendable (JSON) -> JSON) -> TableColumn {
        TableColumn(name: name, type: "string", description: description, cell: cell)
    }

    static func accessModeShort(_ mode: String) -> String {
        switch mode {
        case "ReadWriteOnce": return "RWO"
        case "ReadOnlyMany": return "ROX"
        case "ReadWriteMany": return "RWX"
        case "ReadWriteOncePod": return "RWOP"
        default: return mode
        }
    }

    /// The map-keyed lists of a PodSpec, so that apply and strategic merge merge containers,
    /// env and mounts by name the way a real server does.
    static func podSpecListTypes(prefix: String) -> [String: ListType] {
        var types: [String: ListType] = [
            "\(prefix).volumes": .map(keys: ["name"]),
            "\(prefix).imagePullSecrets": .map(keys: ["name"]),
        ]
        for containers in ["containers", "initContainers"] {
            let base = "\(prefix).\(containers)"
            types[base] = .map(keys: ["name"])
            types["\(base).env"] = .map(keys: ["name"])
            types["\(base).ports"] = .map(keys: ["containerPort", "protocol"])
            types["\(base).volumeMounts"] = .map(keys: ["mountPath"])
        }
        return types
    }
}
