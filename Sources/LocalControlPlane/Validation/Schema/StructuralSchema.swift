import Foundation
import KubeCore

/// Why a CRD's `openAPIV3Schema` cannot be compiled, with the schema path of the offending node.
public struct SchemaError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(message: String) { self.message = message }

    public var description: String { message }
}

/// A CRD's structural `openAPIV3Schema`, parsed once into a tree that validation, defaulting and
/// pruning walk without looking at JSON keys again. Regular expressions are compiled here, once per
/// distinct pattern (the KServe InferenceService schema repeats the Quantity pattern hundreds of
/// times).
///
/// The value is a thin handle on an immutable `Node`, so properties maps and subtrees are shared,
/// never copied, and members read as `schema.properties`, `schema.maxLength`, ...
@dynamicMemberLookup
public struct StructuralSchema: Sendable {
    public let node: Node

    public subscript<T>(dynamicMember keyPath: KeyPath<Node, T>) -> T { node[keyPath: keyPath] }

    public init(json: JSON) throws(SchemaError) {
        var compiler = SchemaCompiler()
        self = try compiler.compile(json, at: "openAPIV3Schema")
    }

    init(node: Node) { self.node = node }

    /// `additionalProperties`: a boolean, or the schema of every value of a map.
    public enum AdditionalProperties: Sendable {
        case allowed(Bool)
        case schema(StructuralSchema)

        public var schema: StructuralSchema? {
            if case .schema(let schema) = self { return schema }
            return nil
        }
    }

    /// One `x-kubernetes-validations` entry.
    public struct ValidationRule: Sendable, Hashable {
        public var rule: String
        public var message: String?
        public var messageExpression: String?
        public var fieldPath: String?
        /// `FieldValueInvalid` (the default), `FieldValueForbidden`, `FieldValueRequired` or `FieldValueDuplicate`.
        public var reason: String?
        public var optionalOldSelf: Bool
    }

    public final class Node: Sendable {
        public let type: String?
        /// What the type check accepts: `[type]`, or `integer,string` for `x-kubernetes-int-or-string`
        /// (kube-apiserver converts the schema the same way, and its message joins them with a comma).
        public let checkedTypes: [String]
        public let format: String?
        /// The format when it is one kube-apiserver checks; others (`int32`, `int-or-string`, ...)
        /// are ignored by the server, as here.
        public let checkedFormat: String?
        public let nullable: Bool
        public let defaultValue: JSON?
        public let enumValues: [JSON]
        public let pattern: String?
        public let regex: NSRegularExpression?
        public let minimum: Double?
        public let maximum: Double?
        public let exclusiveMinimum: Bool
        public let exclusiveMaximum: Bool
        public let multipleOf: Double?
        public let minLength: Int?
        public let maxLength: Int?
        public let minItems: Int?
        public let maxItems: Int?
        public let uniqueItems: Bool
        public let minProperties: Int?
        public let maxProperties: Int?
        public let required: [String]
        public let properties: [String: StructuralSchema]
        public let additionalProperties: AdditionalProperties?
        public let items: StructuralSchema?
        public let allOf: [StructuralSchema]
        public let anyOf: [StructuralSchema]
        public let oneOf: [StructuralSchema]
        public let not: StructuralSchema?
        public let preserveUnknownFields: Bool
        public let intOrString: Bool
        public let embeddedResource: Bool
        public let listType: String?
        public let listMapKeys: [String]
        public let mapType: String?
        public let validationRules: [ValidationRule]
        /// Properties that carry a default, so defaulting does not scan every property of every object.
        public let defaultedProperties: [(name: String, value: JSON, nullable: Bool)]
        /// Whether this node or any node below it has `x-kubernetes-validations`; lets the CEL pass
        /// skip whole subtrees, and decides whether kube-apiserver would run CEL at all.
        public let hasRulesInSubtree: Bool

