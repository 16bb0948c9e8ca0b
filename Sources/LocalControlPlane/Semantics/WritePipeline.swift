import Foundation
import KubeCore

/// Who writes what, where: the parts of a request every write needs.
struct WriteContext {
    var definition: ResourceDefinition
    var version: String
    var namespace: String?
    var name: String?
    var scope: WriteScope
    var manager: String
    var dryRun: Bool
    var now: Date
    /// `fieldValidation=Strict`: an unknown field refuses the write (400) and nothing is stored.
    var strictFields = false
    /// An apply that creates is a create too: the requester's permission to create, asked (under
    /// the store's lock, where whether the object exists is known) only when it does not exist.
    var mayCreate: (() -> APIStatus?)?

    var location: ObjectLocation? {
        name.map { ObjectLocation(resource: definition.groupResource, key: ObjectKey(namespace: namespace, name: $0)) }
    }
    var apiVersion: String { definition.apiVersion(version) }
    var timestamp: String { KubeTime.format(now) }
    var shape: FieldShape {
        let definition = definition
        let version = version
        return FieldShape(
            listType: { definition.listType(at: $0, version: version) },
            ownsAddedObject: { names in definition.isCustom || !FieldShape.alwaysPresentStructs(names) })
    }
}

struct WriteResult {
    var object: JSON
    var created: Bool
    var warnings: [String] = []
}

enum PatchKind: String {
    case merge = "application/merge-patch+json"
    case json = "application/json-patch+json"
    case strategic = "application/strategic-merge-patch+json"
    case apply = "application/apply-patch+yaml"
}

extension StoreState {
    // MARK: - Create

    /// `appliedFields` is set when server-side apply creates the object: the applier owns what it
    /// applied (an Apply entry), rather than what a plain create would record.
    mutating func create(_ body: JSON, _ context: WriteContext, appliedFields: [ManagedFieldsEntry]? = nil) -> Result<WriteResult, APIStatus> {
        guard case .object = body else { return .failure(.badRequest("the body of the request is not a JSON object")) }
        let definition = context.definition
        var object = body
        if let failure = checkTypeMeta(&object, context) { return .failure(failure) }
        if definition.namespaced {
            let bodyNamespace = object[path: ["metadata", "namespace"]]?.stringValue ?? ""
            if !bodyNamespace.isEmpty, bodyNamespace != context.namespace {
                return .failure(.badRequest("the namespace of the provided object does not match the namespace sent on the request"))
            }
            guard let namespace = context.namespace else { return .failure(.badRequest("a namespace is required to create a \(definition.kind)")) }
            guard let namespaceObject = namespaceExists(namespace) else {
                return .failure(.notFound(BuiltinResources.namespaces.resourceType(), name: namespace))
            }
            if namespaceObject[path: ["metadata", "deletionTimestamp"]] != nil {
                return .failure(
                    APIStatus(
                        code: 403, reason: "Forbidden",
                        message: "\(definition.plural) \"\(object[path: ["metadata", "name"]]?.stringValue ?? "")\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated",
                        details: ["name": .string(object[path: ["metadata", "name"]]?.stringValue ?? ""), "kind": .string(definition.plural)]))
            }
            object[path: ["metadata", "namespace"]] = .string(namespace)
        } else {
            object[path: ["metadata", "namespace"]] = nil
        }
        if (object[path: ["metadata", "name"]]?.stringValue ?? "").isEmpty, let prefix = object[path: ["metadata", "generateName"]]?.stringValue {
            object[path: ["metadata", "name"]] = .string(prefix + Self.randomSuffix())
        }
        let name = object[path: ["metadata", "name"]]?.stringValue ?? ""
        var context = context
        context.name = name
        if let location = context.location, tables[location.resource]?.objects[location.key] != nil {
            return .failure(.alreadyExists(definition.resourceType(version: context.version), name: name))
        }
        // Server-owned metadata: whatever the client sent is replaced.
        for field in ["uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "managedFields", "selfLink"] {
            object[path: ["metadata", field]] = nil
        }
        object[path: ["metadata", "uid"]] = .string(UUID().uuidString.lowercased())
        object[path: ["metadata", "creationTimestamp"]] = .string(context.timestamp)
        if definition.hasGeneration { object[path: ["metadata", "generation"]] = 1 }
        if definition.hasStatusSubresource { object["status"] = nil }
        return finishWrite(old: nil, candidate: object, context: context, managedFields: appliedFields)
    }

