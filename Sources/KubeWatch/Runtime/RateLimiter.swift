import Foundation

/// How long a key that failed waits before its next attempt: controller-runtime's default,
/// the larger of a per-key exponential backoff and an overall token bucket.
public struct RateLimiter<Key: Hashable & Sendable>: Sendable {
    /// First retry after 5 ms, doubling per consecutive failure, capped at 1000 s (client-go's
    /// `DefaultControllerRateLimiter`): a broken object is retried quickly at first, then left
    /// alone without ever being forgotten.
    public var baseDelay: TimeInterval = 0.005
    public var maximumDelay: TimeInterval = 1000
    /// 10 retries a second overall with bursts of 100, so a thousand objects failing together
    /// do not hammer the API server.
    public var overallRate: Double = 10
    public var overallBurst: Double = 100

    private var failures: [Key: Int] = [:]
    private var tokens: Double
    private var lastRefill: Date?

    public init(baseDelay: TimeInterval = 0.005, maximumDelay: TimeInterval = 1000, overallRate: Double = 10, overallBurst: Double = 100) {
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
        self.overallRate = overallRate
        self.overallBurst = overallBurst
        self.tokens = overallBurst
    }

    /// The delay for the next retry of `key`, counting this failure.
    public mutating func when(_ key: Key, now: Date) -> TimeInterval {
        let count = failures[key, default: 0]
        failures[key] = count + 1
        let exponential = min(maximumDelay, baseDelay * pow(2, Double(min(count, 62))))
        return max(exponential, bucketDelay(now: now))
    }

    /// Consecutive failures so far.
    public func retries(_ key: Key) -> Int { failures[key, default: 0] }

    /// Success: the next failure starts from the base delay again.
    public mutating func forget(_ key: Key) { failures[key] = nil }

    private mutating func bucketDelay(now: Date) -> TimeInterval {
        if let lastRefill { tokens = min(overallBurst, tokens + now.timeIntervalSince(lastRefill) * overallRate) }
        lastRefill = now
        tokens -= 1
        return tokens >= 0 ? 0 : -tokens / overallRate
    }
}
