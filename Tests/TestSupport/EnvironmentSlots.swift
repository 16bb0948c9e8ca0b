import Foundation
import Synchronization

/// Swift Testing starts every test at once. Each NimEnvironment is a control plane, an operator,
/// two stand-ins and their watches; on a 2-core CI machine sixty of them starve each other past
/// any reasonable deadline. A slot bounds how many exist together, so every test runs about as it
/// would alone and its deadlines mean what they say; the others wait their turn before starting.
public final class EnvironmentSlot: Sendable {
    /// Environments alive at once: enough to overlap their waiting, few enough not to starve.
    public static let width = max(4, ProcessInfo.processInfo.activeProcessorCount * 2)

    private struct State {
        var free = EnvironmentSlot.width
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private static let state = Mutex(State())

    private init() {}

    /// Waits for a slot; it is given back when the returned value goes.
    public static func acquire() async -> EnvironmentSlot {
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state -> Bool in
                guard state.free > 0 else {
                    state.waiting.append(continuation)
                    return false
                }
                state.free -= 1
                return true
            }
            if granted { continuation.resume() }
        }
        return EnvironmentSlot()
    }

    deinit {
        let next = Self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
