import Foundation
import Synchronization
import KubeCore
import KubeAPI

/// Leader election on a `coordination.k8s.io/v1` Lease, with client-go's rules: the lease is
/// taken when free or expired, renewed every retry period, and given up when it could not be
/// renewed within the renew deadline. Whether someone else's lease has expired is judged on the
/// local clock, from when this process last saw the record change, so clock skew between
/// replicas does not matter.
public final class LeaderElector: Sendable {
    public struct Configuration: Sendable {
        public var namespace: String
        public var name: String
        public var identity: String
        /// How long a lease stays valid without renewal: a follower waits this long after the
        /// leader goes silent before it takes over.
        public var leaseDuration: TimeInterval = 15
        /// A leader that has not renewed within this long stops leading (before its lease could
        /// expire and a second leader appear).
        public var renewDeadline: TimeInterval = 10
        /// How often to try to acquire or renew.
        public var retryPeriod: TimeInterval = 2

        public init(namespace: String, name: String, identity: String) {
            self.namespace = namespace
            self.name = name
            self.identity = identity
        }
    }

    public enum Outcome: Sendable, Equatable {
        /// The lease could not be renewed: stop working now (another replica may lead already).
        case lost
        /// The task was cancelled; the lease was released.
        case stopped
    }

    private struct Observation {
        var record: JSON?
        var observedAt: Date?
        var leading = false
    }

    public let configuration: Configuration
    private let client: KubeClient
    private let time: any TimeSource
    private let state = Mutex(Observation())
    private let log: Logger

    /// client-go's `leader_election_master_status{name}`: 1 while this process holds the lease.
    private let status: Gauge?

    public init(
        client: KubeClient, configuration: Configuration, time: any TimeSource = SystemTime(), logger: Logger = Logger(name: "leader-election"),
        metrics: MetricsRegistry? = nil
    ) {
        status = metrics?.gauge("leader_election_master_status", help: "1 while this process is the leader of the lease named, 0 otherwise.", labels: ["name"])
        status?.set(0, [configuration.name])
        precondition(
            configuration.leaseDuration > configuration.renewDeadline && configuration.renewDeadline > configuration.retryPeriod * 1.2,
            "lease duration > renew deadline > 1.2 × retry period")
        self.client = client
        self.configuration = configuration
        self.time = time
        self.log = logger
    }

    public var isLeader: Bool { state.withLock { $0.leading } }

    /// Waits for the lease, runs `lead` while holding it, and returns when leadership is lost
    /// (with `lead` cancelled) or when the calling task is cancelled (with the lease released).
    public func run(_ lead: @escaping @Sendable () async -> Void) async -> Outcome {
        guard await acquire() else { return .stopped }
        state.withLock { $0.leading = true }
        status?.set(1, [configuration.name])
        log.info("acquired lease", ["lease": .string("\(configuration.namespace)/\(configuration.name)"), "identity": .string(configuration.identity)])
        let outcome = await withTaskGroup(of: Outcome?.self) { group -> Outcome in
            group.addTask {
                await lead()
                return nil
            }
            group.addTask { await self.renewUntilLost() }
            var result = Outcome.stopped
            for await finished in group {
                if let finished {
                    result = finished
                    group.cancelAll()
                }
            }
            return result
        }
        state.withLock { $0.leading = false }
        status?.set(0, [configuration.name])
        if outcome == .stopped {
            // The caller's task is cancelled, and a cancelled task sends no requests: the
            // release runs on its own, and is awaited, so a successor can start at once.
            await Task.detached { await self.release() }.value
        }
        log.info(outcome == .lost ? "lost lease" : "released lease", ["identity": .string(configuration.identity)])
        return outcome
    }

    private func acquire() async -> Bool {
        while !Task.isCancelled {
            if await tryAcquireOrRenew() { return true }
            do { try await time.sleep(until: time.now.addingTimeInterval(configuration.retryPeriod * Double.random(in: 1...1.2))) } catch { return false }
        }
        return false
    }

    /// Renews every retry period; returns `.lost` once renewal has failed for the whole renew
    /// deadline, `.stopped` when cancelled.
    private func renewUntilLost() async -> Outcome? {
        var lastRenewal = time.now
        while true {
            do { try await time.sleep(until: time.now.addingTimeInterval(configuration.retryPeriod)) } catch { return .stopped }
            if await tryAcquireOrRenew() {
                lastRenewal = time.now
            } else if time.now.timeIntervalSince(lastRenewal) >= configuration.renewDeadline {
                return .lost
            }
        }
    }

    /// One attempt. `true` if this process holds the lease afterwards.
    func tryAcquireOrRenew() async -> Bool {
        let now = time.now
        let lease: KubeObject
        do {
            lease = try await client.get(.leases, namespace: configuration.namespace, name: configuration.name)
        } catch {
            guard error.isNotFound else {
                log.warn("cannot read lease", ["error": .string(error.description)])
                return false
            }
            var created = KubeObject(apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: configuration.namespace, name: configuration.name)
            created["spec"] = spec(holder: configuration.identity, acquired: now, renewed: now, transitions: 0)
            do {
                let stored = try await client.create(created, .leases)
                observe(stored["spec"], at: now)
                return true
            } catch {
                return false
            }
        }
        let record = lease["spec"] ?? [:]
        observe(record, at: now)
        let holder = record["holderIdentity"]?.stringValue ?? ""
        let duration = record["leaseDurationSeconds"]?.doubleValue ?? configuration.leaseDuration
        let observedAt = state.withLock { $0.observedAt } ?? now
        if !holder.isEmpty, holder != configuration.identity, observedAt.addingTimeInterval(duration) > now {
            return false
        }
        let transitions = record["leaseTransitions"]?.intValue ?? 0
        let mine = holder == configuration.identity
        let acquired = mine ? record["acquireTime"]?.stringValue.flatMap(KubeTime.parse) ?? now : now
        var updated = lease
        updated["spec"] = spec(holder: configuration.identity, acquired: acquired, renewed: now, transitions: mine ? transitions : transitions + 1)
        do {
            // PUT with the resourceVersion we read: if another replica wrote in between, 409.
            let stored = try await client.update(updated, .leases)
            observe(stored["spec"], at: now)
            return true
        } catch {
            return false
        }
    }

    private func observe(_ record: JSON?, at now: Date) {
        state.withLock { state in
            if state.record != record {
                state.record = record
                state.observedAt = now
            }
        }
    }

    private func spec(holder: String, acquired: Date, renewed: Date, transitions: Int) -> JSON {
        [
            "holderIdentity": .string(holder), "leaseDurationSeconds": .int(Int(configuration.leaseDuration)),
            "acquireTime": .string(KubeTime.formatMicro(acquired)), "renewTime": .string(KubeTime.formatMicro(renewed)),
            "leaseTransitions": .int(transitions),
        ]
    }

    /// Lets a successor take over at once instead of waiting out the lease (client-go's
    /// ReleaseOnCancel): holder cleared, duration one second.
    private func release() async {
        guard var lease = try? await client.get(.leases, namespace: configuration.namespace, name: configuration.name),
            lease[path: ["spec", "holderIdentity"]]?.stringValue == configuration.identity
        else { return }
        let now = time.now
        lease[path: ["spec", "holderIdentity"]] = nil
        lease[path: ["spec", "leaseDurationSeconds"]] = 1
        lease[path: ["spec", "renewTime"]] = .string(KubeTime.formatMicro(now))
        _ = try? await client.update(lease, .leases)
    }
}
