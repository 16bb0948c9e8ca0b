import Foundation
import KubeCore

/// Turns a CustomResourceDefinition into a served resource: names, versions, schema, printer
/// columns. Also the CRD's own validation and the status the establishing controller writes.
enum CRDRegistration {
    typealias Cause = APIStatus.Cause

    static func definition(from crd: JSON) throws(SchemaError) -> ResourceDefinition {
        let spec = crd["spec"] ?? [:]
        let names = spec["names"] ?? [:]
        let plural = names["plural"]?.stringValue ?? ""
        let kind = names["kind"]?.stringValue ?? ""
        let versions = (spec["versions"]?.arrayValue ?? []).filter { $0["served"]?.boolValue ?? true }
        // Storage version first: objects are stored at it and converted (apiVersion only) on read.
        let ordered = versions.sorted { a, b in (a["storage"]?.boolValue ?? false) && !(b["storage"]?.boolValue ?? false) }
        var definition = ResourceDefinition(
            group: spec["group"]?.stringValue ?? "", versions: ordered.compactMap { $0["name"]?.stringValue },
            plural: plural, singular: names["singular"]?.stringValue ?? kind.lowercased(), kind: kind,
            listKind: names["listKind"]?.stringValue ?? kind + "List",
            namespaced: (spec["scope"]?.stringValue ?? "Namespaced") == "Namespaced",
            shortNames: names["shortNames"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            categories: names["categories"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            hasGeneration: true, isCustom: true, deleteReturnsObject: true,
            // The order apiextensions-apiserver lists them in.
            verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"])
        for version in ordered {
            guard let name = version["name"]?.stringValue else { continue }
            if version[path: ["subresources", "status"]] != nil { definition.hasStatusSubresource = true }
            let schema = try CustomSchema(
                openAPIV3Schema: version[path: ["schema", "openAPIV3Schema"]],
                printerColumns: version["additionalPrinterColumns"]?.arrayValue ?? [])
            definition.schemas[name] = schema
        }
        if let storage = definition.schemas[definition.storageVersion] { definition.columns = storage.columns }
        return definition
    }

    /// `apiextensions.k8s.io` validation of the fields that decide how the resource is served.
    static func validate(_ crd: JSON, old: JSON?) -> [Cause] {
        var causes: [Cause] = []
        let spec = crd["spec"] ?? [:]
        let group = spec["group"]?.stringValue ?? ""
        let plural = spec[path: ["names", "plural"]]?.stringValue ?? ""
        let name = crd[path: ["metadata", "name"]]?.stringValue ?? ""
        if group.isEmpty {
            causes.append(Cause(reason: "FieldValueRequired", message: "Required value", field: "spec.group"))
        } else if !group.contains(".") {
            causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\(group)\": should be a domain with at least one dot", field: "spec.group"))
        }
        if plural.isEmpty { causes.append(Cause(reason: "FieldValueRequired", message: "Required value", field: "spec.names.plural")) }
        if (spec[path: ["names", "kind"]]?.stringValue ?? "").isEmpty {
            causes.append(Cause(reason: "FieldValueRequired", message: "Required value", field: "spec.names.kind"))
        }
        if !plural.isEmpty, !group.isEmpty, name != "\(plural).\(group)" {
            causes.append(
                Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\(name)\": must be spec.names.plural+\".\"+spec.group", field: "metadata.name"))
        }
        let scope = spec["scope"]?.stringValue ?? ""
        if scope != "Namespaced" && scope != "Cluster" {
            causes.append(
                Cause(reason: "FieldValueNotSupported", message: "Unsupported value: \"\(scope)\": supported values: \"Cluster\", \"Namespaced\"", field: "spec.scope"))
        }
        let versions = spec["versions"]?.arrayValue ?? []
        if versions.isEmpty {
            causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: \"null\": must have exactly one version marked as storage version", field: "spec.versions"))
        } else if versions.filter({ $0["storage"]?.boolValue == true }).count != 1 {
            causes.append(
                Cause(reason: "FieldValueInvalid", message: "Invalid value: \(versions.count): must have exactly one version marked as storage version", field: "spec.versions"))
        }
        for (index, version) in versions.enumerated() {
            guard let schema = version[path: ["schema", "openAPIV3Schema"]] else { continue }
            do {
                _ = try CustomSchema(openAPIV3Schema: schema, printerColumns: version["additionalPrinterColumns"]?.arrayValue ?? [])
            } catch {
                causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: \(error.message)", field: "spec.versions[\(index)].schema.openAPIV3Schema"))
            }
        }
        if let old, old[dotted: "spec.scope"] != spec["scope"] {
            causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\(scope)\": field is immutable", field: "spec.scope"))
        }
        return causes
    }

    /// What kube-apiserver's establishing and naming controllers write once a CRD is served.
    static func establishedStatus(for crd: JSON, now: String) -> JSON {
        let spec = crd["spec"] ?? [:]
        var accepted = spec["names"] ?? [:]
        if accepted["singular"] == nil, let kind = accepted["kind"]?.stringValue { accepted["singular"] = .string(kind.lowercased()) }
        if accepted["listKind"] == nil, let kind = accepted["kind"]?.stringValue { accepted["listKind"] = .string(kind + "List") }
        let storage = (spec["versions"]?.arrayValue ?? []).first(where: { $0["storage"]?.boolValue == true })?["name"]
        return [
            "conditions": [
                ["type": "NamesAccepted", "status": "True", "lastTransitionTime": .string(now), "reason": "NoConflicts", "message": "no conflicts found"],
                [
                    "type": "Established", "status": "True", "lastTransitionTime": .string(now), "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                ],
            ],
            "acceptedNames": accepted,
            "storedVersions": .array(storage.map { [$0] } ?? []),
        ]
    }
}

