import Synchronization
import Foundation
import KubeCore
import KubeAPI
import KubeRuntime

/// The whole controller, wired: informers for NimDeployments, their children, the Secrets
/// they name and the catalog; the mapping from each watched event to the deployments it
/// concerns; the reconciler behind a work queue. The executable, the tests and the benchmark
/// build the operator with this one function.
public final class NimOperator: Sendable {
    public static let controllerName = "nimdeployment"

    public let informers: [Informer]
    /// Among `informers`, the ones to list only once the others have synced: no controller
    /// waits for them (every Secret that is not the operator's), so their relist must not slow
    /// the caches that gate the first reconcile.
    public let lateInformers: [Informer]
    public let controller: Controller
    /// Legacy deployments moved to per-deployment Secrets, per namespace.
    public let migration: LegacyMigration
    public var controllers: [Controller] { [controller, migration.controller] }
    public let reconciler: NimReconciler
    public let events: EventRecorder
    public let catalog: CatalogStore

    /// Index of deployments by the Secret they name (`namespace/name`).
    static let byKeySecret = "keySecret"
    /// The `byKeySecret` value of a key Secret: `namespace/name`.
    static func keySecretIndex(namespace: String?, name: String) -> String { "\(namespace ?? "")/\(name)" }
    /// Index of deployments by model.
    static let byModel = "model"
    /// Index of deployments by the claim they bring (`namespace/name`).
    static let byClaim = "existingClaim"
    /// Index of deployments by the CA bundle ConfigMap they name (`namespace/name`).
    static let byCABundle = "caBundle"

    /// How often every deployment is reconciled even if nothing changed (controller-runtime's
    /// SyncPeriod: 10 hours, jittered by 10 % so replicas of many operators do not align).
    public static let defaultSyncPeriod: TimeInterval = 10 * 3600

    private let syncPeriod: TimeInterval?
    private let time: any TimeSource