    // MARK: - Update (PUT)

    mutating func update(_ body: JSON, _ context: WriteContext) -> Result<WriteResult, APIStatus> {
        guard case .object = body, let location = context.location else {
            return .failure(.badRequest("the body of the request is not a JSON object"))
        }
        var object = body
        if let failure = checkTypeMeta(&object, context) { return .failure(failure) }
        let bodyName = object[path: ["metadata", "name"]]?.stringValue ?? ""
        if bodyName != context.name {
            return .failure(.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(context.name ?? ""))"))
        }
        guard let old = tables[location.resource]?.objects[location.key] else {
            return .failure(.notFound(context.definition.resourceType(version: context.version), name: bodyName))
        }
        let sent = object[path: ["metadata", "resourceVersion"]]?.stringValue ?? ""
        if sent.isEmpty {
            if context.definition.isCustom {
                return .failure(
                    .invalid(
                        qualifiedKind: context.definition.qualifiedKind, kind: context.definition.kind, group: context.definition.group,
                        name: bodyName,
                        causes: [.init(reason: "FieldValueInvalid", message: "Invalid value: 0x0: must be specified for an update", field: "metadata.resourceVersion")]))
            }
        } else if sent != old[path: ["metadata", "resourceVersion"]]?.stringValue {
            return .failure(conflict(context, name: bodyName, reason: APIStatus.modifiedReason))
        }
        return finishWrite(old: old, candidate: object, context: context, managedFields: nil)
    }

    // MARK: - Patch (and apply)

