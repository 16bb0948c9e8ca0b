import Foundation
import KubeCore

/// Which parts of an object a write is about: the main resource ignores `status` when the kind
/// has a status subresource, and `/status` writes only `status`.
enum WriteScope: Sendable {
    case main(statusIsSeparate: Bool)
    case status

    var subresource: String { if case .status = self { return "status" } else { return "" } }

    func tracks(_ topLevel: String) -> Bool {
        switch self {
        case .main(let separate): return !(separate && topLevel == "status")
        case .status: return topLevel == "status"
        }
    }
}

/// The shape of an object's fields: how lists merge, by path of field names.
struct FieldShape: Sendable {
    var listType: @Sendable ([String]) -> ListType
    /// Whether a write that adds the object at this path owns the object itself (`"."`) as well
    /// as its fields: true for maps, pointer structs and anything in a custom resource; false
    /// for the non-pointer structs of built-in types, which always exist (a Lease's `spec`).
    var ownsAddedObject: @Sendable ([String]) -> Bool

    /// Non-pointer struct fields of built-in types: present even when empty, so never "added".
    static func alwaysPresentStructs(_ names: [String]) -> Bool {
        switch names.count {
        case 1: return names[0] == "spec" || names[0] == "status"
        default: return ["template", "resources", "metadata", "names", "acceptedNames"].contains(names.last ?? "")
        }
    }

    /// Object references are atomic structs (`+structType=atomic`): owned whole.
    static let atomicStructs: Set<String> = ["regarding", "related", "involvedObject"]

    /// Metadata the server owns or that names the object; never part of anyone's field set.
    static let untrackedMetadata: Set<String> = [
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
        "deletionGracePeriodSeconds", "managedFields", "selfLink",
    ]

    /// The fields a value sets, as server-side apply counts them: leaves, whole atomic lists, and
    /// each item of a keyed list.
    func fieldSet(of object: JSON, scope: WriteScope) -> FieldSet {
        var set = FieldSet()
        for (key, value) in object.objectValue ?? [:] where key != "apiVersion" && key != "kind" && scope.tracks(key) {
            if key == "metadata" {
                for (metaKey, metaValue) in value.objectValue ?? [:] where !Self.untrackedMetadata.contains(metaKey) {
                    collect(metaValue, path: [.field("metadata"), .field(metaKey)], names: ["metadata", metaKey], into: &set)
                }
            } else {
                collect(value, path: [.field(key)], names: [key], into: &set)
            }
        }
        return set
    }

    private func collect(_ value: JSON, path: FieldPath, names: [String], into set: inout FieldSet) {
        switch value {
        case .object where Self.atomicStructs.contains(names.last ?? ""):
            set.insert(path)
        case .object(let object) where !object.isEmpty:
            for (key, child) in object { collect(child, path: path + [.field(key)], names: names + [key], into: &set) }
        case .array(let items) where !items.isEmpty:
            switch listType(names) {
            case .atomic:
                set.insert(path)
            case .set:
                for item in items { set.insert(path + [.value(item)]) }
            case .map(let keys):
                for item in items {
                    let element = PathElement.key(keyObject(item, keys))
                    set.insert(path + [element])
                    for (field, child) in item.objectValue ?? [:] {
                        collect(child, path: path + [element, .field(field)], names: names + [field], into: &set)
                    }
                }
            }
        default:
            set.insert(path)
        }
    }

    /// What an Update records for a value that did not exist before: maps and lists whole, list
    /// items without their fields, struct fields leaf by leaf (structured-merge-diff's "added").
    private func collectAdded(_ value: JSON, path: FieldPath, names: [String], into set: inout FieldSet) {
        switch value {
        case .object where Self.atomicStructs.contains(names.last ?? ""):
            set.insert(path)
        case .object(let object) where !object.isEmpty:
            if ownsAddedObject(names) { set.insert(path) }
            for (key, child) in object { collectAdded(child, path: path + [.field(key)], names: names + [key], into: &set) }
        case .array(let items) where !items.isEmpty:
            set.insert(path)
            switch listType(names) {
            case .atomic: break
            case .set: for item in items { set.insert(path + [.value(item)]) }
            case .map(let keys): for item in items { set.insert(path + [.key(keyObject(item, keys))]) }
            }
        default:
            set.insert(path)
        }
    }

    func keyObject(_ item: JSON, _ keys: [String]) -> JSON {
        var object: [String: JSON] = [:]
        for key in keys { if let value = item[key] { object[key] = value } }
        return .object(object)
    }

    /// What an update changed: paths set or changed in `new`, and paths `old` had that are gone.
    /// Objects that appear whole are members themselves (`"."` in `fieldsV1`), as in the sets a
    /// real server records for Update operations.
    func changes(from old: JSON?, to new: JSON, scope: WriteScope) -> (changed: FieldSet, removed: FieldSet) {
        var changed = FieldSet()
        var removed = FieldSet()
        let oldObject = old?.objectValue ?? [:]
        let newObject = new.objectValue ?? [:]
        for key in Set(oldObject.keys).union(newObject.keys) where key != "apiVersion" && key != "kind" && scope.tracks(key) {
            if key == "metadata" {
                let oldMeta = oldObject["metadata"]?.objectValue ?? [:]
                let newMeta = newObject["metadata"]?.objectValue ?? [:]
                for metaKey in Set(oldMeta.keys).union(newMeta.keys) where !Self.untrackedMetadata.contains(metaKey) {
                    diff(oldMeta[metaKey], newMeta[metaKey], path: [.field("metadata"), .field(metaKey)], names: ["metadata", metaKey], changed: &changed, removed: &removed)
                }
            } else {
                diff(oldObject[key], newObject[key], path: [.field(key)], names: [key], changed: &changed, removed: &removed)
            }
        }
        return (changed, removed)
    }

