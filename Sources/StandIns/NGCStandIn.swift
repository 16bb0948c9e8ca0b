import Foundation
import Synchronization
import KubeCore
import HTTPServing
import Reconciler

/// A local NGC API that answers as the real one does (../shared/ngc has the recorded shapes):
/// key validation, the repository probe with 401/403/451, and the catalog search. Keys are
/// judged by rule so tests need no setup: a key is valid if it starts with `nvapi-` and is not
/// rejected. What is rejected, unentitled or region-restricted can change while it runs, and
/// faults (latency, failures, garbage bodies) can be injected.
public final class NGCStandIn: Sendable {
    private let server: HTTPServer
    private let handler: Handler

    public init(catalog: ModelCatalog = ModelCatalog()) {
        let handler = Handler(catalog: catalog)
        self.handler = handler
        server = HTTPServer { request, writer in handler.handle(request, writer) }
    }

    /// Starts on a free loopback port; returns the base URL to give the operator.
    @discardableResult
    public func start() throws(HTTPServerError) -> String {
        let port = try server.start()
        return "http://127.0.0.1:\(port)"
    }

    public func stop() { server.stop() }

    public var baseURL: String { "http://127.0.0.1:\(server.port)" }

    /// NGC refuses this key from now on (401).
    public func reject(_ key: String) { handler.state.withLock { _ = $0.rejected.insert(key) } }
    /// NGC refuses the key once it has answered this many repository calls (a key revoked mid-run).
    public func reject(_ key: String, afterRepositoryCalls count: Int) { handler.state.withLock { $0.rejectAfter = (key, count) } }
    public func accept(_ key: String) { handler.state.withLock { _ = $0.rejected.remove(key) } }
    /// The key is valid but not entitled to any repository (403).
    public func disentitle(_ key: String) { handler.state.withLock { _ = $0.notEntitled.insert(key) } }
    /// Answer as seen from the EU: EU-restricted models give 451.
    public func setInEU(_ value: Bool) { handler.state.withLock { $0.inEU = value } }
    public func setLatency(_ seconds: TimeInterval) { handler.state.withLock { $0.latency = seconds } }
    /// The next answers have these HTTP codes (500, 503, ...), whatever the request.
    /// With `endpoint` (`caller-info`, `repository`, `search`), only that endpoint's next answers.
    public func failNext(_ codes: [Int], on endpoint: String? = nil) {
        handler.state.withLock { $0.failures.append(contentsOf: codes.map { ($0, endpoint) }) }
    }
    /// Drops the failures `failNext` armed and not yet given.
    public func clearFailures() { handler.state.withLock { $0.failures.removeAll() } }
    /// While down, every answer is 503 (an outage, not a verdict).
    public func setDown(_ value: Bool) { handler.state.withLock { $0.down = value } }
    /// Answer 200 with a body that is not JSON.
    public func setGarbage(_ value: Bool) { handler.state.withLock { $0.garbage = value } }
    /// Only these models' repositories answer 200 with a body that is not JSON.
    public func setGarbage(forModels models: Set<String>) { handler.state.withLock { $0.garbageModels = models } }
    /// The catalog search lists these models without a latestTag (nothing published yet).
    public func setUntagged(_ models: Set<String>) { handler.state.withLock { $0.untagged = models } }
    /// The catalog search answers at most this many models a page, whatever was asked.
    public func setMaximumPageSize(_ size: Int) { handler.state.withLock { $0.maximumPageSize = max(1, size) } }
    /// 429 answers (from `failNext`) carry this Retry-After.
    public func setRetryAfter(_ seconds: Int?) { handler.state.withLock { $0.retryAfter = seconds } }
    /// Stops answering (the connection stays open, nothing comes): a hung NGC.
    public func setHung(_ value: Bool) { handler.state.withLock { $0.hung = value } }
    /// Calls received, by endpoint (`caller-info`, `repository`, `search`).
    public func calls(_ endpoint: String) -> Int { handler.state.withLock { $0.calls[endpoint] ?? 0 } }
    /// How often `get-caller-info` was asked about this key.
    /// Requests that came as to a proxy (absolute form): the stand-in also plays an HTTP proxy
    /// in front of NGC, so a client configured with it as its proxy reaches "NGC" at any host.
    public var proxiedRequests: Int { handler.state.withLock { $0.proxied } }

