import Foundation
import Synchronization
import KubeCore
import HTTPServing

/// A request for a resource, parsed from its path.
struct ResourceRequest {
    var definition: ResourceDefinition
    var version: String
    var namespace: String?
    var name: String?
    var subresource: String?
    var verb: String
}

/// The REST face of the control plane: discovery, OpenAPI, and the verbs on every resource.
final class APIServer: Sendable {
    let store: ObjectStore
    let faults: FaultInjector
    let authorizer = Authorizer()
    let stats = Mutex(RequestStats())
    /// Watch streams by resource and how they stand ("open") or ended ("closed", "timeout",
    /// "peer-gone", "expired"): to tell a client that never came back from a server that never let go.
    let watchStreams = Mutex<[String: Int]>([:])
    let bookmarkInterval: TimeInterval
    let serverAddress = Mutex("127.0.0.1:0")

    init(store: ObjectStore, faults: FaultInjector, bookmarkInterval: TimeInterval) {
        self.store = store
        self.faults = faults
        self.bookmarkInterval = bookmarkInterval
    }

    func handle(_ request: HTTPServerRequest, _ writer: HTTPResponseWriter) {
        let latency = faults.latency
        if latency > 0 { Thread.sleep(forTimeInterval: latency) }
        var path = request.path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let representation = Representation.negotiate(request.headers["Accept"])
        let admission = store.admissionView
        let ordered = admission.ordered

        if ["/healthz", "/livez", "/readyz"].contains(path) {
            return writer.respond(status: 200, headers: HTTPHeaders([("Content-Type", "text/plain")]), body: Array("ok".utf8))
        }
        // Discovery, OpenAPI and /version are open to every authenticated user (system:discovery).
        guard let identity = authorizer.authenticate(request.headers["Authorization"]) else {
            return respondStatus(writer, APIStatus(code: 401, reason: "Unauthorized", message: "Unauthorized"))
        }

        switch path {
        case "/version":
            return respond(writer, 200, Discovery.version())
        case "/api":
            count("get", "discovery")
            if case .aggregatedDiscovery(let version) = representation {
                let core = Discovery.aggregatedGroup("", versions: ["v1"], definitions: ordered)
                return respond(writer, 200, Discovery.aggregatedList([core], version: version), contentType: aggregatedContentType(version))
            }
            return respond(writer, 200, Discovery.coreVersions(serverAddress: serverAddress.withLock { $0 }))
        case "/apis":
            count("get", "discovery")
            if case .aggregatedDiscovery(let version) = representation {
                let items = Discovery.groups(ordered).map { Discovery.aggregatedGroup($0.name, versions: $0.versions, definitions: ordered) }
                return respond(writer, 200, Discovery.aggregatedList(items, version: version), contentType: aggregatedContentType(version))
            }
            return respond(writer, 200, Discovery.groupList(ordered))
        case "/openapi/v3":
            return respond(writer, 200, OpenAPIDocuments.index(ordered), contentType: "text/plain; charset=utf-8")
        case "/openapi/v2":
            return respondStatus(writer, APIStatus(code: 404, reason: "NotFound", message: "the server serves OpenAPI v3 only"))
        default:
            break
        }
        if path.hasPrefix("/openapi/v3/") {
            let document = OpenAPIDocuments.document(for: String(path.dropFirst("/openapi/v3/".count)), definitions: ordered)
            if document.objectValue?.isEmpty ?? true { return respondStatus(writer, notFound()) }
            return respond(writer, 200, document)
        }
        if request.method == "POST", [Reviews.tokenReviews, Reviews.subjectAccessReviews].contains(path) {
            return review(path, identity: identity, request: request, writer: writer)
        }
        let segments = path.split(separator: "/").map(String.init)
        if segments.count == 2, segments[0] == "apis" {
            guard let group = Discovery.groups(ordered).first(where: { $0.name == segments[1] }) else { return respondStatus(writer, notFound()) }
            return respond(writer, 200, Discovery.apiGroup(group.name, versions: group.versions))
        }
        if (segments.count == 2 && segments[0] == "api") || (segments.count == 3 && segments[0] == "apis") {
            let group = segments[0] == "api" ? "" : segments[1]
            let version = segments.last ?? ""
            let served = ordered.filter { $0.group == group && $0.versions.contains(version) }
            guard !served.isEmpty else { return respondStatus(writer, notFound()) }
            count("get", "discovery")
            let groupVersion = group.isEmpty ? version : "\(group)/\(version)"
            return respond(writer, 200, Discovery.resourceList(groupVersion: groupVersion, version: version, definitions: served))
        }
        switch parseResourceRequest(segments, method: request.method, request: request, admission: admission) {
        case .failure(let status):
            respondStatus(writer, status)
        case .success(let resourceRequest):
            count(resourceRequest.verb, resourceRequest.definition.groupResource.description, agent: Self.agent(request))
            if let denied = authorizer.authorize(identity, resourceRequest, view: admission) {
                return respondStatus(writer, denied)
            }
            // Decoded once, for the admission checks and the write.
            let body = Self.isWrite(resourceRequest.verb) && !request.body.isEmpty ? Result { try decodeBody(request.body, contentType: Self.contentType(request)) } : nil
            if identity != .admin, ["create", "update", "patch"].contains(resourceRequest.verb), case .success(let decoded)? = body,
                let denied = authorizer.authorizeOwnerReferences(identity, resourceRequest, body: decoded, view: admission)
            {
                return respondStatus(writer, denied)
            }
            let named = { resourceRequest.name ?? (try? body?.get())?[path: ["metadata", "name"]]?.stringValue }
            if let failure = faults.failure(
                verb: resourceRequest.verb, resource: resourceRequest.definition.groupResource.description, namespace: resourceRequest.namespace, name: named) {
                return respondStatus(writer, failure)
            }
            if Self.isWrite(resourceRequest.verb) {
                return serveWrite(resourceRequest, body: body, request: request, writer: writer, mayCreate: creation(identity, resourceRequest, request, admission))
            }
            serve(resourceRequest, request: request, representation: representation, writer: writer)
        }
    }

