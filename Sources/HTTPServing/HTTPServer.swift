import Foundation
import KubeCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The project's one HTTP/1.1 server: the local control plane's API and the operator's metrics
/// and health endpoints both run on it. Plain HTTP; keep-alive; chunked streaming responses for
/// watches.
///
/// Each connection is served by its own thread and handlers are synchronous. That is deliberate:
/// the local control plane often runs in the same process as the operator it serves, and a
/// server that parked work on Swift's cooperative pool (two threads on a two-core machine) could
/// starve the very controller it is testing. A blocked watch here blocks only its own thread.
public final class HTTPServer: Sendable {
    public typealias Handler = @Sendable (HTTPServerRequest, HTTPResponseWriter) -> Void

    private struct State {
        var listener: Int32 = -1
        var port: UInt16 = 0
        var connections: Set<Int32> = []
        var accepted = 0
        var stopped = false
    }

    private let host: String
    private let requestedPort: UInt16
    private let handler: Handler
    /// The API server's default request body limit (3 MiB).
    public let maximumBodyBytes: Int
    private let state = Mutex(State())

    public init(host: String = "127.0.0.1", port: UInt16 = 0, maximumBodyBytes: Int = 3 << 20, handler: @escaping Handler) {
        self.host = host
        self.requestedPort = port
        self.maximumBodyBytes = maximumBodyBytes
        self.handler = handler
    }

    /// `host:port`, `:port` (all interfaces) or `port`.
    public convenience init(bindAddress: String, handler: @escaping Handler) throws(HTTPServerError) {
        let parts = bindAddress.split(separator: ":", omittingEmptySubsequences: false)
        let hostPart = parts.count > 1 ? parts.dropLast().joined(separator: ":") : ""
        guard let portText = parts.last, let port = UInt16(portText) else {
            throw HTTPServerError(message: "invalid bind address \"\(bindAddress)\": expected host:port")
        }
        self.init(host: hostPart.isEmpty ? "0.0.0.0" : hostPart, port: port, handler: handler)
    }

    public var port: UInt16 { state.withLock { $0.port } }

    /// Connections accepted so far: tells a test whether its client reuses them.
    public var acceptedConnections: Int { state.withLock { $0.accepted } }

    /// Binds, listens and starts accepting; returns the bound port (useful with port 0). After
    /// `stop`, starts again on the port it had, as a restarted server comes back where it was.
    @discardableResult
    public func start() throws(HTTPServerError) -> UInt16 {
        let previous = state.withLock { state -> UInt16 in
            state.stopped = false
            return state.port
        }
        let requestedPort = previous != 0 ? previous : self.requestedPort
        signal(SIGPIPE, SIG_IGN)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw HTTPServerError(message: "socket: \(String(cString: strerror(errno)))") }
        var reuse: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = requestedPort.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(listener)
            throw HTTPServerError(message: "invalid listen address \"\(host)\"")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 512) == 0 else {
            let reason = String(cString: strerror(errno))
            close(listener)
            throw HTTPServerError(message: "cannot listen on \(host):\(requestedPort): \(reason)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let port = UInt16(bigEndian: actual.sin_port)
        state.withLock {
            $0.listener = listener
            $0.port = port
        }
        let thread = Thread { [self] in acceptLoop(listener) }
        thread.name = "http-accept-\(port)"
        thread.start()
        return port
    }

    /// Stops accepting and cuts every open connection, streams included.
    /// Under the lock: a connection's thread closes its socket only after leaving the set, so
    /// no descriptor shut down here can be one the number was given to since. The listener is
    /// closed by the accept loop when accept fails, for the same reason.
    public func stop() {
        state.withLock { state in
            state.stopped = true
            if state.listener >= 0 { shutdown(state.listener, Int32(SHUT_RDWR)) }
            state.listener = -1
            for connection in state.connections { shutdown(connection, Int32(SHUT_RDWR)) }
        }
    }

    private func acceptLoop(_ listener: Int32) {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                close(listener)
                return
            }
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.connections.insert(connection)
                state.accepted += 1
                return true
            }
            guard accepted else {
                close(connection)
                close(listener)
                return
            }
            var noDelay: Int32 = 1
            setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            // Idle keep-alive connections give their thread back after five minutes.
            var idle = timeval(tv_sec: 300, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &idle, socklen_t(MemoryLayout<timeval>.size))
            let thread = Thread { [self] in
                serve(connection)
                state.withLock { _ = $0.connections.remove(connection) }
                close(connection)
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    private func serve(_ socket: Int32) {
        var reader = HTTPRequestReader(socket: socket, maximumBodyBytes: maximumBodyBytes)
        while true {
            let request: HTTPServerRequest
            switch reader.next() {
            case .request(let parsed): request = parsed
            case .closed: return
            case .invalid(let status, let message):
                let writer = HTTPResponseWriter(socket: socket, method: "GET")
                writer.respond(status: status, headers: HTTPHeaders([("Content-Type", "text/plain")]), body: Array(message.utf8))
                return
            }
            let writer = HTTPResponseWriter(socket: socket, method: request.method)
            if request.headers["Connection"]?.lowercased() == "close" { writer.closeAfterResponse = true }
            handler(request, writer)
            if !writer.finished {
                writer.respond(status: 500, headers: HTTPHeaders(), body: Array("handler wrote no response".utf8))
            }
            if writer.closeAfterResponse || writer.failed { return }
        }
    }
}

