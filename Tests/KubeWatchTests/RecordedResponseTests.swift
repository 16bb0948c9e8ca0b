import Foundation
import Testing
@testable import KubeCore
@testable import KubeAPI
import TestSupport

/// The client reads what a real kube-apiserver sends: every recorded error as a typed Status,
/// every list's items with their kind, every watch line as an event.
@Suite struct RecordedResponseTests {
    let client = KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:1"))

    @Test func everyRecordedErrorDecodesAsAStatus() throws {
        let failures = try WireRecording.loadAll().filter { $0.status >= 400 && $0.lines == nil }
        #expect(failures.count >= 15)
        for recording in failures {
            let body = recording.responseBody?.serializedBytes() ?? []
            let status = client.status(from: HTTPResponse(status: recording.status, headers: HTTPHeaders(), body: body))
            #expect(status.code == recording.status, "\(recording.name)")
            #expect(status.reason == recording.responseBody?["reason"]?.stringValue, "\(recording.name)")
            #expect(status.causes.count == (recording.responseBody?[path: ["details", "causes"]]?.arrayValue?.count ?? 0), "\(recording.name)")
        }
        let conflict = try #require(failures.first { $0.name == "ssa-conflict" })
        let status = client.status(from: HTTPResponse(status: 409, headers: HTTPHeaders(), body: conflict.responseBody?.serializedBytes() ?? []))
        #expect(status.causes.first?.reason == "FieldManagerConflict")
        #expect(status.causes.first?.field == ".metadata.labels.owner")
        #expect(KubeError.api(status).isConflict)
    }

    @Test func retryAfterComesFromTheHeader() {
        let response = HTTPResponse(status: 429, headers: HTTPHeaders([("Retry-After", "7")]), body: APIStatus.tooManyRequests(retryAfterSeconds: 1).json.serializedBytes())
        #expect(client.status(from: response).retryAfterSeconds == 7)
        let html = HTTPResponse(status: 502, headers: HTTPHeaders(), body: Array("<html>bad gateway</html>".utf8))
        #expect(client.status(from: html).code == 502, "a body that is not a Status still gives a Status")
    }

    @Test func everyRecordedWatchLineDecodes() throws {
        let resource = ResourceType(group: "wire.example.com", version: "v1alpha1", plural: "widgets", kind: "Widget", namespaced: true)
        var kinds: Set<String> = []
        for recording in try WireRecording.loadAll() where recording.lines != nil {
            for line in recording.lines ?? [] {
                let event = try WatchEvents.event(from: line.serializedBytes(), resource: resource, metadataOnly: false)
                switch event {
                case .added: kinds.insert("ADDED")
                case .modified: kinds.insert("MODIFIED")
                case .deleted: kinds.insert("DELETED")
                case .bookmark(let version, let end):
                    kinds.insert(end ? "BOOKMARK-END" : "BOOKMARK")
                    #expect(!version.isEmpty)
                case .error(let status):
                    kinds.insert("ERROR")
                    #expect(status.isExpired)
                }
            }
        }
        #expect(kinds == ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "BOOKMARK-END", "ERROR"])
    }

    /// Every recorded list, read item by item as an informer reads a page, gives the items a
    /// whole parse gives, each with its kind, and the page's version and continue token.
    @Test func everyRecordedListReadsItemByItem() throws {
        let lists = try WireRecording.loadAll().filter { $0.status == 200 && $0.responseBody?["items"]?.arrayValue != nil }
        #expect(lists.count >= 4)
        for recording in lists {
            let body = try #require(recording.responseBody)
            let metadataOnly = body["kind"]?.stringValue == "PartialObjectMetadataList"
            var page = try ListPage(body: body.serializedBytes(), kind: metadataOnly ? "PartialObjectMetadata" : "Secret", apiVersion: metadataOnly ? "meta.k8s.io/v1" : "v1")
            var items: [KubeObject] = []
            while let item = try page.next() { items.append(item) }
            let whole = body["items"]?.arrayValue ?? []
            #expect(items.count == whole.count, "\(recording.name)")
            #expect(items.map(\.name) == whole.map { $0[path: ["metadata", "name"]]?.stringValue ?? "" }, "\(recording.name)")
            #expect(items.allSatisfy { !$0.kind.isEmpty && !$0.apiVersion.isEmpty }, "\(recording.name)")
            #expect(page.resourceVersion == (body[path: ["metadata", "resourceVersion"]]?.stringValue ?? ""), "\(recording.name)")
            #expect(page.continueToken == body[path: ["metadata", "continue"]]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }, "\(recording.name)")
        }
    }

    @Test func linesSplitAcrossChunksAndChunksHoldingManyLines() throws {
        var splitter = LineSplitter()
        let text = Array(#"{"a":1}"#.utf8) + [0x0A] + Array(#"{"b":2}"#.utf8) + [0x0A] + Array(#"{"c":"#.utf8)
        #expect(try splitter.append(Array(text.prefix(3))).isEmpty)
        let lines = try splitter.append(Array(text.dropFirst(3)))
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == [#"{"a":1}"#, #"{"b":2}"#])
        #expect(try splitter.append(Array("3}\n".utf8)).map { String(decoding: $0, as: UTF8.self) } == [#"{"c":3}"#])
    }
}
