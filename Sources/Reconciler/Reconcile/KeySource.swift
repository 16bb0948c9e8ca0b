import KubeCore
import KubeAPI
import KubeRuntime

/// Reads a deployment's API key from the user's Secret (held as metadata only by the informers,
/// read whole once per resourceVersion).
public final class KeySource: Sendable {
    private let reader: VersionedReader<[String: String]>

    /// - Parameters:
    ///   - secrets: caches that together hold the Secrets (split by label).
    public init(client: KubeClient, secrets: [ObjectCache]) {
        reader = VersionedReader(client: client, resource: .secrets, metadata: secrets) { KubeObject.stringMap($0["data"]) }
    }

    /// The resourceVersion of a Secret as last read for its key, if it was.
    public func readVersion(of secret: ObjectKey) -> String? { reader.heldVersion(secret) }

    /// The key the reference names and the Secret's resourceVersion it was read at, or why
    /// there is none.
    public func key(for reference: NimDeployment.KeyReference, namespace: String) async throws(DeploymentProblem) -> (key: APIKey, version: String) {
        let found: (value: [String: String], version: String)?
        do {
            found = try await reader.read(ObjectKey(namespace: namespace, name: reference.name))
        } catch {
            throw .apiUnavailable(error.description)
        }
        guard let (data, version) = found else { throw .keySecretNotFound(secret: reference.name) }
        switch APIKey.read(fromSecretData: data, dataKey: reference.key) {
        case .success(let found): return (found.key, version)
        case .failure(.missing(let tried, let present)): throw .keyNotInSecret(secret: reference.name, tried: tried, present: present)
        case .failure(.notText(let dataKey)): throw .keyMalformed(secret: reference.name, dataKey: dataKey, why: "is not valid text")
        case .failure(.empty(let dataKey)): throw .keyEmpty(secret: reference.name, dataKey: dataKey)
        case .failure(.malformed(let dataKey, let why)): throw .keyMalformed(secret: reference.name, dataKey: dataKey, why: why)
        }
    }

    /// Drops what is held for a Secret that is gone.
    public func forget(_ key: ObjectKey) { reader.forget(key) }
}