/// Writes one response on a connection: either whole, or as a chunked stream.
public final class HTTPResponseWriter {
    private let socket: Int32
    private let method: String
    private(set) var finished = false
    private(set) var failed = false
    private var streaming = false
    var closeAfterResponse = false

    init(socket: Int32, method: String) {
        self.socket = socket
        self.method = method
    }

    public func respond(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        guard !finished, !streaming else { return }
        var head = "HTTP/1.1 \(status) \(HTTPStatusText.reason(status))\r\n"
        for field in headers { head += "\(field.name): \(field.value)\r\n" }
        head += "Content-Length: \(body.count)\r\n"
        if closeAfterResponse { head += "Connection: close\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if method != "HEAD" { bytes.append(contentsOf: body) }
        failed = !write(bytes)
        finished = true
    }

    /// Sends the head of a chunked response; `false` if the peer is gone.
    public func startStream(status: Int, headers: HTTPHeaders) -> Bool {
        guard !finished, !streaming else { return false }
        streaming = true
        var head = "HTTP/1.1 \(status) \(HTTPStatusText.reason(status))\r\n"
        for field in headers { head += "\(field.name): \(field.value)\r\n" }
        head += "Transfer-Encoding: chunked\r\n\r\n"
        failed = !write(Array(head.utf8))
        return !failed
    }

    /// One chunk of a streamed response; `false` if the peer is gone.
    public func writeChunk(_ bytes: [UInt8]) -> Bool {
        guard streaming, !failed, !bytes.isEmpty else { return !failed }
        var frame = Array(String(bytes.count, radix: 16).utf8) + [0x0D, 0x0A]
        frame.append(contentsOf: bytes)
        frame.append(contentsOf: [0x0D, 0x0A])
        failed = !write(frame)
        return !failed
    }

    public func endStream() {
        guard streaming, !finished else { return }
        if !failed { failed = !write(Array("0\r\n\r\n".utf8)) }
        finished = true
    }

    /// Closes the connection without an answer, as a server that died mid-request does.
    public func closeWithoutAnswer() {
        guard !finished, !streaming else { return }
        finished = true
        failed = true
    }

    /// Linux's POLLRDHUP, which Glibc only declares under _GNU_SOURCE.
    private static let pollReadHangUp: Int16 = 0x2000

    /// Whether the client hung up, without consuming anything it sent.
    public func peerClosed() -> Bool {
        if failed { return true }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN) | Self.pollReadHangUp, revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return false }
        if descriptor.revents & (Self.pollReadHangUp | Int16(POLLHUP) | Int16(POLLERR)) != 0 { return true }
        var byte: UInt8 = 0
        return recv(socket, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) == 0
    }

    private func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                send(socket, buffer.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }
}

/// Reads requests off a connection: head, then a Content-Length or chunked body.
struct HTTPRequestReader {
    enum Outcome {
        case request(HTTPServerRequest)
        case closed
        case invalid(status: Int, message: String)
    }

    let socket: Int32
    let maximumBodyBytes: Int
    var buffer: [UInt8] = []
    static let maximumHeadBytes = 1 << 20

