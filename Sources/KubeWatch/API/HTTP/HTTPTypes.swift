import Foundation
import KubeCore

/// A request as the client sends it.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// Whole-request timeout; `nil` for streams, which rely on `idleTimeout` instead.
    public var timeout: TimeInterval?
    /// A stream that sends nothing for this long is presumed dead and ended.
    public var idleTimeout: TimeInterval?

    public init(
        method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil, timeout: TimeInterval? = 30,
        idleTimeout: TimeInterval? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.idleTimeout = idleTimeout
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A response whose body arrives over time (watches).
public struct HTTPStreamResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: HTTPBody
    /// Ends the transfer early; the body stream then finishes.
    public var cancel: @Sendable () -> Void
}

/// A streamed body's chunks. The transport is told as each one is read, so it can hold back
/// the rest while the reader is behind (flow control) instead of queueing it without end.
public struct HTTPBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = any Error
    let chunks: AsyncThrowingStream<[UInt8], any Error>
    let read: (@Sendable (Int) -> Void)?

    public init(_ chunks: AsyncThrowingStream<[UInt8], any Error>, read: (@Sendable (Int) -> Void)? = nil) {
        self.chunks = chunks
        self.read = read
    }

    public func makeAsyncIterator() -> Iterator { Iterator(base: chunks.makeAsyncIterator(), read: read) }

    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<[UInt8], any Error>.Iterator
        let read: (@Sendable (Int) -> Void)?

        public mutating func next() async throws -> [UInt8]? {
            let chunk = try await base.next()
            if let chunk { read?(chunk.count) }
            return chunk
        }
    }
}

/// The request never produced an HTTP response: connection refused, TLS failure, timeout.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var isTimeout: Bool
    /// Retrying cannot help: the URL is malformed or TLS says the peer is not who it should be.
    public var isPermanent: Bool
    /// No connection was made (the name did not resolve, the peer refused or never answered
    /// the handshake): nothing was asked of the server.
    public var isConnectFailure: Bool

    public init(message: String, isTimeout: Bool = false, isPermanent: Bool = false, isConnectFailure: Bool = false) {
        self.message = message
        self.isTimeout = isTimeout
        self.isPermanent = isPermanent
        self.isConnectFailure = isConnectFailure
    }

    public var description: String { message }
}

/// TLS settings from a kubeconfig or the in-cluster service account.
public struct TLSOptions: Sendable, Hashable {
    /// PEM bundle of trusted CAs; `nil` uses the system store.
    public var certificateAuthority: [UInt8]?
    /// PEM client certificate and key for mutual TLS.
    public var clientCertificate: [UInt8]?
    public var clientKey: [UInt8]?
    public var insecureSkipVerify = false

    public init(
        certificateAuthority: [UInt8]? = nil, clientCertificate: [UInt8]? = nil, clientKey: [UInt8]? = nil,
        insecureSkipVerify: Bool = false
    ) {
        self.certificateAuthority = certificateAuthority
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.insecureSkipVerify = insecureSkipVerify
    }

    /// Where Debian, Ubuntu, distroless and Red Hat keep the system's CA bundle.
    public static let systemBundlePaths = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]

    /// The system's CAs and these (PEM), trusted together: a corporate CA beside the public
    /// ones, for a TLS-inspecting proxy, without losing the rest.
    public static func trusting(additional pem: [UInt8], systemPaths: [String] = systemBundlePaths) -> TLSOptions {
        let system = systemPaths.lazy.compactMap { FileManager.default.contents(atPath: $0) }.first.map(Array.init) ?? []
        return TLSOptions(certificateAuthority: system + Array("\n".utf8) + pem)
    }
}

/// Sends requests. The libcurl transport is the real one; tests may script their own.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws(TransportError) -> HTTPResponse
    /// Returns once the response head has arrived; the body follows on the stream.
    func stream(_ request: HTTPRequest) async throws(TransportError) -> HTTPStreamResponse
}
