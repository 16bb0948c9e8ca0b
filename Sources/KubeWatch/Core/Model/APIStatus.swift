/// A `meta/v1 Status`: how the API server says no. The local control plane builds these; the
/// client decodes them; both agree with what a real kube-apiserver sends.
public struct APIStatus: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Cause: Sendable, Hashable {
        /// `reason` on the wire (`FieldValueInvalid`, `FieldManagerConflict`, ...); older docs call it `type`.
        public var reason: String
        public var message: String
        public var field: String

        public init(reason: String, message: String, field: String) {
            self.reason = reason
            self.message = message
            self.field = field
        }
    }

    public var code: Int
    public var reason: String
    public var message: String
    public var details: JSON?
    /// Seconds, from `details.retryAfterSeconds` or the `Retry-After` header.
    public var retryAfterSeconds: Int?

    public init(code: Int, reason: String, message: String, details: JSON? = nil, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var causes: [Cause] {
        details?["causes"]?.arrayValue?.map { cause in
            Cause(
                reason: cause["reason"]?.stringValue ?? cause["type"]?.stringValue ?? "",
                message: cause["message"]?.stringValue ?? "", field: cause["field"]?.stringValue ?? "")
        } ?? []
    }

    public var description: String { "\(code) \(reason): \(message)" }

    public var json: JSON {
        var json: JSON = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(code),
        ]
        if let details { json["details"] = details }
        return json
    }

    /// Decodes a Status body; `nil` when the body is not one.
    public init?(json: JSON, httpCode: Int) {
        guard json["kind"]?.stringValue == "Status" else { return nil }
        self.init(
            code: json["code"]?.intValue ?? httpCode, reason: json["reason"]?.stringValue ?? "",
            message: json["message"]?.stringValue ?? "", details: json["details"],
            retryAfterSeconds: json[path: ["details", "retryAfterSeconds"]]?.intValue)
    }
}

// MARK: - The errors a server makes, with a real server's wording

extension APIStatus {
    public static func details(name: String?, group: String?, kind: String, causes: [Cause] = []) -> JSON {
        var details: JSON = ["kind": .string(kind)]
        if let name, !name.isEmpty { details["name"] = .string(name) }
        if let group, !group.isEmpty { details["group"] = .string(group) }
        if !causes.isEmpty {
            details["causes"] = .array(
                causes.map { ["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)] })
        }
        return details
    }

    /// `secrets "x" not found` / `widgets.wire.example.com "x" not found`.
    public static func notFound(_ resource: ResourceType, name: String) -> APIStatus {
        APIStatus(
            code: 404, reason: "NotFound", message: "\(resource.groupResource) \"\(name)\" not found",
            details: details(name: name, group: resource.group, kind: resource.plural))
    }

    public static func alreadyExists(_ resource: ResourceType, name: String) -> APIStatus {
        APIStatus(
            code: 409, reason: "AlreadyExists", message: "\(resource.groupResource) \"\(name)\" already exists",
            details: details(name: name, group: resource.group, kind: resource.plural))
    }

    /// The optimistic-concurrency conflict; `qualifiedKind` is `secrets` for core kinds and
    /// `Widget.wire.example.com` for custom ones, as the real server words it.
    public static func conflict(qualifiedKind: String, name: String, group: String, kind: String, reason: String) -> APIStatus {
        APIStatus(
            code: 409, reason: "Conflict",
            message: "Operation cannot be fulfilled on \(qualifiedKind) \"\(name)\": \(reason)",
            details: details(name: name, group: group, kind: kind))
    }

    public static let modifiedReason =
        "the object has been modified; please apply your changes to the latest version and try again"

    /// `<Kind[.group]> "name" is invalid: [causes]`.
    public static func invalid(qualifiedKind: String, kind: String, group: String, name: String, causes: [Cause]) -> APIStatus {
        let rendered = causes.map { "\($0.field): \($0.message)" }
        let list = rendered.count == 1 ? rendered[0] : "[" + rendered.joined(separator: ", ") + "]"
        return APIStatus(
            code: 422, reason: "Invalid", message: "\(qualifiedKind) \"\(name)\" is invalid: \(list)",
            details: details(name: name, group: group, kind: kind, causes: causes))
    }

    public static func badRequest(_ message: String) -> APIStatus {
        APIStatus(code: 400, reason: "BadRequest", message: message)
    }

    public static func methodNotAllowed(_ message: String) -> APIStatus {
        APIStatus(code: 405, reason: "MethodNotAllowed", message: message)
    }

    public static func unsupportedMediaType(_ message: String) -> APIStatus {
        APIStatus(code: 415, reason: "UnsupportedMediaType", message: message)
    }

    public static func expired(_ message: String) -> APIStatus {
        APIStatus(code: 410, reason: "Expired", message: message)
    }

    public static func internalError(_ message: String) -> APIStatus {
        APIStatus(
            code: 500, reason: "InternalError", message: "Internal error occurred: \(message)",
            details: ["causes": [["message": .string(message)]]])
    }

    public static func forbidden(_ message: String) -> APIStatus {
        APIStatus(code: 403, reason: "Forbidden", message: message)
    }

    public static func tooManyRequests(retryAfterSeconds: Int) -> APIStatus {
        APIStatus(
            code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later.",
            details: ["retryAfterSeconds": .int(retryAfterSeconds)], retryAfterSeconds: retryAfterSeconds)
    }

    /// The generic Status for an HTTP code, as the fault injector and proxies produce them.
    public static func forCode(_ code: Int, message: String? = nil) -> APIStatus {
        let reason: String
        switch code {
        case 400: reason = "BadRequest"
        case 401: reason = "Unauthorized"
        case 403: reason = "Forbidden"
        case 404: reason = "NotFound"
        case 405: reason = "MethodNotAllowed"
        case 409: reason = "Conflict"
        case 410: reason = "Expired"
        case 422: reason = "Invalid"
        case 429: reason = "TooManyRequests"
        case 500: reason = "InternalError"
        case 503: reason = "ServiceUnavailable"
        case 504: reason = "Timeout"
        default: reason = code >= 500 ? "InternalError" : "Unknown"
        }
        return APIStatus(code: code, reason: reason, message: message ?? HTTPStatusText.reason(code))
    }

    public var isNotFound: Bool { code == 404 }
    public var isConflict: Bool { code == 409 && reason == "Conflict" }
    public var isAlreadyExists: Bool { code == 409 && reason == "AlreadyExists" }
    /// 410 Gone or Expired: a watch or continue token is older than the server keeps.
    public var isExpired: Bool { code == 410 || reason == "Expired" || reason == "Gone" }
    public var isInvalid: Bool { code == 422 }
}
