import KubeCore

/// `rbac.authorization.k8s.io/v1` and core Services: what an operator's install (kustomize, a
/// Helm chart) creates beside its Deployment, so that applying one is checked end to end.
extension BuiltinResources {
    static let roleRules: [String: ListType] = ["rules": .atomic]

    static let clusterRoles = ResourceDefinition(
        group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "clusterroles", singular: "clusterrole", kind: "ClusterRole",
        listKind: "ClusterRoleList", namespaced: false,
        validator: { new, _ in RBACValidation.role(new) }, listTypes: roleRules)

    static let roles = ResourceDefinition(
        group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "roles", singular: "role", kind: "Role",
        listKind: "RoleList", namespaced: true,
        validator: { new, _ in RBACValidation.role(new) }, listTypes: roleRules)

    static let clusterRoleBindings = ResourceDefinition(
        group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "clusterrolebindings", singular: "clusterrolebinding",
        kind: "ClusterRoleBinding", listKind: "ClusterRoleBindingList", namespaced: false,
        validator: { new, old in RBACValidation.binding(new, old: old, clusterScoped: true) }, listTypes: ["subjects": .atomic])

    static let roleBindings = ResourceDefinition(
        group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "rolebindings", singular: "rolebinding", kind: "RoleBinding",
        listKind: "RoleBindingList", namespaced: true,
        validator: { new, old in RBACValidation.binding(new, old: old, clusterScoped: false) }, listTypes: ["subjects": .atomic])

    static let services = ResourceDefinition(
        group: "", versions: ["v1"], plural: "services", singular: "service", kind: "Service", listKind: "ServiceList",
        namespaced: true, shortNames: ["svc"], categories: ["all"], hasStatusSubresource: true,
        defaulter: { object, _ in
            if object[dotted: "spec.type"] == nil { object[dotted: "spec.type"] = "ClusterIP" }
            var ports = object[dotted: "spec.ports"]?.arrayValue ?? []
            for index in ports.indices {
                if ports[index]["protocol"] == nil { ports[index]["protocol"] = "TCP" }
                if ports[index]["targetPort"] == nil { ports[index]["targetPort"] = ports[index]["port"] ?? .null }
            }
            if !ports.isEmpty { object[dotted: "spec.ports"] = .array(ports) }
        },
        validator: { new, _ in RBACValidation.service(new) },
        listTypes: ["spec.ports": .map(keys: ["port", "protocol"])])
}

enum RBACValidation {
    typealias Cause = APIStatus.Cause

    static let verbs: Set<String> = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*",
                                     "use", "bind", "escalate", "impersonate", "approve", "sign"]

    static func role(_ role: JSON) -> [Cause] {
        var causes: [Cause] = []
        for (index, rule) in (role["rules"]?.arrayValue ?? []).enumerated() {
            let verbs = rule["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? []
            if verbs.isEmpty { causes.append(Cause(reason: "FieldValueRequired", message: "Required value: verbs must contain at least one value", field: "rules[\(index)].verbs")) }
            let hasURLs = !(rule["nonResourceURLs"]?.arrayValue ?? []).isEmpty
            if !hasURLs && rule["apiGroups"]?.arrayValue == nil {
                causes.append(Cause(reason: "FieldValueRequired", message: "Required value: resource rules must supply at least one api group", field: "rules[\(index)].apiGroups"))
            }
            if !hasURLs && (rule["resources"]?.arrayValue ?? []).isEmpty {
                causes.append(Cause(reason: "FieldValueRequired", message: "Required value: resource rules must supply at least one resource", field: "rules[\(index)].resources"))
            }
        }
        return causes
    }

    static func binding(_ binding: JSON, old: JSON?, clusterScoped: Bool) -> [Cause] {
        var causes: [Cause] = []
        let kind = binding[dotted: "roleRef.kind"]?.stringValue ?? ""
        if binding[dotted: "roleRef.name"]?.stringValue?.isEmpty ?? true {
            causes.append(Cause(reason: "FieldValueRequired", message: "Required value", field: "roleRef.name"))
        }
        if kind != "ClusterRole" && (clusterScoped || kind != "Role") {
            causes.append(Cause(reason: "FieldValueNotSupported", message: "Unsupported value: \"\(kind)\"", field: "roleRef.kind"))
        }
        if let old, old["roleRef"] != binding["roleRef"] {
            causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: cannot change roleRef", field: "roleRef"))
        }
        for (index, subject) in (binding["subjects"]?.arrayValue ?? []).enumerated()
        where subject["kind"] == "ServiceAccount" && (subject["namespace"]?.stringValue ?? "").isEmpty && clusterScoped {
            causes.append(Cause(reason: "FieldValueRequired", message: "Required value", field: "subjects[\(index)].namespace"))
        }
        return causes
    }

    static func service(_ service: JSON) -> [Cause] {
        var causes: [Cause] = []
        for (index, port) in (service[dotted: "spec.ports"]?.arrayValue ?? []).enumerated() {
            guard let number = port["port"]?.intValue, (1...65535).contains(number) else {
                causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: must be between 1 and 65535, inclusive", field: "spec.ports[\(index)].port"))
                continue
            }
        }
        return causes
    }
}
