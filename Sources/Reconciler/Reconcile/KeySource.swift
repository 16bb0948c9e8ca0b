import Foundation
import Synchronization
import KubeWatch

/// Reads a deployment's API key from the user's Secret. The Secret informer holds metadata
/// only; the data is fetched when a Secret's resourceVersion is new to this process and kept
/// in memory, keyed by that version, so an unchanged Secret costs no request.
public final class KeySource: Sendable {
    private let client: KubeClient
    private let secrets: ObjectCache
    private let cache = Mutex<[ObjectKey: (version: String, data: [String: String])]>([:])

    public init(client: KubeClient, secrets: ObjectCache) {
        self.client = client
        self.secrets = secrets
    }

    /// The key the reference names and the Secret's resourceVersion it was read at, or why
    /// there is none.
    public func key(for reference: NimDeployment.KeyReference, namespace: String) async throws(DeploymentProblem) -> (key: APIKey, version: String) {
        let secretKey = ObjectKey(namespace: namespace, name: reference.name)
        guard let metadata = secrets.get(secretKey) else { throw .keySecretNotFound(secret: reference.name) }
        let (data, version) = try await data(of: secretKey, version: metadata.resourceVersion)
        switch APIKey.read(fromSecretData: data, dataKey: reference.key) {
        case .success(let found): return (found.key, version)
        case .failure(.missing(let tried, let present)): throw .keyNotInSecret(secret: reference.name, tried: tried, present: present)
        case .failure(.notText(let dataKey)): throw .keyMalformed(secret: reference.name, dataKey: dataKey, why: "is not valid text")
        case .failure(.empty(let dataKey)): throw .keyEmpty(secret: reference.name, dataKey: dataKey)
        case .failure(.malformed(let dataKey, let why)): throw .keyMalformed(secret: reference.name, dataKey: dataKey, why: why)
        }
    }

    /// The data at `version` or later (the cache may lag behind the server, never the reverse).
    private func data(of key: ObjectKey, version: String) async throws(DeploymentProblem) -> (data: [String: String], version: String) {
        if let cached = cache.withLock({ $0[key] }), cached.version == version { return (cached.data, cached.version) }
        do {
            let secret = try await client.get(.secrets, namespace: key.namespace, name: key.name)
            let data = KubeObject.stringMap(secret["data"])
            cache.withLock { $0[key] = (secret.resourceVersion, data) }
            return (data, secret.resourceVersion)
        } catch {
            if error.isNotFound { throw .keySecretNotFound(secret: key.name) }
            throw .apiUnavailable(error.description)
        }
    }

    /// Drops what is held for a Secret that is gone.
    public func forget(_ key: ObjectKey) { cache.withLock { _ = $0.removeValue(forKey: key) } }
}
