import Foundation
import Synchronization

/// Why no usable configuration could be built; the message names the file, context or field.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How requests prove who they are.
public enum Credentials: Sendable {
    case none
    case bearer(String)
    /// A token file re-read as it rotates (projected service-account tokens).
    case bearerFile(TokenFile)
    case basic(username: String, password: String)
    /// A credential plugin (`users[].user.exec`), run when a token is needed or rejected.
    case exec(ExecCredentialPlugin)

    /// The `Authorization` header value, if any.
    public func authorization(forceRefresh: Bool = false) async throws(ConfigError) -> String? {
        switch self {
        case .none: return nil
        case .bearer(let token): return "Bearer \(token)"
        case .bearerFile(let file): return "Bearer \(try file.token(forceRefresh: forceRefresh))"
        case .basic(let username, let password):
            return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        case .exec(let plugin): return "Bearer \(try await plugin.token(forceRefresh: forceRefresh))"
        }
    }

    /// Whether a 401 might be cured by asking again (a rotated file, a plugin's fresh token).
    public var canRefresh: Bool {
        switch self {
        case .bearerFile, .exec: return true
        default: return false
        }
    }
}

/// Everything a client needs to reach one API server.
public struct ClientConfiguration: Sendable {
    /// `https://host:port`, no trailing slash.
    public var server: String
    public var tls: TLSOptions
    public var credentials: Credentials
    /// The namespace of the context (or of the pod, in-cluster); `default` otherwise.
    public var namespace: String
    /// Where this came from, for logs: `kubeconfig /home/u/.kube/config (context kind-dev)`.
    public var source: String
    public var userAgent = "nim-deploy-operator"
    /// The kubeconfig's `proxy-url`, else the environment's proxy settings (client-go's order).
    public var proxy = ProxySettings.fromEnvironment()
    /// Every answer, list and watch is parsed without `metadata.managedFields`: for a controller,
    /// which never reads them (server-side apply makes them as large as the object, and every
    /// apply's answer carries them). Informers' caches drop them in any case.
    public var dropsManagedFields = false

    public init(server: String, tls: TLSOptions = TLSOptions(), credentials: Credentials = .none, namespace: String = "default", source: String = "explicit") {
        var trimmed = server
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.server = trimmed
        self.tls = tls
        self.credentials = credentials
        self.namespace = namespace
        self.source = source
    }

    /// client-go's (and controller-runtime's) order: an explicit `--kubeconfig`, then
    /// `$KUBECONFIG`, then the in-cluster service account, then `~/.kube/config`.
    public static func resolve(
        kubeconfig explicitPath: String? = nil, context: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        inCluster: InClusterConfig = InClusterConfig()
    ) throws(ConfigError) -> ClientConfiguration {
        if let explicitPath, !explicitPath.isEmpty {
            return try KubeConfigLoader.load(paths: [explicitPath], explicit: true, context: context)
        }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            let paths = list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
            return try KubeConfigLoader.load(paths: paths, explicit: false, context: context)
        }
        if inCluster.isAvailable(environment: environment) {
            return try inCluster.load(environment: environment)
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let defaultPath = "\(home)/.kube/config"
        guard FileManager.default.fileExists(atPath: defaultPath) else {
            throw ConfigError(
                "no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, run in a pod, or create \(defaultPath)")
        }
        return try KubeConfigLoader.load(paths: [defaultPath], explicit: true, context: context)
    }
}

/// A bearer token read from a file and re-read at most once a minute (client-go's period),
/// so a projected service-account token that the kubelet rotates is picked up.
public final class TokenFile: Sendable {
    public let path: String
    private let cache = Mutex<(token: String, readAt: Date)?>(nil)
    public static let rereadInterval: TimeInterval = 60

    public init(path: String) { self.path = path }

    public func token(forceRefresh: Bool = false) throws(ConfigError) -> String {
        if !forceRefresh, let cached = cache.withLock({ $0 }), Date().timeIntervalSince(cached.readAt) < Self.rereadInterval {
            return cached.token
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read token file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw ConfigError("token file \(path) is empty") }
        cache.withLock { $0 = (token, Date()) }
        return token
    }
}
