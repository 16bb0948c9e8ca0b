import Foundation
import Testing
import KubeCore
import KubeAPI
import LocalControlPlane
import TestSupport

/// Replays every exchange recorded from a real kube-apiserver against the local control plane
/// and compares the answers (see `WireComparator` for what "the same" means). Steps the
/// recordings imply but do not contain (objects created between two recorded requests) are
/// done here, through the same API.
@Suite struct WireReplayTests {
    /// The groups and core resources this server serves, to cut a real server's discovery down to.
    static let coreResources: Set<String> = ["namespaces", "secrets", "configmaps", "persistentvolumeclaims", "serviceaccounts", "pods", "events"]

    @Test func everyRecordedExchangeAgrees() async throws {
        let recordings = try WireRecording.loadAll()
        #expect(recordings.count >= 60, "the recordings are in ../shared/kube-wire")
        var options = LocalControlPlane.Options()
        options.bookmarkInterval = 1
        let plane = LocalControlPlane(options: options)
        let base = try plane.start()
        defer { plane.stop() }
        // The recorded cluster had KServe installed from the start.
        try installKServe(plane)
        let transport = CurlTransport()
        var comparator = WireComparator()

        for recording in recordings {
            try await setUp(before: recording.number, base: base, transport: transport, comparator: comparator)
            let label = String(format: "%03d %@", recording.number, recording.name)
            if recording.lines != nil {
                try await replayWatch(recording, label: label, base: base, transport: transport, comparator: &comparator)
                continue
            }
            if recording.number == 58 {
                try await eventually("the garbage collector removes the dependent") {
                    try await transport.send(HTTPRequest(method: "GET", url: base + recording.path)).status == 404
                }
            }
            let response = try await send(recording, base: base, transport: transport, comparator: comparator)
            if response.status != recording.status {
                comparator.note("\(label): status \(response.status), recorded \(recording.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
                continue
            }
            if recording.responseHeaders["Warning"] != nil, response.headers["Warning"] == nil {
                comparator.note("\(label): the recorded answer carries a Warning header, ours does not")
            }
            let body = try JSON(parsing: response.body)
            switch recording.number {
            case 2, 3, 5: compareDiscovery(recording, body, label: label, comparator: &comparator)
            case 42: compareOpenAPIIndex(recording, body, label: label, comparator: &comparator)
            case 43: compareOpenAPIDocument(recording, body, label: label, comparator: &comparator)
            default: comparator.compare(recording.responseBody, body, at: label)
            }
        }
        for difference in comparator.differences { Issue.record("\(difference)") }
    }

    // MARK: - Requests

    func send(_ recording: WireRecording, base: String, transport: CurlTransport, comparator: WireComparator) async throws -> HTTPResponse {
        var headers: [(String, String)] = []
        for (name, value) in recording.headers { headers.append((name, value)) }
        var body: [UInt8]?
        if let recorded = recording.body {
            // Apply bodies are recorded as the YAML (here JSON) text that was sent.
            if let text = recorded.stringValue, let parsed = try? JSON(parsing: text) {
                body = comparator.substitute(parsed).serializedBytes()
            } else {
                body = comparator.substitute(recorded).serializedBytes()
            }
        }
        return try await transport.send(HTTPRequest(method: recording.method, url: base + comparator.substitutePath(recording.path), headers: headers, body: body))
    }

    func replayWatch(_ recording: WireRecording, label: String, base: String, transport: CurlTransport, comparator: inout WireComparator) async throws {
        // A shorter server-side timeout than recorded, to keep the test quick; the stream still
        // ends the way it did (EOF at timeoutSeconds). Not for the one during which three writes
        // are made: on a loaded machine they can take longer than a second.
        var path = comparator.substitutePath(recording.path)
        if recording.number != 46 {
            for seconds in ["timeoutSeconds=3", "timeoutSeconds=2"] { path = path.replacingOccurrences(of: seconds, with: "timeoutSeconds=1") }
        }
        let stream = try await transport.stream(HTTPRequest(method: "GET", url: base + path, headers: [("Accept", "application/json")], timeout: nil))
        guard stream.status == recording.status else {
            comparator.note("\(label): status \(stream.status), recorded \(recording.status)")
            return
        }
        if recording.number == 46 {
            // What happened while the recorded watch was open.
            let widgets = "/apis/wire.example.com/v1alpha1/namespaces/wire/widgets"
            _ = try await request(transport, "POST", base + widgets, ["apiVersion": "wire.example.com/v1alpha1", "kind": "Widget", "metadata": ["name": "w2"], "spec": ["size": 1]])
            _ = try await request(transport, "PATCH", base + widgets + "/w2", ["spec": ["size": 5]], contentType: "application/merge-patch+json")
            _ = try await request(transport, "DELETE", base + widgets + "/w2", nil)
        }
        var splitter: [UInt8] = []
        var lines: [JSON] = []
        for try await chunk in stream.body {
            splitter.append(contentsOf: chunk)
            while let newline = splitter.firstIndex(of: 0x0A) {
                lines.append(try JSON(parsing: splitter[..<newline]))
                splitter.removeSubrange(...newline)
            }
        }
        // Bookmarks are sent at the server's discretion: compare the events, and the bookmark a
        // streaming list must end with.
        let recordedLines = (recording.lines ?? []).filter { $0["type"] != "BOOKMARK" || recording.number == 48 }
        let ourLines = lines.filter { $0["type"] != "BOOKMARK" || recording.number == 48 }.prefix(recordedLines.count)
        if ourLines.count != recordedLines.count {
            comparator.note("\(label): \(ourLines.count) events, recorded \(recordedLines.count): \(lines.map { $0["type"]?.stringValue ?? "?" })")
            return
        }
        for (index, pair) in zip(recordedLines, ourLines).enumerated() {
            comparator.compare(pair.0, pair.1, at: "\(label) line \(index)")
        }
    }

    @discardableResult
    func request(_ transport: CurlTransport, _ method: String, _ url: String, _ body: JSON?, contentType: String = "application/json") async throws -> HTTPResponse {
        let response = try await transport.send(
            HTTPRequest(method: method, url: url, headers: [("Content-Type", contentType), ("Accept", "application/json")], body: body.map { $0.serializedBytes() }))
        guard (200..<300).contains(response.status) else {
            throw DeadlineExceeded(description: "setup \(method) \(url) failed: \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        return response
    }

    /// Objects the recorded session created without recording the request.
    func setUp(before number: Int, base: String, transport: CurlTransport, comparator: WireComparator) async throws {
        switch number {
        case 9:
            for index in 0..<3 {
                try await request(transport, "POST", base + "/api/v1/namespaces/wire/secrets", ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string("other-\(index)")], "type": "Opaque"])
            }
        case 49:
            try await request(
                transport, "POST", base + "/apis/wire.example.com/v1alpha1/namespaces/wire/widgets",
                ["apiVersion": "wire.example.com/v1alpha1", "kind": "Widget", "metadata": ["name": "fin", "finalizers": ["wire.example.com/hold"]], "spec": ["size": 1]])
        default:
            break
        }
    }

    func installKServe(_ plane: LocalControlPlane) throws {
        for file in ["serving.kserve.io_servingruntimes.yaml", "serving.kserve.io_inferenceservices.yaml", "serving.kserve.io_clusterservingruntimes.yaml"] {
            let text = try String(contentsOf: Paths.shared.appendingPathComponent("crds/full/\(file)"), encoding: .utf8)
            try plane.apply(try YAML.parseAll(text))
        }
    }

    // MARK: - Discovery and OpenAPI: a real server serves far more; compare what both serve

    func compareDiscovery(_ recording: WireRecording, _ ours: JSON, label: String, comparator: inout WireComparator) {
        guard let recorded = recording.responseBody else { return }
        switch recording.number {
        case 2:
            let ourGroups = Dictionary((ours["groups"]?.arrayValue ?? []).map { ($0["name"]?.stringValue ?? "", $0) }, uniquingKeysWith: { a, _ in a })
            for group in recorded["groups"]?.arrayValue ?? [] {
                guard let name = group["name"]?.stringValue, let mine = ourGroups[name] else { continue }
                comparator.compare(group, mine, at: "\(label) group \(name)")
            }
            comparator.compare(recorded["kind"], ours["kind"], at: "\(label).kind")
        case 3:
            let ourResources = Dictionary((ours["resources"]?.arrayValue ?? []).map { ($0["name"]?.stringValue ?? "", $0) }, uniquingKeysWith: { a, _ in a })
            for resource in recorded["resources"]?.arrayValue ?? [] {
                guard let name = resource["name"]?.stringValue else { continue }
                let parts = name.split(separator: "/")
                guard Self.coreResources.contains(String(parts[0])), parts.count == 1 || parts[1] == "status" else { continue }
                guard let mine = ourResources[name] else {
                    comparator.note("\(label): \(name) is not served")
                    continue
                }
                comparator.compare(resource, mine, at: "\(label) \(name)")
            }
        default:
            let ourGroups = Dictionary((ours["items"]?.arrayValue ?? []).map { ($0[path: ["metadata", "name"]]?.stringValue ?? "", $0) }, uniquingKeysWith: { a, _ in a })
            for group in recorded["items"]?.arrayValue ?? [] {
                guard let name = group[path: ["metadata", "name"]]?.stringValue, let mine = ourGroups[name] else { continue }
                let ourResources = Dictionary(
                    (mine[path: ["versions"]]?[0]?["resources"]?.arrayValue ?? []).map { ($0["resource"]?.stringValue ?? "", $0) },
                    uniquingKeysWith: { a, _ in a })
                for version in group["versions"]?.arrayValue ?? [] {
                    for resource in version["resources"]?.arrayValue ?? [] {
                        guard let resourceName = resource["resource"]?.stringValue, let ourResource = ourResources[resourceName] else { continue }
                        var expected = resource
                        expected["subresources"] = (resource["subresources"]?.arrayValue ?? []).filter { $0["subresource"] == "status" }.asArrayOrNil
                        comparator.compare(expected, ourResource, at: "\(label) \(name)/\(resourceName)")
                    }
                }
            }
        }
    }

    func compareOpenAPIIndex(_ recording: WireRecording, _ ours: JSON, label: String, comparator: inout WireComparator) {
        let recordedPaths = recording.responseBody?["paths"]?.objectValue ?? [:]
        for (path, entry) in ours["paths"]?.objectValue ?? [:] {
            if recordedPaths[path] == nil, !path.contains("kserve"), !path.contains("wire") { comparator.note("\(label): a real server has no \(path)") }
            if entry["serverRelativeURL"]?.stringValue?.contains("?hash=") != true { comparator.note("\(label): \(path) has no hashed URL") }
        }
        for required in ["api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1", "apis/wire.example.com/v1alpha1"] where ours["paths"]?[required] == nil {
            comparator.note("\(label): \(required) missing from the index")
        }
    }

    func compareOpenAPIDocument(_ recording: WireRecording, _ ours: JSON, label: String, comparator: inout WireComparator) {
        guard let recorded = recording.responseBody else { return }
        let recordedPaths = recorded["paths"]?.objectValue ?? [:]
        let ourPaths = ours["paths"]?.objectValue ?? [:]
        if Set(recordedPaths.keys) != Set(ourPaths.keys) {
            comparator.note("\(label): paths recorded \(recordedPaths.keys.sorted()), ours \(ourPaths.keys.sorted())")
        }
        for (path, operations) in recordedPaths {
            for (method, operation) in operations.objectValue ?? [:] where method != "parameters" {
                guard let mine = ourPaths[path]?[method] else {
                    comparator.note("\(label): \(method.uppercased()) \(path) missing")
                    continue
                }
                comparator.compare(operation["x-kubernetes-action"], mine["x-kubernetes-action"], at: "\(label) \(method) \(path) action")
                comparator.compare(operation["x-kubernetes-group-version-kind"], mine["x-kubernetes-group-version-kind"], at: "\(label) \(method) \(path) gvk")
                let recordedParameters = Set((operation["parameters"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
                let ourParameters = Set((mine["parameters"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
                // kubectl checks for fieldValidation on PATCH; every parameter we list must be real.
                if !ourParameters.isSubset(of: recordedParameters) {
                    comparator.note("\(label): \(method) \(path) parameters \(ourParameters.subtracting(recordedParameters)) are not real")
                }
                if method == "patch", !ourParameters.contains("fieldValidation") { comparator.note("\(label): PATCH \(path) lacks fieldValidation") }
            }
        }
        let kind = "com.example.wire.v1alpha1.Widget"
        comparator.compare(
            recorded[path: ["components", "schemas", kind, "properties", "spec"]], ours[path: ["components", "schemas", kind, "properties", "spec"]],
            at: "\(label) Widget spec schema")
        comparator.compare(
            recorded[path: ["components", "schemas", kind, "x-kubernetes-group-version-kind"]],
            ours[path: ["components", "schemas", kind, "x-kubernetes-group-version-kind"]], at: "\(label) Widget gvk")
    }
}

extension Array where Element == JSON {
    var asArrayOrNil: JSON? { isEmpty ? nil : .array(self) }
}
