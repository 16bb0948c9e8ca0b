import KubeCore

/// `group` + `plural`: a resource independent of the version it is served at. Storage is keyed by
/// this, so an object written at one version is read at another (CRDs with several versions).
struct GroupResource: Hashable, Sendable, CustomStringConvertible {
    var group: String
    var plural: String
    var description: String { group.isEmpty ? plural : "\(plural).\(group)" }
}

/// How a list inside an object merges under server-side apply and strategic merge patch.
enum ListType: Sendable, Hashable {
    case atomic
    case set
    case map(keys: [String])
}

/// Everything the server knows about one resource: names, scope, subresources, and the
/// kind-specific rules (defaults, validation, table columns, field selectors).
struct ResourceDefinition: Sendable {
    var group: String
    /// Served versions; the first is the storage version.
    var versions: [String]
    var plural: String
    var singular: String
    var kind: String
    var listKind: String
    var namespaced: Bool
    var shortNames: [String] = []
    var categories: [String] = []
    var hasStatusSubresource = false
    /// Whether `metadata.generation` is maintained (custom resources, Deployments).
    var hasGeneration = false
    /// Backed by a CustomResourceDefinition: JSON merge patch only (no strategic merge), schema
    /// validation, pruning and defaults, printer columns.
    var isCustom = false
    /// Built-in kinds the real server answers DELETE for with a Status rather than the object.
    var deleteReturnsObject = false
    var verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    /// Per served version, for custom resources.
    var schemas: [String: CustomSchema] = [:]
    var columns: [TableColumn] = TableColumn.nameAndAge
    /// Fields this kind supports in `fieldSelector`, besides `metadata.name` and `metadata.namespace`.
    var fieldLabels: [String: @Sendable (JSON) -> String?] = [:]
    /// Versioned defaults (the values a decoder fills in): they count as set by the writer.
    var defaulter: (@Sendable (inout JSON, _ old: JSON?) -> Void)?
    /// What the kind's strategy sets on create and update (status phases, system finalizers):
    /// applied after managed fields are recorded, so nobody owns them.
    var prepare: (@Sendable (inout JSON, _ old: JSON?) -> Void)?
    /// Built-in validation beyond ObjectMeta; returns causes for a 422.
    var validator: (@Sendable (_ new: JSON, _ old: JSON?) -> [APIStatus.Cause])?
    /// List merge semantics by dotted path without indices (`spec.containers`), for built-ins.
    var listTypes: [String: ListType] = [:]

    var groupResource: GroupResource { GroupResource(group: group, plural: plural) }
    var storageVersion: String { versions.first ?? "v1" }

    func resourceType(version: String? = nil) -> ResourceType {
        ResourceType(group: group, version: version ?? storageVersion, plural: plural, kind: kind, namespaced: namespaced)
    }

    func apiVersion(_ version: String) -> String { group.isEmpty ? version : "\(group)/\(version)" }

    /// How a real server names the kind in Invalid and Conflict messages: `Secret`,
    /// `Widget.wire.example.com`.
    var qualifiedKind: String { group.isEmpty ? kind : "\(kind).\(group)" }

    /// The list type of the list at a dotted path, from the CRD schema or the built-in table.
    func listType(at path: [String], version: String) -> ListType {
        let key = path.joined(separator: ".")
        switch key {
        case "metadata.ownerReferences": return .map(keys: ["uid"])
        case "metadata.finalizers": return .set
        default: break
        }
        if isCustom, let schema = schemas[version] ?? schemas[storageVersion] {
            return schema.listType(at: path)
        }
        return listTypes[key] ?? .atomic
    }
}

/// One printer column: a name, a type, and how to compute the cell.
struct TableColumn: Sendable {
    var name: String
    var type: String
    var format: String = ""
    var description: String = ""
    var priority: Int = 0
    var cell: @Sendable (JSON) -> JSON

    static let nameDescription =
        "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"

    static let name = TableColumn(
        name: "Name", type: "string", format: "name", description: nameDescription,
        cell: { .string($0[path: ["metadata", "name"]]?.stringValue ?? "") })

    static let age = TableColumn(
        name: "Age", type: "string",
        description:
            "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        cell: { object in .string(TableColumn.age(of: object)) })

    static let nameAndAge = [name, age]

    static func age(of object: JSON) -> String {
        guard let created = object[path: ["metadata", "creationTimestamp"]]?.stringValue, let date = KubeTime.parse(created)
        else { return "<unknown>" }
        return KubeTime.humanDuration(Date().timeIntervalSince(date))
    }
}

import Foundation
