import Foundation
import KubeCore
import HTTPServing

/// A DELETE's `DeleteOptions`, from the body or the query.
struct DeleteRequest {
    enum Propagation: String { case background = "Background", foreground = "Foreground", orphan = "Orphan" }

    var propagation: Propagation?
    var preconditionUID: String?
    var preconditionResourceVersion: String?
    var dryRun = false

    init() {}

    init(body: JSON?, query: HTTPServerRequest) throws(APIStatus) {
        let policy = body?["propagationPolicy"]?.stringValue ?? query.queryValue("propagationPolicy")
        if let policy {
            guard let parsed = Propagation(rawValue: policy) else {
                throw .badRequest("propagationPolicy: Unsupported value: \"\(policy)\": supported values: \"Foreground\", \"Background\", \"Orphan\"")
            }
            propagation = parsed
        } else if body?["orphanDependents"]?.boolValue == true || query.queryValue("orphanDependents") == "true" {
            propagation = .orphan
        }
        preconditionUID = body?[path: ["preconditions", "uid"]]?.stringValue
        preconditionResourceVersion = body?[path: ["preconditions", "resourceVersion"]]?.stringValue
        dryRun = query.queryValue("dryRun") == "All" || body?["dryRun"]?.arrayValue?.contains("All") == true
    }
}

enum DeleteOutcome {
    /// The object stays, terminating, until its finalizers are gone.
    case terminating(JSON)
    /// The object is gone; this was its last state.
    case deleted(JSON)
}

extension StoreState {
    mutating func delete(_ context: WriteContext, options: DeleteRequest) -> Result<DeleteOutcome, APIStatus> {
        let definition = context.definition
        guard let location = context.location, let name = context.name, var object = tables[location.resource]?.objects[location.key] else {
            return .failure(.notFound(definition.resourceType(version: context.version), name: context.name ?? ""))
        }
        let qualified = definition.isCustom ? definition.qualifiedKind : definition.groupResource.description
        let detailKind = definition.isCustom ? definition.kind : definition.plural
        let uid = object[path: ["metadata", "uid"]]?.stringValue ?? ""
        if let expected = options.preconditionUID, expected != uid {
            return .failure(
                .conflict(
                    qualifiedKind: qualified, name: name, group: definition.group, kind: detailKind,
                    reason: "the UID in the precondition (\(expected)) does not match the UID in record (\(uid)). The object might have been deleted and then recreated"))
        }
        let resourceVersion = object[path: ["metadata", "resourceVersion"]]?.stringValue ?? ""
        if let expected = options.preconditionResourceVersion, expected != resourceVersion {
            return .failure(
                .conflict(
                    qualifiedKind: qualified, name: name, group: definition.group, kind: detailKind,
                    reason: "the ResourceVersion in the precondition (\(expected)) does not match the ResourceVersion in record (\(resourceVersion)). The object might have been modified"))
        }
        var finalizers = object[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? []
        switch options.propagation {
        case .foreground: if !finalizers.contains("foregroundDeletion") { finalizers.append("foregroundDeletion") }
        case .orphan: if !finalizers.contains("orphan") { finalizers.append("orphan") }
        case .background, nil: break
        }
        // A CRD is held until its custom resources are gone (apiextensions adds this on delete).
        if definition.groupResource == BuiltinResources.customResourceDefinitions.groupResource,
            !finalizers.contains("customresourcecleanup.apiextensions.k8s.io")
        {
            finalizers.append("customresourcecleanup.apiextensions.k8s.io")
        }
        let isNamespace = location.resource == BuiltinResources.namespaces.groupResource
        guard !finalizers.isEmpty || isNamespace else {
            if options.dryRun { return .success(.deleted(object)) }
            return .success(.deleted(commitDelete(at: location) ?? object))
        }
        // Graceful: mark, keep, and let the finalizers' owners finish the job.
        let wasTerminating = object[path: ["metadata", "deletionTimestamp"]] != nil
        let before = object
        object[path: ["metadata", "finalizers"]] = finalizers.isEmpty ? nil : .array(finalizers.map(JSON.string))
        if !wasTerminating {
            object[path: ["metadata", "deletionTimestamp"]] = .string(context.timestamp)
            object[path: ["metadata", "deletionGracePeriodSeconds"]] = 0
            if definition.hasGeneration {
                object[path: ["metadata", "generation"]] = .int((object[path: ["metadata", "generation"]]?.intValue ?? 1) + 1)
            }
            if isNamespace { object[dotted: "status.phase"] = "Terminating" }
        }
        if object == before || options.dryRun { return .success(.terminating(object)) }
        let stored = commitPut(object, at: location, previous: before)
        pendingCollection.append(.finalize(location))
        return .success(.terminating(stored))
    }
}

/// What a list returns.
struct ListPage {
    var items: [JSON]
    var resourceVersion: String
    var continueToken: String?
    var remainingItemCount: Int?
}

extension StoreState {
    func get(_ definition: ResourceDefinition, version: String, namespace: String?, name: String) -> Result<JSON, APIStatus> {
        let key = ObjectKey(namespace: definition.namespaced ? namespace : nil, name: name)
        guard let object = tables[definition.groupResource]?.objects[key] else {
            return .failure(.notFound(definition.resourceType(version: version), name: name))
        }
        return .success(Self.served(object, version: version, definition: definition))
    }

