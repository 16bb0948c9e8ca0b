import Foundation
import Synchronization
import KubeCore
import HTTPServing
import Reconciler

/// The NIM behind an InferenceService's address: its OpenAI-compatible API (`/v1/models`,
/// `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`), its health endpoints and its
/// Prometheus metrics (`/v1/metrics`, the names NIM for LLMs exports). One server stands for
/// every InferenceService: each gets its own address (`http://127.0.0.1:PORT/NAMESPACE/NAME`),
/// and answers as the image that serves there behaves, so a bad revision misbehaves and the
/// revision rolled back to answers again. Images behave well unless a test says otherwise
/// (`behave(_:whenServing:)`, by a part of the image reference such as `:1.3.0`).
public final class ModelStandIn: Sendable {
    /// How a model answers.
    public enum Behaviour: Sendable, Equatable {
        case answers
        /// Answers 200 with this text instead of what was asked for.
        case wrongAnswer(String)
        /// Answers correctly, after this long.
        case slow(TimeInterval)
        /// Every API call answers this HTTP status.
        case failing(status: Int)
        /// `/v1/models` lists no model.
        case notListed
        /// Accepts the connection and closes it without an answer.
        case dead
    }

    /// What the metrics endpoint reports: requests finished and how long to their first token.
    public struct Traffic: Sendable, Equatable {
        public var successes: Int
        public var failures: Int
        public var timeToFirstToken: TimeInterval

        public init(successes: Int, failures: Int, timeToFirstToken: TimeInterval = 0.05) {
            self.successes = successes
            self.failures = failures
            self.timeToFirstToken = timeToFirstToken
        }
    }

    struct State {
        var serving: [String: String] = [:]
        var behaviours: [(fragment: String, behaviour: Behaviour)] = []
        var traffic: [(fragment: String, traffic: Traffic)] = []
        var asked: [String: [String]] = [:]
    }

    final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let server: HTTPServer
    private let shared = Shared()

    public init() throws(HTTPServerError) {
        let shared = self.shared
        server = HTTPServer { request, writer in ModelStandIn.handle(request, writer, shared: shared) }
        try server.start()
    }

    public func stop() { server.stop() }

    /// The address KServe reports for an InferenceService (its `status.address.url`).
    public func address(namespace: String, name: String) -> String { "http://127.0.0.1:\(server.port)/\(namespace)/\(name)" }

    /// The image serving at an InferenceService's address now (nil: nothing serves).
    public func serve(_ image: String?, namespace: String, name: String) {
        shared.state.withLock { $0.serving["\(namespace)/\(name)"] = image }
    }

    /// Images whose reference contains `fragment` behave so from now on (the last rule set wins).
    public func behave(_ behaviour: Behaviour, whenServing fragment: String) {
        shared.state.withLock { $0.behaviours.append((fragment, behaviour)) }
    }

    /// Images whose reference contains `fragment` report this traffic on `/v1/metrics`.
    public func report(_ traffic: Traffic, whenServing fragment: String) {
        shared.state.withLock { $0.traffic.append((fragment, traffic)) }
    }

    /// The requests made at an InferenceService's address, as `METHOD /path`.
    public func requests(namespace: String, name: String) -> [String] {
        shared.state.withLock { $0.asked["\(namespace)/\(name)"] ?? [] }
    }

