import Foundation
import Testing
import KubeCore
import KubeAPI
import HTTPServing
import LocalControlPlane
import TestSupport

/// What a controller relies on beyond the recorded exchanges: the collector's deletion modes,
/// the namespace lifecycle, pvc-protection, CRD cleanup, keyed-list merges, generation.
@Suite struct SemanticsTests {
    func exists(_ cluster: TestCluster, _ resource: ResourceType, _ namespace: String?, _ name: String) async throws -> Bool {
        do {
            _ = try await cluster.client.get(resource, namespace: namespace, name: name)
            return true
        } catch {
            if error.isNotFound { return false }
            throw error
        }
    }

    func configMap(_ name: String, namespace: String = "default", owner: KubeObject? = nil, block: Bool = true) -> KubeObject {
        var object = KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: namespace, name: name)
        if let owner {
            var reference = OwnerReference(controllerOf: owner)
            reference.blockOwnerDeletion = block
            object.ownerReferences = [reference]
        }
        return object
    }

    /// Lists come in etcd's key order, the bytes of `namespace/name`, page after page: the
    /// order a client relies on to know a namespace complete before the list ends.
    @Test func listsComeInEtcdsKeyOrder() async throws {
        let cluster = try TestCluster()
        for namespace in ["team", "team-b"] {
            try await cluster.createNamespace(namespace)
            for name in ["b", "a-1", "a"] { _ = try await cluster.client.create(configMap(name, namespace: namespace), .configMaps) }
        }
        var keys: [String] = []
        var options = ListOptions(limit: 2)
        repeat {
            let page = try await cluster.client.list(.configMaps, options: options)
            keys += page.items.map(\.key.description).filter { $0.hasPrefix("team") }
            options.continueToken = page.continueToken
        } while options.continueToken != nil
        #expect(keys == ["team-b/a", "team-b/a-1", "team-b/b", "team/a", "team/a-1", "team/b"])
    }

    /// A namespace's list holds that namespace whole and nothing else, page after page, with
    /// namespaces whose names sort just before and after it (`team-b/` < `team/` < `teamb/`).
    @Test func aNamespacesListPagesThroughItsOwnObjectsOnly() async throws {
        let cluster = try TestCluster()
        for namespace in ["team-b", "team", "teamb"] {
            try await cluster.createNamespace(namespace)
            for name in ["b", "a-1", "a", "c"] { _ = try await cluster.client.create(configMap(name, namespace: namespace), .configMaps) }
        }
        var names: [String] = []
        var options = ListOptions(limit: 3)
        repeat {
            let page = try await cluster.client.list(.configMaps, namespace: "team", options: options)
            #expect(page.items.allSatisfy { $0.namespace == "team" })
            names += page.items.map(\.name)
            options.continueToken = page.continueToken
        } while options.continueToken != nil
        #expect(names == ["a", "a-1", "b", "c"])
        #expect(try await cluster.client.list(.configMaps, namespace: "nobody").items.isEmpty)
    }

    @Test func foregroundDeletionWaitsForDependentsWithFinalizers() async throws {
        let cluster = try TestCluster()
        let owner = try await cluster.client.create(configMap("owner"), .configMaps)
        var child = configMap("child", owner: owner)
        child.finalizers = ["example.com/hold"]
        _ = try await cluster.client.create(child, .configMaps)
        let terminating = try await cluster.client.delete(.configMaps, namespace: "default", name: "owner", options: DeleteOptions(propagation: .foreground))
        #expect(terminating == nil || terminating?.finalizers == ["foregroundDeletion"])
        try await eventually("the dependent is being deleted") {
            try await cluster.client.get(.configMaps, namespace: "default", name: "child").isTerminating
        }
        #expect(try await exists(cluster, .configMaps, "default", "owner"), "the owner waits for its blocking dependent")
        _ = try await cluster.client.patch(.configMaps, namespace: "default", name: "child", .merge(["metadata": ["finalizers": nil]]))
        try await eventually("then both are gone") {
            let owner = try await exists(cluster, .configMaps, "default", "owner")
            let child = try await exists(cluster, .configMaps, "default", "child")
            return !owner && !child
        }
    }

    @Test func orphanDeletionKeepsDependentsAndDropsTheReference() async throws {
        let cluster = try TestCluster()
        let owner = try await cluster.client.create(configMap("owner"), .configMaps)
        _ = try await cluster.client.create(configMap("child", owner: owner), .configMaps)
        try await cluster.client.delete(.configMaps, namespace: "default", name: "owner", options: DeleteOptions(propagation: .orphan))
        try await eventually("the owner is gone") { try await !exists(cluster, .configMaps, "default", "owner") }
        let child = try await cluster.client.get(.configMaps, namespace: "default", name: "child")
        #expect(child.ownerReferences.isEmpty)
    }

    @Test func anObjectWhoseOwnerNeverExistedIsCollected() async throws {
        let cluster = try TestCluster()
        var orphan = configMap("dangling")
        orphan.ownerReferences = [OwnerReference(apiVersion: "v1", kind: "ConfigMap", name: "ghost", uid: "00000000-0000-0000-0000-000000000001", controller: true)]
        _ = try await cluster.client.create(orphan, .configMaps)
        try await eventually("collected") { try await !exists(cluster, .configMaps, "default", "dangling") }
    }

    @Test func deletingANamespaceDeletesItsContentsFirst() async throws {
        let cluster = try TestCluster()
        try await cluster.createNamespace("doomed")
        _ = try await cluster.client.create(configMap("a", namespace: "doomed"), .configMaps)
        var held = configMap("held", namespace: "doomed")
        held.finalizers = ["example.com/hold"]
        _ = try await cluster.client.create(held, .configMaps)
        _ = try await cluster.client.delete(.namespaces, name: "doomed")
        let namespace = try await cluster.client.get(.namespaces, name: "doomed")
        #expect(namespace[dotted: "status.phase"] == "Terminating")
        try await eventually("plain contents go first") { try await !exists(cluster, .configMaps, "doomed", "a") }
        do {
            _ = try await cluster.client.create(configMap("late", namespace: "doomed"), .configMaps)
            Issue.record("a terminating namespace takes no new objects")
        } catch {
            #expect(error.status?.code == 403)
        }
        #expect(try await exists(cluster, .namespaces, nil, "doomed"), "held by the finalizer of what it contains")
        _ = try await cluster.client.patch(.configMaps, namespace: "doomed", name: "held", .merge(["metadata": ["finalizers": nil]]))
        try await eventually("then the namespace goes") { try await !exists(cluster, .namespaces, nil, "doomed") }
    }

    @Test func aClaimInUseByAPodStaysUntilThePodIsGone() async throws {
        let cluster = try TestCluster()
        var claim = KubeObject(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "default", name: "cache")
        claim["spec"] = ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "1Gi"]]]
        let created = try await cluster.client.create(claim, .persistentVolumeClaims)
        #expect(created.finalizers == ["kubernetes.io/pvc-protection"])
        #expect(created[dotted: "status.phase"] == "Pending")
        var pod = KubeObject(apiVersion: "v1", kind: "Pod", namespace: "default", name: "user")
        pod["spec"] = ["containers": [["name": "c", "image": "x"]], "volumes": [["name": "v", "persistentVolumeClaim": ["claimName": "cache"]]]]
        _ = try await cluster.client.create(pod, .pods)
        _ = try await cluster.client.delete(.persistentVolumeClaims, namespace: "default", name: "cache")
        try await eventually("terminating") { try await cluster.client.get(.persistentVolumeClaims, namespace: "default", name: "cache").isTerminating }
        _ = try await cluster.client.delete(.pods, namespace: "default", name: "user")
        try await eventually("released once unused") { try await !exists(cluster, .persistentVolumeClaims, "default", "cache") }
        var invalid = claim
        invalid.name = "invalid"
        invalid["spec"] = ["resources": ["requests": ["storage": "lots"]]]
        do {
            _ = try await cluster.client.create(invalid, .persistentVolumeClaims)
            Issue.record("expected 422")
        } catch {
            #expect(Set(error.status?.causes.map(\.field) ?? []) == ["spec.accessModes", "spec.resources.requests[storage]"])
        }
    }

    @Test func deletingACRDDeletesItsResourcesAndStopsServingThem() async throws {
        let cluster = try TestCluster()
        let crd = try #require(try WireRecording.loadAll().first { $0.number == 31 }?.body)
        _ = try await cluster.client.create(KubeObject(crd), .customResourceDefinitions)
        try await cluster.createNamespace("wire")
        let widgets = ResourceType(group: "wire.example.com", version: "v1alpha1", plural: "widgets", kind: "Widget", namespaced: true)
        var widget = KubeObject(apiVersion: widgets.apiVersion, kind: "Widget", namespace: "wire", name: "w")
        widget["spec"] = ["size": 1]
        _ = try await cluster.client.create(widget, widgets)
        _ = try await cluster.client.delete(.customResourceDefinitions, name: "widgets.wire.example.com")
        try await eventually("the CRD and its resources are gone") {
            try await !exists(cluster, .customResourceDefinitions, nil, "widgets.wire.example.com")
        }
        do {
            _ = try await cluster.client.list(widgets, namespace: "wire")
            Issue.record("no longer served")
        } catch {
            #expect(error.isNotFound)
        }
    }

    @Test func keyedListsMergeByKeyAndGenerationFollowsTheSpec() async throws {
        let cluster = try TestCluster()
        var deployment = KubeObject(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "d")
        deployment["spec"] = [
            "selector": ["matchLabels": ["app": "d"]],
            "template": [
                "metadata": ["labels": ["app": "d"]],
                "spec": ["containers": [["name": "main", "image": "a:1", "env": [["name": "A", "value": "1"]]]]],
            ],
        ]
        let created = try await cluster.client.apply(deployment, .deployments, fieldManager: "operator")
        #expect(created.generation == 1)
        // Another manager adds an env var to the same container; apply must not drop it.
        _ = try await cluster.client.patch(
            .deployments, namespace: "default", name: "d",
            .strategic(["spec": ["template": ["spec": ["containers": [["name": "main", "env": [["name": "B", "value": "2"]]]]]]]]),
            fieldManager: "someone-else")
        deployment[path: ["spec", "template", "spec", "containers"]] = [["name": "main", "image": "a:2", "env": [["name": "A", "value": "1"]]]]
        let applied = try await cluster.client.apply(deployment, .deployments, fieldManager: "operator")
        let env = applied[path: ["spec", "template", "spec", "containers"]]?[0]?["env"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(env == ["A", "B"], "merged by name, the other manager's entry kept")
        #expect(applied[path: ["spec", "template", "spec", "containers"]]?[0]?["image"] == "a:2")
        #expect(applied.generation == 3)
        let status = try await cluster.client.patch(.deployments, namespace: "default", name: "d", .merge(["status": ["readyReplicas": 1]]), subresource: "status")
        #expect(status.generation == 3, "status writes leave generation alone")
    }

    @Test func aKeyedItemNoLongerAppliedGoesWhole() async throws {
        let cluster = try TestCluster()
        var deployment = KubeObject(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "d")
        func apply(pullSecrets: [String], env: [String]) async throws -> KubeObject {
            deployment["spec"] = [
                "selector": ["matchLabels": ["app": "d"]],
                "template": [
                    "metadata": ["labels": ["app": "d"]],
                    "spec": [
                        "imagePullSecrets": .array(pullSecrets.map { ["name": .string($0)] }),
                        "containers": [["name": "main", "image": "a:1", "env": .array(env.map { ["name": .string($0), "value": "1"] })]],
                    ],
                ],
            ]
            return try await cluster.client.apply(deployment, .deployments, fieldManager: "renderer")
        }
        _ = try await apply(pullSecrets: ["old", "kept"], env: ["A", "B"])
        let applied = try await apply(pullSecrets: ["new", "kept"], env: ["B"])
        let pullSecrets = applied[path: ["spec", "template", "spec", "imagePullSecrets"]]?.arrayValue ?? []
        #expect(Set(pullSecrets) == [["name": "kept"], ["name": "new"]] && pullSecrets.count == 2, "no empty item left behind")
        #expect(applied[path: ["spec", "template", "spec", "containers"]]?[0]?["env"] == [["name": "B", "value": "1"]])
    }

    @Test func unsupportedFieldSelectorsAndBadSelectorsAre400() async throws {
        let cluster = try TestCluster()
        for options in [ListOptions(fieldSelector: FieldSelector([.init(field: "spec.nonsense", value: "x")])), ListOptions(continueToken: "garbage")] {
            do {
                _ = try await cluster.client.list(.configMaps, namespace: "default", options: options)
                Issue.record("expected 400")
            } catch {
                #expect(error.status?.code == 400)
            }
        }
        let typed = try await cluster.client.list(.secrets, options: ListOptions(fieldSelector: FieldSelector([.init(field: "type", value: "Opaque")])))
        #expect(typed.items.isEmpty)
    }
}

