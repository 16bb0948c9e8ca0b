import Foundation
import KubeCore

/// The uniqueness kube-apiserver enforces for `x-kubernetes-list-type: set` (whole items) and
/// `map` (the `x-kubernetes-list-map-keys` of each item), after the OpenAPI checks. Server-side
/// apply merges such lists by these identities, so duplicates would be ambiguous.
///
/// Paths are apimachinery's `field.Path`: `spec.ports[1]`, map entries as `spec.env[key]`.
enum SchemaListTypeValidation {
    static func causes(_ value: JSON, _ s: StructuralSchema.Node, path: String) -> [APIStatus.Cause] {
        var out: [APIStatus.Cause] = []
        walk(value, s, path: path, into: &out)
        return out
    }

    private static func walk(_ value: JSON, _ s: StructuralSchema.Node, path: String, into out: inout [APIStatus.Cause]) {
        switch value {
        case .object(let object):
            for key in object.keys.sorted() {
                guard let child = object[key] else { continue }
                if let additional = s.additionalProperties?.schema {
                    walk(child, additional.node, path: "\(path)[\(key)]", into: &out)
                }
                if let property = s.properties[key] {
                    walk(child, property.node, path: path.isEmpty ? key : "\(path).\(key)", into: &out)
                }
            }
        case .array(let elements):
            switch s.listType {
            case "set":
                out += duplicates(elements.map { Identity($0) }).map { duplicate("\(path)[\($0)]", elements[$0]) }
            case "map":
                out += mapDuplicates(elements, keys: s.listMapKeys, path: path)
            default: break
            }
            if let items = s.items?.node {
                for (index, element) in elements.enumerated() { walk(element, items, path: "\(path)[\(index)]", into: &out) }
            }
        default: break
        }
    }

    /// How Go tells items apart: scalars by value (`1` and `1.0` differ), objects and arrays by
    /// their JSON (where they do not), and a missing map key as its own value.
    private enum Identity: Hashable {
        case scalar(JSON)
        case compound(String)
        case unspecified

        init(_ value: JSON?) {
            switch value {
            case nil: self = .unspecified
            case .object?, .array?: self = .compound(value?.serialized() ?? "")
            case let scalar?: self = .scalar(scalar)
            }
        }
    }

    /// The index of the second appearance of each repeated identity (a third is not reported again).
    private static func duplicates(_ identities: [Identity]) -> [Int] {
        var seen: [Identity: Int] = [:]
        var result: [Int] = []
        for (index, identity) in identities.enumerated() {
            seen[identity, default: 0] += 1
            if seen[identity] == 2 { result.append(index) }
        }
        return result
    }

    private static func mapDuplicates(_ elements: [JSON], keys: [String], path: String) -> [APIStatus.Cause] {
        for (index, element) in elements.enumerated() where !element.isNull && element.objectValue == nil {
            return [SchemaFieldErrors.invalid("\(path)[\(index)]", element, "must be an object for an array of list-type map")]
        }
        // With one key Go compares the key's value itself; with several, the object of them.
        let reported: [JSON] = elements.map { element in
            var identity: [String: JSON] = [:]
            for key in keys { identity[key] = element[key] }
            return .object(identity)
        }
        let identities = keys.count == 1 ? elements.map { Identity($0[keys[0]]) } : reported.map { Identity($0) }
        return duplicates(identities).map { duplicate("\(path)[\($0)]", reported[$0]) }
    }

    private static func duplicate(_ path: String, _ value: JSON) -> APIStatus.Cause {
        APIStatus.Cause(
            reason: "FieldValueDuplicate", message: "Duplicate value: \(SchemaFieldErrors.render(value))",
            field: SchemaFieldErrors.field(path))
    }
}
