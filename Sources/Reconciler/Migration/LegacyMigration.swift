import Foundation
import KubeCore
import KubeAPI
import KubeRuntime

/// Legacy migration in the controller, per namespace: off unless the namespace is annotated
/// `nim.opendatahub.io/migrate-legacy: "true"` or the operator runs with `--migrate-legacy`.
/// Each reconcile of a namespace migrates what is left (every step is idempotent), writes the
/// ConfigMap `nim-legacy-migration` there (a line per deployment, a summary, the same as JSON),
/// and raises a Warning Event on a runtime when it becomes blocked.
public final class LegacyMigration: Sendable {
    public static let controllerName = "legacy-migration"
    public static let enableAnnotation = "nim.opendatahub.io/migrate-legacy"
    public static let summaryName = "nim-legacy-migration"

    /// ServingRuntimes not made by this operator (legacy ones among them); also what the
    /// NimDeployment reconciler checks before it takes over a runtime of the same name.
    public let runtimes: Informer
    let namespaces: [Informer]
    public let controller: Controller
    let reconciler: MigrationReconciler
    public var informers: [Informer] { [runtimes] + namespaces }

    init(client: KubeClient, namespaces watched: [String]?, everywhere: Bool, secrets: [Informer], events: EventRecorder, time: any TimeSource, metrics: MetricsRegistry?) {
        let log = Logger(name: "migration")
        let onError: @Sendable (KubeError) -> Void = { error in log.warn("watch failed; retrying", ["error": .string(error.description)]) }
        runtimes = Informer(
            client: client, resource: KServe.servingRuntimes, namespaces: watched,
            labelSelector: LabelSelector([.init(key: ChildLabels.managedBy, op: .notEquals, values: [ChildLabels.operatorName])]), time: time, onError: onError)
        // Namespaces are cluster-scoped: watched ones one by one, by name.
        let scopes: [FieldSelector?] = watched.map { $0.map { FieldSelector([.init(field: "metadata.name", value: $0)]) } } ?? [nil]
        namespaces = scopes.map { Informer(client: client, resource: .namespaces, fieldSelector: $0, metadataOnly: true, time: time, onError: onError) }
        let reconciler = MigrationReconciler(
            client: client, runtimes: runtimes.cache, namespaces: namespaces.map(\.cache), everywhere: everywhere,
            migrator: Migrator(client: client, events: events, time: time), events: events, metrics: metrics)
        self.reconciler = reconciler
        controller = Controller(name: Self.controllerName, workers: 1, time: time, metrics: metrics) { key in try await reconciler.reconcile(key) }

        let namespaceKey: @Sendable (String?) -> ObjectKey = { ObjectKey(namespace: nil, name: $0 ?? "") }
        for informer in namespaces { controller.watch(informer) { [namespaceKey($0.object.name)] } }
        controller.watch(runtimes) { [namespaceKey($0.object.namespace)] }
        // A legacy Secret fixed (a personal key put in) unblocks its namespace.
        // Its reconcile reads Secrets from the API server, not from these caches: no wait for them.
        for informer in secrets {
            controller.watch(informer, waitsForSync: false) { event in
                Self.watches(secretNamed: event.object.name) ? [namespaceKey(event.object.namespace)] : []
            }
        }
    }

    /// The Secrets whose changes concern a namespace's migration: the shared legacy ones and
    /// the per-deployment ones of every generation of names.
    /// Asked of every Secret event the operator's Secret informers see: built once, not per call.
    static func watches(secretNamed name: String) -> Bool {
        sharedSecretNames.contains(name) || perDeploymentPrefixes.contains { name.hasPrefix($0) }
    }

    private static let sharedSecretNames = Set(LegacySecrets.shared)
    private static let perDeploymentPrefixes = ["nim-api-key-", "nim-image-pull-", "nim-pull-secret-", "nvidia-nim-secrets-", "nvidia-nim-image-pull-"]
}
