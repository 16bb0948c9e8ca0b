import Foundation
import Testing
import KubeCore
import KubeAPI
import LocalControlPlane
import TestSupport

@Suite struct ClientTests {
    func secret(_ name: String, namespace: String = "default", labels: [String: String] = [:], data: [String: String] = ["k": "dg=="]) -> KubeObject {
        var object = KubeObject(apiVersion: "v1", kind: "Secret", namespace: namespace, name: name)
        object.labels = labels
        object["data"] = .object(data.mapValues(JSON.string))
        return object
    }

    @Test func createGetUpdateAndConflict() async throws {
        let cluster = try TestCluster()
        let created = try await cluster.client.create(secret("a"), .secrets)
        #expect(!created.uid.isEmpty)
        #expect(created["type"] == "Opaque")
        var fetched = try await cluster.client.get(.secrets, namespace: "default", name: "a")
        #expect(fetched.resourceVersion == created.resourceVersion)
        fetched.labels = ["x": "y"]
        let updated = try await cluster.client.update(fetched, .secrets)
        #expect(updated.resourceVersion != created.resourceVersion)
        do {
            _ = try await cluster.client.update(fetched, .secrets)
            Issue.record("a stale update must fail")
        } catch {
            #expect(error.isConflict)
            #expect(error.status?.message.contains("the object has been modified") == true)
        }
    }

    /// A controller's client parses answers, lists and watches without managedFields; any other
    /// client gets them as the server sent them.
    @Test func aClientThatDropsManagedFieldsNeverShowsThem() async throws {
        let cluster = try TestCluster()
        var configuration = cluster.client.configuration
        configuration.dropsManagedFields = true
        let controller = KubeClient(configuration: configuration)
        let applied = try await controller.apply(secret("a", labels: ["x": "y"]), .secrets, fieldManager: "m")
        #expect(applied[path: ["metadata", "managedFields"]] == nil)
        #expect(applied.labels == ["x": "y"], "the rest of the answer is there")
        #expect(try await controller.list(.secrets, namespace: "default").items.allSatisfy { $0[path: ["metadata", "managedFields"]] == nil })
        let stored = try await cluster.client.get(.secrets, namespace: "default", name: "a")
        #expect(stored[path: ["metadata", "managedFields"]]?.arrayValue?.first?["manager"] == "m")
        var watchOptions = WatchOptions(resourceVersion: "0")
        watchOptions.timeoutSeconds = 5
        var events = try await controller.watch(.secrets, namespace: "default", options: watchOptions).makeAsyncIterator()
        guard case .added(let watched)? = try await events.next() else { throw DeadlineExceeded(description: "no ADDED event") }
        #expect(watched.name == "a" && watched[path: ["metadata", "managedFields"]] == nil)
    }

    @Test func notFoundAndAlreadyExistsAreTyped() async throws {
        let cluster = try TestCluster()
        do {
            _ = try await cluster.client.get(.secrets, namespace: "default", name: "missing")
            Issue.record("expected 404")
        } catch {
            #expect(error.isNotFound)
            #expect(error.status?.message == "secrets \"missing\" not found")
        }
        _ = try await cluster.client.create(secret("dup"), .secrets)
        await #expect(throws: KubeError.self) { _ = try await cluster.client.create(secret("dup"), .secrets) }
    }

    @Test func listsWithSelectorsAndPages() async throws {
        let cluster = try TestCluster()
        for index in 0..<7 {
            _ = try await cluster.client.create(secret("s\(index)", labels: ["app": index % 2 == 0 ? "nim" : "other"]), .secrets)
        }
        let selected = try await cluster.client.list(.secrets, namespace: "default", options: ListOptions(labelSelector: try LabelSelector(parsing: "app=nim")))
        #expect(selected.items.map(\.name) == ["s0", "s2", "s4", "s6"])
        #expect(selected.items.allSatisfy { $0.kind == "Secret" && $0.apiVersion == "v1" })
        let firstPage = try await cluster.client.list(.secrets, namespace: "default", options: ListOptions(limit: 3))
        #expect(firstPage.items.count == 3)
        #expect(firstPage.continueToken != nil)
        #expect(firstPage.remainingItemCount == 4)
        let all = try await cluster.client.listAll(.secrets, namespace: "default", options: ListOptions(limit: 3))
        #expect(all.items.count == 7)
        let metadata = try await cluster.client.list(.secrets, namespace: "default", options: ListOptions(metadataOnly: true))
        #expect(metadata.items.count == 7)
        #expect(metadata.items.allSatisfy { $0["data"] == nil && $0.kind == "PartialObjectMetadata" })
    }

