import Foundation
import KubeCore
import HTTPServing

/// A Kubernetes API server in-process, on loopback, speaking the real wire protocol.
///
/// It serves discovery, OpenAPI v3, the built-in kinds an operator touches and any
/// CustomResourceDefinition applied to it, with the semantics operators depend on: one
/// resourceVersion sequence, generation, the status subresource, 409 conflicts, 422 with causes,
/// selectors, paging, watches with bookmarks and 410, finalizers, owner-reference garbage
/// collection, merge, JSON and strategic merge patches, and server-side apply with per-manager
/// field ownership. It is what `nim-deploy-demo` runs on and what the integration tests
/// use; the real `kubectl` works against it.
///
/// What it simplifies compared with a real API server (see also README):
/// - no authentication or authorization: every request is allowed; no admission webhooks.
/// - no etcd: state lives in memory; list pages after the first read the current state rather
///   than a snapshot at the first page's revision.
/// - watch history is a per-resource window of events (`historyWindow`), not a time window.
/// - server-side apply tracks ownership per leaf and per keyed-list item; list order on merge is
///   the live order with new items appended; no field-set conversion between versions.
/// - strategic merge patch knows the keyed lists of PodSpec only; custom kinds answer 415 as on
///   a real server.
/// - CRD versions are converted by rewriting `apiVersion` only (conversion strategy None).
/// - core/v1 and events.k8s.io/v1 Events are stored apart rather than as views of one store.
/// - the built-in controllers are the garbage collector, namespace lifecycle, pvc-protection
///   and CRD cleanup; nothing schedules Pods or runs Deployments.
public final class LocalControlPlane: Sendable {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port: UInt16 = 0
        /// Events kept per resource for watches that resume from an older resourceVersion.
        public var historyWindow = 10_000
        /// How often an idle watch gets a BOOKMARK (the real watch cache: about a minute).
        public var bookmarkInterval: TimeInterval = 60
        /// Namespaces that exist from the start.
        public var namespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]

        public init() {}
    }

    let store: ObjectStore
    let api: APIServer
    let server: HTTPServer
    let options: Options
    /// Failures and latency on demand.
    public let faults = FaultInjector()

    public init(options: Options = Options()) {
        self.options = options
        store = ObjectStore(historyWindow: options.historyWindow)
        api = APIServer(store: store, faults: faults, bookmarkInterval: options.bookmarkInterval)
        let api = self.api
        server = HTTPServer(host: options.host, port: options.port) { request, writer in api.handle(request, writer) }
        for namespace in options.namespaces {
            _ = try? create(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]])
        }
    }

    /// Starts serving; returns the base URL (`http://127.0.0.1:<port>`).
    @discardableResult
    public func start() throws(HTTPServerError) -> String {
        let port = try server.start()
        api.serverAddress.withLock { $0 = "\(options.host):\(port)" }
        store.startCollector()
        return baseURL
    }

    public func stop() {
        store.stop()
        server.stop()
    }

    public var baseURL: String { "http://\(options.host):\(server.port)" }

    /// An API server restart with its storage kept, as when kube-apiserver is upgraded: every
    /// connection (watches included) is cut, connections are refused while it is down, then it
    /// serves again on the same address with the same objects and resourceVersions.
    public func restart(downFor seconds: TimeInterval = 0) throws(HTTPServerError) {
        server.stop()
        store.closeAllWatches()
        if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
        // The old listener is released by its accept loop; until then the port may be busy.
        let deadline = Date().addingTimeInterval(5)
        while true {
            do {
                try server.start()
                return
            } catch {
                if Date() > deadline { throw error }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    /// A kubeconfig for this server, for kubectl and for `nim-deploy-operator run --kubeconfig`.
    /// A kubeconfig for the admin, or, with `token`, for whoever the token is
    /// (`serviceAccountToken(namespace:name:)`).
    public func kubeconfig(namespace: String = "default", token: String? = nil) -> String {
        YAML.emit([
            "apiVersion": "v1", "kind": "Config", "current-context": "local",
            "clusters": [["name": "local", "cluster": ["server": .string(baseURL)]]],
            "users": [["name": "local", "user": ["token": .string(token ?? Authorizer.adminToken)]]],
            "contexts": [["name": "local", "context": ["cluster": "local", "user": "local", "namespace": .string(namespace)]]],
        ])
    }

    // MARK: - Test and demo controls

    /// A bearer token for a service account: requests with it are authorized by RBAC, against the
    /// Roles and ClusterRoles bound to that account (the account itself need not exist).
    public func serviceAccountToken(namespace: String, name: String) -> String {
        api.authorizer.issueToken(namespace: namespace, serviceAccount: name)
    }

    /// How many requests each RBAC rule allowed, by verb and resource (the first rule that
    /// matched is credited).
    public var rbacGrants: [RBACGrant: Int] { api.authorizer.uses }

    /// The message of every request RBAC refused, in order.
    public var rbacDenials: [String] { api.authorizer.denied }

    /// Requests served so far, by verb and resource.
    public var requestStats: RequestStats { api.stats.withLock { $0 } }

    /// Watch streams by "<resource> <state>": how many are open now, and how many ended closed
    /// (by the server), at their timeout, or with the client gone.
    public var watchStreams: [String: Int] { api.watchStreams.withLock { $0 } }

    public func resetRequestStats() { api.stats.withLock { $0 = RequestStats() } }

    /// Ends every open watch, as a restart of the API server would.
    public func closeAllWatches() { store.closeAllWatches() }

    /// Forgets the watch history, as an etcd compaction does: a watch that resumes from before
    /// now gets 410 Expired and must list again.
    public func compactHistory() {
        store.withState { state in
            for resource in state.tables.keys { state.tables[resource]?.compact() }
        }
    }

    /// TCP connections accepted so far.
    public var acceptedConnections: Int { server.acceptedConnections }

    /// The current resourceVersion.
    public var revision: Int { store.withState { $0.revision } }

    /// Creates or replaces objects without HTTP, through the same admission and storage path as
    /// a request (used to seed the demo and tests). CRDs become served at once.
    public func apply(_ objects: [JSON], fieldManager: String = "local-control-plane") throws(APIStatus) {
        for object in objects { _ = try applyOne(object, fieldManager: fieldManager) }
    }

    @discardableResult
    public func create(_ object: JSON, fieldManager: String = "local-control-plane") throws(APIStatus) -> JSON {
        let context = try writeContext(for: object, fieldManager: fieldManager)
        return try store.withState { $0.create(object, context) }.get().object
    }

    @discardableResult
    func applyOne(_ object: JSON, fieldManager: String) throws(APIStatus) -> JSON {
        let context = try writeContext(for: object, fieldManager: fieldManager)
        return try store.withState { $0.patch(object, kind: .apply, force: true, context) }.get().object
    }

    /// An object as stored, or `nil`.
    public func object(_ resource: ResourceType, namespace: String?, name: String) -> JSON? {
        store.withState { state in
            state.tables[GroupResource(group: resource.group, plural: resource.plural)]?.objects[ObjectKey(namespace: resource.namespaced ? namespace : nil, name: name)]
        }
    }

    /// Every object of a resource, in key order.
    public func objects(_ resource: ResourceType, namespace: String? = nil) -> [JSON] {
        store.withState { state in
            let table = state.tables[GroupResource(group: resource.group, plural: resource.plural)] ?? ResourceTable()
            return table.objects.keys.sorted().filter { namespace == nil || $0.namespace == namespace }.compactMap { table.objects[$0] }
        }
    }

    private func writeContext(for object: JSON, fieldManager: String) throws(APIStatus) -> WriteContext {
        let apiVersion = object["apiVersion"]?.stringValue ?? ""
        let parts = apiVersion.split(separator: "/").map(String.init)
        let (group, version) = parts.count == 2 ? (parts[0], parts[1]) : ("", parts.first ?? "v1")
        let kind = object["kind"]?.stringValue ?? ""
        guard let definition = store.admissionView.definition(group: group, kind: kind) else {
            throw APIStatus(code: 404, reason: "NotFound", message: "no kind \"\(kind)\" is registered for version \"\(apiVersion)\"")
        }
        let namespace = definition.namespaced ? (object[path: ["metadata", "namespace"]]?.stringValue ?? "default") : nil
        return WriteContext(
            definition: definition, version: version, namespace: namespace, name: object[path: ["metadata", "name"]]?.stringValue,
            scope: .main(statusIsSeparate: definition.hasStatusSubresource), manager: fieldManager, dryRun: false, now: Date())
    }
}
