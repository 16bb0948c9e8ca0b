import Foundation
import Synchronization
import KubeCore

/// What this process wrote and saw, per object, in one place: the informers' caches lag behind
/// the process's own writes, and without this a reconcile that runs before its watch event
/// would write again, announce again, or undo a rotation it just made. Each answer is "has the
/// cache seen my write yet?": once it has, the cache is the truth again.
///
/// Memory of this process only. After a restart the cluster alone says what was done: the
/// hash annotation on each child, the restart token on the InferenceService, the status.
public final class WriteLedger: Sendable {
    /// A child this process applied.
    struct ChildWrite: Sendable {
        /// The applied-hash annotation it stamped.
        var stamp: String
        /// A digest of the whole object sent (the hash leaves the InferenceService's replicas out).
        var body: String
        /// The child's resourceVersion before the write: a cache still showing it lags.
        var before: String?
        /// The resourceVersion the write returned, and its generation (0 for kinds without).
        var after: String?
        var generation = 0
        /// The versions earlier writes of this child returned while the cache showed none of
        /// them: a cache at one of those still lags, whatever stamp it shows (the same content
        /// may have been written twice, another in between).
        var earlier: Set<String> = []
        /// The deployment it belongs to, and that deployment's UID.
        var owner: ObjectKey?
        var ownerUID: String?
        /// The restart token an InferenceService was written with.
        var token: RestartToken?
    }

    /// A status this process wrote.
    struct StatusWrite: Sendable {
        var uid: String
        /// The resourceVersion the write returned: a cache at it has seen the write.
        var after: String
        var status: JSON
    }

    /// The sightings of a key Secret's versions, for the settle rule.
    public struct KeySighting: Sendable, Equatable {
        public var version: String
        /// When the first change not yet acted on was seen; nil when there is none.
        public var firstPending: Date?
        /// When the Secret last changed.
        public var last: Date
        /// When a change of it was last acted on.
        public var acted: Date?

        public init(version: String, firstPending: Date?, last: Date, acted: Date? = nil) {
            self.version = version
            self.firstPending = firstPending
            self.last = last
            self.acted = acted
        }
    }

    private struct State {
        var children: [String: ChildWrite] = [:]
        var statuses: [ObjectKey: StatusWrite] = [:]
        var keySightings: [ObjectKey: KeySighting] = [:]
        /// The Ready status each deployment was last reported with, for `nim_deployments`.
        var ready: [ObjectKey: String] = [:]
        /// Its tally, kept as it changes: counting every deployment on each reconcile made a
        /// cluster's convergence quadratic.
        var readyCounts = ["True": 0, "False": 0, "Unknown": 0]
        /// spec.idleShutdown: the requests a deployment's model had finished when last read.
        var activity: [ObjectKey: Activity] = [:]
    }

    /// When a model's finished-request count was last read, and when it last moved. Kept in
    /// memory only: a new operator starts the idle clock afresh, so it never shuts down early.
    public struct Activity: Sendable, Equatable {
        public var requests: Double
        public var checked: Date
        public var lastChange: Date

        public init(requests: Double, checked: Date, lastChange: Date) {
            self.requests = requests
            self.checked = checked
            self.lastChange = lastChange
        }
    }

    public func activity(_ deployment: ObjectKey) -> Activity? { state.withLock { $0.activity[deployment] } }

    /// A read of the model's counters: a count that moved (or went back, a restarted pod) is activity.
    func sawRequests(_ deployment: ObjectKey, finished: Double, at now: Date) {
        state.withLock { state in
            let previous = state.activity[deployment]
            let moved = previous.map { $0.requests != finished } ?? true
            state.activity[deployment] = Activity(requests: finished, checked: now, lastChange: moved ? now : previous?.lastChange ?? now)
        }
    }

    /// Woken (or the spec changed): the idle clock starts again.
    func restartIdleClock(_ deployment: ObjectKey, at now: Date) {
        state.withLock { state in
            if var activity = state.activity[deployment] {
                activity.lastChange = now
                state.activity[deployment] = activity
            }
        }
    }

    private let state = Mutex(State())

    public init() {}

    static func identity(_ resource: ResourceType, namespace: String?, name: String) -> String {
        "\(resource.groupResource)/\(namespace ?? "")/\(name)"
    }

    // MARK: - Children

    func childWrite(_ identity: String) -> ChildWrite? { state.withLock { $0.children[identity] } }

    /// The last write of a child while the cache (`live`) has not shown it; once it has, the
    /// cache alone is the truth and the entry goes, so that a converged operator does not keep
    /// an entry for every child it ever wrote. Shown means the version the write returned, or a
    /// later one: KServe's status writes move an InferenceService on before a reconcile looks.
    /// A later one is told by the stamp written on a version that is neither the one the write
    /// was decided on nor one an earlier write returned, and, for kinds with a generation, at
    /// the write's generation or past it (a status write in between carries the old one).
    func childWrite(_ identity: String, live: KubeObject?) -> ChildWrite? {
        state.withLock { state in
            guard let written = state.children[identity] else { return nil }
            if let live, live.resourceVersion == written.after || Self.isLater(live, than: written) {
                state.children.removeShrinking(identity)
                return nil
            }
            return written
        }
    }

    private static func isLater(_ live: KubeObject, than written: ChildWrite) -> Bool {
        live.resourceVersion != written.before && !written.earlier.contains(live.resourceVersion)
            && live.annotations[ChildApplier.hashAnnotation] == written.stamp && live.generation >= written.generation
    }

