import Foundation

/// The service account a pod runs as: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the token, CA and
/// namespace the kubelet mounts. The token is projected and rotates, so it is re-read.
public struct InClusterConfig: Sendable {
    /// Where the service account is mounted; tests point this elsewhere.
    public var mountPath: String

    public init(mountPath: String = "/var/run/secrets/kubernetes.io/serviceaccount") {
        self.mountPath = mountPath
    }

    public func isAvailable(environment: [String: String]) -> Bool {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else { return false }
        return FileManager.default.fileExists(atPath: "\(mountPath)/token")
    }

    public func load(environment: [String: String]) throws(ConfigError) -> ClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] else {
            throw ConfigError("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set")
        }
        // IPv6 service addresses need brackets in a URL.
        let authority = host.contains(":") ? "[\(host)]" : host
        let server = port == "443" ? "https://\(authority)" : "https://\(authority):\(port)"
        guard let authorityPEM = FileManager.default.contents(atPath: "\(mountPath)/ca.crt") else {
            throw ConfigError("in-cluster: cannot read the service account CA \(mountPath)/ca.crt")
        }
        let tokenFile = TokenFile(path: "\(mountPath)/token")
        _ = try tokenFile.token()
        let namespace = FileManager.default.contents(atPath: "\(mountPath)/namespace")
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
            .flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        return ClientConfiguration(
            server: server, tls: TLSOptions(certificateAuthority: [UInt8](authorityPEM)), credentials: .bearerFile(tokenFile),
            namespace: namespace, source: "in-cluster service account (\(mountPath))")
    }
}
