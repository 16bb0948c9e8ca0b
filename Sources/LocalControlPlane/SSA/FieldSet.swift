import KubeCore

/// One step of a field path, as `fieldsV1` spells it: `f:name` (a field), `k:{"name":"x"}` (an
/// item of a map-keyed list), `v:"a"` (an item of a set), `i:0` (an index in a plain list).
enum PathElement: Hashable, Sendable, Comparable {
    case field(String)
    case key(JSON)
    case value(JSON)
    case index(Int)

    var serialized: String {
        switch self {
        case .field(let name): return "f:" + name
        case .key(let keys): return "k:" + keys.serialized()
        case .value(let value): return "v:" + value.serialized()
        case .index(let index): return "i:\(index)"
        }
    }

    init?(serialized text: String) {
        let body = String(text.dropFirst(2))
        switch text.prefix(2) {
        case "f:": self = .field(body)
        case "k:": guard let keys = try? JSON(parsing: body) else { return nil }; self = .key(keys)
        case "v:": guard let value = try? JSON(parsing: body) else { return nil }; self = .value(value)
        case "i:": guard let index = Int(body) else { return nil }; self = .index(index)
        default: return nil
        }
    }

    /// `.name`, `[name="x"]`, `[="a"]`, `[0]`: how conflict messages print a path.
    var rendered: String {
        switch self {
        case .field(let name): return "." + name
        case .key(let keys):
            let parts = (keys.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.serialized())" }
            return "[" + parts.joined(separator: ",") + "]"
        case .value(let value): return "[=" + value.serialized() + "]"
        case .index(let index): return "[\(index)]"
        }
    }

    static func < (lhs: PathElement, rhs: PathElement) -> Bool { lhs.serialized < rhs.serialized }
}

typealias FieldPath = [PathElement]

/// A set of field paths stored as a trie, like structured-merge-diff's `fieldpath.Set`: an
/// element in `members` is owned itself; an element in `children` has owned paths below it.
struct FieldSet: Hashable, Sendable {
    var members: Set<PathElement> = []
    var children: [PathElement: FieldSet] = [:]

    var isEmpty: Bool { members.isEmpty && children.isEmpty }

    mutating func insert(_ path: FieldPath) {
        guard let first = path.first else { return }
        if path.count == 1 {
            members.insert(first)
        } else {
            children[first, default: FieldSet()].insert(Array(path.dropFirst()))
        }
    }

    func contains(_ path: FieldPath) -> Bool {
        guard let first = path.first else { return false }
        if path.count == 1 { return members.contains(first) }
        return children[first]?.contains(Array(path.dropFirst())) ?? false
    }

    /// Whether the path or anything below it is in the set.
    func containsPrefix(_ path: FieldPath) -> Bool {
        guard let first = path.first else { return !isEmpty }
        if path.count == 1 { return members.contains(first) || children[first] != nil }
        return children[first]?.containsPrefix(Array(path.dropFirst())) ?? false
    }

    /// Every member path, depth first.
    var paths: [FieldPath] {
        var result: [FieldPath] = members.sorted().map { [$0] }
        for (element, child) in children.sorted(by: { $0.key < $1.key }) {
            result.append(contentsOf: child.paths.map { [element] + $0 })
        }
        return result
    }

    func union(_ other: FieldSet) -> FieldSet {
        var result = self
        result.members.formUnion(other.members)
        for (element, child) in other.children {
            result.children[element] = (result.children[element] ?? FieldSet()).union(child)
        }
        return result
    }

    func subtracting(_ other: FieldSet) -> FieldSet {
        var result = FieldSet()
        result.members = members.subtracting(other.members)
        for (element, child) in children {
            let remaining = other.children[element].map { child.subtracting($0) } ?? child
            if !remaining.isEmpty { result.children[element] = remaining }
        }
        return result
    }

    func intersection(_ other: FieldSet) -> FieldSet {
        var result = FieldSet()
        result.members = members.intersection(other.members)
        for (element, child) in children {
            if let otherChild = other.children[element] {
                let common = child.intersection(otherChild)
                if !common.isEmpty { result.children[element] = common }
            }
        }
        return result
    }

    // MARK: - fieldsV1

    init() {}

    init(fieldsV1: JSON) {
        for (key, value) in fieldsV1.objectValue ?? [:] {
            guard let element = PathElement(serialized: key) else { continue }
            let object = value.objectValue ?? [:]
            if object["."] != nil || object.isEmpty { members.insert(element) }
            var child = FieldSet(fieldsV1: value)
            child.members.remove(.field("."))
            if !child.isEmpty { children[element] = child }
        }
    }

    var fieldsV1: JSON {
        var object: [String: JSON] = [:]
        for element in members where children[element] == nil { object[element.serialized] = .object([:]) }
        for (element, child) in children {
            var nested = child.fieldsV1.objectValue ?? [:]
            if members.contains(element) { nested["."] = .object([:]) }
            object[element.serialized] = .object(nested)
        }
        return .object(object)
    }
}

/// Reading and writing a JSON value at a field path.
enum FieldPathValue {
    static func get(_ value: JSON?, at path: FieldPath) -> JSON? {
        var current = value
        for element in path {
            guard let node = current else { return nil }
            switch element {
            case .field(let name): current = node[name]
            case .key(let keys): current = node.arrayValue?.first { matches($0, keys) }
            case .value(let item): current = node.arrayValue?.contains(item) == true ? item : nil
            case .index(let index): current = node[index]
            }
        }
        return current
    }

    static func matches(_ item: JSON, _ keys: JSON) -> Bool {
        (keys.objectValue ?? [:]).allSatisfy { item[$0.key]?.semanticallyEquals($0.value) ?? false }
    }

    /// Removes the value at a path; maps emptied on the way are removed too, as a real server
    /// leaves no `labels: {}` behind when the last owned label goes.
    static func remove(_ path: FieldPath, from value: JSON) -> JSON {
        guard let first = path.first else { return value }
        let rest = Array(path.dropFirst())
        switch (first, value) {
        case (.field(let name), .object(var object)):
            guard let child = object[name] else { return value }
            if rest.isEmpty {
                object[name] = nil
            } else {
                let updated = remove(rest, from: child)
                if case .object(let map) = updated, map.isEmpty, child.objectValue?.isEmpty == false {
                    object[name] = nil
                } else if case .array(let items) = updated, items.isEmpty, child.arrayValue?.isEmpty == false {
                    // A list whose last owned item went: a real server drops it too (the emptied
                    // value comes out null, and a null the schema does not allow is pruned).
                    object[name] = nil
                } else {
                    object[name] = updated
                }
            }
            return .object(object)
        case (.key(let keys), .array(var items)):
            guard let index = items.firstIndex(where: { matches($0, keys) }) else { return value }
            if rest.isEmpty { items.remove(at: index) } else { items[index] = remove(rest, from: items[index]) }
            return .array(items)
        case (.value(let item), .array(var items)):
            items.removeAll { $0 == item }
            return .array(items)
        case (.index(let index), .array(var items)):
            guard items.indices.contains(index) else { return value }
            if rest.isEmpty { items.remove(at: index) } else { items[index] = remove(rest, from: items[index]) }
            return .array(items)
        default:
            return value
        }
    }

    static func render(_ path: FieldPath) -> String { path.map(\.rendered).joined() }
}