    static func isWrite(_ verb: String) -> Bool { ["create", "update", "patch", "delete"].contains(verb) }

    static func contentType(_ request: HTTPServerRequest) -> String {
        request.headers["Content-Type"]?.split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? "application/json"
    }

    /// An apply that creates is a create too (what kube-apiserver checks beyond the request's
    /// own verb); asked by the write, which knows whether the object exists.
    func creation(_ identity: Identity, _ resourceRequest: ResourceRequest, _ request: HTTPServerRequest, _ admission: AdmissionView) -> (() -> APIStatus?)? {
        guard identity != .admin, resourceRequest.verb == "patch", Self.contentType(request) == "application/apply-patch+yaml", resourceRequest.subresource == nil else { return nil }
        var create = resourceRequest
        create.verb = "create"
        return { [authorizer] in authorizer.authorize(identity, create, view: admission) }
    }

    func count(_ verb: String, _ resource: String, agent: String = "") {
        stats.withLock { $0.counts[RequestStats.Key(verb: verb, resource: resource, agent: agent), default: 0] += 1 }
    }

    static func agent(_ request: HTTPServerRequest) -> String {
        request.headers["User-Agent"].flatMap { $0.split(separator: "/").first.map(String.init) } ?? "unknown"
    }

    func aggregatedContentType(_ version: String) -> String {
        "application/json;g=apidiscovery.k8s.io;v=\(version);as=APIGroupDiscoveryList"
    }

    func notFound() -> APIStatus {
        APIStatus(code: 404, reason: "NotFound", message: "the server could not find the requested resource", details: [:])
    }

    // MARK: - Paths