/// One version's schema of a custom resource, compiled once.
struct CustomSchema: Sendable {
    let raw: JSON?
    let structural: StructuralSchema?
    let validator: SchemaValidator?
    let columns: [TableColumn]

    init(openAPIV3Schema: JSON?, printerColumns: [JSON]) throws(SchemaError) {
        raw = openAPIV3Schema
        if let openAPIV3Schema {
            let structural = try StructuralSchema(json: openAPIV3Schema)
            self.structural = structural
            self.validator = SchemaValidator(schema: structural, celRule: CELRules.evaluate)
        } else {
            structural = nil
            validator = nil
        }
        var columns = [TableColumn.name]
        var sawAge = false
        for column in printerColumns {
            guard let name = column["name"]?.stringValue, let path = column["jsonPath"]?.stringValue else { continue }
            let type = column["type"]?.stringValue ?? "string"
            guard let jsonPath = try? JSONPath(path) else {
                throw SchemaError(message: "additionalPrinterColumns[\(name)].jsonPath: invalid JSONPath \(path)")
            }
            if path == ".metadata.creationTimestamp" { sawAge = true }
            columns.append(
                TableColumn(
                    name: name, type: type, format: column["format"]?.stringValue ?? "",
                    description: column["description"]?.stringValue ?? "Custom resource definition column (in JSONPath format): \(path)",
                    priority: column["priority"]?.intValue ?? 0,
                    cell: { object in CustomSchema.cell(jsonPath.evaluate(object), type: type) }))
        }
        if !sawAge { columns.append(TableColumn(name: "Age", type: "date", description: TableColumn.age.description, cell: TableColumn.age.cell)) }
        self.columns = columns
    }

    /// A printer column cell: typed for numbers and booleans, `Age`-style for dates, joined text otherwise.
    static func cell(_ values: [JSON], type: String) -> JSON {
        guard let first = values.first else { return .null }
        switch type {
        case "integer", "number", "boolean": return first
        case "date":
            guard let text = first.stringValue, let date = KubeTime.parse(text) else { return .string(first.stringValue ?? "") }
            return .string(KubeTime.humanDuration(Date().timeIntervalSince(date)))
        default:
            return .string(values.map { $0.stringValue ?? $0.serialized() }.joined(separator: ","))
        }
    }

    /// The list type at a path of field names, read from the schema's list-type markers;
    /// lists without a marker are atomic, as for any structural schema.
    func listType(at path: [String]) -> ListType {
        guard var node = raw else { return .atomic }
        for name in path {
            if node["type"]?.stringValue == "array", let items = node["items"] { node = items }
            if let child = node[path: ["properties", name]] {
                node = child
            } else if let additional = node["additionalProperties"], additional.objectValue != nil {
                node = additional
            } else {
                return .atomic
            }
        }
        switch node["x-kubernetes-list-type"]?.stringValue {
        case "set": return .set
        case "map": return .map(keys: node["x-kubernetes-list-map-keys"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        default: return .atomic
        }
    }
}