    private static func handle(_ request: HTTPServerRequest, _ writer: HTTPResponseWriter, shared: Shared) {
        let parts = request.path.split(separator: "/", maxSplits: 2).map(String.init)
        guard parts.count == 3 else { return respond(writer, 404, ["error": "no such InferenceService address"]) }
        let site = "\(parts[0])/\(parts[1])"
        let path = "/" + parts[2]
        let (image, behaviour, traffic) = shared.state.withLock { state -> (String?, Behaviour, Traffic?) in
            state.asked[site, default: []].append("\(request.method) \(path)")
            let image = state.serving[site]
            let behaviour = image.flatMap { image in state.behaviours.last { image.contains($0.fragment) }?.behaviour } ?? .answers
            let traffic = image.flatMap { image in state.traffic.last { image.contains($0.fragment) }?.traffic }
            return (image, behaviour, traffic)
        }
        // Nothing serves: the Service has no ready endpoint, the connection is refused.
        guard let image else { return writer.closeWithoutAnswer() }
        // As NIM names it, by the rule the operator's probe expects.
        let model = ImageReference(parsing: image).map(ModelProbe.servedName) ?? image
        switch behaviour {
        case .dead: return writer.closeWithoutAnswer()
        case .failing(let status) where path != "/v1/health/live": return respond(writer, status, ["error": "the model server failed"])
        // A stand-in's pace, not a test's synchronisation: the verifier's budget is what is tested.
        case .slow(let seconds): Thread.sleep(forTimeInterval: seconds)
        default: break
        }
        let answer: String
        if case .wrongAnswer(let text) = behaviour { answer = text } else { answer = "Paris." }
        switch (request.method, path) {
        case ("GET", "/v1/health/live"), ("GET", "/v1/health/ready"):
            respond(writer, 200, ["object": "health.response", "message": "ready"])
        case ("GET", "/v1/models"):
            let data: [JSON] = behaviour == .notListed ? [] : [["id": .string(model), "object": "model", "owned_by": "system", "root": .string(model)]]
            respond(writer, 200, ["object": "list", "data": .array(data)])
        case ("POST", "/v1/chat/completions"):
            respond(writer, 200, [
                "id": "chat-1", "object": "chat.completion", "model": .string(model),
                "choices": [["index": 0, "message": ["role": "assistant", "content": .string(answer)], "finish_reason": "stop"]],
                "usage": ["prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14],
            ])
        case ("POST", "/v1/completions"):
            respond(writer, 200, [
                "id": "cmpl-1", "object": "text_completion", "model": .string(model),
                "choices": [["index": 0, "text": .string(" " + answer), "finish_reason": "stop"]],
            ])
        case ("POST", "/v1/embeddings"):
            let vector: JSON = behaviour == .answers ? [0.0123, -0.0456, 0.0789, 0.1011] : []
            respond(writer, 200, ["object": "list", "model": .string(model), "data": [["index": 0, "object": "embedding", "embedding": vector]]])
        case ("GET", "/v1/metrics"):
            let body = metrics(model: model, traffic: traffic ?? Traffic(successes: 0, failures: 0))
            writer.respond(status: 200, headers: HTTPHeaders([("Content-Type", "text/plain; version=0.0.4")]), body: Array(body.utf8))
        default:
            respond(writer, 404, ["error": .string("\(request.method) \(path) is not an API of this NIM")])
        }
    }

    /// NIM for LLMs' metrics, as it exports them (../shared/design/nim-observability.md): the
    /// request counters and time to first token from the traffic given, the rest idle.
    public static func metrics(model: String, traffic: Traffic) -> String {
        let label = "model_name=\"\(model)\""
        let total = traffic.successes + traffic.failures
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String, _ samples: [String]) {
            lines += ["# HELP \(name) \(help)", "# TYPE \(name) \(type)"] + samples
        }
        func histogram(_ name: String, _ help: String, bounds: [Double], count: Int, value: Double) {
            family(name, "histogram", help,
                bounds.map { "\(name)_bucket{\(label),le=\"\($0)\"} \(value <= $0 ? count : 0).0" }
                    + ["\(name)_bucket{\(label),le=\"+Inf\"} \(count).0", "\(name)_count{\(label)} \(count).0", "\(name)_sum{\(label)} \(Double(count) * value)"])
        }
        family("request_success_total", "counter", "Number of successful requests, requests with finish reason stop or length.", ["request_success_total{\(label)} \(traffic.successes).0"])
        family("request_failure_total", "counter", "Number of failed requests, requests with other finish reason.", ["request_failure_total{\(label)} \(traffic.failures).0"])
        family("request_finish_total", "counter", "Number of finished requests, with label indicating finish reason.", ["request_finish_total{finished_reason=\"stop\",\(label)} \(traffic.successes).0"])
        histogram("time_to_first_token_seconds", "Histogram of time to first token in seconds.",
            bounds: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10], count: total, value: traffic.timeToFirstToken)
        for (name, help) in [
            ("num_requests_running", "Number of requests currently running on GPU."), ("num_requests_waiting", "Number of requests waiting to be processed."),
            ("num_request_max", "Max number of concurrently running requests."), ("gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage."),
        ] {
            family(name, "gauge", help, ["\(name){\(label)} \(name == "num_request_max" ? "64" : "0").0"])
        }
        for (name, help) in [("prompt_tokens_total", "Number of prefill tokens processed."), ("generation_tokens_total", "Number of generation tokens processed.")] {
            family(name, "counter", help, ["\(name){\(label)} 0.0"])
        }
        let tokens: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]
        histogram("time_per_output_token_seconds", "Histogram of time per output token in seconds.", bounds: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5], count: 0, value: 0)
        histogram("e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", bounds: [1, 2.5, 5, 10, 15, 20, 30, 40, 50, 60], count: 0, value: 0)
        histogram("request_prompt_tokens", "Number of prefill tokens processed.", bounds: tokens, count: 0, value: 0)
        histogram("request_generation_tokens", "Number of generation tokens processed.", bounds: tokens, count: 0, value: 0)
        return lines.joined(separator: "\n") + "\n"
    }

    private static func respond(_ writer: HTTPResponseWriter, _ status: Int, _ body: JSON) {
        writer.respond(status: status, headers: HTTPHeaders([("Content-Type", "application/json")]), body: body.serializedBytes())
    }
}
