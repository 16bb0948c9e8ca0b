import KubeCore
/// One line of a watch stream.
public enum WatchEvent: Sendable {
    case added(KubeObject)
    case modified(KubeObject)
    /// The object's last state.
    case deleted(KubeObject)
    /// Progress only: the stream has seen everything up to this resourceVersion.
    /// `initialEventsEnd` marks the end of a streaming list.
    case bookmark(resourceVersion: String, initialEventsEnd: Bool)
    /// The server gave up on the watch (410 Expired when the resourceVersion is too old).
    case error(APIStatus)

    public var resourceVersion: String? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): return object.resourceVersion
        case .bookmark(let version, _): return version
        case .error: return nil
        }
    }
}

/// Splits a byte stream into lines. HTTP chunks do not align with lines: an object may span
/// many chunks and a chunk may hold many objects, so what follows the last newline is kept.
struct LineSplitter {
    private var pending: [UInt8] = []
    /// A single watch line larger than this is refused rather than buffered without end.
    static let maximumLineBytes = 64 << 20

    mutating func append(_ bytes: [UInt8]) throws(KubeError) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = 0
        for index in bytes.indices where bytes[index] == 0x0A {
            if pending.isEmpty {
                lines.append(Array(bytes[start..<index]))
            } else {
                pending.append(contentsOf: bytes[start..<index])
                lines.append(pending)
                pending.removeAll(keepingCapacity: true)
            }
            start = index + 1
        }
        if start < bytes.count { pending.append(contentsOf: bytes[start...]) }
        if pending.count > Self.maximumLineBytes { throw .decoding("watch line larger than \(Self.maximumLineBytes) bytes") }
        return lines.filter { !$0.isEmpty }
    }
}

/// The decoded events of one watch response, read as they are asked for. Nothing is decoded
/// ahead of the reader: a consumer that falls behind leaves bytes in the transfer's buffer, not
/// object trees (ten times their size) in a queue, and there is no task hop per event.
/// Dropping the sequence ends the transfer.
public struct WatchEvents: AsyncSequence, Sendable {
    public typealias Element = WatchEvent
    public typealias Failure = KubeError
    let response: HTTPStreamResponse
    let resource: ResourceType
    let metadataOnly: Bool
    let dropsManagedFields: Bool
    /// Told the size of each chunk as it is read (the client's byte counter).
    let received: (@Sendable (Int) -> Void)?

    /// Ends the transfer now; a reader then sees the sequence end.
    public func cancel() { response.cancel() }

    public func makeAsyncIterator() -> Iterator {
        Iterator(body: response.body.makeAsyncIterator(), resource: resource, metadataOnly: metadataOnly, dropsManagedFields: dropsManagedFields, received: received)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var body: HTTPBody.Iterator
        let resource: ResourceType
        let metadataOnly: Bool
        let dropsManagedFields: Bool
        let received: (@Sendable (Int) -> Void)?
        var splitter = LineSplitter()
        var lines: [[UInt8]] = []
        var nextLine = 0

        init(body: HTTPBody.Iterator, resource: ResourceType, metadataOnly: Bool, dropsManagedFields: Bool, received: (@Sendable (Int) -> Void)?) {
            self.dropsManagedFields = dropsManagedFields
            self.body = body
            self.resource = resource
            self.metadataOnly = metadataOnly
            self.received = received
        }

        public mutating func next() async throws(KubeError) -> WatchEvent? {
            while nextLine == lines.count {
                let chunk: [UInt8]?
                do {
                    chunk = try await body.next()
                } catch let error as TransportError {
                    throw .transport(error)
                } catch {
                    throw .transport(TransportError(message: "\(error)"))
                }
                guard let chunk else { return nil }
                received?(chunk.count)
                lines = try splitter.append(chunk)
                nextLine = 0
            }
            defer { nextLine += 1 }
            return try WatchEvents.event(from: lines[nextLine], resource: resource, metadataOnly: metadataOnly, dropsManagedFields: dropsManagedFields)
        }
    }
}

extension WatchEvents {
    static func event(from line: [UInt8], resource: ResourceType, metadataOnly: Bool, dropsManagedFields: Bool = false) throws(KubeError) -> WatchEvent {
        let json: JSON
        do { json = try JSON(parsing: line, droppingManagedFields: dropsManagedFields) } catch { throw .decoding("watch event is not JSON: \(error)") }
        let objectJSON = json["object"] ?? [:]
        var object = KubeObject(objectJSON)
        if object.kind.isEmpty { object.kind = metadataOnly ? "PartialObjectMetadata" : resource.kind }
        if object.apiVersion.isEmpty { object.apiVersion = metadataOnly ? "meta.k8s.io/v1" : resource.apiVersion }
        switch json["type"]?.stringValue {
        case "ADDED": return .added(object)
        case "MODIFIED": return .modified(object)
        case "DELETED": return .deleted(object)
        case "BOOKMARK":
            return .bookmark(
                resourceVersion: object.resourceVersion,
                initialEventsEnd: object.annotations["k8s.io/initial-events-end"] == "true")
        case "ERROR":
            return .error(APIStatus(json: objectJSON, httpCode: 500) ?? APIStatus.forCode(500, message: objectJSON.serialized()))
        case let other:
            throw .decoding("unknown watch event type \(other ?? "<none>")")
        }
    }
}
