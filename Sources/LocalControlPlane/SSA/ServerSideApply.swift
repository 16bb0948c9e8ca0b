import KubeCore

/// Server-side apply (`PATCH` with `application/apply-patch+yaml`), after structured-merge-diff:
/// the applied configuration is merged into the live object; fields another manager owns with a
/// different value conflict unless `force`; fields this manager applied before and no longer
/// applies are removed when nobody else owns them.
///
/// Simplified: ownership is tracked per leaf and per keyed-list item, list items keep the live
/// order with new ones appended, and there is no per-version conversion of field sets.
enum ServerSideApply {
    struct Outcome {
        var object: JSON
        var managedFields: [ManagedFieldsEntry]
    }

    static func apply(
        config: JSON, live: JSON?, manager: String, apiVersion: String, force: Bool, scope: WriteScope,
        shape: FieldShape, now: String
    ) -> Result<Outcome, APIStatus> {
        var entries = live.map(ManagedFieldsEntry.read) ?? []
        let applied = shape.fieldSet(of: config, scope: scope)
        let isMine = { (entry: ManagedFieldsEntry) in
            entry.manager == manager && entry.operation == "Apply" && entry.subresource == scope.subresource
        }

        // 1. Conflicts: someone else owns a field this apply would change.
        var conflicts: [(path: FieldPath, entry: ManagedFieldsEntry)] = []
        for entry in entries where !isMine(entry) && entry.manager != manager {
            for path in applied.intersection(entry.fields).paths {
                let current = FieldPathValue.get(live, at: path)
                let wanted = FieldPathValue.get(config, at: path)
                if !(current.map { value in wanted.map { $0.semanticallyEquals(value) } ?? false } ?? false) {
                    conflicts.append((path, entry))
                }
            }
        }
        if !conflicts.isEmpty && !force { return .failure(conflictStatus(conflicts)) }

        // 2. Forced: the losers give the fields up. The same manager's Update entries hand over too.
        var lost = FieldSet()
        for (path, _) in conflicts { lost.insert(path) }
        for index in entries.indices where !isMine(entries[index]) {
            entries[index].fields = entries[index].fields.subtracting(entries[index].manager == manager ? applied : lost)
        }

        // 3. Removal: what this manager applied last time and not now, unless others still own it.
        var object = live ?? .object([:])
        let previous = entries.first(where: isMine)?.fields ?? FieldSet()
        let others = entries.filter { !isMine($0) }
        // A path inside one that goes is not removed on its own: emptying a keyed item first would
        // leave `{}` that its key no longer finds. Reversed, so plain-list indexes stay valid.
        let gone = previous.subtracting(applied).paths.filter { path in !others.contains { $0.fields.containsPrefix(path) } }
        let goneWhole = Set(gone.map { $0.map(\.serialized) })
        for path in gone.reversed() where !(1..<path.count).contains(where: { goneWhole.contains(path.prefix($0).map(\.serialized)) }) {
            object = FieldPathValue.remove(path, from: object)
        }

        // 4. Merge and record.
        object = merge(object, config, names: [], shape: shape, scope: scope)
        let mine = ManagedFieldsEntry(
            manager: manager, operation: "Apply", apiVersion: apiVersion, time: now, subresource: scope.subresource, fields: applied)
        entries.removeAll(where: isMine)
        entries.insert(mine, at: 0)
        return .success(Outcome(object: object, managedFields: entries.filter { !$0.fields.isEmpty }))
    }

    static func merge(_ live: JSON, _ config: JSON, names: [String], shape: FieldShape, scope: WriteScope? = nil) -> JSON {
        switch config {
        case .object(let configObject):
            guard case .object(var result) = live else { return config }
            for (key, value) in configObject {
                if let scope, names.isEmpty, key != "apiVersion", key != "kind", key != "metadata", !scope.tracks(key) { continue }
                result[key] = result[key].map { merge($0, value, names: names + [key], shape: shape) } ?? value
            }
            return .object(result)
        case .array(let items):
            guard case .array(let liveItems) = live else { return config }
            switch shape.listType(names) {
            case .atomic:
                return config
            case .set:
                var merged = liveItems
                for item in items where !merged.contains(item) { merged.append(item) }
                return .array(merged)
            case .map(let keys):
                var merged = liveItems
                for item in items {
                    let identity = shape.keyObject(item, keys)
                    if let index = merged.firstIndex(where: { FieldPathValue.matches($0, identity) }) {
                        merged[index] = merge(merged[index], item, names: names, shape: shape)
                    } else {
                        merged.append(item)
                    }
                }
                return .array(merged)
            }
        default:
            return config
        }
    }

    /// The 409 a real server sends, one cause per conflicting field.
    static func conflictStatus(_ conflicts: [(path: FieldPath, entry: ManagedFieldsEntry)]) -> APIStatus {
        let causes = conflicts.map {
            APIStatus.Cause(reason: "FieldManagerConflict", message: "conflict with \(describe($0.entry))", field: FieldPathValue.render($0.path))
        }
        let message: String
        if conflicts.count == 1, let only = conflicts.first {
            message = "Apply failed with 1 conflict: conflict with \(describe(only.entry)): \(FieldPathValue.render(only.path))"
        } else {
            var byManager: [String: [String]] = [:]
            for conflict in conflicts { byManager[describe(conflict.entry), default: []].append(FieldPathValue.render(conflict.path)) }
            var lines: [String] = []
            for manager in byManager.keys.sorted() {
                lines.append("conflicts with \(manager):")
                lines.append(contentsOf: (byManager[manager] ?? []).map { "- \($0)" })
            }
            message = "Apply failed with \(conflicts.count) conflicts: " + lines.joined(separator: "\n")
        }
        return APIStatus(code: 409, reason: "Conflict", message: message, details: ["causes": .array(causes.map {
            ["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)]
        })])
    }

    static func describe(_ entry: ManagedFieldsEntry) -> String {
        var text = "\"\(entry.manager)\""
        if !entry.subresource.isEmpty { text += " with subresource \"\(entry.subresource)\"" }
        if entry.operation == "Update" {
            text += " using \(entry.apiVersion)"
            if !entry.time.isEmpty { text += " at \(entry.time)" }
        }
        return text
    }
}
