import Foundation
import KubeCore

/// Drops what a structural schema does not describe, as kube-apiserver does when it decodes a
/// custom resource (apiextensions' structural pruning, then its removal of nulls the schema neither
/// allows nor defaults).
public enum SchemaPruner {
    /// Kept at the root of a resource and of embedded resources; the server validates and prunes
    /// `metadata` as ObjectMeta, not with the CRD schema.
    static let metaFields: Set<String> = ["apiVersion", "kind", "metadata"]

    /// Values from the wire are at most 512 levels deep (the JSON parser's limit); this bounds the
    /// recursion for values built in process.
    static let maximumDepth = 1000

    /// Drops fields the schema does not know (unless x-kubernetes-preserve-unknown-fields); returns the pruned value and the dotted paths that were dropped (for the `Warning: 299 - "unknown field \"spec.x\""` header).
    ///
    /// Paths are sorted (byte order, as Go's `sort.Strings`); list items appear as `spec.items[0].x`.
    /// Nulls the schema neither allows nor defaults are removed too, but are not reported.
    public static func prune(_ value: JSON, schema: StructuralSchema) -> (JSON, [String]) {
        var result = value
        var unknown: [String] = []
        prune(&result, schema.node, path: "", embedded: true, depth: 0, unknown: &unknown)
        pruneNulls(&result, schema.node, isRoot: true, depth: 0)
        unknown.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return (result, unknown)
    }

    private static func child(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// `s == nil` means "no schema here": every key of an object below is unknown.
    private static func prune(
        _ value: inout JSON, _ s: StructuralSchema.Node?, path: String, embedded: Bool, depth: Int, unknown: inout [String]
    ) {
        guard depth < maximumDepth else { return }
        if let s, s.preserveUnknownFields {
            keepUnknown(&value, s, path: path, embedded: embedded, depth: depth, unknown: &unknown)
            return
        }
        switch value {
        case .object(var object):
            value = .null  // hand the storage over so edits below do not copy it
            defer { value = .object(object) }
            guard let s else {
                unknown += object.keys.map { child(path, $0) }
                object = [:]
                return
            }
            pruneFields(&object, s, path: path, embedded: embedded, depth: depth, dropUnknown: true, unknown: &unknown)
        case .array(var elements):
            value = .null
            defer { value = .array(elements) }
            for index in elements.indices {
                prune(&elements[index], s?.items?.node, path: "\(path)[\(index)]", embedded: false, depth: depth + 1, unknown: &unknown)
            }
        default: break
        }
    }

    /// Prunes each field by its own schema; a field the schema does not know is dropped (and
    /// reported) or, under x-kubernetes-preserve-unknown-fields, kept as it is.
    private static func pruneFields(
        _ object: inout [String: JSON], _ s: StructuralSchema.Node, path: String, embedded: Bool, depth: Int, dropUnknown: Bool,
        unknown: inout [String]
    ) {
        for key in Array(object.keys) {
            if (embedded || s.embeddedResource) && metaFields.contains(key) { continue }
            if let property = s.properties[key] {
                prune(&object[key, default: .null], property.node, path: child(path, key), embedded: false, depth: depth + 1, unknown: &unknown)
            } else if let additional = s.additionalProperties {
                prune(&object[key, default: .null], additional.schema?.node, path: child(path, key), embedded: false, depth: depth + 1, unknown: &unknown)
            } else if dropUnknown {
                unknown.append(child(path, key))
                object[key] = nil
            }
        }
    }

    /// Under x-kubernetes-preserve-unknown-fields unknown keys stay, but known ones are still pruned
    /// by their own schemas.
    private static func keepUnknown(
        _ value: inout JSON, _ s: StructuralSchema.Node, path: String, embedded: Bool, depth: Int, unknown: inout [String]
    ) {
        switch value {
        case .object(var object):
            value = .null
            defer { value = .object(object) }
            pruneFields(&object, s, path: path, embedded: embedded, depth: depth, dropUnknown: false, unknown: &unknown)
        case .array(var elements):
            guard let items = s.items?.node, depth < maximumDepth else { return }
            value = .null
            defer { value = .array(elements) }
            for index in elements.indices {
                keepUnknown(&elements[index], items, path: "\(path)[\(index)]", embedded: false, depth: depth + 1, unknown: &unknown)
            }
        default: break
        }
    }

    /// apiextensions' `PruneNonNullableNullsWithoutDefaults`: a `null` where the schema is not
    /// nullable and has no default is dropped (a default replaces it later instead).
    private static func pruneNulls(_ value: inout JSON, _ s: StructuralSchema.Node?, isRoot: Bool, depth: Int) {
        guard depth < maximumDepth else { return }
        switch value {
        case .object(var object):
            value = .null
            defer { value = .object(object) }
            for key in Array(object.keys) where !(isRoot && key == "metadata") {
                let sub = s?.properties[key]?.node ?? s?.additionalProperties?.schema?.node
                if object[key]?.isNull == true, let sub, !sub.nullable, sub.defaultValue == nil {
                    object[key] = nil
                } else {
                    pruneNulls(&object[key, default: .null], sub, isRoot: false, depth: depth + 1)
                }
            }
        case .array(var elements):
            value = .null
            defer { value = .array(elements) }
            for index in elements.indices {
                pruneNulls(&elements[index], s?.items?.node, isRoot: false, depth: depth + 1)
            }
        default: break
        }
    }
}
