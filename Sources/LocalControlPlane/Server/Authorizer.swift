import Foundation
import Synchronization
import KubeCore

/// Who a request is from: the kube-apiserver's user info.
struct Identity: Sendable, Hashable {
    var user: String
    var groups: [String]

    static let admin = Identity(user: "system:admin", groups: ["system:masters", "system:authenticated"])

    static func serviceAccount(namespace: String, name: String) -> Identity {
        Identity(
            user: "system:serviceaccount:\(namespace):\(name)",
            groups: ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"])
    }
}

/// One rule of a Role or ClusterRole, by where it is written: `ClusterRole/name#2`.
public struct RBACRule: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var role: String
    public var index: Int
    public var description: String { "\(role)#\(index)" }
    public static func < (a: RBACRule, b: RBACRule) -> Bool { (a.role, a.index) < (b.role, b.index) }
}

/// A permission a rule gave a request: the verb on `resource` (`plural[/subresource]`) of `group`.
public struct RBACGrant: Hashable, Sendable, CustomStringConvertible {
    public var rule: RBACRule
    public var verb: String
    public var group: String
    public var resource: String
    public var description: String { "\(rule): \(verb) \(resource)\(group.isEmpty ? "" : ".\(group)")" }
}

/// Bearer tokens and the RBAC authorizer, as kube-apiserver runs them with
/// `--authorization-mode=RBAC`: a request without a token, or with the kubeconfig's own, is the
/// admin (system:masters, allowed everything); a service account token is checked against the
/// RoleBindings and ClusterRoleBindings that name the account. Which rule allowed each request
/// is remembered, so a test can show that every rule of a role is needed.
final class Authorizer: Sendable {
    static let adminToken = "local-control-plane"

    private let tokens = Mutex<[String: Identity]>([:])
    private let record = Mutex<(uses: [RBACGrant: Int], denied: [String])>(([:], []))

    func issueToken(namespace: String, serviceAccount name: String) -> String {
        let token = "sa-" + UUID().uuidString.lowercased()
        tokens.withLock { $0[token] = .serviceAccount(namespace: namespace, name: name) }
        return token
    }

