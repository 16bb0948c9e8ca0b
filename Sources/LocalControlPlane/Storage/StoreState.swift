import Foundation
import KubeCore

/// Where an object lives: its resource and its namespace/name.
struct ObjectLocation: Hashable, Sendable {
    var resource: GroupResource
    var key: ObjectKey
}

enum WatchEventType: String, Sendable {
    case added = "ADDED", modified = "MODIFIED", deleted = "DELETED", bookmark = "BOOKMARK", error = "ERROR"
}

/// One committed change, kept for watches that resume from an older resourceVersion.
struct WatchRecord: Sendable {
    var type: WatchEventType
    var object: JSON
    /// The object before the change: a label- or field-selected watch needs it to turn a change
    /// that moves an object out of (or into) its selection into DELETED (or ADDED).
    var previous: JSON?
    var revision: Int
}

/// The objects of one resource and its recent history.
struct ResourceTable: Sendable {
    var objects: [ObjectKey: JSON] = [:]
    var history: [WatchRecord] = []
    /// Events at or below this revision are gone: a watch from there gets 410 Expired.
    var compactedRevision = 0
    /// The keys in list order, kept up to date once a list asked for them: a controller that
    /// lists while others create (KServe's pods beside a mass create) would otherwise sort the
    /// whole table on every list, where the real server's watch cache keeps its keys ordered.
    private var sortedKeysCache: [ObjectKey]?

    var sortedKeys: [ObjectKey] {
        mutating get {
            if let cached = sortedKeysCache { return cached }
            let keys = objects.keys.sorted()
            sortedKeysCache = keys
            return keys
        }
    }

    mutating func store(_ object: JSON, at key: ObjectKey) {
        guard objects.updateValue(object, forKey: key) == nil, var keys = sortedKeysCache else { return }
        sortedKeysCache = nil
        keys.insert(key, at: StoreState.firstIndex(in: keys) { !($0 < key) })
        sortedKeysCache = keys
    }

    mutating func remove(_ key: ObjectKey) {
        guard objects.removeValue(forKey: key) != nil, var keys = sortedKeysCache else { return }
        sortedKeysCache = nil
        let index = StoreState.firstIndex(in: keys) { !($0 < key) }
        guard index < keys.count, keys[index] == key else { return }
        keys.remove(at: index)
        sortedKeysCache = keys
    }

    /// Appends to the history, dropping the oldest half once it passes twice the window, so the
    /// cost of trimming is paid rarely.
    mutating func record(_ record: WatchRecord, window: Int) {
        history.append(record)
        if history.count > window * 2 {
            let drop = history.count - window
            compactedRevision = history[drop - 1].revision
            history.removeFirst(drop)
        }
    }

    /// The objects as they were at `revision`, rebuilt by undoing the history after it; `nil`
    /// when the history no longer reaches back that far.
    func snapshot(at revision: Int) -> [ObjectKey: JSON]? {
        guard revision >= compactedRevision else { return nil }
        var objects = self.objects
        for record in history.reversed() where record.revision > revision {
            guard let key = Self.key(of: record.object) else { continue }
            switch record.type {
            case .added: objects[key] = nil
            default: objects[key] = record.previous
            }
        }
        return objects
    }

    static func key(of object: JSON) -> ObjectKey? {
        guard let name = object[path: ["metadata", "name"]]?.stringValue else { return nil }
        return ObjectKey(namespace: object[path: ["metadata", "namespace"]]?.stringValue, name: name)
    }

    mutating func compact() {
        if let last = history.last { compactedRevision = max(compactedRevision, last.revision) }
        history.removeAll()
    }
}

/// Everything the control plane holds, guarded by one lock: requests are serialised the way
/// etcd serialises transactions, so one revision sequence orders every change.
struct StoreState: Sendable {
    var revision = 1
    var definitions: [GroupResource: ResourceDefinition] = [:] { didSet { admissionRevision &+= 1 } }
    /// Moves whenever what an AdmissionView holds changes (definitions, RBAC objects).
    private(set) var admissionRevision = 0
    var tables: [GroupResource: ResourceTable] = [:]
    var watchers: [GroupResource: [WatchSubscription]] = [:]
    var uidIndex: [String: ObjectLocation] = [:]
    /// Owner UID to the objects that name it in ownerReferences: the garbage collector's graph.
    var dependents: [String: Set<ObjectLocation>] = [:]
    var historyWindow: Int
    /// Work for the garbage collector, drained by its thread.
    var pendingCollection: [CollectorWork] = []