    public init(
        client: KubeClient, namespaces: [String]?, options: ReconcilerOptions, ngc: NGCClient, concurrency: Int = 4,
        metrics: MetricsRegistry? = nil, time: any TimeSource = SystemTime(), syncPeriod: TimeInterval? = NimOperator.defaultSyncPeriod
    ) {
        self.syncPeriod = syncPeriod
        self.time = time
        let log = Logger(name: "watch")
        let onError: @Sendable (KubeError) -> Void = { error in log.warn("watch failed; retrying", ["error": .string(error.description)]) }
        let deployments = Informer(
            client: client, resource: NimDeployment.resource, namespaces: namespaces,
            indexers: [
                Self.byKeySecret: { object in
                    guard let name = object[path: ["spec", "apiKeySecretRef", "name"]]?.stringValue else { return [] }
                    return [Self.keySecretIndex(namespace: object.namespace, name: name)]
                },
                // By the catalog's key (an id's last path part), which catalog changes name.
                Self.byModel: { object in object[path: ["spec", "model"]]?.stringValue.map { [ModelCatalog.name(of: $0)] } ?? [] },
                Self.byClaim: { object in
                    object[path: ["spec", "storage", "existingClaim"]]?.stringValue.map { ["\(object.namespace ?? "")/\($0)"] } ?? []
                },
                Self.byCABundle: { object in
                    object[path: ["spec", "proxy", "caBundle", "configMapName"]]?.stringValue.map { ["\(object.namespace ?? "")/\($0)"] } ?? []
                },
            ], time: time, onError: onError)
        // Secrets: many, large, and mostly not ours. Two caches that split them by label: the
        // operator's own, which reconciles wait for (a child Secret not listed yet would be
        // written again), held with a digest in place of their data; and of all others (the
        // users' key Secrets among service-account tokens, Helm releases, certificates) only
        // those a deployment names or the legacy migration looks for, metadata only, which
        // reconciles do not wait for: a key Secret not in it yet is read from the API server
        // (and tracked, so it is read again only once it changes), and a key is read on purpose.
        let secrets = Informer(
            client: client, resource: .secrets, namespaces: namespaces, labelSelector: ChildLabels.selector, transform: SecretView.trimmed, time: time,
            onError: onError)
        let deploymentCache = deployments.cache
        let otherSecrets = Informer(
            client: client, resource: .secrets, namespaces: namespaces,
            labelSelector: LabelSelector([.init(key: ChildLabels.managedBy, op: .notEquals, values: [ChildLabels.operatorName])]), metadataOnly: true,
            keeps: { secret in
                deploymentCache.hasIndexed(Self.byKeySecret, Self.keySecretIndex(namespace: secret.namespace, name: secret.name)) || LegacyMigration.watches(secretNamed: secret.name)
            },
            time: time, onError: onError)
        // All claims, not only ours: an existingClaim is the user's.
        let claims = Informer(client: client, resource: .persistentVolumeClaims, namespaces: namespaces, time: time, onError: onError)
        let runtimes = Informer(
            client: client, resource: KServe.servingRuntimes, namespaces: namespaces, labelSelector: ChildLabels.selector, time: time, onError: onError)
        let services = Informer(
            client: client, resource: KServe.inferenceServices, namespaces: namespaces, labelSelector: ChildLabels.selector, time: time, onError: onError)
        // Everyone else's, as metadata: one deleted under a deployment's name ends its conflict at
        // once. Whether a new deployment's name is free is still read from the API server before
        // the first write: the apply is forced, and a cache a moment behind would let it take
        // someone else's object.
        let foreignServices = Informer(
            client: client, resource: KServe.inferenceServices, namespaces: namespaces,
            labelSelector: LabelSelector([.init(key: ChildLabels.managedBy, op: .notEquals, values: [ChildLabels.operatorName])]), metadataOnly: true,
            time: time, onError: onError)
        // The predictor pods KServe makes: labelled with the deployment through the predictor's
        // labels, kept as the few fields their progress is read from.
        let pods = Informer(
            client: client, resource: .pods, namespaces: namespaces, labelSelector: LabelSelector([.init(key: ChildLabels.deployment, op: .exists)]),
            indexers: [ClusterView.podsByDeployment: { pod in Self.owner(of: pod).map { [$0.description] } ?? [] }],
            transform: PredictorProgress.trimmed, time: time, onError: onError)
        // The Jobs filling cache claims: their labels, annotations and status are all a decision reads.
        let jobs = Informer(
            client: client, resource: CachePreload.jobs, namespaces: namespaces, labelSelector: ChildLabels.selector,
            indexers: [ClusterView.podsByDeployment: { job in Self.owner(of: job).map { [$0.description] } ?? [] }],
            transform: CachePreload.trimmed, time: time, onError: onError)
        // ResourceQuotas: a deployment's GPUs at its most replicas must fit them.
        let quotas = Informer(client: client, resource: .resourceQuotas, namespaces: namespaces, time: time, onError: onError)
        // ConfigMaps, for the CA bundles deployments name: metadata only, read on purpose.
        let configMaps = Informer(
            client: client, resource: .configMaps, namespaces: namespaces, metadataOnly: true, time: time, onError: onError)
        let catalogSource = Informer(
            client: client, resource: .configMaps, namespaces: [options.catalog.namespace],
            fieldSelector: FieldSelector([.init(field: "metadata.name", value: options.catalog.name)]), time: time, onError: onError)
        let catalog = CatalogStore(source: options.catalog)
        // GPUs the deployments may take at their maximum replicas, by namespace (budget alerts).
        if let gpus = metrics?.gauge("nim_gpus_requested", help: "GPUs the NimDeployments of a namespace ask for at their maximum replicas (0 while suspended).", labels: ["namespace"]) {
            let cache = deployments.cache
            // Summed at most once a second: it parses every cached deployment, and a scrape
            // loop faster than Prometheus' (a benchmark's) must not turn into the operator's work.
            let lastSum = Mutex<Date>(.distantPast)
            metrics?.collect {
                let now = Date()
                guard lastSum.withLock({ last in
                    guard now.timeIntervalSince(last) >= 1 else { return false }
                    last = now
                    return true
                }) else { return }
                var byNamespace: [[String]: Double] = [:]
                cache.forEach { object in
                    byNamespace[[object.namespace ?? ""], default: 0] += Double(Self.gpusAsked(object))
                }
                gpus.replaceAll(byNamespace)
            }
        }
        // The models the catalog offers (0: missing, unreadable or not read yet), for the alert.
        if let models = metrics?.gauge("nim_catalog_models", help: "Models in the catalog ConfigMap; 0 while it is missing or unreadable.") {
            metrics?.collect {
                if case .loaded(let loaded, _) = catalog.current { models.set(Double(loaded.entries.count)) } else { models.set(0) }
            }
        }
        self.catalog = catalog
        let keys = KeySource(client: client, secrets: [secrets.cache, otherSecrets.cache])
        let events = EventRecorder(client: client, component: ReconcilerOptions.fieldManager, time: time)
        self.events = events
        migration = LegacyMigration(
            client: client, namespaces: namespaces, everywhere: options.migrateLegacy, secrets: [secrets, otherSecrets], events: events, time: time, metrics: metrics)
        informers = [deployments, secrets, claims, runtimes, services, foreignServices, pods, configMaps, jobs, quotas, catalogSource] + migration.informers + [otherSecrets]
        lateInformers = [otherSecrets]
        // What the caches hold, by resource: the memory budget's largest part.
        if let objects = metrics?.gauge("informer_cache_objects", help: "Objects the informers' caches hold, by resource.", labels: ["resource"]),
            let bytes = metrics?.gauge("informer_cache_bytes", help: "Bytes the informers' caches keep (the objects packed, managedFields dropped), by resource.", labels: ["resource"])
        {
            let all = informers
            metrics?.collect {
                var counts: [[String]: Double] = [:]
                var sizes: [[String]: Double] = [:]
                for informer in all {
                    counts[[informer.resource.groupResource], default: 0] += Double(informer.cache.count)
                    sizes[[informer.resource.groupResource], default: 0] += Double(informer.cache.byteCount)
                }
                objects.replaceAll(counts)
                bytes.replaceAll(sizes)
            }
        }
        let view = ClusterView(
            deployments: deployments.cache, secrets: secrets.cache, claims: claims.cache, runtimes: runtimes.cache, inferenceServices: services.cache,
            foreignRuntimes: migration.runtimes.cache, pods: pods.cache, configMaps: configMaps.cache, jobs: jobs.cache, quotas: quotas.cache)
        let reconciler = NimReconciler(
            client: client, view: view, catalog: catalog, keys: keys, ngc: ngc, options: options, events: events, metrics: metrics, time: time)
        self.reconciler = reconciler
        let reconcileLog = Logger(name: "controller")
        controller = Controller(
            name: Self.controllerName, workers: concurrency, time: time, metrics: metrics,
            observer: { key, outcome, error in
                if let error {
                    reconcileLog.debug("reconcile failed", ["key": .string(key.description), "outcome": .string(outcome), "error": .string("\(error)")])
                }
            },
            reconcile: { key in try await reconciler.reconcile(key) })

        // What each event means for which deployments.
        controller.watch(deployments) { event in [event.object.key] }
        // `ours`: the cache of the operator's own Secrets, whose writes the ledger remembers. A
        // Secret of someone else's that the operator labels on its first write leaves the other
        // cache: that is no deletion of a child, nor of a key whose rotations are being timed.
        let secretChanged: @Sendable (_ ours: Bool, InformerEvent) -> [ObjectKey] = { ours, event in
            let secret = event.object
            var keysToReconcile = deployments.cache.byIndex(Self.byKeySecret, Self.keySecretIndex(namespace: secret.namespace, name: secret.name)).map(\.key)
            switch event {
            case .deleted:
                keys.forget(secret.key)
                if ours { reconciler.ledger.forget(.secrets, namespace: secret.namespace ?? "", name: secret.name) }
                if ours || secrets.cache.get(secret.key) == nil { reconciler.ledger.forgetKeySecret(secret.key) }
            case .added, .updated:
                // Only Secrets deployments name are timed: the rest are not keys.
                if !keysToReconcile.isEmpty { reconciler.ledger.sawKeySecret(secret.key, version: secret.resourceVersion, at: time.now) }
                // The late list of others' Secrets, after reconciles read this very version
                // from the API server: nothing for them to see again.
                if case .added = event, !ours, keys.readVersion(of: secret.key) == secret.resourceVersion { keysToReconcile = [] }
            }
            if let owner = Self.owner(of: secret) { keysToReconcile.append(owner) }
            return keysToReconcile
        }
        controller.watch(secrets) { secretChanged(true, $0) }
        controller.watch(otherSecrets, waitsForSync: false) { secretChanged(false, $0) }
        // Read, not watched: the runtimes others made under a deployment's children's names.
        controller.requires([migration.runtimes])
        // Someone else's InferenceService under a deployment's name (made, or deleted to end a
        // conflict): that deployment is decided again.
        controller.watch(foreignServices) { event in
            let key = ObjectKey(namespace: event.object.namespace, name: event.object.name)
            return deployments.cache.get(key) == nil ? [] : [key]
        }
        controller.watch(claims) { event in
            let claim = event.object
            if case .deleted = event { reconciler.ledger.forget(.persistentVolumeClaims, namespace: claim.namespace ?? "", name: claim.name) }
            var keys = deployments.cache.byIndex(Self.byClaim, "\(claim.namespace ?? "")/\(claim.name)").map(\.key)
            if let owner = Self.owner(of: claim) { keys.append(owner) }
            return keys
        }
        controller.watch(configMaps) { event in
            let map = event.object
            if case .deleted = event { reconciler.caBundles.forget(map.key) }
            return deployments.cache.byIndex(Self.byCABundle, "\(map.namespace ?? "")/\(map.name)").map(\.key)
        }
        for children in [runtimes, services] {
            controller.watch(children) { event in
                // A child deleted by someone is made again, not taken for the cache's lag.
                if case .deleted(let child) = event { reconciler.ledger.forget(children.resource, namespace: child.namespace ?? "", name: child.name) }
                return Self.owner(of: event.object).map { [$0] } ?? []
            }
        }
        controller.watch(pods) { event in Self.owner(of: event.object).map { [$0] } ?? [] }
        // A quota raised (or freed by others): the namespace's deployments are decided again.
        // Only the deployments it stopped: the quota controller rewrites status.used on every pod
        // change, and a namespace of many deployments would reconcile them all each time.
        controller.watch(quotas) { event in
            var stopped: [ObjectKey] = []
            deployments.cache.forEach(namespace: event.object.namespace) { object in
                let conditions = object[dotted: "status.conditions"]?.arrayValue ?? []
                if conditions.contains(where: { $0["type"] == "ResourcesReady" && $0["reason"] == "QuotaExceeded" }) { stopped.append(object.key) }
            }
            return stopped
        }
        controller.watch(jobs) { event in
            if case .deleted(let job) = event { reconciler.ledger.forget(CachePreload.jobs, namespace: job.namespace ?? "", name: job.name) }
            return Self.owner(of: event.object).map { [$0] } ?? []
        }
        controller.watch(catalogSource) { event in
            let changed: Set<String>?
            if case .deleted = event { changed = catalog.update(nil) } else { changed = catalog.update(event.object) }
            guard let changed else { return deployments.cache.keys }
            return changed.flatMap { deployments.cache.byIndex(Self.byModel, $0).map(\.key) }
        }
        catalogInformer = catalogSource
    }

