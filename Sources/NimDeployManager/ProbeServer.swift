import Foundation
import Synchronization
import KubeCore
import HTTPServing

/// `/healthz`, `/readyz` and `/metrics`, on the project's one HTTP server. Ready means every
/// informer cache has synced: before that a reconcile would act on an empty view of the cluster.
public final class ProbeServer: Sendable {
    private let servers: [HTTPServer]
    private let readiness: Ready
    /// What each server serves, in the order of `start()`'s ports.
    public let roles: [String]

    /// What `/metrics` serves.
    public let metrics: MetricsRegistry

    public init(metricsAddress: String, healthAddress: String, metrics: MetricsRegistry) throws(HTTPServerError) {
        self.metrics = metrics
        var servers: [HTTPServer] = []
        var roles: [String] = []
        let readiness = Ready()
        // One server for both when asked for the same address (port 0 means two free ports).
        let sameAddress = metricsAddress == healthAddress && !healthAddress.hasSuffix(":0")
        if healthAddress != "0" {
            servers.append(
                try HTTPServer(bindAddress: healthAddress) { request, writer in
                    ProbeServer.serve(request, writer, metrics: sameAddress ? metrics : nil, ready: readiness)
                })
            roles.append(sameAddress ? "health+metrics" : "health")
        }
        if metricsAddress != "0" && !sameAddress {
            servers.append(try HTTPServer(bindAddress: metricsAddress) { request, writer in ProbeServer.serve(request, writer, metrics: metrics, ready: nil) })
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

    public static func serve(_ request: HTTPServerRequest, _ writer: HTTPResponseWriter, metrics: MetricsRegistry?, ready: Ready?) {
        let text = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")])
        switch request.path {
        case "/healthz", "/livez":
            writer.respond(status: 200, headers: text, body: Array("ok".utf8))
        case "/readyz":
            let isReady = ready?.flag.load(ordering: .relaxed) ?? false
            writer.respond(status: isReady ? 200 : 503, headers: text, body: Array((isReady ? "ok" : "informer caches not synced").utf8))
        case "/metrics" where metrics != nil:
            writer.respond(
                status: 200, headers: HTTPHeaders([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")]),
                body: Array((metrics?.render() ?? "").utf8))
        default:
            writer.respond(status: 404, headers: text, body: Array("not found".utf8))
        }
    }
}
