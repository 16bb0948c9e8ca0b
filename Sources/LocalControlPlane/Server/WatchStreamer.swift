import Foundation
import KubeCore
import HTTPServing

/// Serves one watch: the events since the requested resourceVersion (or the current objects as
/// ADDED), then live events, bookmarks, and the end at `timeoutSeconds`.
struct WatchStreamer {
    let server: APIServer
    let resource: ResourceRequest
    let filter: WatchFilter
    let representation: Representation
    let request: HTTPServerRequest

    /// Without `timeoutSeconds` the real server picks a random time from its minimum request
    /// timeout (1800 s) to twice that.
    static func defaultTimeout() -> TimeInterval { Double.random(in: 1800...3600) }

    enum Start {
        case stream(initial: [(WatchEventType, JSON, Int)], subscription: WatchSubscription, revision: Int)
        case expired(APIStatus)
        case failed(APIStatus)
    }

    func serve(_ writer: HTTPResponseWriter) {
        let definition = resource.definition
        let sendInitialEvents = request.queryFlag("sendInitialEvents")
        let bookmarks = request.queryFlag("allowWatchBookmarks")
        let requestedVersion = request.queryValue("resourceVersion") ?? ""
        if sendInitialEvents, request.queryValue("resourceVersionMatch") != "NotOlderThan" {
            return server.respondStatus(writer, .badRequest("sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan"))
        }
        if !sendInitialEvents, request.queryValue("resourceVersionMatch") != nil {
            return server.respondStatus(writer, .badRequest("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
        }
        if !requestedVersion.isEmpty, Int(requestedVersion) == nil {
            return server.respondStatus(writer, .badRequest("resourceVersion: Invalid value: \"\(requestedVersion)\": must be a number"))
        }
        let timeout = request.queryValue("timeoutSeconds").flatMap(Double.init) ?? Self.defaultTimeout()
        let deadline = Date().addingTimeInterval(timeout)
        let subscription = WatchSubscription(filter: filter)

        let start: Start = server.store.withState { state in
            let table = state.tables[definition.groupResource] ?? ResourceTable()
            let fromVersion = Int(requestedVersion) ?? 0
            if requestedVersion.isEmpty || requestedVersion == "0" || sendInitialEvents {
                // Synthetic ADDED for what exists now, in key order.
                let initial = table.objects.keys.sorted().compactMap { key -> (WatchEventType, JSON, Int)? in
                    guard let object = table.objects[key], filter.matches(object) else { return nil }
                    return (.added, object, state.revision)
                }
                state.watchers[definition.groupResource, default: []].append(subscription)
                return .stream(initial: initial, subscription: subscription, revision: state.revision)
            }
            if fromVersion > state.revision {
                var status = APIStatus(
                    code: 504, reason: "Timeout", message: "Too large resource version: \(fromVersion), current: \(state.revision)",
                    details: ["causes": [["reason": "ResourceVersionTooLarge", "message": "Too large resource version"]], "retryAfterSeconds": 1])
                status.retryAfterSeconds = 1
                return .failed(status)
            }
            if fromVersion < table.compactedRevision {
                return .expired(.expired("too old resource version: \(fromVersion) (\(table.compactedRevision + 1))"))
            }
            let replay = table.history.filter { $0.revision > fromVersion }.compactMap { record -> (WatchEventType, JSON, Int)? in
                filter.event(for: record).map { ($0.0, $0.1, record.revision) }
            }
            state.watchers[definition.groupResource, default: []].append(subscription)
            return .stream(initial: replay, subscription: subscription, revision: state.revision)
        }

        let headers = HTTPHeaders([("Content-Type", "application/json")])
        switch start {
        case .failed(let status):
            server.respondStatus(writer, status)
        case .expired(let status):
            // Past admission, errors arrive as one ERROR event on a 200 stream, then the end.
            tally(definition.groupResource.description, "expired", +1)
            guard writer.startStream(status: 200, headers: headers) else { return }
            _ = writer.writeChunk(line(.error, status.json))
            writer.endStream()
        case .stream(let initial, let subscription, let revision):
            let name = definition.groupResource.description
            var ending = "peer-gone"
            tally(name, "open", +1)
            defer {
                subscription.close()
                tally(name, "open", -1)
                tally(name, ending, +1)
            }
            guard writer.startStream(status: 200, headers: headers) else { return }
            guard write(initial, to: writer) else { return }
            if sendInitialEvents && bookmarks {
                guard writer.writeChunk(line(.bookmark, bookmark(revision, initialEventsEnd: true))) else { return }
            }
            var nextBookmark = Date().addingTimeInterval(server.bookmarkInterval)
            while Date() < deadline {
                // Wake at least once a second to notice a client that went away.
                let wake = min(deadline, nextBookmark, Date().addingTimeInterval(1))
                let (events, open) = subscription.take(until: wake)
                guard write(events, to: writer) else { return }
                if !open {
                    ending = "closed"
                    break
                }
                if bookmarks && Date() >= nextBookmark {
                    // Read the revision, then drain: every event at or below it is written before
                    // the bookmark, so a client never moves its resourceVersion backwards.
                    let current = server.store.withState { $0.revision }
                    guard write(subscription.take(until: Date()).events, to: writer) else { return }
                    guard writer.writeChunk(line(.bookmark, bookmark(current, initialEventsEnd: false))) else { return }
                    nextBookmark = Date().addingTimeInterval(server.bookmarkInterval)
                }
                if writer.peerClosed() { return }
            }
            if ending != "closed" { ending = "timeout" }
            writer.endStream()
        }
    }

    private func tally(_ resource: String, _ state: String, _ change: Int) {
        server.watchStreams.withLock { $0["\(resource) \(state)", default: 0] += change }
    }

    private func write(_ events: [(WatchEventType, JSON, Int)], to writer: HTTPResponseWriter) -> Bool {
        guard !events.isEmpty else { return true }
        var bytes: [UInt8] = []
        for (type, object, _) in events {
            bytes.append(contentsOf: line(type, represent(object)))
        }
        return writer.writeChunk(bytes)
    }

    private func represent(_ object: JSON) -> JSON {
        let served = StoreState.served(object, version: resource.version, definition: resource.definition)
        return representation.render(served, definition: resource.definition, includeObject: request.queryValue("includeObject"))
    }

    private func bookmark(_ revision: Int, initialEventsEnd: Bool) -> JSON {
        var metadata: JSON = ["resourceVersion": .string(String(revision))]
        if initialEventsEnd { metadata["annotations"] = ["k8s.io/initial-events-end": "true"] }
        if representation == .metadataOnly {
            return ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata]
        }
        return ["kind": .string(resource.definition.kind), "apiVersion": .string(resource.definition.apiVersion(resource.version)), "metadata": metadata]
    }

    private func line(_ type: WatchEventType, _ object: JSON) -> [UInt8] {
        var bytes = Array(#"{"type":""#.utf8)
        bytes.append(contentsOf: type.rawValue.utf8)
        bytes.append(contentsOf: Array(#"","object":"#.utf8))
        bytes.append(contentsOf: object.serializedBytes())
        bytes.append(contentsOf: Array("}\n".utf8))
        return bytes
    }
}
