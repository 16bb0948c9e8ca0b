import Foundation
import Synchronization
import KubeCore

/// What a reconcile asks for next.
public struct ReconcileResult: Sendable, Equatable {
    /// Look again after this long even if nothing changes (a poll, or a retry that is not an error).
    public var requeueAfter: TimeInterval?

    public init(requeueAfter: TimeInterval? = nil) { self.requeueAfter = requeueAfter }

    public static let done = ReconcileResult()
    public static func requeue(after interval: TimeInterval) -> ReconcileResult { ReconcileResult(requeueAfter: interval) }
}

/// An error retrying will not fix (invalid input): logged and counted, not requeued. The next
/// change to the object brings it back.
public struct TerminalError: Error, Sendable, CustomStringConvertible {
    public var underlying: any Error & Sendable
    public init(_ underlying: any Error & Sendable) { self.underlying = underlying }
    public var description: String { "terminal: \(underlying)" }
}

/// N workers taking keys from a work queue and reconciling them, never the same key twice at
/// once. Event handlers feed it through `enqueue`, which never blocks.
///
/// Outcomes (controller-runtime's `reconcileHandler`): an error requeues with the key's backoff;
/// a terminal error and success forget the backoff; `requeueAfter` forgets it and requeues after
/// the interval.
public final class Controller: Sendable {
    public typealias Reconcile = @Sendable (ObjectKey) async throws -> ReconcileResult

    public let name: String
    public let queue: WorkQueue<ObjectKey>
    private let workers: Int
    private let reconcile: Reconcile
    private let metrics: ControllerMetrics?
    private let intake: AsyncStream<ObjectKey>.Continuation
    private let intakeStream: AsyncStream<ObjectKey>
    /// Called after each reconcile with its key, outcome label and error (for logs).
    private let observer: (@Sendable (ObjectKey, String, (any Error)?) -> Void)?
    /// The caches a reconcile reads: a key is reconciled once all have listed its namespace
    /// (controller-runtime's WaitForCacheSync, per namespace), and not before, or a child not
    /// listed yet would be made again. A cluster-scoped key waits for every cache to sync.
    private let sources = Mutex<[Informer]>([])
    /// Waits for the sources in progress, cancelled when the controller stops.
    private let listWaits = Mutex<(stopped: Bool, next: Int, tasks: [Int: Task<Void, Never>])>((false, 0, [:]))
    /// When the workers started, until the first reconcile returns: how long a start takes to
    /// do work is said once in the log.
    private let startedWorkers = Mutex<ContinuousClock.Instant?>(nil)
    static let log = Logger(name: "controller")

    public init(
        name: String, workers: Int = 4, rateLimiter: RateLimiter<ObjectKey> = RateLimiter(), time: any TimeSource = SystemTime(),
        metrics: MetricsRegistry? = nil, observer: (@Sendable (ObjectKey, String, (any Error)?) -> Void)? = nil,
        reconcile: @escaping Reconcile
    ) {
        self.name = name
        self.workers = max(1, workers)
        self.reconcile = reconcile
        self.queue = WorkQueue(name: name, rateLimiter: rateLimiter, time: time, metrics: metrics)
        self.metrics = metrics.map { ControllerMetrics(registry: $0, controller: name) }
        self.observer = observer
        (intakeStream, intake) = AsyncStream<ObjectKey>.makeStream(bufferingPolicy: .unbounded)
    }

    /// Queues a key from anywhere, synchronously; duplicates collapse in the queue.
    public func enqueue(_ key: ObjectKey) { intake.yield(key) }

    /// Enqueues what `map` says for every event of an informer. `waitsForSync: false` for an
    /// informer whose cache no reconcile relies on being complete (one it falls back from to
    /// reading the API server), so that its list does not hold the workers back.
    public func watch(_ informer: Informer, waitsForSync: Bool = true, map: @escaping @Sendable (InformerEvent) -> [ObjectKey]) {
        if waitsForSync { requires([informer]) }
        informer.addHandler { [weak self] event in
            guard let self else { return }
            for key in map(event) { self.enqueue(key) }
        }
    }

    /// Caches a reconcile reads without reacting to their events: listed before a key is reconciled.
    public func requires(_ informers: [Informer]) {
        sources.withLock { sources in
            for informer in informers where !sources.contains(where: { $0 === informer }) { sources.append(informer) }
        }
    }

