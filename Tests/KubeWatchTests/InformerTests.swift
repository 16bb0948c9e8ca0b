import Foundation
import Synchronization
import Testing
import KubeCore
import KubeAPI
import KubeRuntime
import LocalControlPlane
import TestSupport

/// Informers against the local control plane, with the faults a real API server has.
@Suite struct InformerTests {
    final class Recorder: Sendable {
        let events = Mutex<[String]>([])
        func handle(_ event: InformerEvent) {
            let line: String
            switch event {
            case .added(let object): line = "added \(object.name)"
            case .updated(_, let object): line = "updated \(object.name)"
            case .deleted(let object): line = "deleted \(object.name)"
            }
            events.withLock { $0.append(line) }
        }
        func contains(_ line: String) -> Bool { events.withLock { $0.contains(line) } }
    }

    func configMap(_ name: String, namespace: String = "default", labels: [String: String] = [:], owner: KubeObject? = nil) -> KubeObject {
        var object = KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: namespace, name: name)
        object.labels = labels
        object["data"] = ["k": "v"]
        if let owner { object.ownerReferences = [OwnerReference(controllerOf: owner)] }
        return object
    }

    func start(_ informer: Informer) -> Task<Void, Never> {
        let task = Task { await informer.run() }
        return task
    }

    /// Answers lists from a script, one body a call; never opens a watch.
    final class ScriptedLists: HTTPTransport {
        let bodies: Mutex<[String]>
        init(_ bodies: [String]) { self.bodies = Mutex(bodies) }
        func send(_ request: HTTPRequest) async throws(TransportError) -> HTTPResponse {
            guard let body = bodies.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { throw TransportError(message: "no more answers") }
            return HTTPResponse(status: 200, headers: HTTPHeaders([("Content-Type", "application/json")]), body: Array(body.utf8))
        }
        func stream(_ request: HTTPRequest) async throws(TransportError) -> HTTPStreamResponse {
            throw TransportError(message: "no watch here")
        }
    }

    /// A list's items are parsed one at a time as the reader takes them; one that is garbled
    /// fails the list as a garbled page would: the error is reported and the list starts again
    /// from its first page, never skipping the item.
    @Test func aGarbledListItemStartsTheListAgain() async throws {
        let item = { (name: String) in #"{"metadata":{"name":"\#(name)","namespace":"default","resourceVersion":"5","annotations":{"odd":"a]}\"[{\\"}}}"# }
        let garbled = #"{"kind":"ConfigMapList","metadata":{"resourceVersion":"5"},"items":[\#(item("a")),{"metadata":{"name":]}]}"#
        let good = #"{"kind":"ConfigMapList","metadata":{"resourceVersion":"5"},"items":[\#(item("a")),\#(item("b"))]}"#
        let client = KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:1"), transport: ScriptedLists([garbled, good]))
        let time = ManualTime()
        let errors = Mutex<[String]>([])
        var watcher = Watcher(client: client, resource: .configMaps, namespace: "default")
        watcher.time = time
        watcher.onError = { error in errors.withLock { $0.append("\(error)") } }
        var events = watcher.events().makeAsyncIterator()
        var seen: [String] = []
        let backedOff = Task {
            // The failed list backs off on the manual clock: move it on once the watcher sleeps.
            try await eventually(timeout: 10, "the watcher to back off") { time.sleeperCount == 1 }
            time.advance(by: 60)
        }
        while let event = await events.next() {
            switch event {
            case .initStart: seen.append("start")
            case .initApply(let object):
                seen.append(object.name)
                #expect(object.kind == "ConfigMap", "the item's kind is put back")
                #expect(object.annotations["odd"] == #"a]}"[{\"#)
            case .initDone:
                seen.append("done")
            default: seen.append("other")
            }
            if seen.last == "done" { break }
        }
        try await backedOff.value
        #expect(seen == ["start", "a", "start", "a", "b", "done"])
        #expect(errors.withLock { $0.count } == 1)
        #expect(errors.withLock { $0.first?.contains("item 1 of the list is not JSON") } == true)
    }

    /// The watcher is pulled: a page is listed and a watch opened only when its reader asks for
    /// the next event, so a reader that falls behind holds one page, not a queue of them.
    @Test func aWatcherListsAndWatchesNoFurtherThanItsReaderReads() async throws {
        let cluster = try TestCluster()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<250 { group.addTask { _ = try await cluster.client.create(self.configMap("cm-\(index)"), .configMaps) } }
            try await group.waitForAll()
        }
        var watcher = Watcher(client: cluster.client, resource: .configMaps, namespace: "default")
        watcher.pageSize = 100
        var events = watcher.events().makeAsyncIterator()
        func requests(_ verb: String) -> Int { cluster.controlPlane.requestStats.count(verb: verb, resource: "configmaps") }
        let lists = requests("list")
        var listed = 0
        while listed < 100, let event = await events.next() {
            if case .initApply = event { listed += 1 }
        }
        // A round trip after the reader's: what a reader-independent lister would have sent by
        // now has reached the server.
        _ = try await cluster.client.get(.namespaces, name: "default")
        #expect(requests("list") - lists == 1, "one page asked for, one listed")
        var done = false
        while !done, let event = await events.next() {
            switch event {
            case .initApply: listed += 1
            case .initDone: done = true
            default: break
            }
        }
        #expect(listed == 250)
        _ = try await cluster.client.get(.namespaces, name: "default")
        #expect(requests("list") - lists == 3)
        #expect(requests("watch") == 0, "no watch before the reader asks past the list")
        _ = try await cluster.client.create(configMap("after"), .configMaps)
        guard case .apply(let object) = await events.next() else {
            Issue.record("the next event is the new object")
            return
        }
        #expect(object.name == "after")
        #expect(requests("watch") == 1)
    }

    @Test func listsThenWatchesIndexesAndDropsManagedFields() async throws {
        let cluster = try TestCluster()
        let owner = try await cluster.client.create(configMap("owner"), .configMaps)
        _ = try await cluster.client.create(configMap("child", owner: owner), .configMaps)
        let informer = Informer(client: cluster.client, resource: .configMaps, indexers: [CacheIndex.ownerUID: CacheIndex.ownerUIDs])
        let recorder = Recorder()
        informer.addHandler(recorder.handle)
        let task = start(informer)
        defer { task.cancel() }
        await informer.waitForSync()
        #expect(informer.cache.count == 2)
        #expect(informer.cache.byIndex(CacheIndex.ownerUID, owner.uid).map(\.name) == ["child"])
        #expect(informer.cache.get(namespace: "default", name: "owner")?[path: ["metadata", "managedFields"]] == nil)
        _ = try await cluster.client.create(configMap("late"), .configMaps)
        _ = try await cluster.client.patch(.configMaps, namespace: "default", name: "late", .merge(["data": ["k": "w"]]))
        try await cluster.client.delete(.configMaps, namespace: "default", name: "late")
        try await eventually("add, update and delete reach the handler") {
            recorder.contains("added late") && recorder.contains("updated late") && recorder.contains("deleted late")
        }
        #expect(informer.cache.get(namespace: "default", name: "late") == nil)
    }

    @Test func metadataOnlySecretsCacheNoData() async throws {
        let cluster = try TestCluster()
        var secret = KubeObject(apiVersion: "v1", kind: "Secret", namespace: "default", name: "key")
        secret["data"] = ["NGC_API_KEY": "bnZhcGktc2VjcmV0"]
        _ = try await cluster.client.create(secret, .secrets)
        let informer = Informer(client: cluster.client, resource: .secrets, metadataOnly: true)
        let task = start(informer)
        defer { task.cancel() }
        await informer.waitForSync()
        let cached = try #require(informer.cache.get(namespace: "default", name: "key"))
        #expect(cached["data"] == nil)
        #expect(cached.kind == "PartialObjectMetadata")
        _ = try await cluster.client.patch(.secrets, namespace: "default", name: "key", .merge(["data": ["NGC_API_KEY": "bnZhcGktbmV3"]]))
        try await eventually("the change arrives as metadata") { informer.cache.get(namespace: "default", name: "key")?.resourceVersion != cached.resourceVersion }
        #expect(informer.cache.get(namespace: "default", name: "key")?["data"] == nil)
    }

    /// `keeps`: the cache holds what it says, the handlers see everything; one read on purpose
    /// is tracked until its next event, which the cache then holds.
    @Test func anInformerKeepsWhatItIsToldAndTracksWhatIsRead() async throws {
        let cluster = try TestCluster()
        _ = try await cluster.client.create(configMap("wanted-1"), .configMaps)
        _ = try await cluster.client.create(configMap("other-1"), .configMaps)
        let informer = Informer(client: cluster.client, resource: .configMaps, namespaces: ["default"], keeps: { $0.name.hasPrefix("wanted-") })
        let recorder = Recorder()
        informer.addHandler(recorder.handle)
        let task = start(informer)
        defer { task.cancel() }
        await informer.waitForSync()
        #expect(informer.cache.keys.map(\.name) == ["wanted-1"])
        #expect(recorder.contains("added other-1"), "the handlers see what is not held")

        let read = ObjectKey(namespace: "default", name: "other-1")
        let stamp = try #require(informer.cache.track(read))
        #expect(informer.cache.isUnchanged(read, since: stamp))
        #expect(informer.cache.track(ObjectKey(namespace: "default", name: "wanted-1")) == nil, "one held needs no tracking")
        _ = try await cluster.client.patch(.configMaps, namespace: "default", name: "other-1", .merge(["data": ["k": "changed"]]))
        try await eventually("the tracked object held from its change on") { informer.cache.get(read)?["data"]?["k"] == "changed" }
        #expect(!informer.cache.isUnchanged(read, since: stamp), "held: no longer tracked")

        // Tracked, then deleted while not held: the read is out of date, and a new tracking is another.
        _ = try await cluster.client.create(configMap("other-2"), .configMaps)
        let gone = ObjectKey(namespace: "default", name: "other-2")
        try await eventually("other-2 seen") { recorder.contains("added other-2") }
        let before = try #require(informer.cache.track(gone))
        try await cluster.client.delete(.configMaps, namespace: "default", name: "other-2")
        try await eventually("the deletion ends the tracking") { !informer.cache.isUnchanged(gone, since: before) }
        #expect(informer.cache.track(gone) != before)
        #expect(informer.cache.get(gone) == nil)
    }

    /// A tracked object deleted while the watch was down: the relist does not bring it, and the
    /// handlers hear of its deletion as they would of a held one's.
    @Test func aTrackedObjectGoneDuringAnOutageIsReportedDeleted() async throws {
        let cluster = try TestCluster()
        _ = try await cluster.client.create(configMap("read-on-purpose"), .configMaps)
        let informer = Informer(client: cluster.client, resource: .configMaps, namespaces: ["default"], keeps: { _ in false })
        let recorder = Recorder()
        informer.addHandler(recorder.handle)
        let task = start(informer)
        defer { task.cancel() }
        await informer.waitForSync()
        let key = ObjectKey(namespace: "default", name: "read-on-purpose")
        let stamp = try #require(informer.cache.track(key))
        cluster.controlPlane.faults.failNext(1, code: 503, verbs: ["watch"], resource: "configmaps")
        cluster.controlPlane.closeAllWatches()
        try await cluster.client.delete(.configMaps, namespace: "default", name: "read-on-purpose")
        cluster.controlPlane.compactHistory()
        try await eventually(timeout: 15, "the relist reports it deleted") { recorder.contains("deleted read-on-purpose") }
        #expect(!informer.cache.isUnchanged(key, since: stamp))
    }

    @Test func closedWatchesResumeWithoutRelisting() async throws {
        let cluster = try TestCluster()
        let informer = Informer(client: cluster.client, resource: .configMaps, namespaces: ["default"])
        let task = start(informer)
        defer { task.cancel() }
        await informer.waitForSync()
        let lists = cluster.controlPlane.requestStats.count(verb: "list", resource: "configmaps")
        for round in 0..<5 {
            cluster.controlPlane.closeAllWatches()
            _ = try await cluster.client.create(configMap("cm-\(round)"), .configMaps)
        }
        try await eventually("every change is seen") { informer.cache.count == 5 }
        #expect(cluster.controlPlane.requestStats.count(verb: "list", resource: "configmaps") == lists, "resumed from the last resourceVersion, no relist")
        #expect(cluster.controlPlane.requestStats.count(verb: "watch", resource: "configmaps") >= 2)
    }

    @Test func expiredResourceVersionRelistsAndReportsWhatVanished() async throws {
        let cluster = try TestCluster()
        _ = try await cluster.client.create(configMap("doomed"), .configMaps)
        let informer = Informer(client: cluster.client, resource: .configMaps)
        let recorder = Recorder()
        informer.addHandler(recorder.handle)
        let task = start(informer)
        defer { task.cancel() }
        await informer.waitForSync()
        // Keep the watcher away while things change and history is compacted under it.
        cluster.controlPlane.faults.failNext(1, code: 503, verbs: ["watch"], resource: "configmaps")
        cluster.controlPlane.closeAllWatches()
        try await cluster.client.delete(.configMaps, namespace: "default", name: "doomed")
        _ = try await cluster.client.create(configMap("newcomer"), .configMaps)
        cluster.controlPlane.compactHistory()
        try await eventually(timeout: 15, "the relist replaces the cache") {
            recorder.contains("deleted doomed") && recorder.contains("added newcomer")
        }
        #expect(informer.cache.keys.map(\.name) == ["newcomer"])
        #expect(cluster.controlPlane.requestStats.count(verb: "list", resource: "configmaps") == 2)
    }

    @Test func aControllerWaitsForTheCachesItReadsAndNoOthers() async throws {
        let cluster = try TestCluster()
        _ = try await cluster.client.create(configMap("settings"), .configMaps)
        // Every list of Secrets fails until the faults are reset: that cache cannot sync.
        cluster.controlPlane.faults.failNext(1_000_000, code: 503, verbs: ["list"], resource: "secrets")
        let configMaps = Informer(client: cluster.client, resource: .configMaps)
        let secrets = Informer(client: cluster.client, resource: .secrets, metadataOnly: true)
        let reconciled = Mutex<[String: Int]>([:])
        func controller(_ name: String) -> Controller {
            Controller(name: name, workers: 1) { _ in
                reconciled.withLock { $0[name, default: 0] += 1 }
                return .done
            }
        }
        let patient = controller("patient")
        patient.watch(configMaps) { [$0.object.key] }
        patient.watch(secrets) { [$0.object.key] }
        let eager = controller("eager")
        eager.watch(configMaps) { [$0.object.key] }
        eager.watch(secrets, waitsForSync: false) { [$0.object.key] }
        let tasks = [configMaps, secrets].map { informer in Task { await informer.run() } } + [patient, eager].map { controller in Task { await controller.run() } }
        defer { for task in tasks { task.cancel() } }
        try await eventually(timeout: 15, "the controller that does not wait for Secrets reconciles") { reconciled.withLock { $0["eager"] ?? 0 } >= 1 }
        // A later change too: by then a gate that let the other through would have.
        _ = try await cluster.client.create(configMap("later"), .configMaps)
        try await eventually(timeout: 15, "and reconciles a later change") { reconciled.withLock { $0["eager"] ?? 0 } >= 2 }
        #expect(!secrets.hasSynced)
        #expect(reconciled.withLock { $0["patient"] } == nil, "no reconcile before every cache it watches has synced")
        cluster.controlPlane.faults.reset()
        try await eventually(timeout: 15, "once Secrets are listed, the other starts") { reconciled.withLock { $0["patient"] ?? 0 } >= 1 }
        #expect(secrets.hasSynced)
    }

    /// A first list is cached as it arrives, in the API server's key order, so a namespace is
    /// complete once a key past it is listed: its objects can be reconciled while the rest of a
    /// large cluster is still being listed.
    @Test func aFirstListShowsEachNamespaceCompleteBeforeTheRestArrives() async throws {
        let cluster = try TestCluster()
        for namespace in ["team-a", "team-b"] {
            try await cluster.createNamespace(namespace)
            for index in 0..<3 { _ = try await cluster.client.create(configMap("cm-\(index)", namespace: namespace), .configMaps) }
        }
        let informer = Informer(client: cluster.client, resource: .configMaps)
        let seen = Mutex<[String: (a: Bool, b: Bool, synced: Bool)]>([:])
        informer.addHandler { event in
            guard case .added(let object) = event, object.name.hasPrefix("cm-") else { return }
            let state = (informer.hasListed(namespace: "team-a"), informer.hasListed(namespace: "team-b"), informer.hasSynced)
            seen.withLock { $0[object.key.description] = state }
        }
        let task = start(informer)
        defer { task.cancel() }
        await informer.waitForSync()
        let states = seen.withLock { $0 }
        #expect(states["team-a/cm-0"].map { !$0.a && !$0.b } == true, "nothing is complete while its first objects arrive")
        #expect(states["team-b/cm-1"].map { $0.a && !$0.b && !$0.synced } == true, "team-a is complete once team-b's objects arrive")
        #expect(informer.hasListed(namespace: "team-b") && informer.hasListed(namespace: nil))
    }

    /// Informers started together list abreast: one whose list runs ahead waits, at a namespace's
    /// end, until the others have listed that namespace too, so the pages the first reconciles
    /// need are served before later namespaces'. The ConfigMaps (one page, one per namespace)
    /// would otherwise be through every namespace while the Secrets' first namespace (three
    /// pages) is still coming.
    @Test(.timeLimit(.minutes(1))) func informersStartedTogetherListNamespaceByNamespace() async throws {
        let cluster = try TestCluster()
        for namespace in ["team-a", "team-b"] {
            try await cluster.createNamespace(namespace)
            _ = try await cluster.client.create(configMap("settings", namespace: namespace), .configMaps)
        }
        for index in 0..<250 {
            var secret = KubeObject(apiVersion: "v1", kind: "Secret", namespace: "team-a", name: "s-\(index)")
            secret["data"] = ["k": "dg=="]
            _ = try await cluster.client.create(secret, .secrets)
        }
        let configMaps = Informer(client: cluster.client, resource: .configMaps)
        let secrets = Informer(client: cluster.client, resource: .secrets)
        let secretsListedFirst = Mutex<Bool?>(nil)
        configMaps.addHandler { event in
            guard case .added(let object) = event, object.namespace == "team-b" else { return }
            secretsListedFirst.withLock { $0 = secrets.hasListed(namespace: "team-a") }
        }
        let group = Task { await InformerGroup.run([configMaps, secrets], late: [], patience: .seconds(30)) }
        defer { group.cancel() }
        try await eventually(timeout: 30, "both caches sync") { configMaps.hasSynced && secrets.hasSynced }
        #expect(secretsListedFirst.withLock { $0 } == true, "team-b's ConfigMap waited for team-a's Secrets")
    }

    /// The wait is bounded, and a peer that let it run out is not waited for again until its list
    /// moves: one that cannot list costs the others one pause, not one per namespace (here 40
    /// namespaces of a second each, against a 15 s deadline).
    @Test(.timeLimit(.minutes(1))) func anInformerThatCannotListHoldsTheOthersOnlyOnce() async throws {
        let cluster = try TestCluster()
        for index in 0..<40 {
            try await cluster.createNamespace("team-\(index)")
            _ = try await cluster.client.create(configMap("settings", namespace: "team-\(index)"), .configMaps)
        }
        cluster.controlPlane.faults.failNext(1_000_000, code: 503, verbs: ["list"], resource: "secrets")
        let configMaps = Informer(client: cluster.client, resource: .configMaps)
        let secrets = Informer(client: cluster.client, resource: .secrets)
        let group = Task { await InformerGroup.run([configMaps, secrets], late: [], patience: .seconds(1)) }
        defer { group.cancel() }
        try await eventually(timeout: 15, "the ConfigMaps sync") { configMaps.hasSynced }
        #expect(!secrets.hasSynced)
    }

    /// Each key waits for its own namespace in every cache its controller reads, not for the
    /// whole cluster; a wait in progress does not hold a shutdown.
    @Test(.timeLimit(.minutes(1))) func aControllerReconcilesANamespaceOnceEveryCacheHasListedIt() async throws {
        let cluster = try TestCluster()
        for namespace in ["team-a", "team-b"] {
            try await cluster.createNamespace(namespace)
            _ = try await cluster.client.create(configMap("settings", namespace: namespace), .configMaps)
        }
        // team-b's Secrets cannot be listed until the faults are reset.
        cluster.controlPlane.faults.failNext(1_000_000, code: 503, verbs: ["list"], resource: "secrets", namespace: "team-b")
        let configMaps = Informer(client: cluster.client, resource: .configMaps, namespaces: ["team-a", "team-b"])
        let secrets = Informer(client: cluster.client, resource: .secrets, namespaces: ["team-a", "team-b"], metadataOnly: true)
        let reconciled = Mutex<[String]>([])
        func controller(_ name: String) -> Controller {
            let controller = Controller(name: name, workers: 2) { key in
                reconciled.withLock { $0.append("\(name) \(key)") }
                return .done
            }
            controller.watch(configMaps) { [$0.object.key] }
            controller.requires([secrets])
            return controller
        }
        let patient = controller("patient")
        let stopping = controller("stopping")
        let informers = [configMaps, secrets].map { informer in Task { await informer.run() } }
        defer { for task in informers { task.cancel() } }
        let running = [patient, stopping].map { controller in Task { await controller.run() } }
        defer { for task in running { task.cancel() } }
        try await eventually(timeout: 15, "team-a's key is reconciled") {
            reconciled.withLock { $0.contains("patient team-a/settings") && $0.contains("stopping team-a/settings") }
        }
        _ = try await cluster.client.get(.namespaces, name: "team-b")
        #expect(!secrets.hasListed(namespace: "team-b"))
        #expect(!reconciled.withLock { $0.contains { $0.hasSuffix("team-b/settings") } }, "not before team-b's Secrets are listed")
        await stopping.shutdown()
        cluster.controlPlane.faults.reset()
        try await eventually(timeout: 15, "once team-b's Secrets are listed, its key is reconciled") { reconciled.withLock { $0.contains("patient team-b/settings") } }
        #expect(!reconciled.withLock { $0.contains("stopping team-b/settings") }, "a controller stopped while its key waited does not reconcile it")
    }

    @Test(.timeLimit(.minutes(1))) func waitingForACacheEndsWhenTheTaskIsCancelled() async throws {
        let cluster = try TestCluster()
        cluster.controlPlane.faults.failNext(1_000_000, code: 503, verbs: ["list"], resource: "secrets")
        let secrets = Informer(client: cluster.client, resource: .secrets)
        let running = Task { await secrets.run() }
        defer { running.cancel() }
        let waiting = Task { await secrets.waitForSync() }
        // Cancelled while it waits (a list has failed by then), not before it began to.
        try await eventually("a list has failed") { cluster.controlPlane.requestStats.count(verb: "list", resource: "secrets") >= 1 }
        waiting.cancel()
        await waiting.value
        #expect(!secrets.hasSynced, "returned on cancellation, not on a sync")
    }

    @Test func leavingALabelSelectionIsADeletion() async throws {
        let cluster = try TestCluster()
        _ = try await cluster.client.create(configMap("mine", labels: ["app": "nim"]), .configMaps)
        let informer = Informer(client: cluster.client, resource: .configMaps, labelSelector: try LabelSelector(parsing: "app=nim"))
        let recorder = Recorder()
        informer.addHandler(recorder.handle)
        let task = start(informer)
        defer { task.cancel() }
        await informer.waitForSync()
        _ = try await cluster.client.patch(.configMaps, namespace: "default", name: "mine", .merge(["metadata": ["labels": ["app": "other"]]]))
        try await eventually("relabelled out of the selection") { recorder.contains("deleted mine") }
        _ = try await cluster.client.patch(.configMaps, namespace: "default", name: "mine", .merge(["metadata": ["labels": ["app": "nim"]]]))
        try await eventually("and back in") { recorder.events.withLock { $0.filter { $0 == "added mine" }.count } == 2 }
    }

    @Test func watchesOnlyTheNamespacesAskedFor() async throws {
        let cluster = try TestCluster()
        for namespace in ["team-a", "team-b", "team-c"] {
            try await cluster.createNamespace(namespace)
            _ = try await cluster.client.create(configMap("cm", namespace: namespace), .configMaps)
        }
        let informer = Informer(client: cluster.client, resource: .configMaps, namespaces: ["team-a", "team-b"])
        let task = start(informer)
        defer { task.cancel() }
        await informer.waitForSync()
        #expect(informer.cache.keys.map(\.namespace) == ["team-a", "team-b"])
        _ = try await cluster.client.create(configMap("more", namespace: "team-c"), .configMaps)
        _ = try await cluster.client.create(configMap("more", namespace: "team-b"), .configMaps)
        try await eventually("team-b's new object arrives") { informer.cache.count == 3 }
        #expect(informer.cache.list(namespace: "team-c").isEmpty)
    }
}

