import Foundation
import KubeCore

/// The checks of the built-in kinds' strategies that a controller can trip over, worded as the
/// real server words them.
enum BuiltinValidation {
    typealias Cause = APIStatus.Cause

    /// Secrets and ConfigMaps hold at most 1 MiB, as etcd's object size budget requires.
    static let maximumDataBytes = 1 << 20

    static func isConfigKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 253
            && key.utf8.allSatisfy {
                LabelValidation.isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
            } && key != "." && key != ".."
    }

    static func keyCause(_ key: String, field: String) -> Cause {
        Cause(
            reason: "FieldValueInvalid",
            message:
                "Invalid value: \"\(key)\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            field: "\(field)[\(key)]")
    }

    static func secret(_ secret: JSON, old: JSON?) -> [Cause] {
        var causes: [Cause] = []
        var total = 0
        let data = secret["data"]?.objectValue ?? [:]
        for (key, value) in data.sorted(by: { $0.key < $1.key }) {
            if !isConfigKey(key) { causes.append(keyCause(key, field: "data")) }
            total += Data(base64Encoded: value.stringValue ?? "")?.count ?? 0
        }
        if total > maximumDataBytes {
            causes.append(Cause(reason: "FieldValueTooLong", message: "Too long: must have at most \(maximumDataBytes) bytes", field: "data"))
        }
        let type = secret["type"]?.stringValue ?? "Opaque"
        if let oldType = old?["type"]?.stringValue, oldType != type {
            causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\(type)\": field is immutable", field: "type"))
        }
        switch type {
        case "kubernetes.io/dockerconfigjson":
            guard let encoded = data[".dockerconfigjson"]?.stringValue else {
                causes.append(Cause(reason: "FieldValueRequired", message: "Required value", field: "data[.dockerconfigjson]"))
                break
            }
            if let decoded = Data(base64Encoded: encoded), (try? JSON(parsing: decoded))?.objectValue == nil {
                causes.append(
                    Cause(
                        reason: "FieldValueInvalid", message: "Invalid value: \"<secret contents redacted>\": invalid character in JSON",
                        field: "data[.dockerconfigjson]"))
            }
        case "kubernetes.io/service-account-token":
            if (secret[path: ["metadata", "annotations", "kubernetes.io/service-account.name"]]?.stringValue ?? "").isEmpty {
                causes.append(
                    Cause(reason: "FieldValueRequired", message: "Required value", field: "metadata.annotations[kubernetes.io/service-account.name]"))
            }
        default:
            break
        }
        return causes
    }

    static func configMap(_ configMap: JSON) -> [Cause] {
        var causes: [Cause] = []
        var total = 0
        for (key, value) in (configMap["data"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            if !isConfigKey(key) { causes.append(keyCause(key, field: "data")) }
            total += value.stringValue?.utf8.count ?? 0
        }
        for (key, value) in (configMap["binaryData"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            if !isConfigKey(key) { causes.append(keyCause(key, field: "binaryData")) }
            total += Data(base64Encoded: value.stringValue ?? "")?.count ?? 0
        }
        if total > maximumDataBytes {
            causes.append(Cause(reason: "FieldValueTooLong", message: "Too long: must have at most \(maximumDataBytes) bytes", field: ""))
        }
        return causes
    }

    static func persistentVolumeClaim(_ claim: JSON, old: JSON?) -> [Cause] {
        var causes: [Cause] = []
        let modes = claim[dotted: "spec.accessModes"]?.arrayValue ?? []
        if modes.isEmpty {
            causes.append(Cause(reason: "FieldValueRequired", message: "Required value: at least 1 access mode is required", field: "spec.accessModes"))
        }
        let supported = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
        for mode in modes.compactMap(\.stringValue) where !supported.contains(mode) {
            causes.append(
                Cause(
                    reason: "FieldValueNotSupported",
                    message: "Unsupported value: \"\(mode)\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                    field: "spec.accessModes"))
        }
        let storage = claim[path: ["spec", "resources", "requests", "storage"]]
        if storage == nil {
            causes.append(Cause(reason: "FieldValueRequired", message: "Required value", field: "spec.resources[storage]"))
        } else if let text = storage?.stringValue, !Quantity.isValid(text) {
            causes.append(
                Cause(
                    reason: "FieldValueInvalid",
                    message: "Invalid value: \"\(text)\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                    field: "spec.resources.requests[storage]"))
        }
        if let old {
            // Everything but the requested size is fixed once the claim exists.
            var oldSpec = old["spec"] ?? [:]
            var newSpec = claim["spec"] ?? [:]
            oldSpec[path: ["resources", "requests"]] = nil
            newSpec[path: ["resources", "requests"]] = nil
            oldSpec["volumeName"] = nil
            newSpec["volumeName"] = nil
            if oldSpec != newSpec {
                causes.append(
                    Cause(
                        reason: "FieldValueForbidden",
                        message: "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
                        field: "spec"))
            }
        }
        return causes
    }

    static func deployment(_ deployment: JSON) -> [Cause] {
        var causes: [Cause] = []
        guard let selector = deployment[dotted: "spec.selector"] else {
            return [Cause(reason: "FieldValueRequired", message: "Required value", field: "spec.selector")]
        }
        let labels = KubeObject.stringMap(deployment[path: ["spec", "template", "metadata", "labels"]])
        if let parsed = try? LabelSelector(json: selector), parsed.isEverything || !parsed.matches(labels) {
            causes.append(
                Cause(
                    reason: "FieldValueInvalid", message: "Invalid value: map[string]string{}: `selector` does not match template `labels`",
                    field: "spec.template.metadata.labels"))
        }
        if (deployment[dotted: "spec.template.spec.containers"]?.arrayValue ?? []).isEmpty {
            causes.append(Cause(reason: "FieldValueRequired", message: "Required value", field: "spec.template.spec.containers"))
        }
        return causes
    }

    static func eventV1(_ event: JSON) -> [Cause] {
        var causes: [Cause] = []
        for field in ["reportingController", "reportingInstance", "eventTime"] where event[field] == nil {
            causes.append(Cause(reason: "FieldValueRequired", message: "Required value", field: field))
        }
        if let note = event["note"]?.stringValue, note.utf8.count > 1024 {
            causes.append(Cause(reason: "FieldValueTooLong", message: "Too long: may not be more than 1024 bytes", field: "note"))
        }
        return causes
    }
}

/// Resource quantity syntax (`50Gi`, `1.5`, `100m`).
enum Quantity {
    static func isValid(_ text: String) -> Bool {
        var scalars = Substring(text)
        if scalars.hasPrefix("+") || scalars.hasPrefix("-") { scalars = scalars.dropFirst() }
        let number = scalars.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, number != "." else { return false }
        let suffix = String(scalars.dropFirst(number.count))
        let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"]
        if suffixes.contains(suffix) { return true }
        // Decimal exponent form: 1e3, 5E-2.
        if let first = suffix.first, first == "e" || first == "E" {
            var exponent = suffix.dropFirst()
            if exponent.hasPrefix("+") || exponent.hasPrefix("-") { exponent = exponent.dropFirst() }
            return !exponent.isEmpty && exponent.allSatisfy { $0.isASCII && $0.isNumber }
        }
        return false
    }
}
