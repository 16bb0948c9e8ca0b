import Foundation
import Synchronization
import KubeCore

/// The state behind one lock, plus the collector thread that plays kube-controller-manager.
final class ObjectStore: Sendable {
    private let state: Mutex<StoreState>
    /// Published inside the commits that change it; read without the state's lock.
    private let admission = Mutex<(revision: Int, view: AdmissionView)>((-1, AdmissionView()))
    private let collectorSignal = NSCondition()
    private let running = Atomic<Bool>(true)

    init(historyWindow: Int) {
        var initial = StoreState(historyWindow: historyWindow)
        for definition in BuiltinResources.all { initial.definitions[definition.groupResource] = definition }
        admission.withLock { $0 = (initial.admissionRevision, AdmissionView(initial)) }
        state = Mutex(initial)
    }

    /// Runs `body` with exclusive access, then wakes the collector if it has work.
    func withState<T>(_ body: (inout StoreState) throws -> T) rethrows -> T {
        let (result, hasWork) = try state.withLock { state -> (T, Bool) in
            let result = try body(&state)
            publishAdmission(state)
            return (result, !state.pendingCollection.isEmpty)
        }
        if hasWork { wakeCollector() }
        return result
    }

    /// The resources served and the RBAC objects as of the last commit.
    var admissionView: AdmissionView { admission.withLock { $0.view } }

    /// Called under the state's lock, so views are published in commit order.
    private func publishAdmission(_ state: StoreState) {
        let revision = state.admissionRevision
        guard admission.withLock({ $0.revision != revision }) else { return }
        let view = AdmissionView(state)
        admission.withLock { $0 = (revision, view) }
    }

    func wakeCollector() {
        collectorSignal.lock()
        collectorSignal.signal()
        collectorSignal.unlock()
    }

    func startCollector() {
        let thread = Thread { [self] in
            var waiting = false
            while running.load(ordering: .relaxed) {
                collectorSignal.lock()
                // Objects waiting on others are looked at again every 50 ms, like a resync.
                _ = collectorSignal.wait(until: Date().addingTimeInterval(waiting ? 0.05 : 1))
                collectorSignal.unlock()
                waiting = state.withLock { state in
                    defer { publishAdmission(state) }
                    return state.runCollector(now: Date())
                }
            }
        }
        thread.name = "local-control-plane-collector"
        thread.start()
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        wakeCollector()
        let subscriptions = state.withLock { state -> [WatchSubscription] in
            let all = state.watchers.values.flatMap { $0 }
            state.watchers = [:]
            return all
        }
        for subscription in subscriptions { subscription.close() }
    }

    /// Ends every open watch, as an API server restart or a load balancer would.
    func closeAllWatches() {
        let subscriptions = state.withLock { state -> [WatchSubscription] in
            let all = state.watchers.values.flatMap { $0 }
            state.watchers = [:]
            return all
        }
        for subscription in subscriptions { subscription.close() }
    }
}

/// Failures and slowness on demand, for tests of what a client does when the API misbehaves.
public final class FaultInjector: Sendable {
    struct Rule: Sendable {
        var remaining: Int
        var code: Int
        var retryAfterSeconds: Int?
        var verbs: Set<String>?
        var resource: String?
        var name: String?
        var namespace: String?
    }

    private let rules = Mutex<[Rule]>([])
    private let latencyMicros = Atomic<Int>(0)

    init() {}

    /// The next `count` requests that match (by verb such as `list` or `patch`, and resource
    /// such as `secrets` or `nimdeployments.nim.opendatahub.io`, object name and namespace)
    /// fail with `code` and a Status.
    public func failNext(
        _ count: Int, code: Int, retryAfterSeconds: Int? = nil, verbs: Set<String>? = nil, resource: String? = nil, name: String? = nil, namespace: String? = nil
    ) {
        rules.withLock {
            $0.append(Rule(remaining: count, code: code, retryAfterSeconds: retryAfterSeconds, verbs: verbs, resource: resource, name: name, namespace: namespace))
        }
    }

    /// Added before every request is handled.
    public var latency: TimeInterval {
        get { Double(latencyMicros.load(ordering: .relaxed)) / 1_000_000 }
        set { latencyMicros.store(Int(newValue * 1_000_000), ordering: .relaxed) }
    }

    public func reset() {
        rules.withLock { $0.removeAll() }
        latency = 0
    }

    /// The failure this request gets, if one is armed for it.
    /// `name` is asked only when a rule names an object: for a create it means decoding the body.
    func failure(verb: String, resource: String, namespace: String? = nil, name: () -> String?) -> APIStatus? {
        rules.withLock { rules -> APIStatus? in
            guard let index = rules.firstIndex(where: { rule in
                rule.remaining > 0 && (rule.verbs?.contains(verb) ?? true) && (rule.resource.map { $0 == resource } ?? true)
                    && (rule.name.map { $0 == name() } ?? true) && (rule.namespace.map { $0 == namespace } ?? true)
            }) else { return nil }
            rules[index].remaining -= 1
            let rule = rules[index]
            if rule.remaining == 0 { rules.remove(at: index) }
            var status = rule.code == 429
                ? APIStatus.tooManyRequests(retryAfterSeconds: rule.retryAfterSeconds ?? 1)
                : APIStatus.forCode(rule.code, message: "injected fault: \(rule.code) for \(verb) \(resource)")
            if let retry = rule.retryAfterSeconds { status.retryAfterSeconds = retry }
            return status
        }
    }
}

/// Requests served, by verb and resource: what benchmarks and tests count writes with.
public struct RequestStats: Sendable {
    public struct Key: Hashable, Sendable, Comparable {
        public var verb: String
        public var resource: String
        /// Who asked: the first word of the User-Agent (`nim-deploy-operator`, `kubectl`).
        public var agent: String
        public static func < (a: Key, b: Key) -> Bool { (a.resource, a.verb, a.agent) < (b.resource, b.verb, b.agent) }
    }

    public var counts: [Key: Int] = [:]

    public func count(verb: String? = nil, resource: String? = nil, agent: String? = nil) -> Int {
        counts.filter {
            (verb == nil || $0.key.verb == verb) && (resource == nil || $0.key.resource == resource) && (agent == nil || $0.key.agent == agent)
        }.values.reduce(0, +)
    }

    public static let writeVerbs: Set<String> = ["create", "update", "patch", "delete", "deletecollection"]

    /// Creates, updates, patches and deletes.
    public var writes: Int { counts.filter { Self.writeVerbs.contains($0.key.verb) }.values.reduce(0, +) }

    /// Writes by one agent.
    public func writes(by agent: String) -> Int {
        counts.filter { Self.writeVerbs.contains($0.key.verb) && $0.key.agent == agent }.values.reduce(0, +)
    }

    public static func - (lhs: RequestStats, rhs: RequestStats) -> RequestStats {
        var result = RequestStats()
        for (key, value) in lhs.counts {
            let difference = value - (rhs.counts[key] ?? 0)
            if difference != 0 { result.counts[key] = difference }
        }
        return result
    }
}