@Suite struct LeaderElectionTests {
    /// - Parameter renewDeadline: short where a test wants leadership lost; long where a
    ///   renewal slowed by a loaded machine must not end it.
    func elector(_ cluster: TestCluster, _ identity: String, lease: TimeInterval, renewDeadline: TimeInterval = 1) -> LeaderElector {
        var configuration = LeaderElector.Configuration(namespace: "default", name: "nim-deploy-operator", identity: identity)
        configuration.leaseDuration = lease
        configuration.renewDeadline = renewDeadline
        configuration.retryPeriod = 0.2
        return LeaderElector(client: cluster.client, configuration: configuration)
    }

    func holder(_ cluster: TestCluster) async -> String? {
        try? await cluster.client.get(.leases, namespace: "default", name: "nim-deploy-operator")[path: ["spec", "holderIdentity"]]?.stringValue
    }

    @Test func oneLeaderAtATimeAndAReleasedLeaseIsTakenAtOnce() async throws {
        let cluster = try TestCluster()
        // A lease far longer than the test: only a release lets the second replica in.
        let first = elector(cluster, "replica-a", lease: 60, renewDeadline: 20)
        let second = elector(cluster, "replica-b", lease: 60, renewDeadline: 20)
        let leading = Locked<[String]>([])
        let a = Task {
            await first.run {
                leading.update { $0.append("a") }
                try? await Task.sleep(nanoseconds: 60_000_000_000)
            }
        }
        try await eventually(timeout: 60, "a leads") { first.isLeader }
        let b = Task { await second.run { leading.update { $0.append("b") } } }
        let renewals = try await cluster.client.get(.leases, namespace: "default", name: "nim-deploy-operator")[path: ["spec", "renewTime"]]
        try await eventually("a renews while b tries") {
            let now = try await cluster.client.get(.leases, namespace: "default", name: "nim-deploy-operator")[path: ["spec", "renewTime"]]
            return now != renewals && cluster.controlPlane.requestStats.count(verb: "get", resource: "leases.coordination.k8s.io") > 6
        }
        #expect(!second.isLeader)
        a.cancel()
        #expect(await a.value == .stopped)
        try await eventually("b takes the released lease") { leading.value == ["a", "b"] }
        let holderNow = await holder(cluster)
        #expect(holderNow == "replica-b")
        b.cancel()
    }

