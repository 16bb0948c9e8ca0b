import Foundation
import Synchronization

/// Swift Testing starts every test at once. Each NimEnvironment is a control plane, an operator,
/// two stand-ins and their watches; on a 2-core CI machine sixty of them starve each other past
/// any reasonable deadline. A slot bounds how many exist together, so every test runs about as it
/// would alone and its deadlines mean what they say; the others wait their turn before starting.
public final class Slots: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(_ width: Int) { state = Mutex(State(free: width)) }

    /// Environments alive at once: enough to overlap their waiting, few enough not to starve.
    public static let environments = Slots(max(4, ProcessInfo.processInfo.activeProcessorCount * 2))
    /// Short commands running at once (kubectl, the Helm engine, the operator binary for a usage
    /// error): each a process of its own; twenty started in the suite's first second starved
    /// everything else on two cores past ten-second deadlines.
    public static let commands = Slots(max(2, ProcessInfo.processInfo.activeProcessorCount))

    /// Waits for a slot; it is given back when the returned value goes.
    public func acquire() async -> EnvironmentSlot {
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
        return EnvironmentSlot(self)
    }

    fileprivate func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}

/// A slot held; given back when it goes.
public final class EnvironmentSlot: Sendable {
    private let slots: Slots

    fileprivate init(_ slots: Slots) { self.slots = slots }

    /// An environment's slot.
    public static func acquire() async -> EnvironmentSlot { await Slots.environments.acquire() }

    deinit { slots.release() }
}