    private func diff(_ old: JSON?, _ new: JSON?, path: FieldPath, names: [String], changed: inout FieldSet, removed: inout FieldSet) {
        switch (old, new) {
        case (nil, nil):
            return
        case (.some(let value), nil):
            // Everything under a removed field goes with it.
            removed.insert(path)
            collectAdded(value, path: path, names: names, into: &removed)
        case (nil, .some(let value)):
            collectAdded(value, path: path, names: names, into: &changed)
        case (.some(.object(let a)), .some(.object(let b))):
            for key in Set(a.keys).union(b.keys) {
                diff(a[key], b[key], path: path + [.field(key)], names: names + [key], changed: &changed, removed: &removed)
            }
            if a.isEmpty != b.isEmpty, a.isEmpty || b.isEmpty { changed.insert(path) }
        case (.some(.array(let a)), .some(.array(let b))) where a != b:
            switch listType(names) {
            case .map(let keys):
                let oldItems = Dictionary(a.map { (keyObject($0, keys), $0) }, uniquingKeysWith: { first, _ in first })
                let newItems = Dictionary(b.map { (keyObject($0, keys), $0) }, uniquingKeysWith: { first, _ in first })
                for (identity, item) in newItems {
                    let element = PathElement.key(identity)
                    if let before = oldItems[identity] {
                        diff(before, item, path: path + [element], names: names, changed: &changed, removed: &removed)
                    } else {
                        changed.insert(path + [element])
                    }
                }
                for identity in oldItems.keys where newItems[identity] == nil { removed.insert(path + [.key(identity)]) }
            case .set:
                for item in b where !a.contains(item) { changed.insert(path + [.value(item)]) }
                for item in a where !b.contains(item) { removed.insert(path + [.value(item)]) }
            case .atomic:
                changed.insert(path)
            }
        case (.some(let a), .some(let b)):
            if !a.semanticallyEquals(b) || a.typeName != b.typeName { changed.insert(path) }
        }
    }
}

/// One `metadata.managedFields[]` entry.
struct ManagedFieldsEntry: Sendable, Hashable {
    var manager: String
    var operation: String
    var apiVersion: String
    var time: String
    var subresource: String
    var fields: FieldSet

    init(manager: String, operation: String, apiVersion: String, time: String, subresource: String, fields: FieldSet) {
        self.manager = manager
        self.operation = operation
        self.apiVersion = apiVersion
        self.time = time
        self.subresource = subresource
        self.fields = fields
    }

    init?(json: JSON) {
        guard let manager = json["manager"]?.stringValue, let operation = json["operation"]?.stringValue else { return nil }
        self.init(
            manager: manager, operation: operation, apiVersion: json["apiVersion"]?.stringValue ?? "",
            time: json["time"]?.stringValue ?? "", subresource: json["subresource"]?.stringValue ?? "",
            fields: FieldSet(fieldsV1: json["fieldsV1"] ?? [:]))
    }

    var json: JSON {
        var json: JSON = [
            "manager": .string(manager), "operation": .string(operation), "apiVersion": .string(apiVersion),
            "fieldsType": "FieldsV1", "fieldsV1": fields.fieldsV1,
        ]
        if !time.isEmpty { json["time"] = .string(time) }
        if !subresource.isEmpty { json["subresource"] = .string(subresource) }
        return json
    }

    func sameIdentity(_ other: ManagedFieldsEntry) -> Bool {
        manager == other.manager && operation == other.operation && subresource == other.subresource
    }

    static func read(_ object: JSON) -> [ManagedFieldsEntry] {
        object[path: ["metadata", "managedFields"]]?.arrayValue?.compactMap(ManagedFieldsEntry.init(json:)) ?? []
    }

    static func write(_ entries: [ManagedFieldsEntry], into object: inout JSON) {
        let kept = entries.filter { !$0.fields.isEmpty }
        object[path: ["metadata", "managedFields"]] = kept.isEmpty ? nil : .array(kept.map(\.json))
    }

    /// What a non-apply write (create, update, patch) does to ownership: the writer takes the
    /// fields it changed, everyone loses the fields that changed under them or disappeared.
    static func recordUpdate(
        _ entries: [ManagedFieldsEntry], manager: String, apiVersion: String, scope: WriteScope,
        changed: FieldSet, removed: FieldSet, now: String
    ) -> [ManagedFieldsEntry] {
        var result = entries.map { entry -> ManagedFieldsEntry in
            var entry = entry
            entry.fields = entry.fields.subtracting(changed).subtracting(removed)
            return entry
        }
        guard !changed.isEmpty else { return result.filter { !$0.fields.isEmpty } }
        let mine = ManagedFieldsEntry(
            manager: manager, operation: "Update", apiVersion: apiVersion, time: now, subresource: scope.subresource,
            fields: changed)
        if let index = result.firstIndex(where: { $0.sameIdentity(mine) }) {
            result[index].fields = result[index].fields.union(changed)
            result[index].time = now
            result[index].apiVersion = apiVersion
        } else {
            result.append(mine)
        }
        return result.filter { !$0.fields.isEmpty }
    }
}
