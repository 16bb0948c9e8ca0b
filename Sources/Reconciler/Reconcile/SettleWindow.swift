import Foundation
import Synchronization
import KubeWatch

/// Collapses a burst of changes to a key Secret into at most two rollouts: the first change after
/// a quiet spell is acted on at once (a single rotation waits for nothing), and changes that
/// follow within `quiet` of it are held until the Secret has been quiet that long, then the last
/// is acted on. Five writes 150 ms apart (a script, a secret store retrying) roll the pods twice,
/// onto the first key and the last, however long the burst.
///
/// A change is a resourceVersion not seen before, whoever sees it first: the Secret watch, or
/// a reconcile that reads the Secret before the watch has delivered it. Memory of this process
/// only: after a restart the first sight of a Secret is a first change, and the state on the
/// cluster says what remains to be done.
final class SettleWindow: Sendable {
    struct Burst {
        var version: String
        /// When the first change not yet acted on was seen; `nil` when there is none.
        var firstPending: Date?
        var last: Date
        /// When a change of this Secret was last acted on.
        var acted: Date?
    }

    let quiet: TimeInterval
    private let bursts = Mutex<[ObjectKey: Burst]>([:])

    init(quiet: TimeInterval) { self.quiet = max(0, quiet) }

    /// `key` is at `version` at `time`: a version not seen before is a change.
    func observe(_ key: ObjectKey, version: String, at time: Date) {
        bursts.withLock { bursts in
            guard var burst = bursts[key] else {
                bursts[key] = Burst(version: version, firstPending: time, last: time)
                return
            }
            guard burst.version != version else { return }
            burst.version = version
            burst.last = time
            if burst.firstPending == nil { burst.firstPending = time }
            bursts[key] = burst
        }
    }

    /// How long to wait before acting on `key`'s latest change; `nil` when it may be acted on
    /// now, which is recorded as the change acted on.
    func remaining(_ key: ObjectKey, now: Date) -> TimeInterval? {
        bursts.withLock { bursts -> TimeInterval? in
            guard var burst = bursts[key], let first = burst.firstPending else { return nil }
            // Held: this change came within the quiet window of the last one acted on.
            if quiet > 0, let acted = burst.acted, first.timeIntervalSince(acted) < quiet {
                let wait = burst.last.addingTimeInterval(quiet).timeIntervalSince(now)
                if wait > 0 { return wait }
            }
            burst.firstPending = nil
            burst.acted = now
            bursts[key] = burst
            return nil
        }
    }

    /// When `key` last changed, if this process saw it.
    func lastChange(_ key: ObjectKey) -> Date? { bursts.withLock { $0[key]?.last } }

    func forget(_ key: ObjectKey) { bursts.withLock { _ = $0.removeValue(forKey: key) } }
}
