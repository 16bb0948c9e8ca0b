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
    /// Caches that together hold every object of the resource (split by label), once `complete`.
    private let metadata: [ObjectCache]
    private let complete: @Sendable () -> Bool
    private let summarize: @Sendable (KubeObject) -> Value
    private let held = Mutex<[ObjectKey: (version: String, value: Value)]>([:])

    init(
        client: KubeClient, resource: ResourceType, metadata: [ObjectCache], complete: @escaping @Sendable () -> Bool = { true },
        summarize: @escaping @Sendable (KubeObject) -> Value
    ) {
        self.client = client
        self.resource = resource
        self.metadata = metadata
        self.complete = complete
        self.summarize = summarize
    }

    /// What is kept of the object and the version it was read at (the cache's or a later one:
    /// the cache may lag behind the server, never the reverse); nil when it does not exist.
    /// Before the caches are complete (listed after the ones reconciles wait for), an object
    /// they do not show is read from the server rather than taken for missing.
    func read(_ key: ObjectKey) async throws(KubeError) -> (value: Value, version: String)? {
        let cached = metadata.lazy.compactMap { $0.get(key) }.first
        if cached == nil, complete() { return nil }
        if let cached, let held = held.withLock({ $0[key] }), held.version == cached.resourceVersion { return (held.value, held.version) }
        do {
            let object = try await client.get(resource, namespace: key.namespace, name: key.name)
            let value = summarize(object)
            held.withLock { $0[key] = (object.resourceVersion, value) }
            return (value, object.resourceVersion)
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }

    /// Drops what is held for an object that is gone.
    func forget(_ key: ObjectKey) { held.withLock { _ = $0.removeValue(forKey: key) } }
}
