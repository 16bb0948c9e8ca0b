import Foundation
import Synchronization
import KubeCore
import KubeAPI
import KubeRuntime
import LocalControlPlane
import Reconciler
import StandIns

/// What the operator runs against in a benchmark: the local control plane with the CRDs and
/// the real catalog, the NGC stand-in answering at once, the KServe stand-in, a kubeconfig.
final class BenchWorld: Sendable {
    let plane: LocalControlPlane
    let ngc: NGCStandIn
    let kserve: KServeStandIn
    let models: ModelStandIn
    let client: KubeClient
    let catalog: ModelCatalog
    let kubeconfig: String
    private let kserveTask: Task<Void, Never>

    static let operatorNamespace = "nim-deploy-operator-system"

    init(root: URL, expectedObjects: Int) throws {
        var planeOptions = LocalControlPlane.Options()
        planeOptions.historyWindow = max(10_000, expectedObjects * 12)
        plane = LocalControlPlane(options: planeOptions)
        let url = try plane.start()
        try plane.apply(try Self.documents(root.appendingPathComponent("config/crd/bases/nim.opendatahub.io_nimdeployments.yaml")))
        let shared = root.deletingLastPathComponent().appendingPathComponent("shared")
        var kserveCRDs: [JSON] = []
        for file in ["serving.kserve.io_servingruntimes.yaml", "serving.kserve.io_inferenceservices.yaml"] {
            let full = shared.appendingPathComponent("crds/full/\(file)")
            if FileManager.default.fileExists(atPath: full.path) { kserveCRDs += try Self.documents(full) }
        }
        if kserveCRDs.count < 2 { kserveCRDs = try Self.documents(root.appendingPathComponent("config/demo/kserve-crds.yaml")) }
        try plane.apply(kserveCRDs)
        let realCatalog = shared.appendingPathComponent("ngc/nim-models-data.yaml")
        var catalogMap = try Self.documents(
            FileManager.default.fileExists(atPath: realCatalog.path) ? realCatalog : root.appendingPathComponent("config/demo/nim-model-metadata.yaml"))[0]
        catalogMap[path: ["metadata", "name"]] = "nim-model-metadata"
        catalogMap[path: ["metadata", "namespace"]] = .string(Self.operatorNamespace)
        try plane.apply([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(Self.operatorNamespace)]]])
        try plane.apply([catalogMap])
        catalog = ModelCatalog.parse(configMap: KubeObject(catalogMap)).catalog

        ngc = NGCStandIn(catalog: catalog)
        try ngc.start()
        var kserveConfiguration = ClientConfiguration(server: url, source: "kserve")
        kserveConfiguration.userAgent = "kserve-stand-in"
        models = try ModelStandIn()
        let kserve = KServeStandIn(client: KubeClient(configuration: kserveConfiguration), models: models)
        self.kserve = kserve
        kserveTask = Task { await kserve.run() }
        kubeconfig = NSTemporaryDirectory() + "nim-bench-\(getpid()).kubeconfig"
        try plane.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        var benchConfiguration = ClientConfiguration(server: url, source: "bench")
        benchConfiguration.userAgent = "nim-bench"
        client = KubeClient(configuration: benchConfiguration)
    }

    func stop() {
        kserveTask.cancel()
        models.stop()
        ngc.stop()
        plane.stop()
        try? FileManager.default.removeItem(atPath: kubeconfig)
    }

    func createNamespace(_ name: String) throws {
        try plane.apply([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]]])
    }

    func createKeySecret(_ name: String, namespace: String, key: String) throws {
        try plane.apply([[
            "apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": .string(namespace)], "type": "Opaque",
            "data": ["NGC_API_KEY": .string(Data(key.utf8).base64EncodedString())],
        ]])
    }

    func deploy(_ name: String, namespace: String, model: String, secret: String) async throws {
        var object = KubeObject(apiVersion: NimDeployment.resource.apiVersion, kind: "NimDeployment", namespace: namespace, name: name)
        object["spec"] = ["model": .string(model), "apiKeySecretRef": ["name": .string(secret)]]
        _ = try await client.apply(object, NimDeployment.resource, fieldManager: "nim-bench")
    }

    static func documents(_ url: URL) throws -> [JSON] { try YAML.parseAll(String(contentsOf: url, encoding: .utf8)) }

    static func isReady(_ object: KubeObject) -> Bool {
        object[dotted: "status.observedGeneration"]?.intValue == object.generation
            && (object[dotted: "status.conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
    }
}

/// How many deployments have a status for their generation, and how many are Ready, kept from
/// an informer's events. The benchmark waits on two counts: listing and parsing every
/// deployment twenty times a second took a sixth of the CPU of this process, the control
/// plane's, at 1000, and made the operator look slower than it was.
final class DeploymentProgress: Sendable {
    private struct State {
        var written: Set<ObjectKey> = []
        var ready: Set<ObjectKey> = []
        /// When `written` last reached `expected`.
        var allWritten: Date?
    }

    private let state = Mutex(State())
    private let expected: Int

    init(_ informer: Informer, expected: Int) {
        self.expected = expected
        informer.addHandler { [self] event in
            let object: KubeObject
            switch event {
            case .added(let added): object = added
            case .updated(_, let new): object = new
            case .deleted(let deleted):
                self.state.withLock { state in
                    state.written.remove(deleted.key)
                    state.ready.remove(deleted.key)
                }
                return
            }
            let written = object[dotted: "status.observedGeneration"]?.intValue == object.generation
            let ready = BenchWorld.isReady(object)
            self.state.withLock { state in
                if written { state.written.insert(object.key) } else { state.written.remove(object.key) }
                if ready { state.ready.insert(object.key) } else { state.ready.remove(object.key) }
                if state.written.count == expected, state.allWritten == nil { state.allWritten = Date() }
                if state.written.count < expected { state.allWritten = nil }
            }
        }
    }

    var ready: Int { state.withLock { $0.ready.count } }

    /// When every deployment had a status for its generation, if they all do now.
    var allWritten: Date? { state.withLock { $0.allWritten } }
}

struct BenchFailure: Error, CustomStringConvertible { var description: String }

/// Polls `condition` until it holds; the benchmark's only way of waiting.
func waitUntil(timeout: TimeInterval, _ what: String, every interval: TimeInterval = 0.05, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
    }
    throw BenchFailure(description: "timed out waiting for \(what)")
}

/// Requests by client (the User-Agent's first word), for what else loaded the API server.
func requestsByAgent(_ stats: RequestStats, since before: RequestStats) -> String {
    var byAgent: [String: Int] = [:]
    for (key, count) in (stats - before).counts { byAgent[key.agent, default: 0] += count }
    return byAgent.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
}

/// Requests counted by the control plane, summed by verb.
func requestSummary(_ counts: [RequestStats.Key: Int]) -> String {
    var byVerb: [String: Int] = [:]
    for (key, count) in counts { byVerb[key.verb, default: 0] += count }
    let writes = counts.filter { RequestStats.writeVerbs.contains($0.key.verb) }.values.reduce(0, +)
    return "\(writes) writes; requests " + byVerb.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
}
