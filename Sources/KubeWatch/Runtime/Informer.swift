import Foundation
import Synchronization
import KubeCore
import KubeAPI

/// A change the informer saw, after its cache has been updated.
public enum InformerEvent: Sendable {
    case added(KubeObject)
    case updated(old: KubeObject, new: KubeObject)
    case deleted(KubeObject)

    public var object: KubeObject {
        switch self {
        case .added(let object), .deleted(let object): return object
        case .updated(_, let new): return new
        }
    }
}

/// Keeps a cache of one resource current (list, then watch, through a `Watcher`) and tells its
/// handlers what changed. With several namespaces it runs one watcher per namespace into the
/// same cache.
public final class Informer: Sendable {
    public typealias Handler = @Sendable (InformerEvent) -> Void

    static let log = Logger(name: "informer")

    public let resource: ResourceType
    public let cache: ObjectCache
    private let watchers: [(namespace: String?, watcher: Watcher)]
    private let transform: (@Sendable (KubeObject) -> KubeObject)?
    private let keeps: (@Sendable (KubeObject) -> Bool)?
    private let handlers = Mutex<[Handler]>([])
    private let syncState = Mutex<SyncState>(SyncState())

    private struct SyncState {
        var synced: Set<String> = []
        /// By scope ("" for all namespaces), during its first list: the last key listed. Lists
        /// come in the order the API server stores objects (etcd's, by `namespace/name`; a
        /// paged list cannot come otherwise, its continue token is the key to go on from), so
        /// every namespace before this key is complete in the cache.
        var listedThrough: [String: String] = [:]
        /// Scopes whose first list came out of key order: complete only once synced.
        var unordered: Set<String> = []
        var waiters: [Int: (namespace: String?, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextWaiter = 0
        var started: ContinuousClock.Instant?
    }

    /// - Parameters:
    ///   - namespaces: `nil` for all namespaces.
    ///   - metadataOnly: cache `PartialObjectMetadata` only (for Secrets: many, large, and their
    ///     data is not the controller's business until it reads one on purpose).
    ///   - transform: what of each object to keep, applied before it is cached (client-go's
    ///     SetTransform): for objects the controller reads a few fields of, such as Pods.
    ///   - keeps: which objects the cache holds (nil: all), where no selector can say it (the
    ///     Secrets some deployment names, among thousands of others). The handlers still see
    ///     every event, one for an object not held as `added`; one held stays held until it is
    ///     deleted, and one tracked (`ObjectCache.track`) is held from its next event on.
    public init(
        client: KubeClient, resource: ResourceType, namespaces: [String]? = nil, labelSelector: LabelSelector? = nil,
        fieldSelector: FieldSelector? = nil, metadataOnly: Bool = false, indexers: ObjectCache.Indexers = [:],
        transform: (@Sendable (KubeObject) -> KubeObject)? = nil, keeps: (@Sendable (KubeObject) -> Bool)? = nil, time: any TimeSource = SystemTime(),
        onError: (@Sendable (KubeError) -> Void)? = nil
    ) {
        self.resource = resource
        self.transform = transform
        self.keeps = keeps
        self.cache = ObjectCache(indexers: indexers)
        let scopes: [String?] = resource.namespaced ? (namespaces.map { $0.map(Optional.some) } ?? [nil]) : [nil]
        self.watchers = scopes.map { namespace in
            var watcher = Watcher(client: client, resource: resource, namespace: namespace)
            watcher.labelSelector = labelSelector
            watcher.fieldSelector = fieldSelector
            watcher.metadataOnly = metadataOnly
            // The cache drops them (`ObjectCache.trimmed`): never built saves the parse and the copy.
            watcher.dropsManagedFields = true
            watcher.time = time
            watcher.onError = onError
            return (namespace, watcher)
        }
    }

    public func addHandler(_ handler: @escaping Handler) {
        handlers.withLock { $0.append(handler) }
    }

    /// True once every namespace's first list is in the cache.
    public var hasSynced: Bool { syncState.withLock { $0.synced.count == watchers.count } }

    /// True once the cache holds all of one namespace (nil: of every namespace) as listed: a
    /// controller can reconcile that namespace's objects while later namespaces are still
    /// being listed.
    public func hasListed(namespace: String?) -> Bool { syncState.withLock { listed(namespace, in: $0) } }

    /// Returns once every namespace's first list is in the cache, or when the task is cancelled
    /// (a process told to stop while the API server is away must not wait for it).
    public func waitForSync() async { await waitUntilListed(namespace: nil) }

    /// Returns once `hasListed(namespace:)`, or when the task is cancelled.
    public func waitUntilListed(namespace: String?) async {
        let id = syncState.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = syncState.withLock { state -> Bool in
                    if listed(namespace, in: state) || Task.isCancelled { return true }
                    state.waiters[id] = (namespace, continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            syncState.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// Not synced, with a first list of all namespaces that came (as far as it came) in key
    /// order: the informers `ListPace` may wait for. Whether it is moving at all is the pace's
    /// to judge, by `listProgress`.
    var isListingInOrder: Bool {
        guard resource.namespaced, watchers.contains(where: { $0.namespace == nil }) else { return false }
        return syncState.withLock { !$0.synced.contains("") && !$0.unordered.contains("") }
    }

    /// The last key its first list of all namespaces has put in the cache ("" before the first).
    var listProgress: String { syncState.withLock { $0.listedThrough[""] ?? "" } }

    private func listed(_ namespace: String?, in state: SyncState) -> Bool {
        if state.synced.count == watchers.count { return true }
        guard let namespace, resource.namespaced else { return false }
        if watchers.contains(where: { $0.namespace == namespace }) { return state.synced.contains(namespace) }
        // A watcher of some namespaces (a single ConfigMap's, say) says nothing of others: only
        // the one of all namespaces does, through its key order.
        guard watchers.contains(where: { $0.namespace == nil }), !state.unordered.contains(""), let through = state.listedThrough[""] else { return false }
        // Every key of the namespace sorts before "<namespace>0" ('/' is just below '0').
        return !through.utf8.lexicographicallyPrecedes("\(namespace)0".utf8)
    }

    /// Runs until the task is cancelled.
    public func run() async { await run(pacedBy: nil) }

    /// Runs until the task is cancelled, its first list kept abreast of `pace`'s other informers.
    func run(pacedBy pace: ListPace?) async {
        let started = ContinuousClock.now
        syncState.withLock { $0.started = started }
        await withTaskGroup(of: Void.self) { group in
            for (namespace, watcher) in watchers {
                group.addTask { await self.consume(watcher.events(), namespace: namespace, pace: pace) }
            }
        }
    }

    private func consume(_ events: WatcherEvents, namespace: String?, pace: ListPace?) async {
        // The first list goes into the cache as it arrives, so that a namespace listed early
        // can be reconciled while the rest is still coming. A relist is kept compact and
        // swapped in whole at the end, so a list that fails half-way never shows as deletions.
        var first = true
        var seen: Set<ObjectKey> = []
        var lastKey: String?
        var lastNamespace: String?
        var batch: [(key: ObjectKey, compact: CompactObject)] = []
        for await event in events {
            switch event.transformed(transform) {
            case .initStart:
                batch.removeAll()
                seen.removeAll()
                lastKey = nil
                lastNamespace = nil
            case .initApply(let object) where first:
                let stored = ObjectCache.trimmed(object)
                seen.insert(stored.key)
                let key = stored.key.description
                let ordered = lastKey.map { $0.utf8.lexicographicallyPrecedes(key.utf8) } ?? true
                let previous = lastNamespace
                lastKey = key
                lastNamespace = stored.key.namespace
                // Every key before this one is in the cache (its own namespace is not claimed by it).
                markListed(namespace, through: key, ordered: ordered)
                if namespace == nil, ordered, let previous, previous != stored.key.namespace, let pace {
                    await pace.left(previous, by: self)
                }
                apply(stored)
            case .initApply(let object):
                let stored = ObjectCache.trimmed(object)
                if keeping(stored) { batch.append((stored.key, cache.compact(stored))) } else { passOn(stored) }
            case .initDone where first:
                first = false
                for object in cache.removeAll(except: seen, namespace: namespace) { dispatch(.deleted(object)) }
                seen = []
                markSynced(namespace)
            case .initDone:
                let changes = cache.replace(with: batch, namespace: namespace)
                batch = []
                for compact in changes.added { dispatch(.added(compact.object)) }
                for (old, new) in changes.updated { dispatch(.updated(old: old.object, new: new.object)) }
                for compact in changes.deleted { dispatch(.deleted(compact.object)) }
                for key in changes.untracked { dispatch(.deleted(KubeObject(apiVersion: resource.apiVersion, kind: resource.kind, namespace: key.namespace.isEmpty ? nil : key.namespace, name: key.name))) }
                markSynced(namespace)
            case .apply(let object):
                apply(ObjectCache.trimmed(object))
            case .delete(let object):
                let previous = cache.remove(object.key)
                if previous == nil { cache.sawUnheld(object.key) }
                dispatch(.deleted(previous ?? ObjectCache.trimmed(object)))
            }
        }
    }

    /// Whether the cache is to hold the object: `keeps` says so, or it holds or tracks it already.
    private func keeping(_ stored: KubeObject) -> Bool {
        guard let keeps else { return true }
        return keeps(stored) || cache.holdsOrTracks(stored.key)
    }

    /// An object the cache does not hold: the handlers see it all the same.
    private func passOn(_ stored: KubeObject) {
        cache.sawUnheld(stored.key)
        dispatch(.added(stored))
    }

    private func apply(_ stored: KubeObject) {
        guard keeping(stored) else { return passOn(stored) }
        if let previous = cache.upsert(stored) {
            if previous.resourceVersion != stored.resourceVersion { dispatch(.updated(old: previous, new: stored)) }
        } else {
            dispatch(.added(stored))
        }
    }

    private func dispatch(_ event: InformerEvent) {
        for handler in handlers.withLock({ $0 }) { handler(event) }
    }

    private func markListed(_ scope: String?, through key: String, ordered: Bool) {
        let waiters = syncState.withLock { state -> [CheckedContinuation<Void, Never>] in
            let scope = scope ?? ""
            if !ordered { state.unordered.insert(scope) }
            if state.listedThrough[scope].map({ $0.utf8.lexicographicallyPrecedes(key.utf8) }) ?? true { state.listedThrough[scope] = key }
            return takeSatisfied(&state)
        }
        for waiter in waiters { waiter.resume() }
    }

    private func markSynced(_ namespace: String?) {
        cache.markSynced(namespace)
        let (waiters, started) = syncState.withLock { state -> ([CheckedContinuation<Void, Never>], ContinuousClock.Instant?) in
            guard state.synced.insert(namespace ?? "").inserted else { return ([], nil) }
            state.listedThrough[namespace ?? ""] = nil
            let waiting = takeSatisfied(&state)
            return (waiting, state.synced.count == watchers.count ? state.started : nil)
        }
        if let started {
            // How long each cache takes to fill is what a slow start-up is made of.
            let elapsed = ContinuousClock.now - started
            Self.log.info("cache synced", [
                "resource": .string(resource.groupResource), "objects": .int(cache.count),
                "ms": .int(elapsed.milliseconds),
            ])
        }
        for waiter in waiters { waiter.resume() }
    }

    private func takeSatisfied(_ state: inout SyncState) -> [CheckedContinuation<Void, Never>] {
        let current = state
        let ready = state.waiters.filter { listed($0.value.namespace, in: current) }
        for id in ready.keys { state.waiters[id] = nil }
        return ready.values.map(\.continuation)
    }
}

extension WatcherEvent {
    func transformed(_ transform: (@Sendable (KubeObject) -> KubeObject)?) -> WatcherEvent {
        guard let transform else { return self }
        switch self {
        case .initApply(let object): return .initApply(transform(object))
        case .apply(let object): return .apply(transform(object))
        case .delete(let object): return .delete(transform(object))
        case .initStart, .initDone: return self
        }
    }
}
