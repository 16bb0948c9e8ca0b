import Foundation
import KubeCore

/// A Kubernetes REST client over any resource, typed or not: get, list, create, update, the four
/// patches, delete, the status subresource and metadata-only reads. Errors come back as
/// `KubeError`, with the API's `Status` decoded. Throttling (429) and server errors (5xx) are
/// retried with backoff when the call is safe to repeat, honouring `Retry-After`.
public final class KubeClient: Sendable {
    public let configuration: ClientConfiguration
    let transport: any HTTPTransport
    let requestMetrics: RequestMetrics?

    /// Attempts for a call that failed with 429, 5xx or a network error (client-go allows 10
    /// when the server sends Retry-After).
    public static let maximumAttempts = 6
    /// First backoff between attempts; doubles up to `maximumBackoff`, with jitter.
    public static let initialBackoff: TimeInterval = 0.1
    public static let maximumBackoff: TimeInterval = 5
    /// A server's Retry-After beyond this is capped: a controller should rather requeue.
    public static let maximumRetryAfter: TimeInterval = 30
    static let retryPolicy = RetryPolicy(
        maximumAttempts: maximumAttempts, initialBackoff: initialBackoff, maximumBackoff: maximumBackoff, maximumRetryAfter: maximumRetryAfter)

    public init(configuration: ClientConfiguration, transport: (any HTTPTransport)? = nil, metrics: MetricsRegistry? = nil) {
        self.configuration = configuration
        self.transport = transport ?? CurlTransport(tls: configuration.tls, proxy: configuration.proxy)
        self.requestMetrics = metrics.map(RequestMetrics.init)
    }

    // MARK: - Reads

    public func get(_ resource: ResourceType, namespace: String? = nil, name: String, subresource: String? = nil) async throws(KubeError) -> KubeObject {
        let response = try await call(verb: "get", method: "GET", path: resource.path(namespace: namespace, name: name, subresource: subresource))
        return try object(from: response, resource: resource)
    }

    /// `PartialObjectMetadata`: the metadata without the payload (a Secret without its data).
    public func getMetadata(_ resource: ResourceType, namespace: String? = nil, name: String) async throws(KubeError) -> KubeObject {
        let response = try await call(
            verb: "get", method: "GET", path: resource.path(namespace: namespace, name: name), accept: Self.metadataAccept)
        return try object(from: response, resource: resource)
    }

    /// One page. `namespace: nil` lists across all namespaces.
    public func list(_ resource: ResourceType, namespace: String? = nil, options: ListOptions = ListOptions()) async throws(KubeError) -> ObjectList {
        var page = try await listPage(resource, namespace: namespace, options: options)
        var items: [KubeObject] = []
        items.reserveCapacity(page.count)
        while let item = try page.next() { items.append(item) }
        return ObjectList(items: items, resourceVersion: page.resourceVersion, continueToken: page.continueToken, remainingItemCount: page.remainingItemCount)
    }

    /// One page, its items parsed as they are taken (what an informer's first list reads).
    public func listPage(_ resource: ResourceType, namespace: String? = nil, options: ListOptions = ListOptions()) async throws(KubeError) -> ListPage {
        let response = try await call(
            verb: "list", method: "GET", path: resource.path(namespace: namespace), query: options.query,
            accept: options.metadataOnly ? Self.metadataListAccept : "application/json")
        return try ListPage(
            body: response.body, kind: options.metadataOnly ? "PartialObjectMetadata" : resource.kind,
            apiVersion: options.metadataOnly ? "meta.k8s.io/v1" : resource.apiVersion, dropsManagedFields: options.dropsManagedFields || configuration.dropsManagedFields)
    }

    /// Every page, following `continue`. Returns the items and the last page's resourceVersion,
    /// where a watch should start.
    public func listAll(_ resource: ResourceType, namespace: String? = nil, options: ListOptions = ListOptions()) async throws(KubeError) -> ObjectList {
        var options = options
        var items: [KubeObject] = []
        while true {
            let page = try await list(resource, namespace: namespace, options: options)
            items.append(contentsOf: page.items)
            guard let token = page.continueToken else {
                return ObjectList(items: items, resourceVersion: page.resourceVersion, continueToken: nil, remainingItemCount: nil)
            }
            options.continueToken = token
            options.resourceVersion = nil
        }
    }

    // MARK: - Writes

    public func create(_ object: KubeObject, _ resource: ResourceType, fieldManager: String? = nil, dryRun: Bool = false) async throws(KubeError) -> KubeObject {
        let response = try await call(
            verb: "create", method: "POST", path: resource.path(namespace: object.namespace), query: writeQuery(fieldManager, dryRun: dryRun),
            body: object.body, idempotent: false)
        return try self.object(from: response, resource: resource)
    }

    /// PUT of the whole object; its resourceVersion makes it conditional (409 if stale).
    public func update(_ object: KubeObject, _ resource: ResourceType, subresource: String? = nil, fieldManager: String? = nil) async throws(KubeError) -> KubeObject {
        let response = try await call(
            verb: "update", method: "PUT", path: resource.path(namespace: object.namespace, name: object.name, subresource: subresource),
            query: writeQuery(fieldManager, dryRun: false), body: object.body)
        return try self.object(from: response, resource: resource)
    }

