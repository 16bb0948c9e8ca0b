import KubeCore

/// Why a patch could not be applied; the server answers 422 (JSON patch) or 400.
struct PatchError: Error, Sendable {
    var message: String
    var testFailed = false
}

/// RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces.
enum MergePatch {
    static func apply(_ patch: JSON, to target: JSON) -> JSON {
        guard case .object(let patchObject) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (key, value) in patchObject {
            if value.isNull {
                result[key] = nil
            } else {
                result[key] = apply(value, to: result[key] ?? .null)
            }
        }
        return .object(result)
    }
}

/// RFC 6902 JSON patch, all six operations.
enum JSONPatch {
    static func apply(_ patch: JSON, to target: JSON) throws(PatchError) -> JSON {
        guard let operations = patch.arrayValue else { throw PatchError(message: "a JSON patch must be an array of operations") }
        var document = target
        for operation in operations {
            guard let op = operation["op"]?.stringValue, let path = operation["path"]?.stringValue else {
                throw PatchError(message: "a JSON patch operation needs \"op\" and \"path\"")
            }
            let pointer = try parsePointer(path)
            switch op {
            case "add":
                guard let value = operation["value"] else { throw PatchError(message: "add operation does not apply: missing value") }
                document = try insert(value, at: pointer, in: document, replacing: false)
            case "remove":
                document = try remove(at: pointer, in: document)
            case "replace":
                guard let value = operation["value"] else { throw PatchError(message: "replace operation does not apply: missing value") }
                _ = try get(pointer, in: document)
                document = try insert(value, at: pointer, in: document, replacing: true)
            case "move", "copy":
                guard let from = operation["from"]?.stringValue else { throw PatchError(message: "\(op) operation needs \"from\"") }
                let source = try parsePointer(from)
                let value = try get(source, in: document)
                if op == "move" { document = try remove(at: source, in: document) }
                document = try insert(value, at: pointer, in: document, replacing: false)
            case "test":
                let actual = try? get(pointer, in: document)
                guard let actual, let expected = operation["value"], actual.semanticallyEquals(expected) else {
                    throw PatchError(message: "testing value \(path) failed", testFailed: true)
                }
            default:
                throw PatchError(message: "Unexpected kind: \(op)")
            }
        }
        return document
    }

    static func parsePointer(_ path: String) throws(PatchError) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw PatchError(message: "JSON pointer must start with '/': \(path)") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func get(_ pointer: [String], in document: JSON) throws(PatchError) -> JSON {
        var current = document
        for token in pointer {
            switch current {
            case .object(let object):
                guard let next = object[token] else { throw PatchError(message: "doc is missing path: /\(pointer.joined(separator: "/"))") }
                current = next
            case .array(let array):
                guard let index = Int(token), array.indices.contains(index) else {
                    throw PatchError(message: "doc is missing path: /\(pointer.joined(separator: "/"))")
                }
                current = array[index]
            default:
                throw PatchError(message: "doc is missing path: /\(pointer.joined(separator: "/"))")
            }
        }
        return current
    }

    static func insert(_ value: JSON, at pointer: [String], in document: JSON, replacing: Bool) throws(PatchError) -> JSON {
        guard let token = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var object):
            if rest.isEmpty {
                object[token] = value
            } else {
                guard let child = object[token] else {
                    throw PatchError(message: "add operation does not apply: doc is missing path: /\(pointer.joined(separator: "/"))")
                }
                object[token] = try insert(value, at: rest, in: child, replacing: replacing)
            }
            return .object(object)
        case .array(var array):
            if rest.isEmpty {
                if token == "-" && !replacing {
                    array.append(value)
                } else if let index = Int(token), index >= 0, index <= array.count, !(replacing && index == array.count) {
                    if replacing { array[index] = value } else { array.insert(value, at: index) }
                } else {
                    throw PatchError(message: "add operation does not apply: index out of bounds: \(token)")
                }
            } else {
                guard let index = Int(token), array.indices.contains(index) else {
                    throw PatchError(message: "doc is missing path: /\(pointer.joined(separator: "/"))")
                }
                array[index] = try insert(value, at: rest, in: array[index], replacing: replacing)
            }
            return .array(array)
        default:
            throw PatchError(message: "add operation does not apply: doc is missing path: /\(pointer.joined(separator: "/"))")
        }
    }

    static func remove(at pointer: [String], in document: JSON) throws(PatchError) -> JSON {
        guard let token = pointer.first else { throw PatchError(message: "cannot remove the whole document") }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var object):
            guard let child = object[token] else {
                throw PatchError(message: "remove operation does not apply: doc is missing path: /\(pointer.joined(separator: "/"))")
            }
            object[token] = rest.isEmpty ? nil : try remove(at: rest, in: child)
            return .object(object)
        case .array(var array):
            guard let index = Int(token), array.indices.contains(index) else {
                throw PatchError(message: "remove operation does not apply: index out of bounds: \(token)")
            }
            if rest.isEmpty { array.remove(at: index) } else { array[index] = try remove(at: rest, in: array[index]) }
            return .array(array)
        default:
            throw PatchError(message: "remove operation does not apply: doc is missing path: /\(pointer.joined(separator: "/"))")
        }
    }
}

/// Strategic merge patch for built-in kinds, the subset kubectl's client-side apply produces:
/// a merge patch in which map-keyed lists (containers, env, volumes, ...) merge by key, with the
/// `$patch: delete|replace` and `$retainKeys`/`$setElementOrder` directives understood.
enum StrategicMergePatch {
    static func apply(_ patch: JSON, to target: JSON, listType: ([String]) -> ListType, path: [String] = []) -> JSON {
        guard case .object(let patchObject) = patch else { return patch }
        if patchObject["$patch"]?.stringValue == "replace" {
            var replaced = patchObject
            replaced["$patch"] = nil
            return .object(replaced)
        }
        var result = target.objectValue ?? [:]
        for (key, value) in patchObject {
            if key.hasPrefix("$setElementOrder/") || key == "$retainKeys" || key == "$patch" { continue }
            if key.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                let removals = value.arrayValue ?? []
                result[field] = result[field]?.arrayValue.map { .array($0.filter { !removals.contains($0) }) }
                continue
            }
            let childPath = path + [key]
            if value.isNull {
                result[key] = nil
            } else if case .array(let items) = value, case .map(let keys) = listType(childPath) {
                result[key] = mergeKeyedList(items, into: result[key]?.arrayValue ?? [], keys: keys, listType: listType, path: childPath)
            } else if case .array(let items) = value, case .set = listType(childPath) {
                var merged = result[key]?.arrayValue ?? []
                for item in items where !merged.contains(item) { merged.append(item) }
                result[key] = .array(merged)
            } else if value.objectValue != nil {
                result[key] = apply(value, to: result[key] ?? .object([:]), listType: listType, path: childPath)
            } else {
                result[key] = value
            }
        }
        return .object(result)
    }

    private static func mergeKeyedList(
        _ patchItems: [JSON], into existing: [JSON], keys: [String], listType: ([String]) -> ListType, path: [String]
    ) -> JSON {
        var merged = existing
        for item in patchItems {
            let identity = keys.map { item[$0] }
            let index = merged.firstIndex { element in keys.map { element[$0] } == identity }
            if item["$patch"]?.stringValue == "delete" {
                if let index { merged.remove(at: index) }
            } else if let index {
                merged[index] = apply(item, to: merged[index], listType: listType, path: path)
            } else {
                merged.append(apply(item, to: .object([:]), listType: listType, path: path))
            }
        }
        return .array(merged)
    }
}
