import Foundation
import Synchronization
import KubeCore
import KubeAPI

/// Records core/v1 Events about objects without flooding the API server or blocking the caller:
/// - the same event (object, type, reason, message) within ten minutes bumps the count of the
///   existing Event instead of creating another (client-go's aggregation);
/// - each object may emit a burst of 25, then one event every five minutes (client-go's spam
///   filter); the rest are dropped;
/// - sending happens in the background; failures are logged, never thrown;
/// - messages are cut to 1024 bytes and pass through the redactor.
///
/// core/v1 rather than events.k8s.io/v1 because `kubectl describe` lists these, and both APIs
/// are views of the same objects on a real server.
public final class EventRecorder: Sendable {
    public enum EventType: String, Sendable {
        case normal = "Normal"
        case warning = "Warning"
    }

    struct Pending: Sendable {
        var regarding: ObjectReference
        var type: EventType
        var reason: String
        var message: String
        var at: Date
    }

    struct Series {
        var name: String
        var count: Int
        var lastSeen: Date
    }

    struct Bucket {
        var tokens: Double
        var refilled: Date

        /// Tokens at `now`, after refilling since the last event.
        func tokens(at now: Date) -> Double { min(EventRecorder.burst, tokens + now.timeIntervalSince(refilled) / EventRecorder.refillInterval) }
    }

    /// What aggregation and rate limiting remember, and the sizes past which they are pruned.
    struct Memory {
        var series: [String: Series] = [:]
        var buckets: [String: Bucket] = [:]
        var seriesLimit = EventRecorder.retained
        var bucketLimit = EventRecorder.retained
    }

    public static let aggregationWindow: TimeInterval = 600
    public static let burst: Double = 25
    public static let refillInterval: TimeInterval = 300
    public static let maximumMessageBytes = 1024

    private let client: KubeClient
    private let component: String
    private let host: String
    private let time: any TimeSource
    private let log = Logger(name: "events")
    private let queue: AsyncStream<Pending>.Continuation
    private let stream: AsyncStream<Pending>
    private let state = Mutex(Memory())

    public init(client: KubeClient, component: String, host: String = ProcessInfo.processInfo.hostName, time: any TimeSource = SystemTime()) {
        self.client = client
        self.component = component
        self.host = host
        self.time = time
        (stream, queue) = AsyncStream<Pending>.makeStream(bufferingPolicy: .bufferingNewest(1000))
    }

    /// Queues an event about `object`; returns at once.
    public func record(_ object: KubeObject, type: EventType, reason: String, message: String) {
        record(object.reference, type: type, reason: reason, message: message)
    }

    public func record(_ regarding: ObjectReference, type: EventType, reason: String, message: String) {
        queue.yield(Pending(regarding: regarding, type: type, reason: reason, message: Self.shorten(Redactor.current.scrub(message)), at: time.now))
    }

    /// Takes no more events: `run` returns once the queued ones are sent (a command that exits).
    public func finish() { queue.finish() }

    /// Sends queued events until the task is cancelled, or `finish` was called and all are sent.
    public func run() async {
        for await event in stream {
            if Task.isCancelled { break }
            await send(event)
        }
    }

    /// Series and buckets are per message and per object: an operator that runs for months sees
    /// unboundedly many of both (every rotation's message names its keys). Past `retained`
    /// entries, the ones that no longer matter go: series outside the aggregation window, buckets
    /// that have refilled (a fresh bucket is the same as none). The next prune waits for `retained`
    /// more entries than survived, so a busy window costs one sweep per 1024 events, not one each.
    static let retained = 1024

    static func prune(_ state: inout Memory, now: Date) {
        if state.series.count > state.seriesLimit {
            state.series = state.series.filter { now.timeIntervalSince($0.value.lastSeen) < aggregationWindow }
            state.seriesLimit = state.series.count + retained
        }
        if state.buckets.count > state.bucketLimit {
            state.buckets = state.buckets.filter { $0.value.tokens(at: now) < burst }
            state.bucketLimit = state.buckets.count + retained
        }
    }

    private func send(_ event: Pending) async {
        let objectKey = "\(event.regarding.namespace ?? "")/\(event.regarding.kind)/\(event.regarding.name)/\(event.regarding.uid)"
        // A digest, not the text: a series is kept for ten minutes, and its message may be a
        // kilobyte (a mass create of thousands of deployments kept megabytes of messages).
        let seriesKey = String(SHA256.hex("\(objectKey)/\(event.type.rawValue)/\(event.reason)/\(event.message)".utf8).prefix(32))
        let decision = state.withLock { state -> (allowed: Bool, series: Series?) in
            var bucket = state.buckets[objectKey] ?? Bucket(tokens: Self.burst, refilled: event.at)
            bucket.tokens = bucket.tokens(at: event.at)
            bucket.refilled = event.at
            guard bucket.tokens >= 1 else {
                state.buckets[objectKey] = bucket
                return (false, nil)
            }
            bucket.tokens -= 1
            state.buckets[objectKey] = bucket
            if var series = state.series[seriesKey], event.at.timeIntervalSince(series.lastSeen) < Self.aggregationWindow {
                series.count += 1
                series.lastSeen = event.at
                state.series[seriesKey] = series
                return (true, series)
            }
            return (true, nil)
        }
        guard decision.allowed else { return }
        let namespace = event.regarding.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let timestamp = KubeTime.format(event.at)
        do {
            if let series = decision.series {
                _ = try await client.patch(
                    .events, namespace: namespace, name: series.name,
                    .merge(["count": .int(series.count), "lastTimestamp": .string(timestamp)]))
                return
            }
            let name = "\(event.regarding.name).\(String(UInt64(event.at.timeIntervalSince1970 * 1_000_000_000), radix: 16))"
            var object = KubeObject(apiVersion: "v1", kind: "Event", namespace: namespace, name: name)
            object["involvedObject"] = event.regarding.json
            object["reason"] = .string(event.reason)
            object["message"] = .string(event.message)
            object["type"] = .string(event.type.rawValue)
            object["count"] = 1
            object["firstTimestamp"] = .string(timestamp)
            object["lastTimestamp"] = .string(timestamp)
            object["source"] = ["component": .string(component), "host": .string(host)]
            object["reportingComponent"] = .string(component)
            object["reportingInstance"] = .string(host)
            _ = try await client.create(object, .events)
            state.withLock { state in
                state.series[seriesKey] = Series(name: name, count: 1, lastSeen: event.at)
                Self.prune(&state, now: event.at)
            }
        } catch {
            // An event that cannot be written is not worth failing anything for.
            state.withLock { $0.series[seriesKey] = nil }
            log.warn("cannot record event", ["reason": .string(event.reason), "object": .string(objectKey), "error": .string(error.description)])
        }
    }

    /// Cuts a message to the byte limit without splitting a character, marking the cut.
    static func shorten(_ message: String) -> String {
        guard message.utf8.count > maximumMessageBytes else { return message }
        var result = ""
        for character in message {
            if result.utf8.count + character.utf8.count > maximumMessageBytes - 3 { break }
            result.append(character)
        }
        return result + "..."
    }
}
