import Foundation
import Synchronization
import Testing
import KubeCore
import KubeAPI
import KubeRuntime
import TestSupport

/// The work queue's promises, on manual time: no waiting in these tests, time moves when told.
@Suite struct WorkQueueTests {
    let time = ManualTime()

    func queue(_ limiter: RateLimiter<String> = RateLimiter()) -> WorkQueue<String> {
        WorkQueue(name: "test", rateLimiter: limiter, time: time)
    }

    @Test func duplicatesCollapseWhileQueued() async {
        let queue = queue()
        await queue.add("a")
        await queue.add("a")
        await queue.add("b")
        #expect(await queue.depth == 2)
        #expect(await queue.get() == "a")
        #expect(await queue.get() == "b")
    }

    @Test func aKeyInProgressIsNotHandedOutAgainUntilDone() async {
        let queue = queue()
        await queue.add("a")
        #expect(await queue.get() == "a")
        await queue.add("a")
        #expect(await queue.depth == 0, "re-added while processing: held back")
        await queue.add("b")
        #expect(await queue.get() == "b")
        await queue.done("a")
        #expect(await queue.depth == 1, "queued again once the first worker is done")
        #expect(await queue.get() == "a")
    }

    @Test func perKeyBackoffDoublesFrom5msAndForgetResets() {
        var limiter = RateLimiter<String>(overallBurst: 1_000)
        let now = time.now
        let delays = (0..<5).map { _ in limiter.when("k", now: now) }
        #expect(delays.map { ($0 * 1000).rounded() } == [5, 10, 20, 40, 80])
        #expect(limiter.retries("k") == 5)
        limiter.forget("k")
        #expect(limiter.when("k", now: now) == 0.005)
        var capped = RateLimiter<String>(overallBurst: 1_000)
        for _ in 0..<40 { _ = capped.when("x", now: now) }
        #expect(capped.when("x", now: now) == 1000, "capped at 1000 s")
    }

    @Test func theOverallBucketSpreadsABurstOfFailures() {
        var limiter = RateLimiter<String>(overallRate: 10, overallBurst: 100)
        let now = time.now
        let delays = (0..<110).map { limiter.when("key-\($0)", now: now) }
        #expect(delays.prefix(100).allSatisfy { $0 == 0.005 })
        #expect(abs(delays[109] - 1.0) < 0.0001, "the tenth key past the burst waits a second")
    }

    @Test func addAfterKeepsTheEarliestTimeAndFiresOnTime() async throws {
        let queue = queue()
        await queue.addAfter("a", 10)
        await queue.addAfter("a", 2)
        await queue.addAfter("a", 5)
        try await eventually("the timer is asleep") { time.sleeperCount == 1 }
        time.advance(by: 1.9)
        #expect(await queue.depth == 0)
        time.advance(by: 0.2)
        try await eventually("the key is due") { await queue.depth == 1 }
        #expect(await queue.pendingDelayed == 0, "the later requests were dropped, not kept")
    }

    @Test func rateLimitedAddsWaitTheirBackoff() async throws {
        let queue = queue(RateLimiter(baseDelay: 1, maximumDelay: 100))
        await queue.addRateLimited("a")
        try await eventually("scheduled") { time.sleeperCount == 1 }
        time.advance(by: 1)
        try await eventually("due after 1 s") { await queue.depth == 1 }
        _ = await queue.get()
        await queue.done("a")
        await queue.addRateLimited("a")
        try await eventually("scheduled again") { time.sleeperCount == 1 }
        time.advance(by: 1.5)
        #expect(await queue.depth == 0, "the second failure waits 2 s")
        time.advance(by: 0.5)
        try await eventually("due after 2 s") { await queue.depth == 1 }
    }

