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
    private let handlers = Mutex<[Handler]>([])
    private let syncState = Mutex<SyncState>(SyncState())

    private struct SyncState {
        var synced: Set<String> = []
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        var started: ContinuousClock.Instant?
    }

    /// - Parameters:
    ///   - namespaces: `nil` for all namespaces.
    ///   - metadataOnly: cache `PartialObjectMetadata` only (for Secrets: many, large, and their
    ///     data is not the controller's business until it reads one on purpose).
    ///   - transform: what of each object to keep, applied before it is cached (client-go's
    ///     SetTransform): for objects the controller reads a few fields of, such as Pods.
    public init(
        client: KubeClient, resource: ResourceType, namespaces: [String]? = nil, labelSelector: LabelSelector? = nil,
        fieldSelector: FieldSelector? = nil, metadataOnly: Bool = false, indexers: ObjectCache.Indexers = [:],
        transform: (@Sendable (KubeObject) -> KubeObject)? = nil, time: any TimeSource = SystemTime(), onError: (@Sendable (KubeError) -> Void)? = nil
    ) {
        self.resource = resource
        self.transform = transform
        self.cache = ObjectCache(indexers: indexers)
        let scopes: [String?] = resource.namespaced ? (namespaces.map { $0.map(Optional.some) } ?? [nil]) : [nil]
        self.watchers = scopes.map { namespace in
            var watcher = Watcher(client: client, resource: resource, namespace: namespace)
            watcher.labelSelector = labelSelector
            watcher.fieldSelector = fieldSelector
            watcher.metadataOnly = metadataOnly
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

    /// Returns once every namespace's first list is in the cache, or when the task is cancelled
    /// (a process told to stop while the API server is away must not wait for it).
    public func waitForSync() async {
        let id = syncState.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = syncState.withLock { state -> Bool in
                    if state.synced.count == watchers.count || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            syncState.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Runs until the task is cancelled.
    public func run() async {
        let started = ContinuousClock.now
        syncState.withLock { $0.started = started }
        await withTaskGroup(of: Void.self) { group in
            for (namespace, watcher) in watchers {
                group.addTask { await self.consume(watcher.events(), namespace: namespace) }
            }
        }
    }

    private func consume(_ events: WatcherEvents, namespace: String?) async {
        // A relist arrives page by page; it is kept compact and swapped in whole at the end, so a
        // list that fails half-way never shows as deletions.
        var batch: [(key: ObjectKey, compact: CompactObject)] = []
        for await event in events {
            switch event.transformed(transform) {
            case .initStart:
                batch.removeAll()
            case .initApply(let object):
                batch.append((object.key, CompactObject(ObjectCache.trimmed(object))))
            case .initDone:
                let changes = cache.replace(with: batch, namespace: namespace)
                batch = []
                for compact in changes.added { dispatch(.added(compact.object)) }
                for (old, new) in changes.updated { dispatch(.updated(old: old.object, new: new.object)) }
                for compact in changes.deleted { dispatch(.deleted(compact.object)) }
                markSynced(namespace)
            case .apply(let object):
                let stored = ObjectCache.trimmed(object)
                if let previous = cache.upsert(stored) {
                    if previous.resourceVersion != stored.resourceVersion { dispatch(.updated(old: previous, new: stored)) }
                } else {
                    dispatch(.added(stored))
                }
            case .delete(let object):
                let previous = cache.remove(object.key)
                dispatch(.deleted(previous ?? ObjectCache.trimmed(object)))
            }
        }
    }

    private func dispatch(_ event: InformerEvent) {
        for handler in handlers.withLock({ $0 }) { handler(event) }
    }

    private func markSynced(_ namespace: String?) {
        let (waiters, started) = syncState.withLock { state -> ([CheckedContinuation<Void, Never>], ContinuousClock.Instant?) in
            guard state.synced.insert(namespace ?? "").inserted, state.synced.count == watchers.count else { return ([], nil) }
            let waiting = Array(state.waiters.values)
            state.waiters.removeAll()
            return (waiting, state.started)
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