    init(socket: Int32, maximumBodyBytes: Int) {
        self.socket = socket
        self.maximumBodyBytes = maximumBodyBytes
    }

    mutating func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.append(contentsOf: chunk[0..<count])
                return true
            }
            if count < 0, errno == EINTR { continue }
            return false
        }
    }

    mutating func next() -> Outcome {
        var headEnd: Int?
        while headEnd == nil {
            headEnd = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: buffer)
            if headEnd == nil {
                if buffer.count > Self.maximumHeadBytes { return .invalid(status: 431, message: "request head too large") }
                if !fill() { return .closed }
            }
        }
        guard let end = headEnd else { return .closed }
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        buffer.removeFirst(end + 4)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return .invalid(status: 400, message: "empty request") }
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else {
            return .invalid(status: 400, message: "malformed request line")
        }
        var headers = HTTPHeaders()
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .invalid(status: 400, message: "malformed header") }
            headers.add(
                String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        if headers["Expect"]?.lowercased() == "100-continue" {
            let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
            _ = continueLine.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        var body: [UInt8] = []
        if headers["Transfer-Encoding"]?.lowercased().contains("chunked") == true {
            guard let chunked = readChunkedBody() else { return .invalid(status: 400, message: "malformed chunked body") }
            body = chunked
        } else if let lengthText = headers["Content-Length"] {
            guard let length = Int(lengthText), length >= 0 else { return .invalid(status: 400, message: "bad Content-Length") }
            if length > maximumBodyBytes { return .invalid(status: 413, message: "request entity too large: limit is \(maximumBodyBytes)") }
            while buffer.count < length {
                if !fill() { return .closed }
            }
            body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        }
        var target = String(requestLine[1])
        // The absolute form (`GET http://host/path`), which a client sends to a proxy and a
        // server must accept (RFC 9112, section 3.2.2): the path is what follows the authority.
        let absoluteForm = ["http://", "https://"].contains(where: target.hasPrefix)
        if absoluteForm {
            let afterScheme = target.dropFirst(target.hasPrefix("https://") ? 8 : 7)
            target = afterScheme.firstIndex(of: "/").map { String(afterScheme[$0...]) } ?? "/"
        }
        let pathPart: Substring
        let queryPart: Substring
        if let question = target.firstIndex(of: "?") {
            pathPart = target[..<question]
            queryPart = target[target.index(after: question)...]
        } else {
            pathPart = Substring(target)
            queryPart = ""
        }
        return .request(
            HTTPServerRequest(
                method: String(requestLine[0]), target: target,
                path: PercentDecoding.decode(pathPart, plusIsSpace: false),
                query: PercentDecoding.parseQuery(queryPart), headers: headers, body: body, absoluteForm: absoluteForm))
    }

    mutating func readChunkedBody() -> [UInt8]? {
        var body: [UInt8] = []
        while true {
            var lineEnd = Self.find([0x0D, 0x0A], in: buffer)
            while lineEnd == nil {
                if !fill() { return nil }
                lineEnd = Self.find([0x0D, 0x0A], in: buffer)
            }
            guard let end = lineEnd else { return nil }
            let sizeText = String(decoding: buffer[0..<end], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            buffer.removeFirst(end + 2)
            if size == 0 {
                // Trailers are not used by any client we serve; skip to the blank line.
                while Self.find([0x0D, 0x0A], in: buffer) == nil { if !fill() { return nil } }
                if let blank = Self.find([0x0D, 0x0A], in: buffer) { buffer.removeFirst(blank + 2) }
                return body
            }
            if body.count + size > maximumBodyBytes { return nil }
            while buffer.count < size + 2 { if !fill() { return nil } }
            body.append(contentsOf: buffer[0..<size])
            buffer.removeFirst(size + 2)
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return haystack.withUnsafeBufferPointer { buffer -> Int? in
            var index = 0
            let last = buffer.count - needle.count
            while index <= last {
                if buffer[index] == needle[0] {
                    var match = true
                    for offset in 1..<needle.count where buffer[index + offset] != needle[offset] {
                        match = false
                        break
                    }
                    if match { return index }
                }
                index += 1
            }
            return nil
        }
    }
}