    func parseResourceRequest(_ segments: [String], method: String, request: HTTPServerRequest, admission: AdmissionView) -> Result<ResourceRequest, APIStatus> {
        let group: String
        let version: String
        var rest: ArraySlice<String>
        if segments.first == "api", segments.count >= 3 {
            (group, version, rest) = ("", segments[1], segments[2...])
        } else if segments.first == "apis", segments.count >= 4 {
            (group, version, rest) = (segments[1], segments[2], segments[3...])
        } else {
            return .failure(notFound())
        }
        var namespace: String?
        if rest.first == "namespaces", rest.count >= 3,
            let candidate = admission.definition(group: group, plural: rest[rest.startIndex + 2]), candidate.namespaced
        {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        guard let plural = rest.first, let definition = admission.definition(group: group, plural: plural),
            definition.versions.contains(version)
        else { return .failure(notFound()) }
        rest = rest.dropFirst()
        let name = rest.first
        let subresource = rest.count >= 2 ? rest[rest.startIndex + 1] : nil
        if rest.count > 2 { return .failure(notFound()) }
        if let subresource, subresource != "status" || !definition.hasStatusSubresource {
            // Namespaces' `finalize` is served like `status`: both only move server-owned fields.
            if !(definition.plural == "namespaces" && subresource == "finalize") { return .failure(notFound()) }
        }
        if definition.namespaced, namespace == nil, name != nil {
            return .failure(notFound())
        }
        let verb: String
        switch (method, name) {
        case ("GET", nil): verb = request.queryFlag("watch") ? "watch" : "list"
        case ("GET", _): verb = "get"
        case ("POST", nil): verb = "create"
        case ("PUT", .some): verb = "update"
        case ("PATCH", .some): verb = "patch"
        case ("DELETE", .some): verb = "delete"
        case ("DELETE", nil): verb = "deletecollection"
        default:
            return .failure(.methodNotAllowed("the server does not allow this method on the requested resource"))
        }
        return .success(ResourceRequest(definition: definition, version: version, namespace: namespace, name: name, subresource: subresource, verb: verb))
    }

    // MARK: - Verbs

    func serve(_ resource: ResourceRequest, request: HTTPServerRequest, representation: Representation, writer: HTTPResponseWriter) {
        let definition = resource.definition
        switch resource.verb {
        case "get":
            let result = store.withState { $0.get(definition, version: resource.version, namespace: resource.namespace, name: resource.name ?? "") }
            switch result {
            case .failure(let status): respondStatus(writer, status)
            case .success(let object): respond(writer, 200, representation.render(object, definition: definition, includeObject: request.queryValue("includeObject")))
            }
        case "list":
            let filter: WatchFilter
            switch makeFilter(resource, request: request) {
            case .failure(let status): return respondStatus(writer, status)
            case .success(let made): filter = made
            }
            if let problem = listParameterProblem(request) { return respondStatus(writer, problem) }
            let limit = request.queryValue("limit").flatMap { Int($0) }
            let result = store.withState {
                $0.list(definition, version: resource.version, filter: filter, limit: limit, continueToken: request.queryValue("continue"))
            }
            switch result {
            case .failure(let status): respondStatus(writer, status)
            case .success(let page): respond(writer, 200, representList(page, as: representation, definition: definition, version: resource.version, request: request))
            }
        case "watch":
            switch makeFilter(resource, request: request) {
            case .failure(let status): respondStatus(writer, status)
            case .success(let filter):
                WatchStreamer(server: self, resource: resource, filter: filter, representation: representation, request: request).serve(writer)
            }
        default:
            respondStatus(writer, .methodNotAllowed("deletecollection is not supported by this server"))
        }
    }

    func makeFilter(_ resource: ResourceRequest, request: HTTPServerRequest) -> Result<WatchFilter, APIStatus> {
        let labels: LabelSelector
        let fields: FieldSelector
        do {
            labels = try LabelSelector(parsing: request.queryValue("labelSelector") ?? "")
            fields = try FieldSelector(parsing: request.queryValue("fieldSelector") ?? "")
        } catch {
            return .failure(.badRequest(error.message))
        }
        let definition = resource.definition
        for requirement in fields.requirements
        where requirement.field != "metadata.name" && requirement.field != "metadata.namespace" && definition.fieldLabels[requirement.field] == nil {
            return .failure(.badRequest("field label not supported: \(requirement.field)"))
        }
        let labelsForField = definition.fieldLabels
        return .success(
            WatchFilter(
                namespace: definition.namespaced ? resource.namespace : nil, labelSelector: labels, fieldSelector: fields,
                fieldValue: { object, field in
                    switch field {
                    case "metadata.name": return object[path: ["metadata", "name"]]?.stringValue
                    case "metadata.namespace": return object[path: ["metadata", "namespace"]]?.stringValue
                    default: return labelsForField[field]?(object)
                    }
                }))
    }

    func listParameterProblem(_ request: HTTPServerRequest) -> APIStatus? {
        let match = request.queryValue("resourceVersionMatch")
        if match != nil, (request.queryValue("resourceVersion") ?? "").isEmpty {
            return .badRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
        }
        if match != nil, !(request.queryValue("continue") ?? "").isEmpty {
            return .badRequest("resourceVersionMatch is forbidden when continue is provided")
        }
        if request.queryValue("sendInitialEvents") != nil { return .badRequest("sendInitialEvents is forbidden for list") }
        if let version = request.queryValue("resourceVersion"), !version.isEmpty, Int(version) == nil {
            return .badRequest("resourceVersion: Invalid value: \"\(version)\": must be a number")
        }
        return nil
    }

    func serveWrite(
        _ resource: ResourceRequest, body decoded: Result<JSON, any Error>?, request: HTTPServerRequest, writer: HTTPResponseWriter, mayCreate: (() -> APIStatus?)?
    ) {
        let definition = resource.definition
        let contentType = Self.contentType(request)
        var body: JSON?
        switch decoded {
        case .success(let json): body = json
        case .failure(let status as APIStatus): return respondStatus(writer, status)
        case .failure(let error): return respondStatus(writer, .badRequest("error decoding the request body: \(error)"))
        case nil: break
        }
        let userAgent = request.headers["User-Agent"].flatMap { $0.split(separator: "/").first.map(String.init) }
        var manager = request.queryValue("fieldManager") ?? userAgent ?? "unknown"
        if manager.isEmpty { manager = "unknown" }
        if manager.utf8.count > 128 { return respondStatus(writer, .badRequest("fieldManager: Too long: may not be more than 128 bytes")) }
        let scope: WriteScope = resource.subresource == nil ? .main(statusIsSeparate: definition.hasStatusSubresource) : .status
        var context = WriteContext(
            definition: definition, version: resource.version, namespace: resource.namespace, name: resource.name, scope: scope,
            manager: manager, dryRun: request.queryValue("dryRun") == "All", now: Date())
        let validation = request.queryValue("fieldValidation") ?? "Warn"
        context.strictFields = validation == "Strict"
        context.mayCreate = mayCreate

        let result: Result<WriteResult, APIStatus>
        switch resource.verb {
        case "create":
            guard let body else { return respondStatus(writer, .badRequest("a body is required to create an object")) }
            result = store.withState { $0.create(body, context) }
        case "update":
            guard let body else { return respondStatus(writer, .badRequest("a body is required to update an object")) }
            result = store.withState { $0.update(body, context) }
        case "patch":
            guard let body, let kind = PatchKind(rawValue: contentType) else {
                return respondStatus(
                    writer,
                    .unsupportedMediaType(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                            + (definition.isCustom ? "" : ", application/strategic-merge-patch+json")))
            }
            if kind == .strategic && definition.isCustom {
                return respondStatus(
                    writer,
                    .unsupportedMediaType(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"))
            }
            if kind == .apply && request.queryValue("fieldManager") == nil {
                return respondStatus(writer, .badRequest("PATCH requests with apply content type require fieldManager"))
            }
            result = store.withState { $0.patch(body, kind: kind, force: request.queryFlag("force"), context) }
        default:
            let options: DeleteRequest
            do {
                options = try DeleteRequest(body: body, query: request)
            } catch {
                return respondStatus(writer, error)
            }
            var deleteContext = context
            deleteContext.dryRun = options.dryRun
            switch store.withState({ $0.delete(deleteContext, options: options) }) {
            case .failure(let status):
                respondStatus(writer, status)
            case .success(.terminating(let object)):
                respond(writer, 200, StoreState.served(object, version: resource.version, definition: definition))
            case .success(.deleted(let object)):
                if definition.deleteReturnsObject {
                    respond(writer, 200, StoreState.served(object, version: resource.version, definition: definition))
                } else {
                    respond(writer, 200, [
                        "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success",
                        "details": [
                            "name": .string(resource.name ?? ""), "group": .string(definition.group), "kind": .string(definition.plural),
                            "uid": object[path: ["metadata", "uid"]] ?? "",
                        ],
                    ])
                }
            }
            return
        }
        switch result {
        case .failure(let status):
            respondStatus(writer, status)
        case .success(let written):
            let warnings = validation == "Ignore" ? [] : written.warnings
            respond(writer, written.created ? 201 : 200, written.object, warnings: warnings)
        }
    }

    func decodeBody(_ bytes: [UInt8], contentType: String) throws -> JSON {
        if ProtobufDecoding.isProtobuf(contentType) {
            do { return try ProtobufDecoding.decode(bytes) } catch { throw APIStatus.unsupportedMediaType(error.message) }
        }
        if contentType.contains("yaml") {
            if let json = try? JSON(parsing: bytes) { return json }
            return try YAML.parse(String(decoding: bytes, as: UTF8.self))
        }
        return try JSON(parsing: bytes)
    }

    // MARK: - Representations

    func representList(_ page: ListPage, as representation: Representation, definition: ResourceDefinition, version: String, request: HTTPServerRequest) -> JSON {
        var metadata: JSON = ["resourceVersion": .string(page.resourceVersion)]
        if let token = page.continueToken { metadata["continue"] = .string(token) }
        if let remaining = page.remainingItemCount { metadata["remainingItemCount"] = .int(remaining) }
        switch representation {
        case .table:
            var items = page.items
            if !definition.isCustom {
                items = items.map { item in
                    var item = item
                    item["kind"] = .string(definition.kind)
                    item["apiVersion"] = .string(definition.apiVersion(version))
                    return item
                }
            }
            var table = Representation.table(items, definition: definition, resourceVersion: page.resourceVersion, includeObject: request.queryValue("includeObject"))
            table["metadata"] = metadata
            return table
        case .metadataOnly:
            return [
                "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
                "items": .array(page.items.map(Representation.partialObjectMetadata)),
            ]
        default:
            return [
                "kind": .string(definition.listKind), "apiVersion": .string(definition.apiVersion(version)), "metadata": metadata,
                "items": .array(page.items),
            ]
        }
    }

    // MARK: - Responses

    /// TokenReview, SubjectAccessReview: the requester needs `create` on them (as
    /// system:auth-delegator grants), and the answer is never stored.
    private func review(_ path: String, identity: Identity, request: HTTPServerRequest, writer: HTTPResponseWriter) {
        let group = path.contains("authentication") ? "authentication.k8s.io" : "authorization.k8s.io"
        let plural = path.contains("tokenreviews") ? "tokenreviews" : "subjectaccessreviews"
        count("create", "\(plural).\(group)", agent: Self.agent(request))
        if let failure = faults.failure(verb: "create", resource: "\(plural).\(group)", name: { nil }) {
            return respondStatus(writer, failure)
        }
        guard let body = try? JSON(parsing: request.body) else {
            return respondStatus(writer, APIStatus(code: 400, reason: "BadRequest", message: "the body is not a JSON \(plural) object"))
        }
        let view = store.admissionView
        guard authorizer.authorizeUnstored(identity, verb: "create", group: group, resource: plural, view: view) else {
            return respondStatus(writer, APIStatus(code: 403, reason: "Forbidden", message: "\(plural).\(group) is forbidden: User \"\(identity.user)\" cannot create resource \"\(plural)\" in API group \"\(group)\" at the cluster scope"))
        }
        guard let review = Reviews.answer(path: path, body: body, authorizer: authorizer, view: view) else { return respondStatus(writer, notFound()) }
        respond(writer, 201, review)
    }

    func respond(_ writer: HTTPResponseWriter, _ status: Int, _ body: JSON, warnings: [String] = [], contentType: String = "application/json") {
        var headers = HTTPHeaders([("Content-Type", contentType)])
        for warning in warnings {
            headers.add("Warning", "299 - \(JSON.string(warning).serialized())")
        }
        writer.respond(status: status, headers: headers, body: body.serializedBytes())
    }

    func respondStatus(_ writer: HTTPResponseWriter, _ status: APIStatus) {
        var headers = HTTPHeaders([("Content-Type", "application/json")])
        if let retry = status.retryAfterSeconds { headers.add("Retry-After", String(retry)) }
        writer.respond(status: status.code, headers: headers, body: status.json.serializedBytes())
    }
}