    private let catalogInformer: Informer

    /// Long-running helpers: the event sender, and the check that tells deployments when the
    /// catalog ConfigMap does not exist at all (no event would ever say so).
    public var backgroundTasks: [@Sendable () async -> Void] {
        let events = self.events
        let catalogSource = catalogInformer
        let catalog = self.catalog
        let controller = self.controller
        let deployments = informers[0]
        let syncPeriod = self.syncPeriod
        let time = self.time
        return [
            { await events.run() },
            {
                guard let syncPeriod else { return }
                while !Task.isCancelled {
                    let next = time.now.addingTimeInterval(syncPeriod * Double.random(in: 0.9...1.1))
                    do { try await time.sleep(until: next) } catch { return }
                    for key in deployments.cache.keys { controller.enqueue(key) }
                }
            },
            {
                await catalogSource.waitForSync()
                await deployments.waitForSync()
                if Task.isCancelled { return }
                if catalogSource.cache.count == 0, catalog.current == .notLoaded {
                    catalog.update(nil)
                    for key in deployments.cache.keys { controller.enqueue(key) }
                }
            },
        ]
    }

    /// Runs everything until cancelled (what tests and the benchmark use; the executable's
    /// manager runs the same parts with leader election in between).
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await InformerGroup.run(self.informers, late: self.lateInformers) }
            for task in backgroundTasks { group.addTask { await task() } }
            // Each controller waits for the caches it reads.
            for controller in controllers { group.addTask { await controller.run() } }
        }
    }

    public var hasSynced: Bool { informers.allSatisfy(\.hasSynced) }

    /// Reconciles every deployment once, now (SIGHUP does this in `run`).
    public func resyncAll() {
        for key in informers[0].cache.keys { controller.enqueue(key) }
    }

    /// The deployment a child belongs to: the annotation carries its full name (labels may be
    /// shortened), falling back to the controller owner reference.
    static func owner(of child: KubeObject) -> ObjectKey? {
        if let name = child.annotations[ChildLabels.deploymentNameAnnotation] { return ObjectKey(namespace: child.namespace, name: name) }
        if let owner = child.controllerReference, owner.kind == NimDeployment.resource.kind { return ObjectKey(namespace: child.namespace, name: owner.name) }
        return nil
    }

    /// GPUs per replica times the maximum replicas, as the spec asks (0 suspended or unreadable).
    static func gpusAsked(_ object: KubeObject) -> Int {
        guard let spec = try? NimDeployment(object).spec, !spec.suspend else { return 0 }
        return spec.resources.gpus * spec.maxReplicas
    }
}
