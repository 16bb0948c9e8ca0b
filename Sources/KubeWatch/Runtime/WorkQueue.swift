import Foundation
import KubeCore

/// The queue between event handlers and reconcile workers (client-go's rate-limited delaying
/// queue, in an actor):
/// - a key waiting in the queue is there once, however often it is added;
/// - a key being worked on is never handed to a second worker; added meanwhile, it is queued
///   again when the first worker is done;
/// - `addAfter` keeps the earliest of several requested times;
/// - `addRateLimited` backs off per key, `forget` resets the backoff;
/// - `shutdown` stops handing out keys and, with `drain`, waits for work in progress.
public actor WorkQueue<Key: Hashable & Sendable> {
    private var queue: [Key] = []
    private var head = 0
    private var dirty: Set<Key> = []
    private var processing: Set<Key> = []
    private var addedAt: [Key: Date] = [:]
    private var startedAt: [Key: Date] = [:]
    private var scheduled: [Key: Date] = [:]
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    private var timer: Task<Void, Never>?
    private var timerDeadline: Date?
    private var limiter: RateLimiter<Key>
    private var shuttingDown = false
    private let time: any TimeSource
    private let metrics: WorkQueueMetrics?

    public init(name: String = "queue", rateLimiter: RateLimiter<Key> = RateLimiter(), time: any TimeSource = SystemTime(), metrics: MetricsRegistry? = nil) {
        self.limiter = rateLimiter
        self.time = time
        self.metrics = metrics.map { WorkQueueMetrics(registry: $0, name: name) }
    }

    public var depth: Int { queue.count - head }
    public var isShuttingDown: Bool { shuttingDown }
    public var inProgress: Int { processing.count }
    public var pendingDelayed: Int { scheduled.count }

    public func add(_ key: Key) {
        guard !shuttingDown, !dirty.contains(key) else { return }
        metrics?.adds.inc([metrics?.name ?? ""])
        dirty.insert(key)
        addedAt[key] = time.now
        guard !processing.contains(key) else { return }
        enqueue(key)
    }

    private func enqueue(_ key: Key) {
        if !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            hand(key)
            waiter.resume(returning: key)
        } else {
            queue.append(key)
            updateDepth()
        }
    }

    /// Adds once `delay` has passed; an earlier pending time for the same key wins.
    public func addAfter(_ key: Key, _ delay: TimeInterval) {
        guard !shuttingDown else { return }
        guard delay > 0 else { return add(key) }
        let due = time.now.addingTimeInterval(delay)
        if let existing = scheduled[key], existing <= due { return }
        scheduled[key] = due
        armTimer()
    }

    /// Adds after this key's backoff; each call without a `forget` doubles it.
    public func addRateLimited(_ key: Key) {
        metrics?.retries.inc([metrics?.name ?? ""])
        addAfter(key, limiter.when(key, now: time.now))
    }

    public func forget(_ key: Key) { limiter.forget(key) }

    public func retries(_ key: Key) -> Int { limiter.retries(key) }

    /// The next key to work on, waiting for one; `nil` once shut down and empty.
    public func get() async -> Key? {
        if head < queue.count {
            let key = queue[head]
            head += 1
            if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            updateDepth()
            hand(key)
            return key
        }
        if shuttingDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    private func hand(_ key: Key) {
        dirty.remove(key)
        processing.insert(key)
        let now = time.now
        if let added = addedAt.removeValue(forKey: key) { metrics?.queueLatency.observe(now.timeIntervalSince(added), [metrics?.name ?? ""]) }
        startedAt[key] = now
    }

    /// The worker has finished with `key`. If it was added meanwhile, it is queued again.
    public func done(_ key: Key) {
        processing.remove(key)
        if let started = startedAt.removeValue(forKey: key) {
            metrics?.workDuration.observe(time.now.timeIntervalSince(started), [metrics?.name ?? ""])
        }
        if dirty.contains(key) && !shuttingDown { enqueue(key) }
        if processing.isEmpty {
            let waiting = drainWaiters
            drainWaiters.removeAll()
            for waiter in waiting { waiter.resume() }
        }
    }

    /// Stops handing out keys. With `drain`, returns once every key in progress is done.
    public func shutdown(drain: Bool) async {
        shuttingDown = true
        timer?.cancel()
        timer = nil
        scheduled.removeAll()
        let waiting = waiters
        waiters.removeAll()
        for waiter in waiting { waiter.resume(returning: nil) }
        // Nothing queued but not started is worth starting now.
        queue.removeAll()
        head = 0
        dirty.removeAll()
        updateDepth()
        if drain && !processing.isEmpty {
            await withCheckedContinuation { drainWaiters.append($0) }
        }
    }

    // MARK: - Delayed adds

    private func armTimer() {
        guard let next = scheduled.values.min() else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if let current = timerDeadline, timer != nil, current <= next { return }
        timer?.cancel()
        timerDeadline = next
        let time = self.time
        timer = Task { [weak self] in
            do { try await time.sleep(until: next) } catch { return }
            await self?.fireDue()
        }
    }

    private func fireDue() {
        timer = nil
        timerDeadline = nil
        let now = time.now
        let due = scheduled.filter { $0.value <= now }.sorted { $0.value < $1.value }
        for (key, _) in due {
            scheduled[key] = nil
            add(key)
        }
        armTimer()
    }

    private func updateDepth() { metrics?.depth.set(Double(queue.count - head), [metrics?.name ?? ""]) }
}

/// client-go's work queue metrics.
struct WorkQueueMetrics: Sendable {
    let name: String
    let depth: Gauge
    let adds: Counter
    let retries: Counter
    let queueLatency: Histogram
    let workDuration: Histogram

    init(registry: MetricsRegistry, name: String) {
        self.name = name
        depth = registry.gauge("workqueue_depth", help: "Current depth of the work queue.", labels: ["name"])
        adds = registry.counter("workqueue_adds_total", help: "Keys added to the work queue.", labels: ["name"])
        retries = registry.counter("workqueue_retries_total", help: "Rate-limited re-adds (retries after errors).", labels: ["name"])
        queueLatency = registry.histogram(
            "workqueue_queue_duration_seconds", help: "How long a key waits in the queue before a worker takes it.", labels: ["name"])
        workDuration = registry.histogram("workqueue_work_duration_seconds", help: "How long a worker spends on a key.", labels: ["name"])
        depth.set(0, [name])
        adds.touch([name])
        retries.touch([name])
    }
}