    public func patch(
        _ resource: ResourceType, namespace: String? = nil, name: String, _ patch: Patch, subresource: String? = nil,
        fieldManager: String? = nil, force: Bool = false, dryRun: Bool = false
    ) async throws(KubeError) -> KubeObject {
        var query = writeQuery(fieldManager, dryRun: dryRun)
        if case .apply = patch, force { query.append(("force", "true")) }
        let response = try await call(
            verb: "patch", method: "PATCH", path: resource.path(namespace: namespace, name: name, subresource: subresource), query: query,
            body: patch.body, contentType: patch.contentType, idempotent: patch.isIdempotent)
        return try object(from: response, resource: resource)
    }

    /// Server-side apply of `object` as `fieldManager`, taking ownership on conflict (what
    /// controllers should do for the fields they manage).
    public func apply(_ object: KubeObject, _ resource: ResourceType, fieldManager: String, subresource: String? = nil, force: Bool = true) async throws(KubeError) -> KubeObject {
        try await patch(resource, namespace: object.namespace, name: object.name, .apply(object.body), subresource: subresource, fieldManager: fieldManager, force: force)
    }

    /// Deletes; returns the object when the server answers with it (custom resources, or a
    /// deletion that waits on finalizers), `nil` when it answers with a Status.
    @discardableResult
    public func delete(_ resource: ResourceType, namespace: String? = nil, name: String, options: DeleteOptions = DeleteOptions()) async throws(KubeError) -> KubeObject? {
        let response = try await call(
            verb: "delete", method: "DELETE", path: resource.path(namespace: namespace, name: name), body: options.body)
        let json = try decode(response)
        return json["kind"]?.stringValue == "Status" ? nil : KubeObject(json)
    }

    // MARK: - Watch

    /// One watch request: decoded events until the server ends the stream. Reconnecting,
    /// resuming and relisting are the `Watcher`'s job.
    public func watch(_ resource: ResourceType, namespace: String? = nil, options: WatchOptions = WatchOptions()) async throws(KubeError) -> WatchEvents {
        let url = configuration.server + resource.path(namespace: namespace) + "?" + URLQuery.build(options.query)
        // Silence for longer than the server's own timeout means the connection is dead.
        var request = HTTPRequest(
            method: "GET", url: url, headers: try await headers(accept: options.metadataOnly ? Self.metadataAccept : "application/json"),
            timeout: nil, idleTimeout: TimeInterval(options.timeoutSeconds) + 5)
        let started = Date()
        var response = try await openStream(request, started: started)
        if response.status == 401, configuration.credentials.canRefresh {
            response.cancel()
            request.headers = try await headers(accept: options.metadataOnly ? Self.metadataAccept : "application/json", refresh: true)
            response = try await openStream(request, started: started)
        }
        requestMetrics?.record(verb: "watch", code: String(response.status), seconds: Date().timeIntervalSince(started))
        guard response.status == 200 else {
            var body: [UInt8] = []
            do { for try await chunk in response.body { body.append(contentsOf: chunk) } } catch {}
            throw .api(status(from: HTTPResponse(status: response.status, headers: response.headers, body: body)))
        }
        let metadataOnly = options.metadataOnly
        var received: (@Sendable (Int) -> Void)?
        if let counter = requestMetrics?.received { received = { bytes in counter.inc(["watch"], by: Double(bytes)) } }
        return WatchEvents(response: response, resource: resource, metadataOnly: metadataOnly, dropsManagedFields: options.dropsManagedFields || configuration.dropsManagedFields, received: received)
    }

    private func openStream(_ request: HTTPRequest, started: Date) async throws(KubeError) -> HTTPStreamResponse {
        do {
            return try await transport.stream(request)
        } catch {
            requestMetrics?.record(verb: "watch", code: "<error>", seconds: Date().timeIntervalSince(started))
            throw .transport(error)
        }
    }

    // MARK: - The request path

    static let metadataAccept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
    static let metadataListAccept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"

    func writeQuery(_ fieldManager: String?, dryRun: Bool) -> [(String, String)] {
        var query: [(String, String)] = []
        if let fieldManager { query.append(("fieldManager", fieldManager)) }
        if dryRun { query.append(("dryRun", "All")) }
        return query
    }

    func headers(accept: String, contentType: String? = nil, refresh: Bool = false) async throws(KubeError) -> [(String, String)] {
        var headers = [("Accept", accept), ("User-Agent", configuration.userAgent)]
        if let contentType { headers.append(("Content-Type", contentType)) }
        do {
            if let authorization = try await configuration.credentials.authorization(forceRefresh: refresh) {
                headers.append(("Authorization", authorization))
            }
        } catch {
            throw .configuration(error)
        }
        return headers
    }