    public func validations(of key: String) -> Int { handler.state.withLock { $0.validations[key] ?? 0 } }

    final class Handler: Sendable {
        struct State {
            var rejected: Set<String> = []
            var notEntitled: Set<String> = []
            var inEU = false
            var latency: TimeInterval = 0
            var failures: [(code: Int, endpoint: String?)] = []
            var garbage = false
            var garbageModels: Set<String> = []
            var untagged: Set<String> = []
            var maximumPageSize = Int.max
            var retryAfter: Int?
            var hung = false
            var rejectAfter: (key: String, count: Int)?
            var down = false
            var calls: [String: Int] = [:]
            var validations: [String: Int] = [:]
            var proxied = 0
        }

        let state = Mutex(State())
        let catalog: ModelCatalog

        init(catalog: ModelCatalog) { self.catalog = catalog }

        func handle(_ request: HTTPServerRequest, _ writer: HTTPResponseWriter) {
            let endpoint: String
            if request.path == "/v3/keys/get-caller-info" {
                endpoint = "caller-info"
            } else if request.path.hasPrefix("/v2/org/") {
                endpoint = "repository"
            } else if request.path.hasPrefix("/v2/search/catalog/resources") {
                endpoint = "search"
            } else {
                return respond(writer, 404, nil)
            }
            let (latency, failure, garbage, snapshot) = state.withLock { state -> (TimeInterval, Int?, Bool, State) in
                state.calls[endpoint, default: 0] += 1
                if request.absoluteForm { state.proxied += 1 }
                if endpoint == "repository", let rule = state.rejectAfter, state.calls[endpoint, default: 0] > rule.count { state.rejected.insert(rule.key) }
                if endpoint == "caller-info", let key = self.bearer(request) { state.validations[key, default: 0] += 1 }
                let injected = state.failures.firstIndex { $0.endpoint == nil || $0.endpoint == endpoint }.map { state.failures.remove(at: $0).code }
                let failure = state.down ? 503 : injected
                return (state.latency, failure, state.garbage, state)
            }
            if latency > 0 { Thread.sleep(forTimeInterval: latency) }
            if snapshot.hung {
                // Held until the client gives up or the stand-in stops answering hung.
                while state.withLock({ $0.hung }), !writer.peerClosed() { Thread.sleep(forTimeInterval: 0.05) }
                return
            }
            if let failure {
                var headers = HTTPHeaders([("Content-Type", "application/json")])
                if failure == 429, let seconds = snapshot.retryAfter { headers.add("Retry-After", String(seconds)) }
                let body: JSON = ["requestStatus": ["statusCode": "INTERNAL_ERROR", "statusDescription": "injected"]]
                return writer.respond(status: failure, headers: headers, body: body.serializedBytes())
            }
            if garbage { return writer.respond(status: 200, headers: HTTPHeaders([("Content-Type", "application/json")]), body: Array("<html>not json".utf8)) }
            switch endpoint {
            case "caller-info": callerInfo(request, writer, snapshot)
            case "repository": repository(request, writer, snapshot)
            default: search(request, writer, snapshot)
            }
        }

        func bearer(_ request: HTTPServerRequest) -> String? {
            guard let header = request.headers["Authorization"], header.hasPrefix("Bearer ") else { return nil }
            return String(header.dropFirst("Bearer ".count))
        }

        func isValid(_ key: String?, _ state: State) -> Bool {
            guard let key else { return false }
            return key.hasPrefix("nvapi-") && !state.rejected.contains(key)
        }

        func callerInfo(_ request: HTTPServerRequest, _ writer: HTTPResponseWriter, _ state: State) {
            let key = bearer(request)
            let form = PercentForm.parse(String(decoding: request.body, as: UTF8.self))
            guard request.method == "POST", isValid(key, state), form["credentials"] == key else {
                return respond(writer, 401, ["requestStatus": ["statusCode": "UNAUTHORIZED", "statusDescription": "Invalid credentials"]])
            }
            respond(writer, 200, [
                "userId": "REDACTED", "orgName": "REDACTED", "type": "PERSONAL_KEY",
                "products": ["ai-foundations", "nv-cloud-functions", "private-registry", "artifact-catalog"],
                "requestStatus": ["statusCode": "SUCCESS"],
            ])
        }

