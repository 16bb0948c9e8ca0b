import Foundation
import KubeCore
import KubeAPI
import KubeRuntime

/// Runs what an operator process runs, the way controller-runtime's manager does: informer
/// caches start at once on every replica (a follower that takes over has a warm cache);
/// each controller starts once the caches it reads have synced and, with leader election, only
/// on the leader. Readiness follows all the caches. Cancelling the run stops taking work, lets reconciles
/// in flight finish and releases the Lease.
public final class Manager: Sendable {
    /// What one operator assembles to run.
    public struct Parts: Sendable {
        var informers: [Informer] = []
        /// Among `informers`, those listed only once the others have synced (caches no
        /// controller waits for), so that their relist does not slow the ones that gate reconciles.
        var late: [Informer] = []
        var controllers: [Controller] = []
        /// Long-running helpers (the event recorder).
        var background: [@Sendable () async -> Void] = []
    }

    public enum Outcome: Sendable, Equatable {
        case stopped
        case leadershipLost
    }

    public let client: KubeClient
    public let options: OperatorOptions
    public let operatorNamespace: String
    public let probes: ProbeServer?
    public let log = Logger(name: "manager")

    public init(client: KubeClient, options: OperatorOptions, operatorNamespace: String, probes: ProbeServer?) {
        self.client = client
        self.options = options
        self.operatorNamespace = operatorNamespace
        self.probes = probes
    }

    public func run(_ parts: Parts) async -> Outcome {
        await withTaskGroup(of: Outcome?.self) { group -> Outcome in
            for task in parts.background { group.addTask { await task(); return nil } }
            group.addTask { await HeapTrimmer.run(every: 10); return nil }
            group.addTask { await CodePager.run(every: 5); return nil }
            group.addTask { await InformerGroup.run(parts.informers, late: parts.late); return nil }
            group.addTask {
                for informer in parts.informers { await informer.waitForSync() }
                if Task.isCancelled { return nil }
                self.probes?.setReady(true)
                self.log.info("caches synced", ["informers": .int(parts.informers.count)])
                return nil
            }
            group.addTask { await self.lead(parts) }
            var outcome = Outcome.stopped
            // The leading task ends on cancellation or when the lease is lost; either way the
            // whole process winds down.
            while let finished = await group.next() {
                if let finished {
                    outcome = finished
                    group.cancelAll()
                }
            }
            return outcome
        }
    }

    private func lead(_ parts: Parts) async -> Outcome {
        let work: @Sendable () async -> Void = {
            // Each controller waits for its own caches (and logs when its workers start).
            await withTaskGroup(of: Void.self) { group in
                for controller in parts.controllers { group.addTask { await controller.run() } }
                // Without controllers, hold the line until told to stop (a stream that never
                // yields ends when the task is cancelled).
                if parts.controllers.isEmpty {
                    group.addTask {
                        let (forever, continuation) = AsyncStream<Void>.makeStream()
                        for await _ in forever {}
                        continuation.finish()
                    }
                }
            }
        }
        guard options.leaderElect else {
            await work()
            return .stopped
        }
        let identity = "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.lowercased())"
        let elector = LeaderElector(
            client: client, configuration: LeaderElector.Configuration(namespace: operatorNamespace, name: "nim-deploy-operator", identity: identity),
            metrics: probes?.metrics)
        log.info("waiting for the lease", ["lease": .string("\(operatorNamespace)/nim-deploy-operator"), "identity": .string(identity)])
        switch await elector.run(work) {
        case .lost:
            log.error("leadership lost: stopping so that only one replica ever writes")
            return .leadershipLost
        case .stopped:
            return .stopped
        }
    }
}
