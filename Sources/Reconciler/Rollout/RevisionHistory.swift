import Foundation
import KubeCore

/// A revision: what the pods run, as the spec shapes them (model, image, resources, pod
/// settings) and the key they start with. Every change that rolls the pods makes one; the status
/// records the last few (newest first), the one known to be good, and the one that failed.
public struct RevisionRecord: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        case progressing = "Progressing"
        /// Ready, and the model answered (or verification is off or could not reach it).
        case verified = "Verified"
        /// Failed, and stays: there was nothing to go back to (or rollback is off).
        case failed = "Failed"
        case rolledBack = "RolledBack"
        /// Replaced by a newer spec before it was done.
        case superseded = "Superseded"
    }

    public var number: Int
    /// A digest of the spec fields that shape the pods, and the image they resolved to.
    public var revision: String
    /// The restart token the pods run with (the key's fingerprint, a rotation request).
    public var podToken: String
    public var image: String
    public var change: String
    public var startedAt: String
    public var outcome: Outcome
    public var reason: String?
    public var message: String?
    public var verifiedAt: String?
    /// Progressive rollouts: the canary step (an index of spec.rollout.steps; their count:
    /// promoting), and when it began.
    public var step: Int?
    public var stepStartedAt: String?
    /// How the canary's traffic is split (a `TrafficSplit` kind): one that changes restarts it in place.
    public var split: String?
    /// When the deployment was suspended while this revision was under way.
    public var suspendedAt: String?

    public init(number: Int, revision: String, podToken: String, image: String, change: String, startedAt: String, outcome: Outcome = .progressing) {
        self.number = number
        self.revision = revision
        self.podToken = podToken
        self.image = image
        self.change = change
        self.startedAt = startedAt
        self.outcome = outcome
    }

    init?(json: JSON) {
        guard let number = json["number"]?.intValue, let revision = json["revision"]?.stringValue,
            let outcome = json["outcome"]?.stringValue.flatMap(Outcome.init(rawValue:))
        else { return nil }
        self.init(
            number: number, revision: revision, podToken: json["podToken"]?.stringValue ?? "", image: json["image"]?.stringValue ?? "",
            change: json["change"]?.stringValue ?? "", startedAt: json["startedAt"]?.stringValue ?? "", outcome: outcome)
        reason = json["reason"]?.stringValue
        message = json["message"]?.stringValue
        verifiedAt = json["verifiedAt"]?.stringValue
        step = json["step"]?.intValue
        stepStartedAt = json["stepStartedAt"]?.stringValue
        split = json["split"]?.stringValue
        suspendedAt = json["suspendedAt"]?.stringValue
    }

    var json: JSON {
        var object: [String: JSON] = [
            "number": .int(number), "revision": .string(revision), "podToken": .string(podToken), "image": .string(image), "change": .string(change),
            "startedAt": .string(startedAt), "outcome": .string(outcome.rawValue),
        ]
        object["reason"] = reason.map(JSON.string)
        object["message"] = message.map { .string(Redactor.current.scrub($0)) }
        object["verifiedAt"] = verifiedAt.map(JSON.string)
        object["step"] = step.map(JSON.int)
        object["stepStartedAt"] = stepStartedAt.map(JSON.string)
        object["split"] = split.map(JSON.string)
        object["suspendedAt"] = suspendedAt.map(JSON.string)
        return .object(object)
    }
}

/// The revision rolled back to: its spec fields (as the user wrote them) and the image.
public struct KnownGoodRevision: Sendable, Equatable {
    public var number: Int
    public var revision: String
    public var image: String
    public var spec: JSON

    init?(json: JSON?) {
        guard let json, let number = json["number"]?.intValue, let revision = json["revision"]?.stringValue, let spec = json["spec"], spec.objectValue != nil else { return nil }
        self.init(number: number, revision: revision, image: json["image"]?.stringValue ?? "", spec: spec)
    }

    init(number: Int, revision: String, image: String, spec: JSON) {
        self.number = number
        self.revision = revision
        self.image = image
        self.spec = spec
    }

    var json: JSON { ["number": .int(number), "revision": .string(revision), "image": .string(image), "spec": spec] }
}

/// The revision that failed and is not tried again until the spec changes or a person asks.
public struct FailedRevision: Sendable, Equatable {
    public var number: Int
    public var revision: String
    public var reason: String
    public var message: String

    init?(json: JSON?) {
        guard let json, let number = json["number"]?.intValue, let revision = json["revision"]?.stringValue else { return nil }
        self.init(number: number, revision: revision, reason: json["reason"]?.stringValue ?? "", message: json["message"]?.stringValue ?? "")
    }

    init(number: Int, revision: String, reason: String, message: String) {
        self.number = number
        self.revision = revision
        self.reason = reason
        self.message = message
    }

    var json: JSON { ["number": .int(number), "revision": .string(revision), "reason": .string(reason), "message": .string(Redactor.current.scrub(message))] }
}

/// The revisions as the status holds them.
public struct RevisionHistory: Sendable, Equatable {
    /// Newest first.
    public var records: [RevisionRecord]
    public var knownGood: KnownGoodRevision?
    public var failed: FailedRevision?
    /// A digest of the retry annotation's value last acted on.
    public var retryAcknowledged: String?

    /// Enough to see what happened over a day of changes; a status stays small.
    public static let limit = 5

    public init(status: JSON?) {
        records = (status?["revisions"]?.arrayValue ?? []).compactMap(RevisionRecord.init(json:))
        knownGood = KnownGoodRevision(json: status?["knownGoodRevision"])
        failed = FailedRevision(json: status?["failedRevision"])
        retryAcknowledged = status?["retryAcknowledged"]?.stringValue
    }

    public var latest: RevisionRecord? { records.first }

    /// The spec fields a revision is made of: everything that shapes the pods. Storage (a claim
    /// cannot shrink back), replicas, suspend and the operator's own settings are not rolled back.
    static let excludedFields: Set<String> = ["apiKeySecretRef", "storage", "replicas", "suspend", "keyRotation", "rollout", "verification", "networkPolicy", "idleShutdown"]

    static func revisionSpec(_ spec: JSON?) -> JSON {
        .object((spec?.objectValue ?? [:]).filter { !excludedFields.contains($0.key) && !$0.value.isNull })
    }

    /// 12 hex digits of the revision spec and the image it resolved to.
    static func digest(spec: JSON, image: String) -> String {
        String(SHA256.hex(JSON.object(["spec": spec, "image": .string(image)]).serializedBytes()).prefix(12))
    }

    /// The deployment's spec with a revision's fields laid back (the rest as the spec has it now).
    static func spec(_ current: JSON?, restoring revision: JSON) -> JSON {
        var object = (current?.objectValue ?? [:]).filter { excludedFields.contains($0.key) }
        for (key, value) in revision.objectValue ?? [:] { object[key] = value }
        return .object(object)
    }

    func write(into fields: inout [String: JSON]) {
        fields["revisions"] = records.isEmpty ? nil : .array(records.prefix(Self.limit).map(\.json))
        fields["knownGoodRevision"] = knownGood?.json
        fields["failedRevision"] = failed?.json
        fields["retryAcknowledged"] = retryAcknowledged.map(JSON.string)
    }
}
