import KubeCore

/// `metadata` rules every kind shares (apimachinery's `ValidateObjectMeta`), worded as the real
/// server words them.
enum ObjectMetaValidation {
    typealias Cause = APIStatus.Cause

    static let maximumAnnotationBytes = 256 * 1024

    static func validate(_ object: JSON, old: JSON?, definition: ResourceDefinition) -> [Cause] {
        var causes: [Cause] = []
        let metadata = object["metadata"] ?? [:]
        let name = metadata["name"]?.stringValue ?? ""
        if old == nil {
            if name.isEmpty {
                causes.append(Cause(reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name"))
            } else if let problem = definition.plural == "namespaces"
                ? NameValidation.dns1123LabelProblem(name) : NameValidation.dns1123SubdomainProblem(name)
            {
                causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\(name)\": \(problem)", field: "metadata.name"))
            }
        }
        for (key, value) in (metadata["labels"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let problem = LabelValidation.keyProblem(key) {
                causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\(key)\": \(problem)", field: "metadata.labels"))
            }
            guard let text = value.stringValue else {
                causes.append(Cause(reason: "FieldValueTypeInvalid", message: "Invalid value: \(value.serialized()): must be a string", field: "metadata.labels"))
                continue
            }
            if let problem = LabelValidation.valueProblem(text) {
                causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\(text)\": \(problem)", field: "metadata.labels"))
            }
        }
        var annotationBytes = 0
        for (key, value) in (metadata["annotations"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let problem = LabelValidation.keyProblem(key.lowercased()) {
                causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\(key)\": \(problem)", field: "metadata.annotations"))
            }
            annotationBytes += key.utf8.count + (value.stringValue?.utf8.count ?? 0)
        }
        if annotationBytes > maximumAnnotationBytes {
            causes.append(
                Cause(reason: "FieldValueTooLong", message: "Too long: must have at most \(maximumAnnotationBytes) bytes", field: "metadata.annotations"))
        }
        causes.append(contentsOf: ownerReferenceCauses(metadata["ownerReferences"]?.arrayValue ?? []))
        causes.append(contentsOf: finalizerCauses(object, old: old))
        return causes
    }

    static func ownerReferenceCauses(_ references: [JSON]) -> [Cause] {
        var causes: [Cause] = []
        var controllers = 0
        for reference in references {
            for field in ["apiVersion", "kind", "name", "uid"] where (reference[field]?.stringValue ?? "").isEmpty {
                causes.append(
                    Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\": \(field) must not be empty", field: "metadata.ownerReferences.\(field)"))
            }
            if reference["controller"]?.boolValue == true { controllers += 1 }
        }
        if controllers > 1 {
            causes.append(
                Cause(
                    reason: "FieldValueInvalid",
                    message: "Invalid value: \(controllers): Only one reference can have Controller set to true",
                    field: "metadata.ownerReferences"))
        }
        return causes
    }

    static func finalizerCauses(_ object: JSON, old: JSON?) -> [Cause] {
        let finalizers = object[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? []
        var causes: [Cause] = []
        for finalizer in finalizers where finalizer.contains("/") || !isStandardFinalizer(finalizer) {
            if let problem = LabelValidation.keyProblem(finalizer) {
                causes.append(Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\(finalizer)\": \(problem)", field: "metadata.finalizers"))
            }
        }
        if let old, old[path: ["metadata", "deletionTimestamp"]] != nil {
            let before = Set(old[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? [])
            let added = finalizers.filter { !before.contains($0) }
            if !added.isEmpty {
                let list = added.map { "\"\($0)\"" }.joined(separator: ", ")
                causes.append(
                    Cause(
                        reason: "FieldValueForbidden",
                        message: "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\(list)}",
                        field: "metadata.finalizers"))
            }
        }
        return causes
    }

    /// Finalizers of Kubernetes itself, which need no domain prefix.
    static func isStandardFinalizer(_ name: String) -> Bool {
        ["kubernetes", "orphan", "foregroundDeletion"].contains(name)
    }
}
