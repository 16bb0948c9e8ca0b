import Synchronization
import KubeCore

/// An object as the cache keeps it: packed (`PackedJSON`, keys numbered in the cache's table),
/// several times smaller than the parsed tree and under half its JSON text, unpacked when read.
struct CompactObject: Sendable {
    let packed: PackedJSON
    let keys: JSONKeyTable
    let resourceVersion: String

    init(_ object: KubeObject, keys: JSONKeyTable) {
        packed = PackedJSON(object.body, keys: keys)
        self.keys = keys
        resourceVersion = object.resourceVersion
    }

    var byteCount: Int { packed.bytes.count }

    var object: KubeObject { KubeObject(packed.unpacked(keys: keys) ?? .object([:])) }
}

/// The informer's local copy of a resource, keyed namespace/name, with secondary indexes.
///
/// A lock rather than an actor: event handlers read it (to map a Secret to the deployments that
/// name it, say) while an event is being dispatched, and must not suspend there. Every
/// operation is short and never calls out while holding the lock.
public final class ObjectCache: Sendable {
    /// Index name to a function listing the index values of an object.
    public typealias Indexers = [String: @Sendable (KubeObject) -> [String]]

    private struct State {
        var objects: [ObjectKey: CompactObject] = [:]
        var indexes: [String: [String: Set<ObjectKey>]] = [:]
        /// The packed objects' bytes, summed.
        var bytes = 0
        /// Objects the informer does not keep (`Informer(keeps:)`), read on purpose, each with the
        /// stamp of its tracking: an event for one ends it, and a later tracking gets a new stamp.
        var tracked: [ObjectKey: Int] = [:]
        var lastStamp = 0
        /// Namespaces ("" for all) the informer has listed: from then on it sees every change.
        var synced: Set<String> = []
    }

    private let state = Mutex(State())
    private let indexers: Indexers
    /// The keys of the objects packed here: one kind's objects share most of theirs.
    private let keyTable = JSONKeyTable()

    public init(indexers: Indexers = [:]) {
        self.indexers = indexers
    }

    public func get(_ key: ObjectKey) -> KubeObject? { state.withLock { $0.objects[key] }?.object }

    public func get(namespace: String?, name: String) -> KubeObject? { get(ObjectKey(namespace: namespace, name: name)) }

    /// Everything, or one namespace's objects, in key order.
    public func list(namespace: String? = nil) -> [KubeObject] {
        state.withLock { state in
            state.objects.keys.sorted().filter { namespace == nil || $0.namespace == namespace }.compactMap { state.objects[$0] }
        }.map(\.object)
    }

    /// Every object, or one namespace's, parsed one at a time as `body` takes it, in no order:
    /// a pass over thousands (a gauge's sum) never holds them all parsed, which `list` does at
    /// several times their cached bytes.
    public func forEach(namespace: String? = nil, _ body: (KubeObject) throws -> Void) rethrows {
        let compacts = state.withLock { state in
            var selected: [CompactObject] = []
            for (key, compact) in state.objects where namespace == nil || key.namespace == namespace { selected.append(compact) }
            return selected
        }
        for compact in compacts { try body(compact.object) }
    }

    public var keys: [ObjectKey] { state.withLock { $0.objects.keys.sorted() } }

    public var count: Int { state.withLock { $0.objects.count } }

    /// What the cached objects take as kept (their packed bytes), for the memory budget.
    public var byteCount: Int { state.withLock { $0.bytes } }

    /// Objects whose index `name` contains `value`.
    public func byIndex(_ name: String, _ value: String) -> [KubeObject] {
        state.withLock { state in
            (state.indexes[name]?[value] ?? []).sorted().compactMap { state.objects[$0] }
        }.map(\.object)
    }

    /// The resourceVersion of an object, without parsing it.
    public func resourceVersion(_ key: ObjectKey) -> String? { state.withLock { $0.objects[key]?.resourceVersion } }

    /// Whether some object's index `name` holds `value`, without parsing any.
    public func hasIndexed(_ name: String, _ value: String) -> Bool { state.withLock { !($0.indexes[name]?[value]?.isEmpty ?? true) } }

    // MARK: - Objects the informer does not keep

    /// Tracks an object this cache does not hold, before reading it on purpose: its informer
    /// keeps it from its next event on, and until one arrives, what was read is what the server
    /// holds. Returns the tracking's stamp, for `isUnchanged(_:since:)`; nil for an object held,
    /// or before the informer has listed its namespace (no event would tell of a change).
    public func track(_ key: ObjectKey) -> Int? {
        state.withLock { state in
            guard state.objects[key] == nil, state.synced.contains("") || state.synced.contains(key.namespace) else { return nil }
            if let stamp = state.tracked[key] { return stamp }
            state.lastStamp += 1
            state.tracked[key] = state.lastStamp
            return state.lastStamp
        }
    }

    /// Whether no event for the object has arrived since the tracking `stamp` began.
    public func isUnchanged(_ key: ObjectKey, since stamp: Int) -> Bool { state.withLock { $0.tracked[key] == stamp } }

    /// Whether the object is held or tracked: either way, its informer keeps it.
    func holdsOrTracks(_ key: ObjectKey) -> Bool { state.withLock { $0.objects[key] != nil || $0.tracked[key] != nil } }

    /// The informer has listed a namespace (nil: all).
    func markSynced(_ namespace: String?) { state.withLock { _ = $0.synced.insert(namespace ?? "") } }

    /// An event for an object not held: a tracking of it ends (what was read is out of date).
    func sawUnheld(_ key: ObjectKey) {
        state.withLock { state in
            if !state.tracked.isEmpty { state.tracked[key] = nil }
        }
    }