    @Test func aLeaderThatCannotRenewStopsAndTheLeaseExpiresForOthers() async throws {
        let cluster = try TestCluster()
        let first = elector(cluster, "replica-a", lease: 2)
        let stopped = Locked(false)
        let a = Task {
            await first.run {
                while !Task.isCancelled { try? await Task.sleep(nanoseconds: 10_000_000) }
                stopped.update { $0 = true }
            }
        }
        try await eventually(timeout: 60, "a leads") { first.isLeader }
        cluster.controlPlane.faults.failNext(1_000, code: 500, resource: "leases.coordination.k8s.io")
        #expect(await a.value == .lost)
        #expect(stopped.value, "the work was cancelled when the lease was lost")
        cluster.controlPlane.faults.reset()
        let holderAfterLoss = await holder(cluster)
        #expect(holderAfterLoss == "replica-a", "a lost lease is not released: it expires")
        let second = elector(cluster, "replica-b", lease: 2)
        let b = Task { await second.run { try? await Task.sleep(nanoseconds: 60_000_000_000) } }
        try await eventually(timeout: 10, "b takes over once the lease expires") { second.isLeader }
        b.cancel()
    }
}

@Suite struct EventRecorderTests {
    func events(_ cluster: TestCluster) async throws -> [KubeObject] {
        try await cluster.client.list(.events, namespace: "default").items
    }

