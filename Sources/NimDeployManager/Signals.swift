import Foundation
import KubeCore

/// Turns SIGTERM and SIGINT into the cancellation of a task: the structured way to stop.
/// A second signal, or a shutdown that overruns its grace period, ends the process at once.
public final class SignalHandler: @unchecked Sendable {
    /// controller-runtime's graceful shutdown timeout.
    public static let gracePeriod: TimeInterval = 30

    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "signals")
    private var received = 0

    public init(cancelling task: Task<Int32, Never>, onSignal: @escaping @Sendable (Int32) -> Void = { _ in }) {
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.received += 1
                if self.received > 1 { exit(130) }
                onSignal(signalNumber)
                task.cancel()
                self.queue.asyncAfter(deadline: .now() + Self.gracePeriod) {
                    StandardStreams.write("shutdown took longer than \(Int(Self.gracePeriod)) s; exiting\n", to: .error)
                    exit(1)
                }
            }
            source.resume()
            sources.append(source)
        }
    }
}
