import Synchronization
import KubeCore

/// What a request is checked against before it reaches the objects: the resources served and
/// the RBAC objects. The store publishes a new one inside the commit that changes either, so a
/// request's path lookup and authorization never wait behind another request's write (as
/// kube-apiserver's RESTMapper and RBAC informer caches never wait on etcd), and a request that
/// arrives after an RBAC change is judged by it.
struct AdmissionView: Sendable {
    static let rbacGroup = "rbac.authorization.k8s.io"

    var definitions: [GroupResource: ResourceDefinition] = [:]
    /// Built-in resources in their discovery order, then the custom ones by group and plural.
    var ordered: [ResourceDefinition] = []
    /// In name order, so that which rule is credited with a grant is stable.
    var clusterRoleBindings: [JSON] = []
    /// By namespace, each in name order.
    var roleBindings: [String: [JSON]] = [:]
    var clusterRoles: [String: JSON] = [:]
    var roles: [ObjectKey: JSON] = [:]

    init() {}

    init(_ state: StoreState) {
        definitions = state.definitions
        let sorted = state.definitions.values.sorted { ($0.group, $0.plural) < ($1.group, $1.plural) }
        ordered = BuiltinResources.all.compactMap { builtin in sorted.first { $0.groupResource == builtin.groupResource } } + sorted.filter(\.isCustom)
        func objects(_ plural: String) -> [(key: ObjectKey, value: JSON)] {
            (state.tables[GroupResource(group: Self.rbacGroup, plural: plural)]?.objects ?? [:]).sorted { $0.key < $1.key }
        }
        clusterRoleBindings = objects("clusterrolebindings").map(\.value)
        for (key, binding) in objects("rolebindings") { roleBindings[key.namespace, default: []].append(binding) }
        for (key, role) in objects("clusterroles") { clusterRoles[key.name] = role }
        for (key, role) in objects("roles") { roles[key] = role }
    }

    func definition(group: String, plural: String) -> ResourceDefinition? {
        definitions[GroupResource(group: group, plural: plural)]
    }

    /// The resource serving a kind, as an object's apiVersion group and kind name it.
    func definition(group: String, kind: String?) -> ResourceDefinition? {
        definitions.values.first { $0.group == group && $0.kind == kind }
    }

    /// The rules of the role a binding refers to, labelled as a grant names them; a Role is
    /// looked up in the binding's namespace.
    func role(kind: String, name: String, namespace: String?) -> (String, [JSON])? {
        if kind == "ClusterRole" { return clusterRoles[name].map { ("ClusterRole/\(name)", $0["rules"]?.arrayValue ?? []) } }
        guard let namespace else { return nil }
        return roles[ObjectKey(namespace: namespace, name: name)].map { ("Role/\(namespace)/\(name)", $0["rules"]?.arrayValue ?? []) }
    }

    /// Whether a change to this resource changes what the view holds.
    static func isRBAC(_ resource: GroupResource) -> Bool { resource.group == rbacGroup }
}
