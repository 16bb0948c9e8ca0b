import Foundation
import KubeCore

/// What a reconcile does about the key the pods run with, decided from the cluster alone: the
/// fingerprint in status (the key the Secrets were last known to hold), the key in the user's
/// Secret now, and the restart token on the InferenceService (the key the pods were started
/// with). A rotation interrupted at any step leaves these disagreeing, and the next reconcile,
/// in this process or a new one, finishes it.
struct RotationPlan: Equatable {
    /// The key the Secrets held after the last complete reconcile; `nil` before the first.
    var previous: String?
    /// The key now: its fingerprint, or `disconnected`.
    var current: String
    /// The token on the InferenceService, if it exists.
    var live: RestartToken?
    /// The token to write.
    var token: RestartToken

    init(previous: String?, current: String, live: RestartToken?, rotateRequest: String?, restartPods: Bool) {
        self.previous = previous
        self.current = current
        self.live = live
        token = RestartToken.desired(fingerprint: current, rotateRequest: rotateRequest, live: live, restartPods: restartPods)
    }

    /// The user's Secret holds another key than the per-deployment Secrets.
    var keyChanged: Bool { previous != nil && previous != current && current != RestartToken.disconnected }
    /// KServe replaces the pods: the token of an existing InferenceService changes.
    var restartsPods: Bool { live.map { $0 != token } ?? false }
    /// A new `nim.opendatahub.io/rotate` value is acted on.
    var requested: Bool { live.map { $0.request != token.request } ?? false }
    /// The pods run (or are about to run) the current key.
    var podsRunCurrentKey: Bool { token.fingerprint == current }

    /// What happened, for the Event, the log and the metric, once everything is applied.
    func outcome(restartPods: Bool) -> RotationOutcome? {
        if keyChanged, let previous {
            let pods: RotationOutcome.Pods = restartsPods ? .restarting : podsRunCurrentKey ? .alreadyRunningIt : .keepPrevious
            return .rotated(from: previous, to: current, pods: pods, restartPods: restartPods)
        }
        if restartsPods { return .podsRestarted(fingerprint: current, requested: requested) }
        return nil
    }
}

enum RotationOutcome: Equatable {
    enum Pods: Equatable {
        /// The token changes now: KServe replaces the pods once.
        case restarting
        /// The pods already run this key (restarted by an earlier run, or never left it).
        case alreadyRunningIt
        /// restartPods is false: they keep the previous key until they next start.
        case keepPrevious
    }

    /// A new key is in both Secrets.
    case rotated(from: String, to: String, pods: Pods, restartPods: Bool)
    /// The key is the same; the pods restart (a manual request, or restartPods turned back on).
    case podsRestarted(fingerprint: String, requested: Bool)

    var metricResult: String {
        switch self {
        case .rotated(_, _, _, let restartPods): return restartPods ? "rotated" : "secrets_only"
        case .podsRestarted: return "restarted"
        }
    }
}

/// `nim_key_rotations_total{result}` and `nim_key_rotation_duration_seconds`.
struct RotationMetrics: Sendable {
    /// rotated: new key, pods restarted; secrets_only: new key, restartPods false; restarted:
    /// same key, pods restarted on request; rejected: a new key was refused and the working
    /// one kept; deferred: NGC could not be asked, retrying.
    static let results = ["rotated", "secrets_only", "restarted", "rejected", "deferred"]

    let total: Counter
    let duration: Histogram

    init?(_ registry: MetricsRegistry?) {
        guard let registry else { return nil }
        total = registry.counter("nim_key_rotations_total", help: "Key rotations and pod restarts by result.", labels: ["result"])
        duration = registry.histogram(
            "nim_key_rotation_duration_seconds", help: "From a key change seen (or a restart asked for) to the Secrets and restart token written.",
            buckets: [0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30])
        for result in Self.results { total.touch([result]) }
    }
}