    // MARK: - Maintained by the informer

    /// Inserts or replaces an object already `trimmed`; returns the previous version. Each key has one writer (the consuming
    /// task of the watch of its namespace), so the previous version can be read and parsed
    /// outside the lock, once, and the object and its indexes then change in one step.
    @discardableResult
    func upsert(_ stored: KubeObject) -> KubeObject? {
        let compact = CompactObject(stored, keys: keyTable)
        let old = state.withLock { $0.objects[stored.key] }?.object
        state.withLock { state in
            let previous = state.objects.updateValue(compact, forKey: stored.key)
            state.bytes += compact.byteCount - (previous?.byteCount ?? 0)
            reindex(&state, key: stored.key, old: old, new: stored)
            if !state.tracked.isEmpty { state.tracked[stored.key] = nil }
        }
        return old
    }

    @discardableResult
    func remove(_ key: ObjectKey) -> KubeObject? {
        let old = state.withLock { $0.objects[key] }?.object
        state.withLock { state in
            let previous = state.objects.removeValue(forKey: key)
            state.bytes -= previous?.byteCount ?? 0
            reindex(&state, key: key, old: old, new: nil)
        }
        return old
    }

    /// Removes what a first list, put in as it came, did not bring (left from an attempt that
    /// failed half-way) from one namespace, or everywhere when `namespace` is nil.
    func removeAll(except kept: Set<ObjectKey>, namespace: String?) -> [KubeObject] {
        let gone = state.withLock { state in
            state.objects.keys.filter { (namespace == nil || $0.namespace == namespace) && !kept.contains($0) }
        }
        return gone.compactMap { remove($0) }
    }

    /// Swaps in a complete new set (after a list) for one namespace, or for everything when
    /// `namespace` is nil, and returns what changed, so handlers see objects that vanished while
    /// the watch was down as deletions. The changes stay compact: a relist of thousands is
    /// parsed one object at a time as it is dispatched, never all at once.
    /// An object as this cache keeps it, for `replace`.
    func compact(_ stored: KubeObject) -> CompactObject { CompactObject(stored, keys: keyTable) }

    func replace(with objects: [(key: ObjectKey, compact: CompactObject)], namespace: String?)
        -> (added: [CompactObject], updated: [(old: CompactObject, new: CompactObject)], deleted: [CompactObject], untracked: [ObjectKey])
    {
        state.withLock { state in
            var incomingKeys: Set<ObjectKey> = []
            incomingKeys.reserveCapacity(objects.count)
            var added: [CompactObject] = []
            var updated: [(old: CompactObject, new: CompactObject)] = []
            for (key, compact) in objects {
                incomingKeys.insert(key)
                if !state.tracked.isEmpty { state.tracked[key] = nil }
                let previous = state.objects.updateValue(compact, forKey: key)
                state.bytes += compact.byteCount - (previous?.byteCount ?? 0)
                if let previous {
                    if previous.resourceVersion != compact.resourceVersion {
                        if !indexers.isEmpty { reindex(&state, key: key, old: previous.object, new: compact.object) }
                        updated.append((previous, compact))
                    }
                } else {
                    if !indexers.isEmpty { reindex(&state, key: key, old: nil, new: compact.object) }
                    added.append(compact)
                }
            }
            // A tracked object the list did not bring is gone: its tracking ends, and the informer
            // reports it deleted (no watch event will).
            let untracked = state.tracked.keys.filter { (namespace == nil || $0.namespace == namespace) && !incomingKeys.contains($0) }
            for key in untracked { state.tracked[key] = nil }
            let gone = state.objects.filter { key, _ in (namespace == nil || key.namespace == namespace) && !incomingKeys.contains(key) }
            var deleted: [CompactObject] = []
            for (key, compact) in gone {
                state.objects[key] = nil
                state.bytes -= compact.byteCount
                if !indexers.isEmpty { reindex(&state, key: key, old: compact.object, new: nil) }
                deleted.append(compact)
            }
            return (added, updated, deleted, untracked)
        }
    }

    private func reindex(_ state: inout State, key: ObjectKey, old: KubeObject?, new: KubeObject?) {
        for (name, indexer) in indexers {
            let before = old.map(indexer) ?? []
            let after = new.map(indexer) ?? []
            if before == after { continue }
            for value in before { state.indexes[name]?[value]?.remove(key) }
            for value in after { state.indexes[name, default: [:]][value, default: []].insert(key) }
        }
    }

    /// What only the server and kubectl keep books with: `managedFields` (controller-runtime
    /// strips it the same way to save memory) and `kubectl apply`'s last-applied annotation, the
    /// whole object again (a Secret's data included, even in a metadata-only list). A cache of
    /// thousands of objects has no use for either.
    static func trimmed(_ object: KubeObject) -> KubeObject {
        let hasManagedFields = object[path: ["metadata", "managedFields"]] != nil
        let hasLastApplied = object[path: ["metadata", "annotations", lastAppliedAnnotation]] != nil
        guard hasManagedFields || hasLastApplied else { return object }
        var trimmed = object
        if hasManagedFields { trimmed[path: ["metadata", "managedFields"]] = nil }
        if hasLastApplied { trimmed[path: ["metadata", "annotations", lastAppliedAnnotation]] = nil }
        return trimmed
    }

    static let lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
}

/// Indexes most controllers need.
public enum CacheIndex {
    /// `ownerUID`: objects by the UIDs of their owners.
    public static let ownerUID = "ownerUID"

    public static func ownerUIDs(_ object: KubeObject) -> [String] { object.ownerReferences.map(\.uid) }
}
