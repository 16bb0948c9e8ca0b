import Synchronization
import KubeCore
import KubeAPI
import KubeRuntime

/// Reads objects the informers hold as metadata only (Secrets, ConfigMaps) whole, once per
/// resourceVersion: what the reconcile needs of one is kept, keyed by the version it was read
/// at, so an unchanged object costs no request and a changed one is read again.
final class VersionedReader<Value: Sendable>: Sendable {
    private let client: KubeClient
    private let resource: ResourceType
    /// Caches that together hold the objects of the resource (Secrets are split by label).
    private let metadata: [ObjectCache]
    private let summarize: @Sendable (KubeObject) -> Value
    /// What was read, at which version, and (for one no cache held) the stamps of its tracking
    /// in each cache, taken before the read.
    private let held = Mutex<[ObjectKey: (version: String, value: Value, stamps: [Int]?)]>([:])
    /// Reads under way, by object, the version the caches showed and the tracking when each began.
    private let inFlight = Mutex<[ObjectKey: (seen: String?, stamps: [Int]?, read: Task<Result<(value: Value, version: String)?, KubeError>, Never>)]>([:])

    init(client: KubeClient, resource: ResourceType, metadata: [ObjectCache], summarize: @escaping @Sendable (KubeObject) -> Value) {
        self.client = client
        self.resource = resource
        self.metadata = metadata
        self.summarize = summarize
    }

    /// What is kept of the object and the version it was read at (the cache's or a later one:
    /// the cache may lag behind the server, never the reverse); nil when it does not exist.
    /// One the caches do not show is asked for, not taken for missing: a cache listed late
    /// (the Secrets that are not the operator's) may not have it yet, and one moving between
    /// caches split by label is in neither for a moment. That costs a read per reconcile only
    /// while it is really missing.
    ///
    /// Reconciles that need the same object while the caches show the same version of it
    /// share one read (the deployments of a namespace sharing its key Secret, on a start before
    /// the Secrets are listed): a read begun when the caches showed an older version is not
    /// shared, so no one is handed a version older than the one that woke it.
    ///
    /// Caches that hold only some objects (the Secrets no deployment names are not kept) track
    /// one none of them holds from just before it is read: while no event for it has arrived
    /// since, in any of them, what was read is still what the server holds, and costs no second
    /// read. A read begun under another tracking is not shared, nor trusted after it.
    func read(_ key: ObjectKey) async throws(KubeError) -> (value: Value, version: String)? {
        let cached = metadata.lazy.compactMap { $0.get(key) }.first
        let kept = held.withLock { $0[key] }
        if let cached, let kept, kept.version == cached.resourceVersion { return (kept.value, kept.version) }
        if cached == nil, let kept, let tracked = kept.stamps, zip(metadata, tracked).allSatisfy({ $0.isUnchanged(key, since: $1) }) {
            return (kept.value, kept.version)
        }
        let taken = cached == nil ? metadata.compactMap { $0.track(key) } : []
        let stamps = cached == nil && taken.count == metadata.count ? taken : nil
        let seen = cached?.resourceVersion
        let read = inFlight.withLock { flights in
            if let flight = flights[key], flight.seen == seen, flight.stamps == stamps { return flight.read }
            let read = Task { await self.fetch(key, stamps: stamps) }
            flights[key] = (seen, stamps, read)
            return read
        }
        let result = await read.value
        inFlight.withLock { flights in if flights[key]?.read == read { flights[key] = nil } }
        return try result.get()
    }

    private func fetch(_ key: ObjectKey, stamps: [Int]?) async -> Result<(value: Value, version: String)?, KubeError> {
        do {
            let object = try await client.get(resource, namespace: key.namespace, name: key.name)
            let value = summarize(object)
            held.withLock { $0[key] = (object.resourceVersion, value, stamps) }
            return .success((value, object.resourceVersion))
        } catch {
            // Gone: nothing read before may stand for it any longer.
            if error.isNotFound {
                held.withLock { _ = $0.removeValue(forKey: key) }
                return .success(nil)
            }
            return .failure(error)
        }
    }

    /// The version last read of an object, if any.
    func heldVersion(_ key: ObjectKey) -> String? { held.withLock { $0[key]?.version } }

    /// Drops what is held for an object that is gone.
    func forget(_ key: ObjectKey) { held.withLock { _ = $0.removeValue(forKey: key) } }
}