        func repository(_ request: HTTPServerRequest, _ writer: HTTPResponseWriter, _ state: State) {
            let key = bearer(request)
            guard isValid(key, state) else { return respond(writer, 401, ["requestStatus": ["statusCode": "UNAUTHORIZED"]]) }
            if let key, state.notEntitled.contains(key) { return respond(writer, 403, ["requestStatus": ["statusCode": "FORBIDDEN"]]) }
            // /v2/org/<org>/team/<team>/repos/<name>
            let parts = request.path.split(separator: "/").map(String.init)
            guard parts.count == 7, let name = parts.last else { return respond(writer, 404, nil) }
            guard let entry = catalog[name] ?? catalog.entries.values.first(where: { $0.image.path == "\(parts[2])/\(parts[4])/\(name)" }) else {
                return respond(writer, 404, ["requestStatus": ["statusCode": "NOT_FOUND"]])
            }
            // Recorded: 451 comes with an empty body.
            if entry.euRestricted && state.inEU { return writer.respond(status: 451, headers: HTTPHeaders(), body: []) }
            if state.garbageModels.contains(entry.name) {
                return writer.respond(status: 200, headers: HTTPHeaders([("Content-Type", "application/json")]), body: Array("{\"name\": \"\(entry.name)\", \"tags\": [".utf8))
            }
            respond(writer, 200, [
                "name": .string(entry.name), "displayName": .string(entry.displayName), "namespace": .string("\(parts[2])/\(parts[4])"),
                "shortDescription": .string(entry.shortDescription ?? "NVIDIA NIM for \(entry.displayName)"),
                "tags": .array(entry.tags.map(JSON.string)), "latestTag": .string(entry.latestTag),
                "updatedDate": .string(entry.updatedDate ?? "2026-01-01T00:00:00.000Z"), "isPublic": false,
            ])
        }

        /// The catalog search, paged as NGC pages it (`params.page`, `resultPageTotal`).
        func search(_ request: HTTPServerRequest, _ writer: HTTPResponseWriter, _ state: State) {
            let query = (try? JSON(parsing: request.queryValue("q") ?? "{}")) ?? [:]
            let pageSize = min(state.maximumPageSize, max(1, query["pageSize"]?.intValue ?? 25))
            let page = max(0, query["page"]?.intValue ?? 0)
            let names = catalog.modelNames
            let pages = max(1, (names.count + pageSize - 1) / pageSize)
            let slice = names.dropFirst(page * pageSize).prefix(pageSize)
            let resources: [JSON] = slice.compactMap { catalog[$0] }.map { entry in
                let parts = entry.image.path.split(separator: "/").map(String.init)
                var attributes: [JSON] = [["key": "size", "value": "17807803875"]]
                if !state.untagged.contains(entry.name) { attributes.insert(["key": "latestTag", "value": .string(entry.latestTag)], at: 0) }
                return [
                    "resourceId": .string(entry.image.path), "name": .string(entry.name), "displayName": .string(entry.displayName),
                    "orgName": .string(parts.first ?? "nim"), "teamName": .string(parts.dropFirst().first ?? ""),
                    "resourceType": "CONTAINER", "attributes": .array(attributes),
                ]
            }
            respond(writer, 200, [
                "resultTotal": .int(names.count), "resultPageTotal": .int(pages),
                "params": ["page": .int(page), "pageSize": .int(pageSize)],
                "results": [
                    ["groupValue": "_scored", "resources": .array(Array(resources.prefix(2)))],
                    ["groupValue": "CONTAINER", "totalCount": .int(names.count), "resources": .array(resources)],
                ],
            ])
        }

        func respond(_ writer: HTTPResponseWriter, _ status: Int, _ body: JSON?) {
            writer.respond(
                status: status, headers: HTTPHeaders([("Content-Type", "application/json")]), body: body.map { $0.serializedBytes() } ?? [])
        }
    }
}

/// `application/x-www-form-urlencoded`.
enum PercentForm {
    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard let name = parts.first else { continue }
            let value = parts.count > 1 ? parts[1] : ""
            values[name] = value.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? value
        }
        return values
    }
}
