import Foundation
import Synchronization
import KubeWatch

/// Collapses a burst of changes into one: a change may be acted on once `quiet` has passed
/// without another, and at the latest `longest` after the first of the burst (a writer that
/// never stops must not hold a rotation back forever). Several quick writes to a key Secret
/// (a sync tool, a script that corrects itself) then roll the pods once, with the last key.
///
/// Memory of this process only: after a restart every change counts as settled, and the
/// state on the cluster says what remains to be done.
final class SettleWindow: Sendable {
    let quiet: TimeInterval
    let longest: TimeInterval
    private let changes = Mutex<[ObjectKey: (first: Date, last: Date)]>([:])

    init(quiet: TimeInterval, longest: TimeInterval? = nil) {
        self.quiet = max(0, quiet)
        self.longest = longest ?? self.quiet * 10
    }

    /// A change of `key` was seen at `time`.
    func note(_ key: ObjectKey, at time: Date) {
        guard quiet > 0 else { return }
        changes.withLock { changes in
            if let burst = changes[key], time.timeIntervalSince(burst.last) < quiet {
                changes[key] = (burst.first, time)
            } else {
                changes[key] = (time, time)
            }
        }
    }

    /// How long to wait before acting on `key`'s latest change; `nil` when it may be acted on.
    func remaining(_ key: ObjectKey, now: Date) -> TimeInterval? {
        guard let burst = changes.withLock({ $0[key] }) else { return nil }
        let due = min(burst.last.addingTimeInterval(quiet), burst.first.addingTimeInterval(longest))
        let wait = due.timeIntervalSince(now)
        return wait > 0 ? wait : nil
    }

    /// When `key` last changed, if this process saw it.
    func lastChange(_ key: ObjectKey) -> Date? { changes.withLock { $0[key]?.last } }

    func forget(_ key: ObjectKey) { changes.withLock { _ = $0.removeValue(forKey: key) } }
}
