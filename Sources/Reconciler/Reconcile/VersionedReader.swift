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
    private let held = Mutex<[ObjectKey: (version: String, value: Value)]>([:])
    /// Reads under way, by object and the version the caches showed when each began.
    private let inFlight = Mutex<[ObjectKey: (seen: String?, read: Task<Result<(value: Value, version: String)?, KubeError>, Never>)]>([:])

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
    func read(_ key: ObjectKey) async throws(KubeError) -> (value: Value, version: String)? {
        let cached = metadata.lazy.compactMap { $0.get(key) }.first
        if let cached, let held = held.withLock({ $0[key] }), held.version == cached.resourceVersion { return (held.value, held.version) }
        let seen = cached?.resourceVersion
        let read = inFlight.withLock { flights in
            if let flight = flights[key], flight.seen == seen { return flight.read }
            let read = Task { await self.fetch(key) }
            flights[key] = (seen, read)
            return read
        }
        let result = await read.value
        inFlight.withLock { flights in if flights[key]?.read == read { flights[key] = nil } }
        return try result.get()
    }

    private func fetch(_ key: ObjectKey) async -> Result<(value: Value, version: String)?, KubeError> {
        do {
            let object = try await client.get(resource, namespace: key.namespace, name: key.name)
            let value = summarize(object)
            held.withLock { $0[key] = (object.resourceVersion, value) }
            return .success((value, object.resourceVersion))
        } catch {
            if error.isNotFound { return .success(nil) }
            return .failure(error)
        }
    }

    /// The version last read of an object, if any.
    func heldVersion(_ key: ObjectKey) -> String? { held.withLock { $0[key]?.version } }

    /// Drops what is held for an object that is gone.
    func forget(_ key: ObjectKey) { held.withLock { _ = $0.removeValue(forKey: key) } }
}