        /// Reads one schema object. Keywords that only document (`description`, `example`, ...)
        /// are not read; a keyword with the wrong JSON type is an error rather than ignored,
        /// because a check that quietly disappears would accept what the real server rejects.
        fileprivate init(_ o: [String: JSON], at path: String, _ c: inout SchemaCompiler) throws(SchemaError) {
            type = try c.string(o, "type", path)
            format = try c.string(o, "format", path)
            nullable = try c.bool(o, "nullable", path)
            defaultValue = o["default"]
            enumValues = try c.array(o, "enum", path)
            pattern = try c.string(o, "pattern", path)
            regex = try pattern.map { pattern throws(SchemaError) in try c.regex(pattern, "\(path).pattern") }
            minimum = try c.number(o, "minimum", path)
            maximum = try c.number(o, "maximum", path)
            exclusiveMinimum = try c.bool(o, "exclusiveMinimum", path)
            exclusiveMaximum = try c.bool(o, "exclusiveMaximum", path)
            multipleOf = try c.number(o, "multipleOf", path)
            minLength = try c.count(o, "minLength", path)
            maxLength = try c.count(o, "maxLength", path)
            minItems = try c.count(o, "minItems", path)
            maxItems = try c.count(o, "maxItems", path)
            uniqueItems = try c.bool(o, "uniqueItems", path)
            minProperties = try c.count(o, "minProperties", path)
            maxProperties = try c.count(o, "maxProperties", path)
            required = try c.strings(o, "required", path)
            properties = try c.schemaMap(o, "properties", path)
            additionalProperties = try c.additionalProperties(o, path)
            // A tuple (array of schemas) is not structural; kube-apiserver refuses such CRDs.
            if case .array? = o["items"] { throw SchemaError(message: "\(path).items: must be a single schema") }
            items = try c.schema(o, "items", path)
            allOf = try c.schemas(o, "allOf", path)
            anyOf = try c.schemas(o, "anyOf", path)
            oneOf = try c.schemas(o, "oneOf", path)
            not = try c.schema(o, "not", path)
            preserveUnknownFields = try c.bool(o, "x-kubernetes-preserve-unknown-fields", path)
            intOrString = try c.bool(o, "x-kubernetes-int-or-string", path)
            embeddedResource = try c.bool(o, "x-kubernetes-embedded-resource", path)
            listType = try c.string(o, "x-kubernetes-list-type", path)
            listMapKeys = try c.strings(o, "x-kubernetes-list-map-keys", path)
            mapType = try c.string(o, "x-kubernetes-map-type", path)
            validationRules = try c.rules(o, path)

            checkedTypes = intOrString ? ["integer", "string"] : (type.map { [$0] } ?? [])
            checkedFormat = format.flatMap { SchemaStringFormat.isChecked($0) ? $0 : nil }
            let properties = properties
            defaultedProperties = properties.keys.sorted().compactMap { name in
                guard let property = properties[name], let value = property.node.defaultValue else { return nil }
                return (name, value, property.node.nullable)
            }
            // Rules live in the structural part only (value validations may not carry them).
            let children = Array(properties.values) + [items, additionalProperties?.schema].compactMap { $0 }
            hasRulesInSubtree = !validationRules.isEmpty || children.contains { $0.node.hasRulesInSubtree }
        }
    }
}

/// Compiles schema objects into nodes, keeping one compiled regular expression per pattern.
private struct SchemaCompiler {
    var regexCache: [String: NSRegularExpression] = [:]

    mutating func compile(_ json: JSON, at path: String) throws(SchemaError) -> StructuralSchema {
        guard case .object(let object) = json else { throw SchemaError(message: "\(path): must be an object") }
        return StructuralSchema(node: try StructuralSchema.Node(object, at: path, &self))
    }

    mutating func schema(_ o: [String: JSON], _ key: String, _ path: String) throws(SchemaError) -> StructuralSchema? {
        guard let value = o[key] else { return nil }
        return try compile(value, at: "\(path).\(key)")
    }

    mutating func schemas(_ o: [String: JSON], _ key: String, _ path: String) throws(SchemaError) -> [StructuralSchema] {
        var result: [StructuralSchema] = []
        for (index, element) in try array(o, key, path).enumerated() {
            result.append(try compile(element, at: "\(path).\(key)[\(index)]"))
        }
        return result
    }