    @Test func repeatsAggregateFloodsAreCutSecretsAndLengthAreTrimmed() async throws {
        let cluster = try TestCluster()
        let recorder = EventRecorder(client: cluster.client, component: "test-operator", host: "test-host")
        let running = Task { await recorder.run() }
        defer { running.cancel() }
        let subject = try await cluster.client.create(KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "subject"), .configMaps)
        for _ in 0..<3 { recorder.record(subject, type: .normal, reason: "Reconciled", message: "all good") }
        try await eventually("aggregated into one event with count 3") {
            try await events(cluster).first { $0["reason"] == "Reconciled" }?["count"] == 3
        }
        Redactor.current.register("nvapi-supersecret-value")
        recorder.record(subject, type: .warning, reason: "InvalidKey", message: "the key nvapi-supersecret-value was refused " + String(repeating: "é", count: 2000))
        try await eventually("the warning is written") { try await events(cluster).contains { $0["reason"] == "InvalidKey" } }
        let warning = try #require(try await events(cluster).first { $0["reason"] == "InvalidKey" })
        let message = warning["message"]?.stringValue ?? ""
        #expect(!message.contains("supersecret"))
        #expect(message.utf8.count <= 1024 && message.hasSuffix("..."))
        #expect(warning["type"] == "Warning")
        #expect(warning[path: ["involvedObject", "uid"]]?.stringValue == subject.uid)
        for index in 0..<40 { recorder.record(subject, type: .normal, reason: "Flood", message: "event \(index)") }
        try await eventually("the burst is written") { try await events(cluster).filter { $0["reason"] == "Flood" }.count >= 21 }
        let flood = try await events(cluster).filter { $0["reason"] == "Flood" }.count
        #expect(flood == 21, "25 events per object in a burst, repeats included: 4 were spent above")
    }
}

