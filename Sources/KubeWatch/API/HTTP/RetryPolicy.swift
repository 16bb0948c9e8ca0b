import Foundation
import KubeCore

/// How often and how patiently a call that failed in a way worth repeating (429, 5xx, no
/// answer) is tried again: exponential backoff with jitter, a server's `Retry-After` honoured up
/// to a cap. Shared by the Kubernetes client and the NGC calls.
public struct RetryPolicy: Sendable, Equatable {
    public var maximumAttempts: Int
    public var initialBackoff: TimeInterval
    public var maximumBackoff: TimeInterval
    /// A server's Retry-After beyond this is capped.
    public var maximumRetryAfter: TimeInterval

    public init(maximumAttempts: Int, initialBackoff: TimeInterval, maximumBackoff: TimeInterval, maximumRetryAfter: TimeInterval) {
        self.maximumAttempts = max(1, maximumAttempts)
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.maximumRetryAfter = maximumRetryAfter
    }

    /// The pause after failed attempt `attempt` (1-based): the server's word if it gave one,
    /// else the doubled backoff with ±20 % jitter so clients that failed together do not retry together.
    public func delay(afterAttempt attempt: Int, retryAfter: TimeInterval? = nil) -> TimeInterval {
        if let retryAfter { return min(max(0, retryAfter), maximumRetryAfter) }
        let exponential = min(maximumBackoff, initialBackoff * pow(2, Double(max(0, attempt - 1))))
        return exponential * Double.random(in: 0.8...1.2)
    }

    /// `Retry-After` in seconds (the form APIs send; an HTTP date is not used by them).
    public static func retryAfter(_ headers: HTTPHeaders) -> TimeInterval? {
        headers["Retry-After"].flatMap { TimeInterval($0.trimmingCharacters(in: .whitespaces)) }
    }
}
