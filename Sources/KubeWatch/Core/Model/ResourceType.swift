/// A kind of object the API serves: where it lives on the wire and what it is called.
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    public var group: String
    public var version: String
    /// The lower-case plural used in URLs (`secrets`, `nimdeployments`).
    public var plural: String
    public var kind: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    /// `v1` for the core group, `group/version` otherwise.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `secrets` or `nimdeployments.nim.opendatahub.io`, as RBAC and error messages name it.
    public var groupResource: String { group.isEmpty ? plural : "\(plural).\(group)" }

    public var description: String { "\(apiVersion)/\(plural)" }

    /// `/api/v1` or `/apis/<group>/<version>`.
    public var basePath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The REST path of a collection (`name == nil`) or of one object, optionally a subresource.
    /// A `nil` namespace on a namespaced kind means "all namespaces" (list and watch only).
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var path = basePath
        if namespaced, let namespace { path += "/namespaces/\(URLPath.escape(namespace))" }
        path += "/\(plural)"
        if let name { path += "/\(URLPath.escape(name))" }
        if let subresource { path += "/\(subresource)" }
        return path
    }
}

extension ResourceType {
    public static let namespaces = ResourceType(group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false)
    public static let secrets = ResourceType(group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true)
    public static let configMaps = ResourceType(group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true)
    public static let resourceQuotas = ResourceType(group: "", version: "v1", plural: "resourcequotas", kind: "ResourceQuota", namespaced: true)
    public static let persistentVolumeClaims = ResourceType(
        group: "", version: "v1", plural: "persistentvolumeclaims", kind: "PersistentVolumeClaim", namespaced: true)
    public static let serviceAccounts = ResourceType(
        group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount", namespaced: true)
    public static let pods = ResourceType(group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true)
    public static let events = ResourceType(group: "", version: "v1", plural: "events", kind: "Event", namespaced: true)
    public static let leases = ResourceType(
        group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true)
    public static let deployments = ResourceType(
        group: "apps", version: "v1", plural: "deployments", kind: "Deployment", namespaced: true)
    public static let customResourceDefinitions = ResourceType(
        group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions",
        kind: "CustomResourceDefinition", namespaced: false)
}

/// Escaping for one path segment. Kubernetes names are DNS-safe, but a client must not build a
/// different URL from a hostile name.
public enum URLPath {
    public static func escape(_ segment: String) -> String {
        var output = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "@"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                output += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return output
    }
}
