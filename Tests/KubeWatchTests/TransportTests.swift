import Foundation
import Synchronization
import Testing
import KubeCore
import KubeAPI
import HTTPServing
import TestSupport

/// The libcurl transport's bookkeeping, against a plain HTTP server in the test.
@Suite struct TransportTests {
    /// A server with two paths: `/short` streams one chunk and ends; `/held` answers only once
    /// the test lets it, so the request is certainly in flight meanwhile.
    final class Server: Sendable {
        final class Gate: Sendable {
            let arrived = Atomic<Int>(0)
            let release = DispatchSemaphore(value: 0)
        }

        /// `/flood`: `total` bytes as fast as the client takes them.
        final class Flood: Sendable {
            static let total = 48 << 20
            let written = Atomic<Int>(0)
            /// When the last chunk went into the socket (uptime nanoseconds).
            let lastWrite = Atomic<UInt64>(0)
        }

        let http: HTTPServer
        let gate = Gate()
        let flood = Flood()
        let port: UInt16

        init() throws {
            let gate = self.gate
            let flood = self.flood
            http = HTTPServer { request, writer in
                if request.path == "/flood" {
                    let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 << 10)
                    guard writer.startStream(status: 200, headers: HTTPHeaders()) else { return }
                    for _ in 0..<(Flood.total / chunk.count) {
                        guard writer.writeChunk(chunk) else { return }
                        flood.written.add(chunk.count, ordering: .relaxed)
                        flood.lastWrite.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
                    }
                    writer.endStream()
                } else if request.path == "/held" {
                    gate.arrived.add(1, ordering: .relaxed)
                    gate.release.wait()
                    writer.respond(status: 200, headers: HTTPHeaders(), body: Array("held".utf8))
                } else {
                    guard writer.startStream(status: 200, headers: HTTPHeaders()) else { return }
                    _ = writer.writeChunk(Array("short\n".utf8))
                    writer.endStream()
                }
            }
            port = try http.start()
        }

        var base: String { "http://127.0.0.1:\(port)" }
    }

    /// A streamed body's reader sets the pace: while it reads nothing, the transfer stops taking
    /// bytes off the socket (so the server is held back, as client-go's blocking reads hold it
    /// back) instead of queueing the whole stream in memory; once it reads again, every byte
    /// arrives.
    @Test func aReaderThatFallsBehindHoldsTheServerBack() async throws {
        struct WroteEverything: Error {}
        let server = try Server()
        defer { server.http.stop() }
        let transport = CurlTransport()
        let response = try await transport.stream(HTTPRequest(method: "GET", url: server.base + "/flood", timeout: nil))
        var body = response.body.makeAsyncIterator()
        var read = try await body.next()?.count ?? 0
        try await eventually(timeout: 20, "the server's writes blocked for a second while the reader reads nothing") {
            if server.flood.written.load(ordering: .relaxed) >= Server.Flood.total { throw WroteEverything() }
            let last = server.flood.lastWrite.load(ordering: .relaxed)
            return last > 0 && DispatchTime.now().uptimeNanoseconds - last > 1_000_000_000
        }
        #expect(server.flood.written.load(ordering: .relaxed) < Server.Flood.total / 2)
        while let chunk = try await body.next() { read += chunk.count }
        #expect(read == Server.Flood.total)
        withExtendedLifetime(transport) {}
    }

    /// Cancelling a stream that has already ended (what dropping a finished watch does) must
    /// not touch the request made after it. libcurl hands out the freed handle's address again,
    /// and the loop once looked transfers up by handle: the late cancel removed the next
    /// request, whose caller then waited forever (a watch that never came back).
    @Test func aLateCancelNeverEndsTheNextRequest() async throws {
        let server = try Server()
        defer {
            for _ in 0..<64 { server.gate.release.signal() }
            server.http.stop()
        }
        let transport = CurlTransport()
        for round in 1...20 {
            let ended = try await transport.stream(HTTPRequest(method: "GET", url: server.base + "/short", timeout: nil))
            for try await _ in ended.body {}
            let answered = Mutex<String?>(nil)
            let next = Task {
                let response = try await transport.send(HTTPRequest(method: "GET", url: server.base + "/held"))
                answered.withLock { $0 = String(decoding: response.body, as: UTF8.self) }
            }
            try await eventually("round \(round): the next request reaches the server") { server.gate.arrived.load(ordering: .relaxed) >= round }
            ended.cancel()
            // Requests are taken in order: once this one is answered, the cancel has been handled.
            _ = try await transport.send(HTTPRequest(method: "GET", url: server.base + "/short"))
            server.gate.release.signal()
            try await eventually("round \(round): the next request answered") { answered.withLock { $0 } == "held" }
            _ = try await next.value
        }
    }
}