/// The HTTP server's handling of what clients actually send, including what they get wrong.
@Suite struct HTTPServerTests {
    func exchange(_ port: UInt16, _ raw: String) throws -> String {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw DeadlineExceeded(description: "cannot connect") }
        _ = Array(raw.utf8).withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
        shutdown(socket, Int32(SHUT_WR))
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 { break }
            output.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: output, as: UTF8.self)
    }

    @Test func keepAliveChunkedBodiesAndBadRequests() throws {
        let server = HTTPServer(maximumBodyBytes: 64) { request, writer in
            writer.respond(status: 200, headers: HTTPHeaders([("X-Method", request.method)]), body: request.body)
        }
        let port = try server.start()
        defer { server.stop() }
        let pipelined = try exchange(port, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        #expect(pipelined.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "two requests on one connection")
        #expect(pipelined.hasSuffix("abcde"), "the chunked body arrives whole")
        let tooBig = try exchange(port, "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + String(repeating: "x", count: 100))
        #expect(tooBig.hasPrefix("HTTP/1.1 413"))
        let garbage = try exchange(port, "NONSENSE\r\n\r\n")
        #expect(garbage.hasPrefix("HTTP/1.1 400"))
        let expecting = try exchange(port, "PUT / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok")
        #expect(expecting.hasPrefix("HTTP/1.1 100 Continue"))
    }
}

import Glibc