    /// The requester, or nil for a token nobody issued (401).
    func authenticate(_ authorization: String?) -> Identity? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return .admin }
        let token = String(authorization.dropFirst("Bearer ".count))
        if token == Self.adminToken { return .admin }
        return tokens.withLock { $0[token] }
    }

    var uses: [RBACGrant: Int] { record.withLock { $0.uses } }
    var denied: [String] { record.withLock { $0.denied } }

    /// Nil when allowed; else the 403 kube-apiserver answers.
    func authorize(_ identity: Identity, _ request: ResourceRequest, view: AdmissionView) -> APIStatus? {
        if identity.groups.contains("system:masters") { return nil }
        let group = request.definition.group
        let resource = request.subresource.map { "\(request.definition.plural)/\($0)" } ?? request.definition.plural
        if recordGrant(identity, verb: request.verb, group: group, resource: resource, namespace: request.namespace, name: request.name, view: view) { return nil }
        let scope = request.namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
        let subject = request.name.map { "\(request.definition.groupResource) \"\($0)\"" } ?? "\(request.definition.groupResource)"
        let message = "\(subject) is forbidden: User \"\(identity.user)\" cannot \(request.verb) resource \"\(resource)\" in API group \"\(group)\" \(scope)"
        record.withLock { $0.denied.append(message) }
        var details: [String: JSON] = ["group": .string(group), "kind": .string(request.definition.plural)]
        if let name = request.name { details["name"] = .string(name) }
        return APIStatus(code: 403, reason: "Forbidden", message: message, details: .object(details))
    }

    /// A request for a cluster-scoped resource that is not stored (TokenReview,
    /// SubjectAccessReview): allowed or not as `authorize` decides, the rule used or the denial recorded.
    func authorizeUnstored(_ identity: Identity, verb: String, group: String, resource: String, view: AdmissionView) -> Bool {
        if identity.groups.contains("system:masters") { return true }
        if recordGrant(identity, verb: verb, group: group, resource: resource, namespace: nil, name: nil, view: view) { return true }
        record.withLock { $0.denied.append("\(resource).\(group) is forbidden: User \"\(identity.user)\" cannot \(verb) resource \"\(resource)\" in API group \"\(group)\" at the cluster scope") }
        return false
    }

    /// Whether a rule bound to the identity allows it; the rule that did is counted as used.
    private func recordGrant(_ identity: Identity, verb: String, group: String, resource: String, namespace: String?, name: String?, view: AdmissionView) -> Bool {
        for (role, rules) in applicableRoles(identity, namespace: namespace, view: view) {
            for (index, rule) in rules.enumerated() where Self.allows(rule, verb: verb, group: group, resource: resource, name: name) {
                record.withLock { $0.uses[RBACGrant(rule: RBACRule(role: role, index: index), verb: verb, group: group, resource: resource), default: 0] += 1 }
                return true
            }
        }
        return false
    }

    /// A SubjectAccessReview on a resource: whether the roles bound to the identity allow it.
    func allowsResource(_ identity: Identity, verb: String, group: String, resource: String, namespace: String?, name: String?, view: AdmissionView) -> Bool {
        if identity.groups.contains("system:masters") { return true }
        return applicableRoles(identity, namespace: namespace, view: view).contains { _, rules in
            rules.contains { Self.allows($0, verb: verb, group: group, resource: resource, name: name) }
        }
    }

    /// A SubjectAccessReview on a path (`/metrics`): ClusterRoles' nonResourceURLs, a trailing `*`
    /// matching any rest.
    func allowsNonResource(_ identity: Identity, path: String, verb: String, view: AdmissionView) -> Bool {
        if identity.groups.contains("system:masters") { return true }
        return applicableRoles(identity, namespace: nil, view: view).contains { _, rules in
            rules.contains { rule in
                let verbs = rule["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? []
                let urls = rule["nonResourceURLs"]?.arrayValue?.compactMap(\.stringValue) ?? []
                return (verbs.contains("*") || verbs.contains(verb))
                    && urls.contains { $0 == "*" || $0 == path || ($0.hasSuffix("*") && path.hasPrefix(String($0.dropLast()))) }
            }
        }
    }

    /// The OwnerReferencesPermissionEnforcement admission plugin (on in OpenShift): setting
    /// `blockOwnerDeletion` on a reference needs `update` on the owner's `finalizers`.
    func authorizeOwnerReferences(_ identity: Identity, _ request: ResourceRequest, body: JSON, view: AdmissionView) -> APIStatus? {
        if identity.groups.contains("system:masters") { return nil }
        for reference in body[dotted: "metadata.ownerReferences"]?.arrayValue ?? [] where reference["blockOwnerDeletion"]?.boolValue == true {
            let apiVersion = reference["apiVersion"]?.stringValue ?? ""
            let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
            guard let owner = view.definition(group: group, kind: reference["kind"]?.stringValue) else { continue }
            let finalizers = ResourceRequest(
                definition: owner, version: owner.storageVersion, namespace: owner.namespaced ? request.namespace : nil,
                name: reference["name"]?.stringValue, subresource: "finalizers", verb: "update")
            if let denied = authorize(identity, finalizers, view: view) {
                return APIStatus(
                    code: 403, reason: "Forbidden",
                    message: "\(request.definition.groupResource) is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: \(denied.message)",
                    details: denied.details)
            }
        }
        return nil
    }

    /// The rules of every role bound to the identity: cluster-wide bindings, then those of the
    /// request's namespace, each in name order so that which rule is credited is stable.
    private func applicableRoles(_ identity: Identity, namespace: String?, view: AdmissionView) -> [(String, [JSON])] {
        var result: [(String, [JSON])] = []
        for binding in view.clusterRoleBindings where Self.binds(binding, identity, bindingNamespace: nil) {
            if let name = binding[dotted: "roleRef.name"]?.stringValue, let found = view.role(kind: "ClusterRole", name: name, namespace: nil) { result.append(found) }
        }
        if let namespace {
            for binding in view.roleBindings[namespace] ?? [] where Self.binds(binding, identity, bindingNamespace: namespace) {
                guard let name = binding[dotted: "roleRef.name"]?.stringValue, let kind = binding[dotted: "roleRef.kind"]?.stringValue else { continue }
                if let found = view.role(kind: kind, name: name, namespace: namespace) { result.append(found) }
            }
        }
        return result
    }

    private static func binds(_ binding: JSON, _ identity: Identity, bindingNamespace: String?) -> Bool {
        (binding["subjects"]?.arrayValue ?? []).contains { subject in
            let name = subject["name"]?.stringValue ?? ""
            switch subject["kind"]?.stringValue {
            case "ServiceAccount":
                let namespace = subject["namespace"]?.stringValue ?? bindingNamespace ?? ""
                return identity.user == "system:serviceaccount:\(namespace):\(name)"
            case "User": return identity.user == name
            case "Group": return identity.groups.contains(name)
            default: return false
            }
        }
    }

    static func allows(_ rule: JSON, verb: String, group: String, resource: String, name: String?) -> Bool {
        func list(_ field: String) -> [String] { rule[field]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        let verbs = list("verbs"), groups = list("apiGroups"), resources = list("resources"), names = list("resourceNames")
        guard verbs.contains("*") || verbs.contains(verb) else { return false }
        guard groups.contains("*") || groups.contains(group) else { return false }
        let subresource = resource.split(separator: "/").dropFirst().first.map { "*/\($0)" }
        guard resources.contains("*") || resources.contains(resource) || subresource.map(resources.contains) == true else { return false }
        // resourceNames cannot narrow create, list or watch: there is no name to check.
        return names.isEmpty || name.map(names.contains) == true
    }
}
