import KubeCore

/// A `metav1.Condition`.
public struct Condition: Sendable, Equatable {
    public enum Status: String, Sendable { case `true` = "True", `false` = "False", unknown = "Unknown" }

    public var type: String
    public var status: Status
    public var reason: String
    public var message: String
    public var lastTransitionTime: String
    public var observedGeneration: Int

    public init(type: String, status: Status, reason: String, message: String, lastTransitionTime: String = "", observedGeneration: Int = 0) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
        self.observedGeneration = observedGeneration
    }

    init?(json: JSON) {
        guard let type = json["type"]?.stringValue, let status = json["status"]?.stringValue.flatMap(Status.init(rawValue:)) else { return nil }
        self.init(
            type: type, status: status, reason: json["reason"]?.stringValue ?? "", message: json["message"]?.stringValue ?? "",
            lastTransitionTime: json["lastTransitionTime"]?.stringValue ?? "", observedGeneration: json["observedGeneration"]?.intValue ?? 0)
    }

    var json: JSON {
        [
            "type": .string(type), "status": .string(status.rawValue), "reason": .string(reason),
            "message": .string(Redactor.current.scrub(message)), "lastTransitionTime": .string(lastTransitionTime),
            "observedGeneration": .int(observedGeneration),
        ]
    }
}

extension Array where Element == Condition {
    /// apimachinery's `SetStatusCondition`: the transition time moves only when the status
    /// flips, so a status that says the same thing is the same and is not written again.
    mutating func set(_ condition: Condition, now: String) {
        var updated = condition
        if let index = firstIndex(where: { $0.type == condition.type }) {
            updated.lastTransitionTime = self[index].status == condition.status ? self[index].lastTransitionTime : now
            self[index] = updated
        } else {
            updated.lastTransitionTime = now
            append(updated)
        }
    }

    public subscript(type: String) -> Condition? { first { $0.type == type } }
}
