import Foundation
import KubeCore
import KubeAPI
import KubeRuntime

/// Reads the CA bundles deployments name in spec.proxy.caBundle: ConfigMaps, held as metadata
/// only by the informer and read whole once per resourceVersion. Of each, only which keys it has
/// and a digest of each value are kept: the pods roll when the digest of theirs changes.
public final class CABundleSource: Sendable {
    struct Summary: Sendable {
        /// Key to (digest, holds a PEM certificate).
        var keys: [String: (digest: String, isPEM: Bool)]
    }

    private let reader: VersionedReader<Summary>

    public init(client: KubeClient, configMaps: ObjectCache) {
        reader = VersionedReader(client: client, resource: .configMaps, metadata: [configMaps]) { object in
            var keys: [String: (digest: String, isPEM: Bool)] = [:]
            for (key, value) in KubeObject.stringMap(object["data"]) {
                keys[key] = (String(SHA256.hex(Array(value.utf8)).prefix(16)), value.contains("-----BEGIN CERTIFICATE-----"))
            }
            for (key, value) in KubeObject.stringMap(object["binaryData"]) {
                let bytes = Data(base64Encoded: value).map(Array.init) ?? []
                keys[key] = (String(SHA256.hex(bytes).prefix(16)), String(decoding: bytes, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----"))
            }
            return Summary(keys: keys)
        }
    }

    /// The digest of the bundle, or why there is none.
    func digest(of bundle: PodSettings.CABundle, namespace: String) async throws(DeploymentProblem) -> String {
        let found: (value: Summary, version: String)?
        do {
            found = try await reader.read(ObjectKey(namespace: namespace, name: bundle.configMapName))
        } catch {
            throw .apiUnavailable(error.description)
        }
        guard let summary = found?.value else { throw .caBundleNotFound(configMap: bundle.configMapName, key: bundle.key, present: nil) }
        guard let entry = summary.keys[bundle.key] else {
            throw .caBundleNotFound(configMap: bundle.configMapName, key: bundle.key, present: Array(summary.keys.keys))
        }
        guard entry.isPEM else { throw .caBundleInvalid(configMap: bundle.configMapName, key: bundle.key) }
        return entry.digest
    }

    public func forget(_ key: ObjectKey) { reader.forget(key) }
}