    /// Runs the workers until the task is cancelled, then stops taking keys and lets the ones in
    /// progress finish: workers are not children of the calling task, so cancelling it does not
    /// cut a reconcile off half-way through its writes.
    public func run() async {
        if Task.isCancelled { return }
        Self.log.info("starting workers", ["controller": .string(name), "workers": .int(workers)])
        startedWorkers.withLock { $0 = .now }
        let queue = self.queue
        let pump = Task {
            for await key in intakeStream { await queue.add(key) }
        }
        let workers = (0..<workers).map { _ in Task { await self.work() } }
        await withTaskCancellationHandler {
            for worker in workers { await worker.value }
        } onCancel: {
            stopWaiting()
            Task { await queue.shutdown(drain: false) }
        }
        pump.cancel()
        intake.finish()
    }

    /// Stops taking new keys and waits until every reconcile in progress has returned.
    public func shutdown() async {
        stopWaiting()
        await queue.shutdown(drain: true)
    }

    /// Waits until every source has listed the key's namespace; false if the controller stops
    /// first. The wait is a task of its own, cancelled on stop: a list that never finishes (the
    /// API server away) must not hold a shutdown, and the worker's task is never cancelled.
    private func waitUntilListed(_ key: ObjectKey) async -> Bool {
        let sources = self.sources.withLock { $0 }
        let namespace = key.namespace.isEmpty ? nil : key.namespace
        if sources.allSatisfy({ $0.hasListed(namespace: namespace) }) { return true }
        let wait = Task { for source in sources { await source.waitUntilListed(namespace: namespace) } }
        let id = listWaits.withLock { waits -> Int? in
            guard !waits.stopped else { return nil }
            waits.next += 1
            waits.tasks[waits.next] = wait
            return waits.next
        }
        guard let id else {
            wait.cancel()
            return false
        }
        await wait.value
        return listWaits.withLock { waits in
            waits.tasks[id] = nil
            return !waits.stopped
        }
    }

    private func stopWaiting() {
        let waits = listWaits.withLock { waits in
            waits.stopped = true
            return waits.tasks.values
        }
        for wait in waits { wait.cancel() }
    }

    private func work() async {
        while let key = await queue.get() {
            guard await waitUntilListed(key) else {
                await queue.done(key)
                continue
            }
            metrics?.activeWorkers.add(1, [name])
            let started = Date()
            let outcome: String
            var failure: (any Error)?
            do {
                let result = try await reconcile(key)
                await queue.forget(key)
                if let interval = result.requeueAfter, interval > 0 {
                    await queue.addAfter(key, interval)
                    outcome = "requeue_after"
                } else {
                    outcome = "success"
                }
            } catch let error as TerminalError {
                await queue.forget(key)
                // controller-runtime counts every error here, terminal ones also apart.
                metrics?.errors.inc([name])
                metrics?.terminalErrors.inc([name])
                outcome = "error"
                failure = error
            } catch {
                await queue.addRateLimited(key)
                metrics?.errors.inc([name])
                outcome = "error"
                failure = error
            }
            metrics?.reconciles.inc([name, outcome])
            metrics?.duration.observe(Date().timeIntervalSince(started), [name])
            if let since = startedWorkers.withLock({ first -> ContinuousClock.Instant? in defer { first = nil }; return first }) {
                let elapsed = ContinuousClock.now - since
                Self.log.info("first reconcile done", [
                    "controller": .string(name), "result": .string(outcome),
                    "msSinceWorkersStarted": .int(elapsed.milliseconds),
                ])
            }
            metrics?.activeWorkers.add(-1, [name])
            observer?(key, outcome, failure)
            await queue.done(key)
        }
    }
}

/// controller-runtime's reconcile metrics, under the same names so dashboards carry over.
struct ControllerMetrics: Sendable {
    let reconciles: Counter
    let errors: Counter
    let terminalErrors: Counter
    let duration: Histogram
    let activeWorkers: Gauge

    init(registry: MetricsRegistry, controller: String) {
        reconciles = registry.counter(
            "controller_runtime_reconcile_total", help: "Reconciles by controller and result.", labels: ["controller", "result"])
        errors = registry.counter("controller_runtime_reconcile_errors_total", help: "Reconcile errors by controller.", labels: ["controller"])
        terminalErrors = registry.counter(
            "controller_runtime_terminal_reconcile_errors_total", help: "Reconcile errors that are not retried.", labels: ["controller"])
        duration = registry.histogram(
            "controller_runtime_reconcile_time_seconds", help: "Reconcile duration by controller.", labels: ["controller"],
            buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60])
        activeWorkers = registry.gauge("controller_runtime_active_workers", help: "Reconciles in progress.", labels: ["controller"])
        for result in ["success", "error", "requeue", "requeue_after"] { reconciles.touch([controller, result]) }
        errors.touch([controller])
        terminalErrors.touch([controller])
        activeWorkers.set(0, [controller])
    }
}