    /// Whether the API server serves a group version (`security.openshift.io/v1`): discovery,
    /// which every authenticated user may read.
    public func serves(groupVersion: String) async throws(KubeError) -> Bool {
        do {
            _ = try await call(verb: "get", method: "GET", path: groupVersion.contains("/") ? "/apis/\(groupVersion)" : "/api/\(groupVersion)")
            return true
        } catch {
            if error.isNotFound { return false }
            throw error
        }
    }

    /// Sends with retries: 429 always (the server did nothing), 5xx and network errors only
    /// when repeating the call cannot do harm.
    public func call(
        verb: String, method: String, path: String, query: [(String, String)] = [], body: JSON? = nil,
        contentType: String = "application/json", accept: String = "application/json", idempotent: Bool = true
    ) async throws(KubeError) -> HTTPResponse {
        var url = configuration.server + path
        if !query.isEmpty { url += "?" + URLQuery.build(query) }
        let payload = body?.serializedBytes()
        var refreshed = false
        var attempt = 0
        while true {
            attempt += 1
            if Task.isCancelled { throw .cancelled }
            let request = HTTPRequest(
                method: method, url: url, headers: try await headers(accept: accept, contentType: payload == nil ? nil : contentType, refresh: refreshed),
                body: payload)
            let started = Date()
            let outcome: Result<HTTPResponse, TransportError>
            do { outcome = .success(try await transport.send(request)) } catch { outcome = .failure(error) }
            let elapsed = Date().timeIntervalSince(started)
            switch outcome {
            case .failure(let error):
                requestMetrics?.record(verb: verb, code: "<error>", seconds: elapsed)
                if Task.isCancelled { throw .cancelled }
                guard idempotent, !error.isPermanent, attempt < Self.maximumAttempts else { throw .transport(error) }
                try await pause(Self.retryPolicy.delay(afterAttempt: attempt))
            case .success(let response):
                requestMetrics?.record(verb: verb, code: String(response.status), seconds: elapsed)
                requestMetrics?.sent.inc([verb], by: Double(payload?.count ?? 0))
                requestMetrics?.received.inc([verb], by: Double(response.body.count))
                if (200..<300).contains(response.status) { return response }
                if response.status == 401, !refreshed, configuration.credentials.canRefresh {
                    refreshed = true
                    continue
                }
                let status = status(from: response)
                let retryable = response.status == 429 || (idempotent && response.status >= 500)
                guard retryable, attempt < Self.maximumAttempts else { throw .api(status) }
                try await pause(Self.retryPolicy.delay(afterAttempt: attempt, retryAfter: status.retryAfterSeconds.map(Double.init)))
            }
        }
    }

    private func pause(_ seconds: TimeInterval) async throws(KubeError) {
        do { try await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000)) } catch { throw .cancelled }
    }

    func decode(_ response: HTTPResponse) throws(KubeError) -> JSON {
        do { return try JSON(parsing: response.body, droppingManagedFields: configuration.dropsManagedFields) } catch {
            throw .decoding("response \(response.status) is not JSON: \(error)")
        }
    }

    func object(from response: HTTPResponse, resource: ResourceType) throws(KubeError) -> KubeObject {
        let json = try decode(response)
        guard json.objectValue != nil else { throw .decoding("expected an object, got \(json.typeName)") }
        var object = KubeObject(json)
        if object.kind.isEmpty { object.kind = resource.kind }
        if object.apiVersion.isEmpty { object.apiVersion = resource.apiVersion }
        return object
    }

    /// The Status of a failed response, or one made up from the HTTP code when the body is not
    /// a Status (a proxy's HTML page, say).
    func status(from response: HTTPResponse) -> APIStatus {
        let retryAfter = RetryPolicy.retryAfter(response.headers).flatMap { Int(exactly: $0) }
        if let json = try? JSON(parsing: response.body), var status = APIStatus(json: json, httpCode: response.status) {
            if let retryAfter { status.retryAfterSeconds = retryAfter }
            return status
        }
        var status = APIStatus.forCode(response.status, message: String(decoding: response.body.prefix(512), as: UTF8.self))
        status.retryAfterSeconds = retryAfter
        return status
    }
}

/// `rest_client_requests_total{verb,code}`, the latency histogram, and the bytes each way by
/// verb (bodies only: what a reconcile costs the network and the server's encoder).
struct RequestMetrics: Sendable {
    let requests: Counter
    let latency: Histogram
    let sent: Counter
    let received: Counter

    init(_ registry: MetricsRegistry) {
        requests = registry.counter("rest_client_requests_total", help: "API server requests by verb and HTTP code.", labels: ["verb", "code"])
        latency = registry.histogram("rest_client_request_duration_seconds", help: "API server request latency by verb.", labels: ["verb"])
        sent = registry.counter("rest_client_request_bytes_total", help: "Request body bytes sent to the API server, by verb.", labels: ["verb"])
        received = registry.counter("rest_client_response_bytes_total", help: "Response body bytes received from the API server, by verb (watch streams as they arrive).", labels: ["verb"])
    }

    func record(verb: String, code: String, seconds: TimeInterval) {
        requests.inc([verb, code])
        latency.observe(seconds, [verb])
    }
}