@Suite struct FaultInjectionTests {
    @Test func failuresAreRetriedWhenSafeAndCounted() async throws {
        let cluster = try TestCluster()
        cluster.controlPlane.faults.failNext(2, code: 503, verbs: ["get"])
        _ = try await cluster.client.get(.namespaces, name: "default")
        #expect(cluster.controlPlane.requestStats.count(verb: "get", resource: "namespaces") == 3, "two failures, then success")
        cluster.controlPlane.faults.failNext(1, code: 429, retryAfterSeconds: 1, verbs: ["create"])
        _ = try await cluster.client.create(KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "a"), .configMaps)
        #expect(cluster.controlPlane.requestStats.count(verb: "create", resource: "configmaps") == 2, "429: the server did nothing, so even a create is retried")
        cluster.controlPlane.faults.failNext(1, code: 500, verbs: ["create"])
        do {
            _ = try await cluster.client.create(KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "b"), .configMaps)
            Issue.record("a 500 on create must not be retried blindly")
        } catch {
            #expect(error.status?.code == 500)
        }
        #expect(cluster.controlPlane.requestStats.count(verb: "create", resource: "configmaps") == 3)
        cluster.controlPlane.faults.failNext(100, code: 500, verbs: ["list"])
        await #expect(throws: KubeError.self) { _ = try await cluster.client.list(.configMaps) }
        #expect(cluster.controlPlane.requestStats.count(verb: "list", resource: "configmaps") == KubeClient.maximumAttempts)
    }

    @Test func latencyIsAddedToEveryRequest() async throws {
        let cluster = try TestCluster()
        cluster.controlPlane.faults.latency = 0.2
        let started = Date()
        _ = try await cluster.client.get(.namespaces, name: "default")
        #expect(Date().timeIntervalSince(started) >= 0.2)
    }

    @Test func concurrentRequestsDoNotWaitForEachOther() async throws {
        let cluster = try TestCluster()
        // Five open watches hold connections the whole time...
        var watches: [WatchEvents] = []
        for _ in 0..<5 { watches.append(try await cluster.client.watch(.configMaps, namespace: "default")) }
        // ...while forty requests go through at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    _ = try await cluster.client.create(KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "cm-\(index)"), .configMaps)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await cluster.client.list(.configMaps, namespace: "default").items.count == 40)
        _ = watches
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        let cluster = try TestCluster()
        let before = cluster.controlPlane.acceptedConnections
        for _ in 0..<30 { _ = try await cluster.client.get(.namespaces, name: "default") }
        #expect(cluster.controlPlane.acceptedConnections - before <= 1, "keep-alive: one connection for thirty requests")
    }

    @Test func closingWatchesEndsTheirStreams() async throws {
        let cluster = try TestCluster()
        let stream = try await cluster.client.watch(.configMaps, namespace: "default")
        cluster.controlPlane.closeAllWatches()
        var count = 0
        for try await _ in stream { count += 1 }
        #expect(count == 0, "the stream ended without events")
    }
}