    mutating func schemaMap(_ o: [String: JSON], _ key: String, _ path: String) throws(SchemaError) -> [String: StructuralSchema] {
        guard let value = o[key] else { return [:] }
        guard case .object(let object) = value else { throw SchemaError(message: "\(path).\(key): must be an object") }
        var result: [String: StructuralSchema] = [:]
        for (name, property) in object { result[name] = try compile(property, at: "\(path).\(key).\(name)") }
        return result
    }

    mutating func additionalProperties(_ o: [String: JSON], _ path: String) throws(SchemaError) -> StructuralSchema.AdditionalProperties? {
        guard let value = o["additionalProperties"] else { return nil }
        if case .bool(let allowed) = value { return .allowed(allowed) }
        return .schema(try compile(value, at: "\(path).additionalProperties"))
    }

    /// Go's RE2 and ICU agree on what CRD authors write; the one common spelling ICU lacks is
    /// RE2's `(?P<name>...)`, translated here.
    mutating func regex(_ pattern: String, _ path: String) throws(SchemaError) -> NSRegularExpression {
        if let cached = regexCache[pattern] { return cached }
        let icuPattern = pattern.replacingOccurrences(of: "(?P<", with: "(?<")
        guard let compiled = try? NSRegularExpression(pattern: icuPattern) else {
            throw SchemaError(message: "\(path): invalid regular expression \(pattern)")
        }
        regexCache[pattern] = compiled
        return compiled
    }

    func rules(_ o: [String: JSON], _ path: String) throws(SchemaError) -> [StructuralSchema.ValidationRule] {
        var result: [StructuralSchema.ValidationRule] = []
        for (index, element) in try array(o, "x-kubernetes-validations", path).enumerated() {
            guard case .object = element, let rule = element["rule"]?.stringValue else {
                throw SchemaError(message: "\(path).x-kubernetes-validations[\(index)]: must be an object with a string rule")
            }
            result.append(
                StructuralSchema.ValidationRule(
                    rule: rule, message: element["message"]?.stringValue,
                    messageExpression: element["messageExpression"]?.stringValue,
                    fieldPath: element["fieldPath"]?.stringValue, reason: element["reason"]?.stringValue,
                    optionalOldSelf: element["optionalOldSelf"]?.boolValue ?? false))
        }
        return result
    }

    func string(_ o: [String: JSON], _ key: String, _ path: String) throws(SchemaError) -> String? {
        guard let value = o[key] else { return nil }
        guard case .string(let string) = value else { throw SchemaError(message: "\(path).\(key): must be a string") }
        return string
    }

    func bool(_ o: [String: JSON], _ key: String, _ path: String) throws(SchemaError) -> Bool {
        guard let value = o[key] else { return false }
        guard case .bool(let flag) = value else { throw SchemaError(message: "\(path).\(key): must be a boolean") }
        return flag
    }

    func number(_ o: [String: JSON], _ key: String, _ path: String) throws(SchemaError) -> Double? {
        guard let value = o[key] else { return nil }
        guard let number = value.doubleValue else { throw SchemaError(message: "\(path).\(key): must be a number") }
        return number
    }

    func count(_ o: [String: JSON], _ key: String, _ path: String) throws(SchemaError) -> Int? {
        guard let value = o[key] else { return nil }
        guard let number = value.intValue, number >= 0 else {
            throw SchemaError(message: "\(path).\(key): must be a non-negative integer")
        }
        return number
    }

    func array(_ o: [String: JSON], _ key: String, _ path: String) throws(SchemaError) -> [JSON] {
        guard let value = o[key] else { return [] }
        guard case .array(let array) = value else { throw SchemaError(message: "\(path).\(key): must be an array") }
        return array
    }

    func strings(_ o: [String: JSON], _ key: String, _ path: String) throws(SchemaError) -> [String] {
        var result: [String] = []
        for element in try array(o, key, path) {
            guard case .string(let string) = element else { throw SchemaError(message: "\(path).\(key): must be an array of strings") }
            result.append(string)
        }
        return result
    }
}