    /// Records a write; one over a write the cache has not shown yet remembers that version too.
    func recordChild(_ identity: String, _ write: ChildWrite) {
        state.withLock { state in
            var write = write
            if let previous = state.children[identity] {
                write.earlier = previous.earlier
                if let after = previous.after { write.earlier.insert(after) }
            }
            state.children[identity] = write
        }
    }

    /// The hash this process last applied to a child, if it applied one.
    public func lastAppliedHash(_ resource: ResourceType, namespace: String, name: String) -> String? {
        childWrite(Self.identity(resource, namespace: namespace, name: name))?.stamp
    }

    /// The restart token the InferenceService holds: the one this process wrote last, while the
    /// cache (`cached`) has not seen that write; the cache's otherwise.
    func restartToken(_ cached: KubeObject?, namespace: String, name: String, ownerUID: String) -> RestartToken? {
        let written = childWrite(Self.identity(KServe.inferenceServices, namespace: namespace, name: name))
        if let written, written.ownerUID == ownerUID, let token = written.token, cached?.annotations[ChildApplier.hashAnnotation] != written.stamp {
            return token
        }
        return RestartToken(service: cached)
    }

    /// Forgets a child that is gone, so it is made again rather than taken for the cache's lag.
    public func forget(_ resource: ResourceType, namespace: String, name: String) {
        let identity = Self.identity(resource, namespace: namespace, name: name)
        state.withLock { $0.children.removeShrinking(identity) }
    }

    // MARK: - Status

    /// The deployment's status as it is: what this process wrote last, while the cached object
    /// does not show it yet; the cache's once it does (and the entry goes).
    func status(of object: KubeObject) -> JSON? {
        let cached = object["status"]
        return state.withLock { state -> JSON? in
            guard let written = state.statuses[object.key], written.uid == object.uid else { return cached }
            if object.resourceVersion == written.after || cached.map({ $0.semanticallyEquals(written.status) }) == true {
                state.statuses.removeShrinking(object.key)
                return cached
            }
            return written.status
        }
    }

    func recordStatus(_ key: ObjectKey, uid: String, after: String, status: JSON) {
        state.withLock { $0.statuses[key] = StatusWrite(uid: uid, after: after, status: status) }
    }

    // MARK: - Key Secrets

    /// `secret` is at `version` at `time`: a version not seen before is a change.
    public func sawKeySecret(_ secret: ObjectKey, version: String, at time: Date) {
        state.withLock { state in
            guard var sighting = state.keySightings[secret] else {
                state.keySightings[secret] = KeySighting(version: version, firstPending: time, last: time)
                return
            }
            guard sighting.version != version else { return }
            sighting.version = version
            sighting.last = time
            if sighting.firstPending == nil { sighting.firstPending = time }
            state.keySightings[secret] = sighting
        }
    }

    public func keySighting(_ secret: ObjectKey) -> KeySighting? { state.withLock { $0.keySightings[secret] } }

    /// The pending change of `secret` was acted on at `time`.
    public func actedOnKeyChange(_ secret: ObjectKey, at time: Date) {
        state.withLock { state in
            guard state.keySightings[secret]?.firstPending != nil else { return }
            state.keySightings[secret]?.firstPending = nil
            state.keySightings[secret]?.acted = time
        }
    }

    public func forgetKeySecret(_ secret: ObjectKey) { state.withLock { $0.keySightings[secret] = nil } }

    // MARK: - Readiness

    /// Records the Ready status reported for a deployment (nil: it is gone); returns the count
    /// of deployments by Ready status.
    func report(ready: String?, for key: ObjectKey) -> [String: Int] {
        state.withLock { state in
            let before: String?
            if let ready { before = state.ready.updateValue(ready, forKey: key) } else { before = state.ready.removeValue(forKey: key) }
            guard before != ready else { return state.readyCounts }
            if let before { state.readyCounts[before, default: 0] -= 1 }
            if let ready { state.readyCounts[ready, default: 0] += 1 }
            return state.readyCounts
        }
    }

    // MARK: - A deployment that is gone

    /// Forgets a deployment and what was applied for its children: those it owns, not every
    /// child whose name merely ends like one of its children's.
    public func forget(deployment: ObjectKey) {
        state.withLock { state in
            state.statuses[deployment] = nil
            state.activity[deployment] = nil
            state.children = state.children.filter { $0.value.owner != deployment }
        }
    }

    /// How many entries it holds (memory tests and the benchmark).
    public var count: Int { state.withLock { $0.children.count + $0.statuses.count + $0.keySightings.count } }

    /// The entries its dictionaries have room for (the memory test).
    var capacity: Int { state.withLock { $0.children.capacity + $0.statuses.capacity } }

    /// Its entries by kind, for `nim_write_ledger_entries`: what a converged operator still remembers.
    public var sizes: [String: Int] {
        state.withLock { state in
            ["child": state.children.count, "status": state.statuses.count, "keySecret": state.keySightings.count, "ready": state.ready.count, "activity": state.activity.count]
        }
    }
}

extension Dictionary {
    /// Removes the entry, and gives back the storage once a quarter of it is used: the ledger
    /// fills with a whole cluster's writes while it converges and empties as the caches catch
    /// up, and a dictionary keeps the capacity it grew to (megabytes at thousands of deployments).
    mutating func removeShrinking(_ key: Key) {
        guard removeValue(forKey: key) != nil, capacity > 64, count * 4 < capacity else { return }
        var compact = Dictionary(minimumCapacity: count * 2)
        for (key, value) in self { compact[key] = value }
        self = compact
    }
}
