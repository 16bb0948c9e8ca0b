import Foundation
import KubeCore

/// What the operator asks a revision's model, worked out from the spec and the InferenceService
/// (pure): where, under which model name, which request, and what counts as a right answer.
public struct ModelProbe: Sendable, Equatable {
    public enum Request: String, Sendable { case chat, completion, embeddings, none }

    /// The InferenceService's address (`status.address.url`): the predictor's in-cluster Service.
    public var address: String
    public var servedName: String
    /// The name was given (spec.verification.servedModelName, NIM_SERVED_MODEL_NAME): it must be listed.
    public var servedNameGiven: Bool
    public var request: Request
    public var prompt: String
    public var expect: String
    public var maxTokens: Int
    public var timeout: TimeInterval

    /// For a model of this image, as the spec's verification asks.
    public init(address: String, image: ImageReference, model: String, verification: Verification, env: [String: String] = [:]) {
        self.address = address.hasSuffix("/") ? String(address.dropLast()) : address
        let given = verification.servedModelName ?? env["NIM_SERVED_MODEL_NAME"].flatMap { $0.split(separator: ",").first.map(String.init) }
        servedName = given ?? Self.servedName(image)
        servedNameGiven = given != nil
        switch verification.request {
        case .auto:
            // The catalog has no kinds: embedding and reranking NIMs say so in their names.
            let name = (model + " " + image.path).lowercased()
            request = name.contains("embed") ? .embeddings : name.contains("rerank") ? .none : .chat
        case .chat: request = .chat
        case .completion: request = .completion
        case .embeddings: request = .embeddings
        case .none: request = .none
        }
        prompt = verification.prompt
        expect = verification.expect
        maxTokens = verification.maxTokens
        timeout = verification.timeout
    }

    /// The name NIM serves an image's model under: its path without the `nim/` namespace
    /// (`nim/meta/llama-3.1-8b-instruct` serves `meta/llama-3.1-8b-instruct`).
    public static func servedName(_ image: ImageReference) -> String {
        image.path.hasPrefix("nim/") ? String(image.path.dropFirst(4)) : image.path
    }

    /// What was asked, for messages.
    public var asked: String {
        switch request {
        case .chat: return "a chat completion (\"\(prompt.prefix(60))\", at most \(maxTokens) tokens, answer matching /\(expect)/)"
        case .completion: return "a completion (\"\(prompt.prefix(60))\", at most \(maxTokens) tokens, answer matching /\(expect)/)"
        case .embeddings: return "an embedding of \"\(prompt.prefix(60))\""
        case .none: return "the model list only"
        }
    }
}

/// The model's answer to a probe.
public struct ModelVerdict: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        case verified = "Verified"
        case wrongAnswer = "WrongAnswer"
        case tooSlow = "TooSlow"
        case notListed = "ModelNotListed"
        case requestFailed = "RequestFailed"
        /// No connection could be made: a NetworkPolicy, an operator outside the cluster. Says
        /// nothing about the revision, so it fails nothing.
        case unreachable = "ModelUnreachable"
    }

    public var outcome: Outcome
    public var message: String
    /// How long the probe took.
    public var seconds: Double

    public init(_ outcome: Outcome, _ message: String, seconds: Double) {
        self.outcome = outcome
        self.message = message
        self.seconds = seconds
    }

    /// The answer shows the revision does not work.
    public var failsRevision: Bool { outcome != .verified && outcome != .unreachable }
}

/// What a candidate's NIM metrics say about the requests it finished.
public struct TrafficReading: Sendable, Equatable {
    public var successes: Double
    public var failures: Double
    /// The 95th percentile of time_to_first_token_seconds, from its buckets; nil without requests.
    public var timeToFirstTokenP95: Double?

    public init(successes: Double, failures: Double, timeToFirstTokenP95: Double?) {
        self.successes = successes
        self.failures = failures
        self.timeToFirstTokenP95 = timeToFirstTokenP95
    }

    public var finished: Double { successes + failures }
    public var errorRate: Double { finished > 0 ? failures / finished : 0 }

    /// From a Prometheus text exposition (`/v1/metrics`): the series of every model summed.
    public init(exposition text: String) {
        var successes = 0.0, failures = 0.0
        var buckets: [Double: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            let name = series.prefix { $0 != "{" && $0 != " " }
            switch name {
            case "request_success_total": successes += value
            case "request_failure_total": failures += value
            case "time_to_first_token_seconds_bucket":
                guard let range = series.range(of: "le=\""), let end = series[range.upperBound...].firstIndex(of: "\"") else { continue }
                let bound = series[range.upperBound..<end]
                let upper = bound == "+Inf" ? Double.infinity : Double(bound) ?? .nan
                if !upper.isNaN { buckets[upper, default: 0] += value }
            default: continue
            }
        }
        self.init(successes: successes, failures: failures, timeToFirstTokenP95: Self.quantile(0.95, buckets))
    }

    /// Prometheus's histogram_quantile: linear within the bucket the rank falls in.
    static func quantile(_ q: Double, _ buckets: [Double: Double]) -> Double? {
        let sorted = buckets.sorted { $0.key < $1.key }
        guard let total = sorted.last?.value, total > 0 else { return nil }
        let rank = q * total
        var lower = 0.0, below = 0.0
        for (bound, count) in sorted {
            if count >= rank {
                if bound.isInfinite { return lower }
                return lower + (bound - lower) * (count == below ? 1 : (rank - below) / (count - below))
            }
            (lower, below) = (bound, count)
        }
        return lower
    }
}