    /// Objects in key order; `continue` resumes after the last key of the previous page, from
    /// the state at the first page's revision (a consistent snapshot, rebuilt from the watch
    /// history; 410 Expired once that history is gone, as etcd compaction makes it).
    mutating func list(
        _ definition: ResourceDefinition, version: String, filter: WatchFilter, limit: Int?, continueToken: String?
    ) -> Result<ListPage, APIStatus> {
        var start: ObjectKey?
        var listRevision = revision
        if let continueToken, !continueToken.isEmpty {
            guard let decoded = ContinueToken.decode(continueToken) else {
                return .failure(.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))
            }
            start = decoded.start
            listRevision = decoded.revision
        }
        var table = tables[definition.groupResource] ?? ResourceTable()
        var objects = table.objects
        var keys: [ObjectKey]
        if continueToken?.isEmpty == false, listRevision < revision {
            guard let snapshot = table.snapshot(at: listRevision) else {
                return .failure(
                    .expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."))
            }
            objects = snapshot
            keys = snapshot.keys.sorted()
        } else {
            keys = table.sortedKeys
            tables[definition.groupResource] = table
        }
        var items: [JSON] = []
        var lastKey: ObjectKey?
        var more = false
        var remaining = 0
        // Keys sort by namespace, then name: a namespace's keys are one run, found by bisection,
        // so a namespaced list costs what that namespace holds, not what the cluster holds.
        var from = 0
        if let namespace = filter.namespace { from = Self.firstIndex(in: keys) { !($0 < ObjectKey(namespace: namespace, name: "")) } }
        if let start { from = max(from, Self.firstIndex(in: keys) { start < $0 }) }
        for key in keys[from...] {
            if let namespace = filter.namespace, key.namespace != namespace { break }
            guard let object = objects[key], filter.matches(object) else { continue }
            if let limit, limit > 0, items.count >= limit {
                more = true
                remaining += 1
                continue
            }
            var item = Self.served(object, version: version, definition: definition)
            // Built-in lists carry no kind or apiVersion on their items (kubernetes#3030).
            if !definition.isCustom {
                item["kind"] = nil
                item["apiVersion"] = nil
            }
            items.append(item)
            lastKey = key
        }
        var page = ListPage(items: items, resourceVersion: String(listRevision))
        if more, let lastKey {
            page.continueToken = ContinueToken.encode(revision: listRevision, start: lastKey)
            if filter.labelSelector.isEverything && filter.fieldSelector.requirements.isEmpty { page.remainingItemCount = remaining }
        }
        return .success(page)
    }
}

extension StoreState {
    /// The first index of sorted `keys` where `isPast` holds (it holds from there on).
    static func firstIndex(in keys: [ObjectKey], where isPast: (ObjectKey) -> Bool) -> Int {
        var low = 0
        var high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if isPast(keys[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

/// The opaque `continue` token, in the shape the real server uses (base64url JSON).
enum ContinueToken {
    static func encode(revision: Int, start: ObjectKey) -> String {
        let body: JSON = ["v": "meta.k8s.io/v1", "rv": .int(revision), "start": .string("\(start.namespace)/\(start.name)\u{0}")]
        return body.serializedData().base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ token: String) -> (revision: Int, start: ObjectKey)? {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let json = try? JSON(parsing: data),
            let revision = json["rv"]?.intValue, var start = json["start"]?.stringValue
        else { return nil }
        if start.hasSuffix("\u{0}") { start.removeLast() }
        let parts = start.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        return (revision, ObjectKey(namespace: String(parts[0]), name: String(parts[1])))
    }
}
