import Foundation
import KubeCore
import KubeAPI

/// Asks a revision's model whether it answers: `/v1/models` lists it, and a small request of
/// its kind answers as expected within the time allowed. Also reads a candidate's metrics for a
/// canary step's analysis. Answers are never logged whole (a model may echo anything).
public struct ModelVerifier: Sendable {
    let transport: any HTTPTransport
    let time: any TimeSource

    public init(transport: any HTTPTransport = CurlTransport(proxy: ProxySettings()), time: any TimeSource = SystemTime()) {
        self.transport = transport
        self.time = time
    }

    public func verify(_ probe: ModelProbe) async -> ModelVerdict {
        let started = time.now
        var elapsed: Double { time.now.timeIntervalSince(started) }
        func verdict(_ outcome: ModelVerdict.Outcome, _ message: String) -> ModelVerdict {
            ModelVerdict(outcome, message, seconds: (elapsed * 1000).rounded() / 1000)
        }
        func failure(_ error: TransportError, asking what: String) -> ModelVerdict {
            if error.isConnectFailure {
                return verdict(.unreachable, "Cannot connect to \(probe.address) (\(error.message)): a NetworkPolicy or the operator's network may keep it from the model; the revision is not judged.")
            }
            if error.isTimeout { return verdict(.tooSlow, "\(what) did not answer within \(Int(probe.timeout)) s.") }
            return verdict(.requestFailed, "\(what) failed: \(error.message).")
        }
        let remaining = { max(0.5, probe.timeout - elapsed) }

        let models: HTTPResponse
        do {
            models = try await transport.send(HTTPRequest(method: "GET", url: probe.address + "/v1/models", headers: [("Accept", "application/json")], timeout: remaining()))
        } catch {
            return failure(error, asking: "GET /v1/models")
        }
        guard models.status == 200 else { return verdict(.requestFailed, "GET /v1/models answered \(models.status).") }
        let listed = ((try? JSON(parsing: models.body))?["data"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
        var served = probe.servedName
        if !listed.contains(served) {
            // A name derived from the image may not be the one a NIM serves: one model listed is it.
            guard !probe.servedNameGiven, listed.count == 1 else {
                let seen = listed.isEmpty ? "no model" : listed.prefix(5).joined(separator: ", ")
                return verdict(.notListed, "GET /v1/models lists \(seen), not \(probe.servedName).")
            }
            served = listed[0]
        }

        let path: String
        var body: JSON = ["model": .string(served)]
        switch probe.request {
        case .none: return verdict(.verified, "\(served) is listed by /v1/models (\(Self.milliseconds(elapsed)) ms).")
        case .chat:
            path = "/v1/chat/completions"
            body["messages"] = [["role": "user", "content": .string(probe.prompt)]]
            body["max_tokens"] = .int(probe.maxTokens)
            body["temperature"] = 0
        case .completion:
            path = "/v1/completions"
            body["prompt"] = .string(probe.prompt)
            body["max_tokens"] = .int(probe.maxTokens)
            body["temperature"] = 0
        case .embeddings:
            path = "/v1/embeddings"
            body["input"] = [.string(probe.prompt)]
            body["input_type"] = "query"
        }
        let answer: HTTPResponse
        do {
            answer = try await transport.send(HTTPRequest(
                method: "POST", url: probe.address + path, headers: [("Content-Type", "application/json"), ("Accept", "application/json")],
                body: body.serializedBytes(), timeout: remaining()))
        } catch {
            return failure(error, asking: "POST \(path)")
        }
        if elapsed > probe.timeout { return verdict(.tooSlow, "POST \(path) answered after \(Self.milliseconds(elapsed)) ms, beyond the \(Int(probe.timeout)) s allowed.") }
        guard answer.status == 200 else { return verdict(.requestFailed, "POST \(path) answered \(answer.status).") }
        let json = try? JSON(parsing: answer.body)
        switch probe.request {
        case .embeddings:
            let vector = json?["data"]?[0]?["embedding"]?.arrayValue ?? []
            guard !vector.isEmpty, vector.allSatisfy({ $0.doubleValue != nil }) else {
                return verdict(.wrongAnswer, "POST \(path) answered without an embedding vector.")
            }
            return verdict(.verified, "\(served) is listed and answered \(probe.asked) with \(vector.count) dimensions in \(Self.milliseconds(elapsed)) ms.")
        default:
            let choice = json?["choices"]?[0]
            let text = choice?["message"]?["content"]?.stringValue ?? choice?["text"]?.stringValue ?? ""
            let matches = (try? NSRegularExpression(pattern: probe.expect)).map {
                $0.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
            } ?? false
            guard matches else {
                let shown = text.isEmpty ? "nothing" : "\"\(Redactor.current.scrub(String(text.prefix(80))))\""
                return verdict(.wrongAnswer, "Asked \(probe.asked): it answered \(shown).")
            }
            return verdict(.verified, "\(served) is listed and answered \(probe.asked) in \(Self.milliseconds(elapsed)) ms.")
        }
    }

    /// The candidate's request counters and time to first token, from its `/v1/metrics`.
    public func traffic(at address: String, timeout: TimeInterval = 10) async -> Result<TrafficReading, TransportError> {
        do {
            let response = try await transport.send(HTTPRequest(method: "GET", url: address + "/v1/metrics", headers: [], timeout: timeout))
            guard response.status == 200 else { return .failure(TransportError(message: "GET /v1/metrics answered \(response.status)")) }
            return .success(TrafficReading(exposition: String(decoding: response.body, as: UTF8.self)))
        } catch {
            return .failure(error)
        }
    }

    static func milliseconds(_ seconds: Double) -> Int { Int((seconds * 1000).rounded()) }
}
