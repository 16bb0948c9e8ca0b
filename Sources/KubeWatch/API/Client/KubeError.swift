import KubeCore
/// Everything a KubeWatch call can fail with. One type at the module's edge, so callers switch
/// on cases instead of guessing.
public enum KubeError: Error, Sendable, CustomStringConvertible {
    /// The server answered with a `Status` (404, 409, 422, ...).
    case api(APIStatus)
    /// No HTTP answer: connection refused, TLS, timeout.
    case transport(TransportError)
    /// The server answered with something that is not what the API promises.
    case decoding(String)
    /// The configuration (credentials, plugin) could not produce a request.
    case configuration(ConfigError)
    case cancelled

    public var status: APIStatus? {
        if case .api(let status) = self { return status }
        return nil
    }

    public var isNotFound: Bool { status?.isNotFound ?? false }
    public var isConflict: Bool { status?.isConflict ?? false }
    public var isAlreadyExists: Bool { status?.isAlreadyExists ?? false }
    public var isExpired: Bool { status?.isExpired ?? false }

    /// Worth trying again later: throttling, server trouble, the network.
    public var isTransient: Bool {
        switch self {
        case .api(let status): return status.code == 429 || status.code >= 500
        case .transport(let error): return !error.isPermanent
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .api(let status): return status.description
        case .transport(let error): return "transport: \(error.message)"
        case .decoding(let message): return "decoding: \(message)"
        case .configuration(let error): return "configuration: \(error.message)"
        case .cancelled: return "cancelled"
        }
    }

    /// A short label for metrics and logs (`NotFound`, `Conflict`, `Transport`).
    public var reason: String {
        switch self {
        case .api(let status): return status.reason.isEmpty ? "Code\(status.code)" : status.reason
        case .transport(let error): return error.isTimeout ? "Timeout" : "Transport"
        case .decoding: return "Decoding"
        case .configuration: return "Configuration"
        case .cancelled: return "Cancelled"
        }
    }
}