    @Test func patchesOfEveryKind() async throws {
        let cluster = try TestCluster()
        _ = try await cluster.client.create(secret("p"), .secrets)
        let merged = try await cluster.client.patch(.secrets, namespace: "default", name: "p", .merge(["metadata": ["annotations": ["a": "b"]]]))
        #expect(merged.annotations == ["a": "b"])
        let removed = try await cluster.client.patch(.secrets, namespace: "default", name: "p", .merge(["metadata": ["annotations": ["a": nil]]]))
        #expect(removed.annotations.isEmpty)
        do {
            _ = try await cluster.client.patch(.secrets, namespace: "default", name: "p", .json([["op": "test", "path": "/type", "value": "Other"]]))
            Issue.record("a failed test op must fail the patch")
        } catch {
            #expect(error.status?.code == 422)
        }
        var intent = secret("applied")
        intent.labels = ["owner": "op"]
        let applied = try await cluster.client.apply(intent, .secrets, fieldManager: "nim-deploy-operator")
        let again = try await cluster.client.apply(intent, .secrets, fieldManager: "nim-deploy-operator")
        #expect(applied.resourceVersion == again.resourceVersion, "a no-op apply must not write")
        var other = intent
        other.labels = ["owner": "someone-else"]
        do {
            _ = try await cluster.client.apply(other, .secrets, fieldManager: "other", force: false)
            Issue.record("expected an apply conflict")
        } catch {
            #expect(error.status?.code == 409)
            #expect(error.status?.causes.first?.reason == "FieldManagerConflict")
            #expect(error.status?.causes.first?.field == ".metadata.labels.owner")
        }
        var withoutLabel = intent
        withoutLabel.labels = [:]
        let pruned = try await cluster.client.apply(withoutLabel, .secrets, fieldManager: "nim-deploy-operator")
        #expect(pruned.labels.isEmpty, "a field the manager stops applying is removed")
    }

    @Test func deleteWithPreconditionAndPropagation() async throws {
        let cluster = try TestCluster()
        let owner = try await cluster.client.create(secret("owner"), .secrets)
        var child = KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "child")
        child.ownerReferences = [OwnerReference(controllerOf: owner)]
        _ = try await cluster.client.create(child, .configMaps)
        do {
            try await cluster.client.delete(.secrets, namespace: "default", name: "owner", options: DeleteOptions(preconditionUID: "wrong"))
            Issue.record("expected a precondition conflict")
        } catch {
            #expect(error.isConflict)
        }
        try await cluster.client.delete(.secrets, namespace: "default", name: "owner")
        try await eventually("the garbage collector removes the dependent") {
            do {
                _ = try await cluster.client.get(.configMaps, namespace: "default", name: "child")
                return false
            } catch {
                return (error as? KubeError)?.isNotFound == true
            }
        }
    }

    @Test func watchStreamsEventsFromAResourceVersion() async throws {
        let cluster = try TestCluster()
        let start = try await cluster.client.list(.secrets, namespace: "default")
        let events = try await cluster.client.watch(.secrets, namespace: "default", options: WatchOptions(resourceVersion: start.resourceVersion))
        _ = try await cluster.client.create(secret("w"), .secrets)
        _ = try await cluster.client.patch(.secrets, namespace: "default", name: "w", .merge(["metadata": ["labels": ["x": "y"]]]))
        try await cluster.client.delete(.secrets, namespace: "default", name: "w")
        var seen: [String] = []
        for try await event in events {
            switch event {
            case .added(let object): seen.append("ADDED \(object.name)")
            case .modified(let object): seen.append("MODIFIED \(object.name)")
            case .deleted(let object): seen.append("DELETED \(object.name)")
            default: break
            }
            if seen.count == 3 { break }
        }
        #expect(seen == ["ADDED w", "MODIFIED w", "DELETED w"])
    }
}