    @Test func shutdownWithDrainWaitsForWorkInProgress() async throws {
        let queue = queue()
        await queue.add("a")
        await queue.add("b")
        #expect(await queue.get() == "a")
        let drained = Atomic<Bool>(false)
        let shutdown = Task {
            await queue.shutdown(drain: true)
            drained.store(true, ordering: .relaxed)
        }
        try await eventually("shutting down") { await queue.isShuttingDown }
        #expect(await queue.get() == nil, "no new work once shutting down")
        let early = drained.load(ordering: .relaxed)
        #expect(!early, "still waiting for a")
        await queue.done("a")
        await shutdown.value
        let late = drained.load(ordering: .relaxed)
        #expect(late)
    }
}

/// The controller's outcome handling, against a reconcile function the test scripts.
@Suite struct ControllerTests {
    /// Generous: these finish in milliseconds alone, but the whole suite starts at once on two
    /// cores (control planes, operator processes, kubectl and the Helm engine), and a deadline
    /// is only a bound on how long a failure takes to show.
    static let deadline: TimeInterval = 60

    actor Journal {
        var calls: [String: Int] = [:]
        var concurrent = 0
        var maximumConcurrentForOneKey = 0
        var active: Set<String> = []
        func enter(_ key: String) {
            calls[key, default: 0] += 1
            if active.contains(key) { maximumConcurrentForOneKey = 2 }
            active.insert(key)
        }
        func leave(_ key: String) { active.remove(key) }
        func count(_ key: String) -> Int { calls[key] ?? 0 }
    }

    @Test func errorsRetryTerminalErrorsDoNotAndOneKeyNeverRunsTwiceAtOnce() async throws {
        let journal = Journal()
        let metrics = MetricsRegistry()
        let controller = Controller(name: "test", workers: 4, rateLimiter: RateLimiter(baseDelay: 0.001), metrics: metrics) { key in
            await journal.enter(key.name)
            defer { Task { await journal.leave(key.name) } }
            let attempt = await journal.count(key.name)
            switch key.name {
            case "flaky" where attempt < 3: throw KubeError.transport(TransportError(message: "boom"))
            case "invalid": throw TerminalError(KubeError.decoding("bad spec"))
            default: return .done
            }
        }
        let running = Task { await controller.run() }
        for name in ["flaky", "invalid", "ok"] { controller.enqueue(ObjectKey(namespace: "ns", name: name)) }
        for _ in 0..<20 { controller.enqueue(ObjectKey(namespace: "ns", name: "ok")) }
        try await eventually(timeout: Self.deadline, "flaky succeeds on its third attempt") { await journal.count("flaky") == 3 }
        try await eventually(timeout: Self.deadline, "the queue drains") {
            let depth = await controller.queue.depth
            let inProgress = await controller.queue.inProgress
            return depth == 0 && inProgress == 0
        }
        #expect(await journal.count("invalid") == 1, "a terminal error is not retried")
        #expect(await journal.maximumConcurrentForOneKey == 0)
        #expect(metrics.render().contains("controller_runtime_reconcile_total{controller=\"test\",result=\"error\"} 3"))
        // Every error counts, the terminal one too (controller-runtime's meaning); it is also apart.
        #expect(metrics.render().contains("controller_runtime_reconcile_errors_total{controller=\"test\"} 3"), "\(metrics.render())")
        #expect(metrics.render().contains("controller_runtime_terminal_reconcile_errors_total{controller=\"test\"} 1"))
        running.cancel()
        await running.value
    }

    @Test func requeueAfterComesBack() async throws {
        let journal = Journal()
        let controller = Controller(name: "poll", workers: 1) { key in
            await journal.enter(key.name)
            await journal.leave(key.name)
            return await journal.count(key.name) < 3 ? .requeue(after: 0.01) : .done
        }
        let running = Task { await controller.run() }
        controller.enqueue(ObjectKey(namespace: nil, name: "p"))
        try await eventually(timeout: Self.deadline, "reconciled three times") { await journal.count("p") == 3 }
        running.cancel()
        await running.value
    }
}
