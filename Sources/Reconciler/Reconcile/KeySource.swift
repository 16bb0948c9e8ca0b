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

    /// The key the reference names, or why there is none.
    public func key(for reference: NimDeployment.KeyReference, namespace: String) async throws(DeploymentProblem) -> APIKey {
        let secretKey = ObjectKey(namespace: namespace, name: reference.name)
        guard let metadata = secrets.get(secretKey) else { throw .keySecretNotFound(secret: reference.name) }
        let data = try await data(of: secretKey, version: metadata.resourceVersion)
        let candidates = reference.key.map { [$0] } ?? ["NGC_API_KEY", "api_key"]
        guard let dataKey = candidates.first(where: { data[$0] != nil }), let encoded = data[dataKey] else {
            throw .keyNotInSecret(secret: reference.name, tried: candidates, present: Array(data.keys))
        }
        guard let decoded = Data(base64Encoded: encoded), let text = String(data: decoded, encoding: .utf8) else {
            throw .keyMalformed(secret: reference.name, dataKey: dataKey, why: "is not valid text")
        }
        switch APIKey.parse(text) {
        case .success(let key): return key
        case .failure(.empty): throw .keyEmpty(secret: reference.name, dataKey: dataKey)
        case .failure(.malformed(let why)): throw .keyMalformed(secret: reference.name, dataKey: dataKey, why: why)
        }
    }

    private func data(of key: ObjectKey, version: String) async throws(DeploymentProblem) -> [String: String] {
        if let cached = cache.withLock({ $0[key] }), cached.version == version { return cached.data }
        do {
            let secret = try await client.get(.secrets, namespace: key.namespace, name: key.name)
            let data = KubeObject.stringMap(secret["data"])
            cache.withLock { $0[key] = (secret.resourceVersion, data) }
            return data
        } catch {
            if error.isNotFound { throw .keySecretNotFound(secret: key.name) }
            throw .apiUnavailable(error.description)
        }
    }

    /// Drops what is held for a Secret that is gone.
    public func forget(_ key: ObjectKey) { cache.withLock { _ = $0.removeValue(forKey: key) } }
}
