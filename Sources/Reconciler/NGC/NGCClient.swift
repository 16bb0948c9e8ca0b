import Foundation
import KubeCore
import KubeAPI

/// What NGC says about a key (and, when a repository is given, about the key and that model).
public enum KeyVerdict: Sendable, Equatable {
    case valid
    /// 401 or anything but 200 from get-caller-info.
    case invalid(code: Int)
    /// The key works but is not entitled to the repository (403).
    case notEntitled
    /// The repository is not available from this region (451: EU restriction).
    case regionRestricted
    /// No answer: network, timeout, 5xx. Retry later; change nothing.
    case unreachable(String)

    var metricLabel: String {
        switch self {
        case .valid: return "valid"
        case .invalid: return "invalid"
        case .notEntitled: return "not_entitled"
        case .regionRestricted: return "region_restricted"
        case .unreachable: return "unreachable"
        }
    }
}

/// The NGC API calls the operator makes (contract section 5): `get-caller-info` to validate a
/// personal key, and the repository probe for entitlement and region. Answers are cached per
/// key fingerprint (and repository), and concurrent identical questions share one call, so a
/// thousand deployments using one key cost one request.
public actor NGCClient {
    public static let defaultBaseURL = "https://api.ngc.nvidia.com"
    /// NGC answers in well under a second; beyond this the call counts as unreachable.
    public static let defaultTimeout: TimeInterval = 10
    /// A good verdict holds for half an hour, a bad one for five minutes (a key may be activated
    /// or an entitlement granted meanwhile); no answer is never cached.
    public static let validFor: TimeInterval = 1800
    public static let invalidFor: TimeInterval = 300

    struct CacheKey: Hashable { var fingerprint: String; var repository: String }

    private let baseURL: String
    private let transport: any HTTPTransport
    private let time: any TimeSource
    private let timeout: TimeInterval
    private let calls: Counter?
    private var cache: [CacheKey: (verdict: KeyVerdict, answered: Date, expires: Date)] = [:]
    private var inFlight: [CacheKey: (task: Task<KeyVerdict, Never>, asked: Date)] = [:]
    /// The cache size past which expired verdicts are swept: 1024 more than the last sweep left,
    /// so a cache of many live verdicts is not swept again on every miss.
    private var sweepAbove = 1024

    public init(
        baseURL: String = defaultBaseURL, timeout: TimeInterval = defaultTimeout, transport: any HTTPTransport = CurlTransport(), time: any TimeSource = SystemTime(),
        metrics: MetricsRegistry? = nil
    ) {
        self.timeout = timeout
        self.baseURL = NGCRequests.trimmed(baseURL)
        self.transport = transport
        self.time = time
        self.calls = metrics?.counter("nim_ngc_requests_total", help: "NGC API calls by endpoint and result.", labels: ["endpoint", "result"])
    }

    /// Validates a personal key and, if `repository` (org, team, name) is given, its access to it.
    /// With `answeredSince`, a cached answer counts only if NGC gave it after that moment (a
    /// new key, pods about to restart): asked again otherwise.
    public func verify(_ key: APIKey, repository: (org: String, team: String, name: String)?, answeredSince: Date? = nil) async -> KeyVerdict {
        let cacheKey = CacheKey(fingerprint: key.fingerprint, repository: repository.map { "\($0.org)/\($0.team)/\($0.name)" } ?? "")
        if let cached = cache[cacheKey], cached.expires > time.now, answeredSince.map({ cached.answered >= $0 }) ?? true { return cached.verdict }
        if let running = inFlight[cacheKey], answeredSince.map({ running.asked >= $0 }) ?? true { return await running.task.value }
        let asked = time.now
        let task = Task { await self.ask(key, repository: repository) }
        inFlight[cacheKey] = (task, asked)
        let verdict = await task.value
        if inFlight[cacheKey]?.asked == asked { inFlight[cacheKey] = nil }
        // Every rotated key adds entries; the expired ones go once there are many.
        if cache.count > sweepAbove {
            cache = cache.filter { $0.value.expires > time.now }
            sweepAbove = cache.count + 1024
        }
        switch verdict {
        case .valid: cache[cacheKey] = (verdict, asked, asked.addingTimeInterval(Self.validFor))
        case .unreachable: break
        default: cache[cacheKey] = (verdict, asked, asked.addingTimeInterval(Self.invalidFor))
        }
        return verdict
    }

    private func ask(_ key: APIKey, repository: (org: String, team: String, name: String)?) async -> KeyVerdict {
        let callerInfo = await send("caller_info", NGCRequests.callerInfo(baseURL: baseURL, key: key, timeout: timeout))
        switch callerInfo {
        case .success(200): break
        case .success(let code) where code >= 500: return .unreachable("get-caller-info answered \(code)")
        case .success(let code): return .invalid(code: code)
        case .failure(let error): return .unreachable(error.message)
        }
        guard let repository else { return .valid }
        let probe = await send(
            "repository",
            NGCRequests.repository(baseURL: baseURL, org: repository.org, team: repository.team, name: repository.name, key: key, timeout: timeout))
        switch probe {
        case .success(200): return .valid
        case .success(401): return .invalid(code: 401)
        case .success(403): return .notEntitled
        case .success(451): return .regionRestricted
        case .success(404): return .valid  // a repository NGC does not list is not the key's fault
        case .success(let code): return .unreachable("repository probe answered \(code)")
        case .failure(let error): return .unreachable(error.message)
        }
    }

    private func send(_ endpoint: String, _ request: HTTPRequest) async -> Result<Int, TransportError> {
        do {
            let response = try await transport.send(request)
            calls?.inc([endpoint, String(response.status)])
            return .success(response.status)
        } catch {
            calls?.inc([endpoint, error.isTimeout ? "timeout" : "error"])
            return .failure(TransportError(message: Redactor.current.scrub(error.message), isTimeout: error.isTimeout))
        }
    }
}
