import Foundation
import KubeCore

/// Fills in `default`s the way kube-apiserver does after pruning (apiextensions' structural
/// defaulting): a missing property, or a `null` where the schema is not nullable, takes the
/// property's default; then the walk continues into the result, so defaults nested inside a
/// defaulted object, list items and additionalProperties values apply too.
public enum SchemaDefaulter {
    public static func applyDefaults(_ value: JSON, schema: StructuralSchema) -> JSON {
        var result = value
        applyDefaults(&result, schema.node, isRoot: true, depth: 0)
        return result
    }

    private static func applyDefaults(_ value: inout JSON, _ s: StructuralSchema.Node, isRoot: Bool, depth: Int) {
        guard depth < SchemaPruner.maximumDepth else { return }
        switch value {
        case .object(var object):
            value = .null  // hand the storage over so edits below do not copy it
            defer { value = .object(object) }
            for (name, defaultValue, nullable) in s.defaultedProperties where !(isRoot && name == "metadata") {
                let current = object[name]
                if current == nil || (current?.isNull == true && !nullable) { object[name] = defaultValue }
            }
            for key in Array(object.keys) where !(isRoot && key == "metadata") {
                if let property = s.properties[key] {
                    applyDefaults(&object[key, default: .null], property.node, isRoot: false, depth: depth + 1)
                } else if let additional = s.additionalProperties?.schema?.node {
                    if object[key]?.isNull == true, !additional.nullable, let defaultValue = additional.defaultValue {
                        object[key] = defaultValue
                    }
                    applyDefaults(&object[key, default: .null], additional, isRoot: false, depth: depth + 1)
                }
            }
        case .array(var elements):
            guard let items = s.items?.node else { return }
            value = .null
            defer { value = .array(elements) }
            for index in elements.indices {
                if elements[index].isNull, !items.nullable, let defaultValue = items.defaultValue {
                    elements[index] = defaultValue
                }
                applyDefaults(&elements[index], items, isRoot: false, depth: depth + 1)
            }
        default: break
        }
    }
}
