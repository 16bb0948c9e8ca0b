import Foundation

/// What the key a deployment names is worth: read (a personal key, or why not) and judged by
/// NGC (good for the image, or why not). A key NGC accepted before is trusted while NGC cannot
/// be asked, unless pods are about to start with it.
enum KeyRules {
    static let notRequired = Condition(
        type: ConditionType.keyValid, status: .true, reason: "KeyNotRequired",
        message: "Disconnected: no key is collected; the cluster's global pull secret and mirror settings serve.")

    /// The key read, if it may be used: a personal key (nvapi-).
    static func accept(_ reading: Observation.KeyReading, secret: String) throws(DeploymentProblem) -> APIKey {
        switch reading {
        case .failed(let problem): throw problem
        case .read(let key, _):
            guard key.isPersonal else { throw .legacyKeyUnsupported(secret: secret, fingerprint: key.fingerprint) }
            return key
        }
    }

    /// The KeyValid condition NGC's verdict gives, or the problem it is. `trusted`: NGC accepted
    /// this key before and no pod is about to start with it.
    static func judge(_ verdict: KeyVerdict, key: APIKey, secret: String, image: ResolvedImage, trusted: Bool) throws(DeploymentProblem) -> Condition {
        switch verdict {
        case .valid:
            return condition(.true, "KeyValid", "NGC accepts the key (\(key.fingerprint)).")
        case .invalid(let code):
            throw .invalidKey(secret: secret, code: code, fingerprint: key.fingerprint)
        case .notEntitled:
            throw .keyNotEntitled(repository: image.image.repository)
        case .regionRestricted:
            throw .regionRestricted(model: image.model)
        case .unreachable(let why):
            // An outage must not stop spec changes to a working deployment.
            guard trusted else { throw .ngcUnreachable(why) }
            return condition(.true, "KeyValid", "NGC cannot be asked now; it accepted the key (\(key.fingerprint)) before.")
        }
    }

    static func notValidated(_ key: APIKey) -> Condition {
        condition(.true, "ValidationDisabled", "The key (\(key.fingerprint)) is not checked with NGC: key validation is disabled.")
    }

    static func condition(_ status: Condition.Status, _ reason: String, _ message: String) -> Condition {
        Condition(type: ConditionType.keyValid, status: status, reason: reason, message: message)
    }

    /// NGC's org/team/name for images on nvcr.io; other registries are not NGC's to judge.
    static func ngcRepository(_ image: ImageReference) -> (org: String, team: String, name: String)? {
        guard image.registry == "nvcr.io" else { return nil }
        let parts = image.path.split(separator: "/").map(String.init)
        guard parts.count == 3 else { return nil }
        return (parts[0], parts[1], parts[2])
    }
}

/// Collapses a burst of changes to a key Secret into at most two rollouts: the first change after
/// a quiet spell is acted on at once (a single rotation waits for nothing), and changes that
/// follow within `quiet` of it are held until the Secret has been quiet that long, then the last
/// is acted on. Five writes 150 ms apart (a script, a secret store retrying) roll the pods twice,
/// onto the first key and the last, however long the burst.
///
/// A change is a resourceVersion not seen before, whoever sees it first: the Secret watch, or a
/// reconcile that reads the Secret before the watch has delivered it (the ledger records both).
/// After a restart the first sight of a Secret is a first change, and the cluster says what
/// remains to be done.
enum SettleRule {
    /// How long to wait before acting on the Secret's latest change; nil when it may be acted on now.
    static func wait(_ sighting: WriteLedger.KeySighting?, now: Date, quiet: TimeInterval) -> TimeInterval? {
        guard let sighting, let first = sighting.firstPending else { return nil }
        // Held: this change came within the quiet window of the last one acted on.
        guard quiet > 0, let acted = sighting.acted, first.timeIntervalSince(acted) < quiet else { return nil }
        let wait = sighting.last.addingTimeInterval(quiet).timeIntervalSince(now)
        return wait > 0 ? wait : nil
    }

    static func pendingMessage(current: String, secret: String, quiet: TimeInterval) -> String {
        "A new key (\(current)) is in Secret \(secret), moments after the last change was rolled out: it is validated and rolled out once the Secret has not changed for \(format(quiet)) (a burst of writes rolls the pods twice at most, onto its first key and its last)."
    }

    static func format(_ interval: TimeInterval) -> String {
        interval < 1 ? "\(Int((interval * 1000).rounded())) ms" : String(format: "%.1f s", interval)
    }
}
