import Foundation
import Synchronization
import KubeCore
import HTTPServing
import KubeRuntime

/// `/healthz`, `/readyz` and `/metrics`, on the project's one HTTP server. Ready means every
/// informer cache has synced: before that a reconcile would act on an empty view of the cluster.
/// With `access`, `/metrics` answers only a bearer token the API server accepts for a user who
/// may `get /metrics` (401 without, 403 for anyone else); the probes never ask (the kubelet
/// sends no token).
public final class ProbeServer: Sendable {
    private let servers: [HTTPServer]
    private let readiness: Ready
    /// What each server serves, in the order of `start()`'s ports.
    public let roles: [String]

    /// What `/metrics` serves.
    public let metrics: MetricsRegistry

    public init(metricsAddress: String, healthAddress: String, metrics: MetricsRegistry, access: DelegatedAuthorization? = nil) throws(HTTPServerError) {
        self.metrics = metrics
        let guarded = access.map { MetricsAccess(authorization: $0, metrics: metrics) }
        var servers: [HTTPServer] = []
        var roles: [String] = []
        let readiness = Ready()
        // One server for both when asked for the same address (port 0 means two free ports).
        let sameAddress = metricsAddress == healthAddress && !healthAddress.hasSuffix(":0")
        if healthAddress != "0" {
            servers.append(
                try HTTPServer(bindAddress: healthAddress) { request, writer in
                    ProbeServer.serve(request, writer, metrics: sameAddress ? metrics : nil, access: guarded, ready: readiness)
                })
            roles.append(sameAddress ? "health+metrics" : "health")
        }
        if metricsAddress != "0" && !sameAddress {
            servers.append(try HTTPServer(bindAddress: metricsAddress) { request, writer in ProbeServer.serve(request, writer, metrics: metrics, access: guarded, ready: nil) })
            roles.append("metrics")
        }
        self.servers = servers
        self.roles = roles
        self.readiness = readiness
    }

    public final class Ready: Sendable {
        let flag = Atomic<Bool>(false)
    }

    public func start() throws(HTTPServerError) -> [UInt16] {
        var ports: [UInt16] = []
        for server in servers { ports.append(try server.start()) }
        return ports
    }

    public func stop() { for server in servers { server.stop() } }

    public func setReady(_ value: Bool) { readiness.flag.store(value, ordering: .relaxed) }

    static func serve(_ request: HTTPServerRequest, _ writer: HTTPResponseWriter, metrics: MetricsRegistry?, access: MetricsAccess?, ready: Ready?) {
        let text = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")])
        switch request.path {
        case "/healthz", "/livez":
            writer.respond(status: 200, headers: text, body: Array("ok".utf8))
        case "/readyz":
            let isReady = ready?.flag.load(ordering: .relaxed) ?? false
            writer.respond(status: isReady ? 200 : 503, headers: text, body: Array((isReady ? "ok" : "informer caches not synced").utf8))
        case "/metrics" where metrics != nil:
            if let access, let refusal = access.refusal(request) {
                writer.respond(status: refusal.status, headers: text, body: Array(refusal.message.utf8))
                return
            }
            writer.respond(
                status: 200, headers: HTTPHeaders([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")]),
                body: Array((metrics?.render() ?? "").utf8))
        default:
            writer.respond(status: 404, headers: text, body: Array("not found".utf8))
        }
    }
}

/// The token check in front of `/metrics`. The server gives each connection its own thread, so
/// waiting there for the reviews blocks no task and no other scrape.
struct MetricsAccess: Sendable {
    let authorization: DelegatedAuthorization
    let outcomes: Counter

    init(authorization: DelegatedAuthorization, metrics: MetricsRegistry) {
        self.authorization = authorization
        outcomes = metrics.counter(
            "nim_deploy_metrics_authorizations_total", help: "Requests for /metrics by the verdict on their token (allowed, unauthenticated, forbidden, error).",
            labels: ["result"])
    }

    /// Nil when the request may read; else the answer to give.
    func refusal(_ request: HTTPServerRequest) -> (status: Int, message: String)? {
        let verdict = Blocking.wait { [authorization] in
            await authorization.check(authorization: request.headers["Authorization"], path: request.path)
        }
        outcomes.inc([verdict.outcome])
        let message: String
        switch verdict {
        case .allowed: return nil
        case .unauthenticated: message = "Unauthorized"
        case .forbidden(let user): message = "Forbidden: \(user) may not get \(request.path)"
        case .unavailable(let reason): message = "Cannot check access: \(reason)"
        }
        return (verdict.httpStatus, message)
    }
}

/// An async answer on a thread that is not the concurrency pool's.
enum Blocking {
    static func wait<Value: Sendable>(_ work: @escaping @Sendable () async -> Value) -> Value {
        let box = Mutex<Value?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let value = await work()
            box.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return box.withLock { $0 }!
    }
}
