import Foundation
import Synchronization
import KubeWatch

/// Collapses a burst of changes into one: a change may be acted on once `quiet` has passed
/// without another, and at the latest `longest` after the first of the burst (a writer that
/// never stops must not hold a rotation back forever). Several quick writes to a key Secret
/// (a sync tool, a script that corrects itself) then roll the pods once, with the last key.
///
/// A change is a resourceVersion not seen before, whoever sees it first: the Secret watch, or
/// a reconcile that reads the Secret before the watch has delivered it. Memory of this process
/// only: after a restart the first sight of a Secret opens a window, and the state on the
/// cluster says what remains to be done.
final class SettleWindow: Sendable {
    struct Burst {
        var version: String
        /// The burst being waited out; `nil` once acted on.
        var first: Date?
        var last: Date
    }

    let quiet: TimeInterval
    let longest: TimeInterval
    private let bursts = Mutex<[ObjectKey: Burst]>([:])

    init(quiet: TimeInterval, longest: TimeInterval? = nil) {
        self.quiet = max(0, quiet)
        self.longest = longest ?? self.quiet * 10
    }

    /// `key` is at `version` at `time`: a version not seen before extends (or opens) a burst.
    func observe(_ key: ObjectKey, version: String, at time: Date) {
        guard quiet > 0 else { return }
        bursts.withLock { bursts in
            guard let burst = bursts[key] else {
                bursts[key] = Burst(version: version, first: time, last: time)
                return
            }
            guard burst.version != version else { return }
            let continuing = burst.first != nil && time.timeIntervalSince(burst.last) < quiet
            bursts[key] = Burst(version: version, first: continuing ? burst.first : time, last: time)
        }
    }

    /// How long to wait before acting on `key`'s latest change; `nil` when it may be acted on
    /// now, which closes the burst (the next change opens a new one).
    func remaining(_ key: ObjectKey, now: Date) -> TimeInterval? {
        bursts.withLock { bursts -> TimeInterval? in
            guard var burst = bursts[key], let first = burst.first else { return nil }
            let wait = min(burst.last.addingTimeInterval(quiet), first.addingTimeInterval(longest)).timeIntervalSince(now)
            if wait > 0 { return wait }
            burst.first = nil
            bursts[key] = burst
            return nil
        }
    }

    /// When `key` last changed, if this process saw it.
    func lastChange(_ key: ObjectKey) -> Date? { bursts.withLock { $0[key]?.last } }

    func forget(_ key: ObjectKey) { bursts.withLock { _ = $0.removeValue(forKey: key) } }
}
