import Foundation
import KubeCore

/// `spec.verification`: how the operator asks a revision's model whether it answers, once the
/// revision is Ready (and, with a period, again while it serves).
public struct Verification: Sendable, Equatable {
    /// What is asked beyond `/v1/models`: `auto` picks embeddings for embedding models and a
    /// chat completion otherwise; `none` only checks that the model is listed.
    public enum Request: String, Sendable, CaseIterable { case auto, chat, completion, embeddings, none }

    public var enabled = true
    public var request = Request.auto
    public var prompt = "What is the capital of France? Answer with one word."
    /// A regular expression the answer must match (chat and completion).
    public var expect = "(?i)paris"
    public var maxTokens = 16
    /// The whole answer must arrive within this long.
    public var timeout: TimeInterval = 30
    /// Ask again this often while the revision serves; nil: once per revision.
    public var period: TimeInterval?
    /// The name `/v1/models` must list (NIM_SERVED_MODEL_NAME); nil: the image's model.
    public var servedModelName: String?

    public init() {}

    init(spec: [String: JSON]) throws(DeploymentProblem) {
        guard let field = spec["verification"], !field.isNull else { return }
        guard let object = field.objectValue else { throw .invalidSpec("spec.verification must be an object") }
        enabled = object["enabled"]?.boolValue ?? true
        if let value = object["request"]?.stringValue {
            guard let choice = Request(rawValue: value) else {
                throw .invalidSpec("spec.verification.request must be one of \(Request.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(value)\"")
            }
            request = choice
        }
        if let value = object["prompt"]?.stringValue, !value.isEmpty { prompt = value }
        if let value = object["expect"]?.stringValue, !value.isEmpty {
            guard (try? NSRegularExpression(pattern: value)) != nil else { throw .invalidSpec("spec.verification.expect is not a regular expression: \(value)") }
            expect = value
        }
        if let value = object["maxTokens"], !value.isNull {
            guard let count = value.intValue, (1...4096).contains(count) else { throw .invalidSpec("spec.verification.maxTokens must be a whole number from 1 to 4096") }
            maxTokens = count
        }
        timeout = try Self.seconds(object, "timeoutSeconds", in: 1...600) ?? timeout
        period = try Self.seconds(object, "periodSeconds", in: 10...86_400)
        servedModelName = object["servedModelName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    }

    static func seconds(_ object: [String: JSON], _ field: String, in range: ClosedRange<Int>, path: String = "spec.verification") throws(DeploymentProblem) -> TimeInterval? {
        guard let value = object[field], !value.isNull else { return nil }
        guard let seconds = value.intValue, range.contains(seconds) else {
            throw .invalidSpec("\(path).\(field) must be a whole number of seconds from \(range.lowerBound) to \(range.upperBound)")
        }
        return TimeInterval(seconds)
    }
}

/// `spec.rollout`: how a new revision replaces the running one, and when it is rolled back.
public struct Rollout: Sendable, Equatable {
    public enum Strategy: String, Sendable, CaseIterable {
        /// The pods are replaced (KServe's rolling update: the previous revision serves until
        /// the new one is ready).
        case inPlace = "InPlace"
        /// The new revision runs beside the previous one and takes traffic in steps.
        case progressive = "Progressive"
    }

    /// Thresholds a canary step must keep, read from the candidate's NIM metrics.
    public struct Analysis: Sendable, Equatable {
        /// Failed requests over finished ones (request_failure_total), 0 to 1.
        public var maxErrorRate: Double?
        /// The 95th percentile of time_to_first_token_seconds.
        public var maxTimeToFirstToken: TimeInterval?
        /// Fewer finished requests than this: the step is judged on verification alone.
        public var minRequests = 10
    }

    /// The Gateway the weighted HTTPRoute attaches to (RawDeployment).
    public struct GatewayReference: Sendable, Equatable {
        public var name: String
        public var namespace: String?
        public var sectionName: String?
        /// The host clients reach the model at: the route matches it only, so deployments can
        /// share a Gateway without one's route taking another's requests.
        public var hostname: String
    }

    public var strategy = Strategy.inPlace
    /// Percent of traffic the candidate takes at each step, rising, below 100.
    public var steps = [10, 50]
    public var pause: TimeInterval = 60
    public var analysis: Analysis?
    /// A revision not Ready this long after it started is rolled back.
    public var progressDeadline: TimeInterval = Rollout.defaultProgressDeadline
    public var autoRollback = true
    public var gateway: GatewayReference?

    /// An hour: a first NIM start downloads tens of gigabytes (the nim-llm chart's startup probe
    /// allows 30 minutes after its 40 s delay); a deadline any shorter rolls back slow starts.
    public static let defaultProgressDeadline: TimeInterval = 3600

    public init() {}

    init(spec: [String: JSON]) throws(DeploymentProblem) {
        guard let field = spec["rollout"], !field.isNull else { return }
        guard let object = field.objectValue else { throw .invalidSpec("spec.rollout must be an object") }
        if let value = object["strategy"]?.stringValue {
            guard let choice = Strategy(rawValue: value) else { throw .invalidSpec("spec.rollout.strategy must be InPlace or Progressive, not \"\(value)\"") }
            strategy = choice
        }
        if let list = object["steps"], !list.isNull {
            let values = list.arrayValue?.compactMap(\.intValue) ?? []
            guard !values.isEmpty, values.count == list.arrayValue?.count, values.allSatisfy({ (1...99).contains($0) }), values == values.sorted(), Set(values).count == values.count else {
                throw .invalidSpec("spec.rollout.steps must be rising percentages from 1 to 99, such as [10, 50]")
            }
            steps = values
        }
        pause = try Verification.seconds(object, "pauseSeconds", in: 0...86_400, path: "spec.rollout") ?? pause
        progressDeadline = try Verification.seconds(object, "progressDeadlineSeconds", in: 1...86_400, path: "spec.rollout") ?? progressDeadline
        autoRollback = object["autoRollback"]?.boolValue ?? true
        if let analysis = object["analysis"]?.objectValue {
            var parsed = Analysis()
            if let value = analysis["maxErrorRate"], !value.isNull {
                guard let rate = Self.number(value), (0...1).contains(rate) else { throw .invalidSpec("spec.rollout.analysis.maxErrorRate must be a fraction from 0 to 1, such as 0.05") }
                parsed.maxErrorRate = rate
            }
            if let value = analysis["maxTimeToFirstTokenSeconds"], !value.isNull {
                guard let seconds = Self.number(value), seconds > 0 else { throw .invalidSpec("spec.rollout.analysis.maxTimeToFirstTokenSeconds must be a number of seconds above 0") }
                parsed.maxTimeToFirstToken = seconds
            }
            if let value = analysis["minRequests"], !value.isNull {
                guard let count = value.intValue, count >= 0 else { throw .invalidSpec("spec.rollout.analysis.minRequests must be 0 or more") }
                parsed.minRequests = count
            }
            self.analysis = parsed
        }
        if let gateway = object["gateway"]?.objectValue {
            guard let name = gateway["name"]?.stringValue, !name.isEmpty else { throw .invalidSpec("spec.rollout.gateway.name is required: the Gateway the HTTPRoute attaches to") }
            guard let hostname = gateway["hostname"]?.stringValue, !hostname.isEmpty, NameValidation.dns1123SubdomainProblem(hostname.hasPrefix("*.") ? String(hostname.dropFirst(2)) : hostname) == nil else {
                throw .invalidSpec("spec.rollout.gateway.hostname is required: the host name clients reach this model at through the Gateway (the HTTPRoute matches it only)")
            }
            self.gateway = GatewayReference(
                name: name, namespace: gateway["namespace"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
                sectionName: gateway["sectionName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }, hostname: hostname)
        }
    }

    /// A number written as an integer, a float or a string ("0.05"), as YAML users write them.
    static func number(_ value: JSON) -> Double? {
        if let number = value.doubleValue { return number }
        return value.stringValue.flatMap(Double.init)
    }
}
