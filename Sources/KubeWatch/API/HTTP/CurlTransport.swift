import CCurl
import Foundation
import Synchronization
import KubeCore

/// HTTP over libcurl's multi interface. One thread per transport drives every transfer, so
/// requests and long-lived watch streams never block each other or Swift's cooperative pool;
/// connections are reused, and HTTP/2 is negotiated over TLS where the server offers it, which
/// multiplexes all of them on one connection.
public final class CurlTransport: HTTPTransport {
    private let loop: CurlLoop
    private let tls: TLSOptions
    private let proxy: ProxySettings

    /// How long to wait for a TCP (and TLS) connection before giving up.
    public static let connectTimeout: TimeInterval = 10

    /// - Parameter proxy: by default the environment's, as Go's HTTP client reads it.
    public init(tls: TLSOptions = TLSOptions(), proxy: ProxySettings = .fromEnvironment()) {
        self.tls = tls
        self.proxy = proxy
        self.loop = CurlLoop()
    }

    deinit { loop.shutdown() }

    public func send(_ request: HTTPRequest) async throws(TransportError) -> HTTPResponse {
        let transfer: CurlTransfer
        do { transfer = try CurlTransfer(request: request, tls: tls, proxy: proxy, streaming: false) } catch { throw error }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                    transfer.setBuffered(continuation)
                    loop.submit(transfer)
                }
            } onCancel: { [loop] in
                loop.cancel(transfer)
            }
        } catch let error as TransportError {
            throw error
        } catch {
            throw TransportError(message: "\(error)")
        }
    }

    public func stream(_ request: HTTPRequest) async throws(TransportError) -> HTTPStreamResponse {
        let transfer: CurlTransfer
        do { transfer = try CurlTransfer(request: request, tls: tls, proxy: proxy, streaming: true) } catch { throw error }
        let loop = self.loop
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPStreamResponse, any Error>) in
                    transfer.setStreaming(continuation, loop: loop)
                    loop.submit(transfer)
                }
            } onCancel: {
                loop.cancel(transfer)
            }
        } catch let error as TransportError {
            throw error
        } catch {
            throw TransportError(message: "\(error)")
        }
    }
}

/// libcurl's global state, set up once before the first handle.
private let curlGlobal: Void = {
    curl_global_init(Int(CURL_GLOBAL_ALL))
    // A peer that closes mid-write must not kill the process.
    signal(SIGPIPE, SIG_IGN)
}()

/// The thread that owns the multi handle. Other threads talk to it through the inbox and
/// `curl_multi_wakeup`, the one multi call libcurl allows from any thread.
final class CurlLoop: @unchecked Sendable {
    enum Command {
        case add(CurlTransfer)
        case cancel(CurlTransfer)
        /// Its reader has caught up: take in its body again.
        case resume(CurlTransfer)
        case stop
    }

    private let multi: UnsafeMutableRawPointer
    /// Commands for the loop; `stopped` once the multi handle is gone (a stream's cancel can
    /// outlive its transport).
    private let inbox = Mutex<(commands: [Command], stopped: Bool)>(([], false))