    init(historyWindow: Int) {
        self.historyWindow = historyWindow
    }

    func object(at location: ObjectLocation) -> JSON? {
        tables[location.resource]?.objects[location.key]
    }

    func namespaceExists(_ name: String) -> JSON? {
        tables[GroupResource(group: "", plural: "namespaces")]?.objects[ObjectKey(namespace: nil, name: name)]
    }

    // MARK: - Committing changes

    /// Stores a new or changed object under a fresh revision and tells the watchers.
    mutating func commitPut(_ object: JSON, at location: ObjectLocation, previous: JSON?) -> JSON {
        revision += 1
        var stored = object
        stored[path: ["metadata", "resourceVersion"]] = .string(String(revision))
        tables[location.resource, default: ResourceTable()].store(stored, at: location.key)
        if AdmissionView.isRBAC(location.resource) { admissionRevision &+= 1 }
        reindex(location, old: previous, new: stored)
        publish(WatchRecord(type: previous == nil ? .added : .modified, object: stored, previous: previous, revision: revision), to: location.resource)
        return stored
    }

    /// Removes an object under a fresh revision; watchers get DELETED with its last state.
    @discardableResult
    mutating func commitDelete(at location: ObjectLocation) -> JSON? {
        guard let existing = tables[location.resource]?.objects[location.key] else { return nil }
        revision += 1
        var last = existing
        last[path: ["metadata", "resourceVersion"]] = .string(String(revision))
        tables[location.resource]?.remove(location.key)
        if AdmissionView.isRBAC(location.resource) { admissionRevision &+= 1 }
        reindex(location, old: existing, new: nil)
        publish(WatchRecord(type: .deleted, object: last, previous: existing, revision: revision), to: location.resource)
        if let uid = existing[path: ["metadata", "uid"]]?.stringValue { pendingCollection.append(.ownerGone(uid: uid)) }
        return last
    }

    private mutating func reindex(_ location: ObjectLocation, old: JSON?, new: JSON?) {
        let oldOwners = Set(ownerUIDs(old))
        let newOwners = Set(ownerUIDs(new))
        for uid in oldOwners.subtracting(newOwners) {
            dependents[uid]?.remove(location)
            if dependents[uid]?.isEmpty == true { dependents[uid] = nil }
        }
        for uid in newOwners.subtracting(oldOwners) { dependents[uid, default: []].insert(location) }
        if let uid = old?[path: ["metadata", "uid"]]?.stringValue, new == nil { uidIndex[uid] = nil }
        if let uid = new?[path: ["metadata", "uid"]]?.stringValue { uidIndex[uid] = location }
        if !newOwners.isEmpty, newOwners != oldOwners { pendingCollection.append(.checkOwners(location)) }
    }

    private func ownerUIDs(_ object: JSON?) -> [String] {
        object?[path: ["metadata", "ownerReferences"]]?.arrayValue?.compactMap { $0["uid"]?.stringValue } ?? []
    }

    private mutating func publish(_ record: WatchRecord, to resource: GroupResource) {
        tables[resource, default: ResourceTable()].record(record, window: historyWindow)
        guard let subscriptions = watchers[resource] else { return }
        var live: [WatchSubscription] = []
        for subscription in subscriptions where !subscription.isClosed {
            subscription.offer(record)
            live.append(subscription)
        }
        watchers[resource] = live
    }
}

/// What the garbage collector has to look at.
enum CollectorWork: Sendable, Hashable {
    /// An object is gone: its dependents may have to go too.
    case ownerGone(uid: String)
    /// An object names owners: if none of them exists, it is garbage.
    case checkOwners(ObjectLocation)
    /// An object is being deleted with a policy the collector finishes (foreground, orphan), or
    /// holds a finalizer a built-in controller removes (namespace, pvc-protection).
    case finalize(ObjectLocation)
}