    mutating func patch(_ patch: JSON, kind: PatchKind, force: Bool, _ context: WriteContext) -> Result<WriteResult, APIStatus> {
        guard let location = context.location, let name = context.name else { return .failure(.badRequest("a name is required")) }
        let existing = tables[location.resource]?.objects[location.key]
        if kind == .apply {
            if existing == nil, let denied = context.mayCreate?() { return .failure(denied) }
            return applyPatch(patch, live: existing, force: force, context)
        }
        guard let old = existing else {
            return .failure(.notFound(context.definition.resourceType(version: context.version), name: name))
        }
        var candidate: JSON
        switch kind {
        case .merge:
            candidate = MergePatch.apply(patch, to: old)
        case .json:
            do {
                candidate = try JSONPatch.apply(patch, to: old)
            } catch {
                // A failed `test` is reported without detail, exactly as the real server does.
                return .failure(
                    error.testFailed
                        ? APIStatus(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request", details: [:])
                        : APIStatus(code: 422, reason: "Invalid", message: error.message, details: [:]))
            }
        case .strategic:
            let shape = context.shape
            candidate = StrategicMergePatch.apply(patch, to: old, listType: shape.listType)
        case .apply:
            return .failure(.internalError("unreachable"))
        }
        if let sent = patch[path: ["metadata", "resourceVersion"]]?.stringValue, sent != old[path: ["metadata", "resourceVersion"]]?.stringValue {
            return .failure(conflict(context, name: name, reason: APIStatus.modifiedReason))
        }
        candidate[path: ["metadata", "resourceVersion"]] = old[path: ["metadata", "resourceVersion"]]
        return finishWrite(old: old, candidate: candidate, context: context, managedFields: nil)
    }

    private mutating func applyPatch(_ config: JSON, live: JSON?, force: Bool, _ context: WriteContext) -> Result<WriteResult, APIStatus> {
        guard case .object = config else { return .failure(.badRequest("the applied configuration is not an object")) }
        var config = config
        if let failure = checkTypeMeta(&config, context) { return .failure(failure) }
        let configName = config[path: ["metadata", "name"]]?.stringValue ?? ""
        if configName.isEmpty {
            config[path: ["metadata", "name"]] = context.name.map(JSON.string)
        } else if configName != context.name {
            return .failure(.badRequest("the name of the object (\(configName)) does not match the name on the URL (\(context.name ?? ""))"))
        }
        if let sent = config[path: ["metadata", "resourceVersion"]]?.stringValue, let live,
            sent != live[path: ["metadata", "resourceVersion"]]?.stringValue
        {
            return .failure(conflict(context, name: context.name ?? "", reason: APIStatus.modifiedReason))
        }
        config[path: ["metadata", "resourceVersion"]] = nil
        guard let live else {
            // Apply to a missing object creates it; the applier owns what it applied.
            if case .status = context.scope {
                return .failure(.notFound(context.definition.resourceType(version: context.version), name: context.name ?? ""))
            }
            var created = context
            created.scope = .main(statusIsSeparate: context.definition.hasStatusSubresource)
            let outcome = ServerSideApply.apply(
                config: config, live: nil, manager: context.manager, apiVersion: context.apiVersion, force: true,
                scope: context.scope, shape: context.shape, now: context.timestamp)
            switch outcome {
            case .failure(let status): return .failure(status)
            case .success(let result): return create(result.object, created, appliedFields: result.managedFields)
            }
        }
        let outcome = ServerSideApply.apply(
            config: config, live: live, manager: context.manager, apiVersion: context.apiVersion, force: force,
            scope: context.scope, shape: context.shape, now: context.timestamp)
        switch outcome {
        case .failure(let status):
            return .failure(status)
        case .success(let result):
            var candidate = result.object
            candidate[path: ["metadata", "resourceVersion"]] = live[path: ["metadata", "resourceVersion"]]
            return finishWrite(old: live, candidate: candidate, context: context, managedFields: result.managedFields)
        }
    }

    // MARK: - The common tail of every write

    /// Subresource rules, immutable metadata, defaults, pruning, validation, generation,
    /// managed fields, no-op detection, then commit.
    mutating func finishWrite(old: JSON?, candidate: JSON, context: WriteContext, managedFields: [ManagedFieldsEntry]?) -> Result<WriteResult, APIStatus> {
        let definition = context.definition
        var object = candidate
        object["apiVersion"] = .string(definition.apiVersion(definition.storageVersion))
        object["kind"] = .string(definition.kind)
        var warnings: [String] = []
        if let old {
            switch context.scope {
            case .main(let separate):
                if separate { object["status"] = old["status"] }
            case .status:
                var statusOnly = old
                statusOnly["status"] = object["status"]
                statusOnly[path: ["metadata", "managedFields"]] = object[path: ["metadata", "managedFields"]]
                object = statusOnly
            }
            for field in ["uid", "creationTimestamp", "name", "namespace", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
                object[path: ["metadata", field]] = old[path: ["metadata", field]]
            }
        }
        // Defaults, then (custom resources) pruning and schema defaults.
        definition.defaulter?(&object, old)
        Self.dropEmpty(&object, everywhere: !definition.isCustom)
        if definition.isCustom, let schema = definition.schemas[context.version] ?? definition.schemas[definition.storageVersion],
            let structural = schema.structural
        {
            let (pruned, dropped) = SchemaPruner.prune(object, schema: structural)
            object = SchemaDefaulter.applyDefaults(pruned, schema: structural)
            warnings = dropped.map { "unknown field \"\($0)\"" }
        }
        // Before anything is stored, as a real server decodes strictly before it writes.
        if context.strictFields, !warnings.isEmpty { return .failure(.badRequest("strict decoding error: " + warnings.joined(separator: ", "))) }
        // Managed fields: recorded for every write, by the writer's name.
        if let managedFields {
            ManagedFieldsEntry.write(managedFields, into: &object)
        } else {
            let (changed, removed) = context.shape.changes(from: old, to: object, scope: old == nil ? .main(statusIsSeparate: false) : context.scope)
            // A client may rewrite managedFields itself (kubectl does, to hand client-side apply's
            // fields over to server-side apply): what it sent is the base, as on a real server.
            // Subresource writes cannot.
            let sent = ManagedFieldsEntry.read(candidate)
            let live = old.map(ManagedFieldsEntry.read) ?? []
            let base: [ManagedFieldsEntry]
            if case .main = context.scope, old != nil, !sent.isEmpty, sent != live {
                base = sent
            } else {
                base = live
            }
            let entries = ManagedFieldsEntry.recordUpdate(
                base, manager: context.manager, apiVersion: context.apiVersion,
                scope: context.scope, changed: changed, removed: removed, now: context.timestamp)
            ManagedFieldsEntry.write(entries, into: &object)
        }
        definition.prepare?(&object, old)
        // Validation.
        var causes = ObjectMetaValidation.validate(object, old: old, definition: definition)
        if definition.isCustom, let validator = (definition.schemas[context.version] ?? definition.schemas[definition.storageVersion])?.validator {
            causes.append(contentsOf: validator.validate(object, oldObject: old))
        }
        if let validator = definition.validator { causes.append(contentsOf: validator(object, old)) }
        if !causes.isEmpty {
            return .failure(
                .invalid(
                    qualifiedKind: definition.qualifiedKind, kind: definition.kind, group: definition.group,
                    name: object[path: ["metadata", "name"]]?.stringValue ?? context.name ?? "", causes: causes))
        }
        // Generation moves with the spec (everything but metadata and a separate status).
        if definition.hasGeneration, let old {
            var before = old
            var after = object
            for field in ["metadata", "apiVersion", "kind"] {
                before[field] = nil
                after[field] = nil
            }
            if definition.hasStatusSubresource {
                before["status"] = nil
                after["status"] = nil
            }
            let generation = old[path: ["metadata", "generation"]]?.intValue ?? 1
            if before != after {
                object[path: ["metadata", "generation"]] = .int(generation + 1)
            }
        }
        // A write that changes nothing is not persisted: no new resourceVersion, no watch event.
        if let old, Self.sameIgnoringManagedFieldTimes(old, object) {
            return .success(WriteResult(object: Self.served(old, version: context.version, definition: definition), created: false, warnings: warnings))
        }
        guard let location = context.location ?? object[path: ["metadata", "name"]]?.stringValue.map({
            ObjectLocation(resource: definition.groupResource, key: ObjectKey(namespace: context.namespace, name: $0))
        }) else { return .failure(.badRequest("a name is required")) }
        if context.dryRun {
            return .success(WriteResult(object: Self.served(object, version: context.version, definition: definition), created: old == nil, warnings: warnings))
        }
        // The write that removes the last finalizer of a terminating object deletes it: one
        // revision, one DELETED event, and the answer carries the version it had (as on a real server).
        if old != nil, object[path: ["metadata", "deletionTimestamp"]] != nil, (object[path: ["metadata", "finalizers"]]?.arrayValue ?? []).isEmpty,
            location.resource != BuiltinResources.namespaces.groupResource || (object[dotted: "spec.finalizers"]?.arrayValue ?? []).isEmpty
        {
            commitDelete(at: location)
            return .success(WriteResult(object: Self.served(object, version: context.version, definition: definition), created: false, warnings: warnings))
        }
        let stored = commitPut(object, at: location, previous: old)
        afterCommit(location: location, object: stored, previous: old, context: context)
        return .success(WriteResult(object: Self.served(stored, version: context.version, definition: definition), created: old == nil, warnings: warnings))
    }

    /// Empty maps are not stored where the API types say `omitempty`: metadata's maps and lists
    /// for every kind, and the data maps of built-in kinds. A patch that removes the last
    /// annotation leaves no `annotations: {}` behind. (Pointers to empty structs, such as a
    /// CRD's `subresources.status: {}`, are kept, as Go keeps them.)
    static func dropEmpty(_ object: inout JSON, everywhere: Bool) {
        func isEmptyCollection(_ value: JSON?) -> Bool {
            (value?.objectValue?.isEmpty ?? false) || (value?.arrayValue?.isEmpty ?? false)
        }
        for key in ["labels", "annotations", "finalizers", "ownerReferences", "managedFields"] where isEmptyCollection(object[path: ["metadata", key]]) {
            object[path: ["metadata", key]] = nil
        }
        guard everywhere else { return }
        for key in ["data", "binaryData", "stringData"] where isEmptyCollection(object[key]) { object[key] = nil }
    }

    /// The object as a client reads it at the version it asked for.
    static func served(_ object: JSON, version: String, definition: ResourceDefinition) -> JSON {
        guard version != definition.storageVersion else { return object }
        var converted = object
        converted["apiVersion"] = .string(definition.apiVersion(version))
        return converted
    }

    static func sameIgnoringManagedFieldTimes(_ a: JSON, _ b: JSON) -> Bool {
        if a == b { return true }
        func normalised(_ object: JSON) -> JSON {
            var copy = object
            copy[path: ["metadata", "managedFields"]] = (object[path: ["metadata", "managedFields"]]?.arrayValue ?? []).map { entry -> JSON in
                var entry = entry
                entry["time"] = nil
                return entry
            }.sorted { $0.serialized() < $1.serialized() }.asArrayOrNil
            copy[path: ["metadata", "resourceVersion"]] = nil
            return copy
        }
        return normalised(a) == normalised(b)
    }

    /// The follow-ups of a committed write: a CRD is served or re-served; finalizers the
    /// collector owns get its attention.
    mutating func afterCommit(location: ObjectLocation, object: JSON, previous: JSON?, context: WriteContext) {
        if location.resource == BuiltinResources.customResourceDefinitions.groupResource {
            registerCustomResource(object, location: location, isNew: previous == nil, now: context.timestamp)
        }
        if object[path: ["metadata", "deletionTimestamp"]] != nil { pendingCollection.append(.finalize(location)) }
    }

    mutating func registerCustomResource(_ crd: JSON, location: ObjectLocation, isNew: Bool, now: String) {
        guard crd[path: ["metadata", "deletionTimestamp"]] == nil, let definition = try? CRDRegistration.definition(from: crd) else { return }
        if definitions[definition.groupResource] == nil {
            // A new resource's watch cache starts now: a watch from an older resourceVersion
            // gets 410, as on a real server ("too old resource version: 1 (514)").
            tables[definition.groupResource, default: ResourceTable()].compactedRevision = revision
        }
        definitions[definition.groupResource] = definition
        if isNew {
            var established = crd
            established["status"] = CRDRegistration.establishedStatus(for: crd, now: now)
            // Written as kube-apiserver's own controllers write it: an Update of /status.
            var fields = FieldSet()
            for name in ["kind", "listKind", "plural", "shortNames", "singular"] where established[path: ["status", "acceptedNames", name]] != nil {
                fields.insert([.field("status"), .field("acceptedNames"), .field(name)])
            }
            for type in ["Established", "NamesAccepted"] {
                let item: FieldPath = [.field("status"), .field("conditions"), .key(["type": .string(type)])]
                fields.insert(item)
                for field in ["lastTransitionTime", "message", "reason", "status", "type"] { fields.insert(item + [.field(field)]) }
            }
            var entries = ManagedFieldsEntry.read(crd)
            entries.append(
                ManagedFieldsEntry(
                    manager: "kube-apiserver", operation: "Update", apiVersion: "apiextensions.k8s.io/v1", time: now, subresource: "status", fields: fields))
            ManagedFieldsEntry.write(entries, into: &established)
            _ = commitPut(established, at: location, previous: crd)
        }
    }

    // MARK: - Helpers

    func checkTypeMeta(_ object: inout JSON, _ context: WriteContext) -> APIStatus? {
        let definition = context.definition
        if let kind = object["kind"]?.stringValue, !kind.isEmpty, kind != definition.kind {
            return .badRequest("the kind of the provided object (\(kind)) does not match the resource (\(definition.kind))")
        }
        if let apiVersion = object["apiVersion"]?.stringValue, !apiVersion.isEmpty, apiVersion != definition.apiVersion(context.version) {
            return .badRequest(
                "the API version in the data (\(apiVersion)) does not match the expected API version (\(definition.apiVersion(context.version)))")
        }
        if object["metadata"] != nil, object["metadata"]?.objectValue == nil {
            return .badRequest("metadata must be an object")
        }
        object["kind"] = .string(definition.kind)
        object["apiVersion"] = .string(definition.apiVersion(context.version))
        return nil
    }

    func conflict(_ context: WriteContext, name: String, reason: String) -> APIStatus {
        let definition = context.definition
        return .conflict(
            qualifiedKind: definition.isCustom ? definition.qualifiedKind : definition.groupResource.description, name: name,
            group: definition.group, kind: definition.isCustom ? definition.kind : definition.plural, reason: reason)
    }

    static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement() ?? "x" })
    }
}

extension Array where Element == JSON {
    var asArrayOrNil: JSON? { isEmpty ? nil : .array(self) }
}