    init() {
        _ = curlGlobal
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed: libcurl is unusable") }
        self.multi = multi
        _ = nd_multi_setopt_long(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX)
        _ = nd_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 64)
        let thread = Thread { [self] in run() }
        thread.name = "kubewatch-curl"
        thread.start()
    }

    func submit(_ transfer: CurlTransfer) { post(.add(transfer)) }
    func cancel(_ transfer: CurlTransfer) { post(.cancel(transfer)) }
    func resume(_ transfer: CurlTransfer) { post(.resume(transfer)) }
    func shutdown() { post(.stop) }

    private func post(_ command: Command) {
        let refused = inbox.withLock { inbox -> CurlTransfer? in
            guard !inbox.stopped else {
                if case .add(let transfer) = command { return transfer }
                return nil
            }
            inbox.commands.append(command)
            // Nothing lands behind a stop, and the wakeup comes before the loop can read the
            // stop and free the multi handle (it reads commands under this lock).
            if case .stop = command { inbox.stopped = true }
            curl_multi_wakeup(multi)
            return nil
        }
        // Nothing will ever drive a transfer added after the stop: it ends here.
        refused?.complete(code: CURLE_ABORTED_BY_CALLBACK, cancelled: true)
    }

    private func run() {
        var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
        while true {
            let commands = inbox.withLock { inbox -> [Command] in
                let taken = inbox.commands
                inbox.commands.removeAll()
                return taken
            }
            for command in commands {
                switch command {
                case .add(let transfer):
                    if transfer.isCancelled {
                        transfer.complete(code: CURLE_ABORTED_BY_CALLBACK, cancelled: true)
                        continue
                    }
                    active[transfer.easy] = transfer
                    curl_multi_add_handle(multi, transfer.easy)
                case .cancel(let transfer):
                    transfer.markCancelled()
                    // A transfer that has ended freed its handle, and libcurl may have handed
                    // the same address to a newer one: only this very transfer is removed.
                    if let current = active[transfer.easy], current === transfer {
                        active[transfer.easy] = nil
                        curl_multi_remove_handle(multi, transfer.easy)
                        transfer.complete(code: CURLE_ABORTED_BY_CALLBACK, cancelled: true)
                    }
                case .resume(let transfer):
                    if let current = active[transfer.easy], current === transfer { curl_easy_pause(transfer.easy, CURLPAUSE_RECV_CONT) }
                case .stop:
                    for (easy, transfer) in active {
                        curl_multi_remove_handle(multi, easy)
                        transfer.complete(code: CURLE_ABORTED_BY_CALLBACK, cancelled: true)
                    }
                    curl_multi_cleanup(multi)
                    return
                }
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let code = message.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                active.removeValue(forKey: easy)?.complete(code: code, cancelled: false)
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }
}

/// One request in flight. Its fields are touched by the loop thread only, except the
/// continuations, which are set before submission and resumed exactly once.
final class CurlTransfer: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var status = 0
    private var headers = HTTPHeaders()
    private var body: [UInt8] = []
    private var headDelivered = false
    private var finished = false
    private let cancelledFlag = Atomic<Bool>(false)
    private var bufferedContinuation: CheckedContinuation<HTTPResponse, any Error>?
    private var headContinuation: CheckedContinuation<HTTPStreamResponse, any Error>?
    private var bodyContinuation: AsyncThrowingStream<[UInt8], any Error>.Continuation?
    private var cancelStream: (@Sendable () -> Void)?
    private var retained: Unmanaged<CurlTransfer>?
    /// Flow control for a streamed body: the bytes handed to its reader and not yet read, and
    /// whether the transfer is paused until the reader catches up. A paused transfer reads
    /// nothing off the socket, so TCP (or the HTTP/2 stream's window) holds the server back,
    /// which then buffers or, as a real API server does with a watcher that lags, closes the
    /// watch (the watcher resumes from its last version). Client-go gets the same from Go's
    /// blocking reads.
    private let unread = Atomic<Int>(0)
    private let pausedForReader = Atomic<Bool>(false)
    /// Set before the transfer is submitted, read by the body's reader.
    private var loop: CurlLoop?
    static let pauseAbove = 1 << 20
    static let resumeBelow = 256 << 10

    var isCancelled: Bool { cancelledFlag.load(ordering: .relaxed) }
    func markCancelled() { cancelledFlag.store(true, ordering: .relaxed) }

    init(request: HTTPRequest, tls: TLSOptions, proxy: ProxySettings, streaming: Bool) throws(TransportError) {
        guard let easy = curl_easy_init() else { throw TransportError(message: "curl_easy_init failed") }
        self.easy = easy
        _ = nd_easy_setopt_string(easy, CURLOPT_URL, request.url)
        _ = nd_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = nd_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = nd_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(CurlTransport.connectTimeout * 1000))
        _ = nd_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        // Waiting for a connection still being set up is worth it only where it may turn out
        // HTTP/2 (TLS) and for a transfer that ends. libcurl parks a PIPEWAIT transfer until
        // that connection turns out multiplexing or a transfer completes; when it turns out
        // HTTP/1.1 and carries a watch, nothing completes and the parked request waits for the
        // watch's idle timeout (a trap browsers built on libcurl have hit with long polls).
        if !streaming, request.url.hasPrefix("https://") { _ = nd_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1) }
        _ = nd_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "")
        // The proxy is decided here, not by libcurl's own reading of the environment (which
        // CURLOPT_NOPROXY would override): "" means none.
        _ = nd_easy_setopt_string(easy, CURLOPT_PROXY, proxy.proxy(for: request.url) ?? "")
        _ = nd_easy_setopt_string(easy, CURLOPT_NOPROXY, proxy.curlNoProxy)
        if let timeout = request.timeout { _ = nd_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(timeout * 1000)) }
        if let idle = request.idleTimeout {
            // Fewer than one byte a second for this long ends the transfer: a silently dead
            // connection is noticed instead of waited on forever.
            _ = nd_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1)
            _ = nd_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, max(1, Int(idle.rounded(.up))))
        }
        if request.method == "GET" && request.body == nil {
            _ = nd_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        } else {
            // Setting a body makes libcurl POST; the custom method keeps the one asked for.
            _ = nd_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let payload = request.body {
            _ = nd_easy_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(payload.count))
            payload.withUnsafeBufferPointer { buffer in
                // COPYPOSTFIELDS copies, so the array may go away after this call.
                _ = buffer.baseAddress.map { nd_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0)) }
            }
            if payload.isEmpty { _ = nd_easy_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, "") }
        }
        // No "Expect: 100-continue" round trip before large bodies.
        headerList = curl_slist_append(headerList, "Expect:")
        for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
        _ = nd_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList)
        configureTLS(tls)
        let unmanaged = Unmanaged.passRetained(self)
        retained = unmanaged
        _ = nd_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, unmanaged.toOpaque())
        _ = nd_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, unmanaged.toOpaque())
        _ = nd_easy_setopt_write(easy, CURLOPT_HEADERFUNCTION) { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            transfer.receiveHeader(UnsafeRawBufferPointer(start: buffer, count: size * count))
            return size * count
        }
        _ = nd_easy_setopt_write(easy, CURLOPT_WRITEFUNCTION) { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            return transfer.receiveBody(UnsafeRawBufferPointer(start: buffer, count: size * count)) ? size * count : Int(CURL_WRITEFUNC_PAUSE)
        }
    }

    private func configureTLS(_ tls: TLSOptions) {
        if tls.insecureSkipVerify {
            _ = nd_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 0)
            _ = nd_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 0)
        }
        // In-memory PEM blobs: kubeconfig `*-data` never touches the disk.
        func setBlob(_ option: CURLoption, _ bytes: [UInt8]) {
            var copy = bytes
            copy.withUnsafeMutableBytes { buffer in
                var blob = curl_blob(data: buffer.baseAddress, len: buffer.count, flags: UInt32(CURL_BLOB_COPY))
                _ = nd_easy_setopt_blob(easy, option, &blob)
            }
        }
        if let authority = tls.certificateAuthority {
            setBlob(CURLOPT_CAINFO_BLOB, authority)
            // An https:// proxy presents a certificate of the same trust (a corporate CA).
            setBlob(CURLOPT_PROXY_CAINFO_BLOB, authority)
        }
        if let certificate = tls.clientCertificate {
            _ = nd_easy_setopt_string(easy, CURLOPT_SSLCERTTYPE, "PEM")
            setBlob(CURLOPT_SSLCERT_BLOB, certificate)
        }
        if let key = tls.clientKey {
            _ = nd_easy_setopt_string(easy, CURLOPT_SSLKEYTYPE, "PEM")
            setBlob(CURLOPT_SSLKEY_BLOB, key)
        }
    }

    func setBuffered(_ continuation: CheckedContinuation<HTTPResponse, any Error>) {
        bufferedContinuation = continuation
    }

    func setStreaming(_ continuation: CheckedContinuation<HTTPStreamResponse, any Error>, loop: CurlLoop) {
        headContinuation = continuation
        self.loop = loop
        cancelStream = { [loop] in loop.cancel(self) }
    }

    private func receiveHeader(_ bytes: UnsafeRawBufferPointer) {
        // ASCII trimming on the bytes: Foundation's trimmingCharacters was a tenth of a
        // reconcile's CPU in the profile (every response has a dozen header lines).
        let line = Self.trimmedASCII(bytes)
        if line.hasPrefix("HTTP/") {
            // A new status line starts a new header block (after a 100 Continue, say).
            let parts = line.split(separator: " ")
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = HTTPHeaders()
        } else if line.isEmpty {
            if status >= 200 { deliverHead() }
        } else if let colon = line.firstIndex(of: ":") {
            let value = line.utf8[line.utf8.index(after: colon)...].drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            headers.add(String(line[..<colon]), String(decoding: value, as: UTF8.self))
        }
    }

    /// The line without leading and trailing spaces, tabs, CR and LF.
    static func trimmedASCII(_ bytes: UnsafeRawBufferPointer) -> String {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// Takes a piece of the body; false pauses the transfer (libcurl hands the same bytes again
    /// once it is resumed).
    private func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if headContinuation != nil { deliverHead() }
        guard let bodyContinuation else {
            body.append(contentsOf: bytes)
            return true
        }
        if unread.load(ordering: .sequentiallyConsistent) >= Self.pauseAbove {
            pausedForReader.store(true, ordering: .sequentiallyConsistent)
            if unread.load(ordering: .sequentiallyConsistent) > Self.resumeBelow { return false }
            // The reader caught up in between and may not have seen the pause: go on.
            pausedForReader.store(false, ordering: .sequentiallyConsistent)
        }
        unread.add(bytes.count, ordering: .sequentiallyConsistent)
        bodyContinuation.yield(Array(bytes))
        return true
    }

    /// The reader took `count` bytes (any thread).
    private func read(_ count: Int) {
        let left = unread.subtract(count, ordering: .sequentiallyConsistent).newValue
        if left <= Self.resumeBelow, pausedForReader.exchange(false, ordering: .sequentiallyConsistent) { loop?.resume(self) }
    }

    private func deliverHead() {
        guard let continuation = headContinuation, !headDelivered else { return }
        headDelivered = true
        headContinuation = nil
        let (stream, bodyContinuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        self.bodyContinuation = bodyContinuation
        let cancel = cancelStream ?? {}
        bodyContinuation.onTermination = { termination in
            if case .cancelled = termination { cancel() }
        }
        continuation.resume(returning: HTTPStreamResponse(status: status, headers: headers, body: HTTPBody(stream, read: { [self] count in read(count) }), cancel: cancel))
    }

    /// Failures no retry can fix: a bad URL, and TLS refusing the peer or our certificate.
    static let permanentFailures: Set<CURLcode> = [
        CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
        CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
    ]

    /// Whether the request reached a connection (new or reused) to the server or proxy: the time
    /// to the transfer's start stays 0 until then (the connect time is 0 on a reused one).
    func connected(_ code: CURLcode) -> Bool {
        if [CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT].contains(code) { return false }
        var microseconds: curl_off_t = 0
        return nd_easy_getinfo_offset(easy, CURLINFO_PRETRANSFER_TIME_T, &microseconds) != CURLE_OK || microseconds > 0
    }

    /// Called once, on the loop thread, when libcurl is done with the transfer.
    func complete(code: CURLcode, cancelled: Bool) {
        guard !finished else { return }
        finished = true
        let error: TransportError? =
            code == CURLE_OK
            ? nil
            : TransportError(
                message: cancelled ? "request cancelled" : String(cString: curl_easy_strerror(code)),
                isTimeout: code == CURLE_OPERATION_TIMEDOUT, isPermanent: Self.permanentFailures.contains(code), isConnectFailure: !cancelled && !connected(code))
        if let continuation = bufferedContinuation {
            bufferedContinuation = nil
            if let error {
                continuation.resume(throwing: error)
            } else {
                continuation.resume(returning: HTTPResponse(status: status, headers: headers, body: body))
            }
        }
        if let continuation = headContinuation {
            headContinuation = nil
            if let error {
                continuation.resume(throwing: error)
            } else {
                // A response with an empty body: deliver the head, then end the stream.
                headContinuation = continuation
                deliverHead()
            }
        }
        if let bodyContinuation {
            self.bodyContinuation = nil
            if let error, !cancelled { bodyContinuation.finish(throwing: error) } else { bodyContinuation.finish() }
        }
        // The cancel closure holds this transfer.
        cancelStream = nil
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        headerList = nil
        retained?.release()
        retained = nil
    }
}
