import KubeCore

/// The value of the predictor annotation `nim.opendatahub.io/key-fingerprint`: KServe replaces
/// the pods whenever it changes, and nothing else restarts them (KServe undoes a `kubectl
/// rollout restart` of the predictor). It names the key the pods run with and, once a manual
/// rotation was asked for, a short hash of that request, so each new request rolls once.
///
/// The token lives on the InferenceService, so the cluster itself says whether a rotation has
/// reached the pods: a new operator finishes what a crashed one started.
public struct RestartToken: Sendable, Equatable, CustomStringConvertible {
    /// The key's fingerprint, or `disconnected` when no key is collected.
    public var fingerprint: String
    /// 8 hex digits of the SHA-256 of the last `nim.opendatahub.io/rotate` value acted on.
    public var request: String?

    public static let disconnected = "disconnected"
    static let separator = "/rotate-"

    public init(fingerprint: String, request: String? = nil) {
        self.fingerprint = fingerprint
        self.request = request
    }

    /// Reads a token as written on an InferenceService; `nil` when there is none.
    public init?(parsing text: String?) {
        guard let text, !text.isEmpty else { return nil }
        if let range = text.range(of: Self.separator) {
            fingerprint = String(text[..<range.lowerBound])
            request = String(text[range.upperBound...])
        } else {
            fingerprint = text
        }
    }

    /// The token on a live InferenceService.
    public init?(service: KubeObject?) {
        self.init(parsing: service?[path: ["spec", "predictor", "annotations", DesiredState.restartTokenAnnotation]]?.stringValue)
    }

    public var description: String { request.map { fingerprint + Self.separator + $0 } ?? fingerprint }

    public static func requestHash(_ value: String) -> String { String(SHA256.hex(Array(value.utf8)).prefix(8)) }

    /// What the token must be: the current key, and the rotation request if the annotation is
    /// set (a removed annotation restarts nothing). With `restartPods: false` a new key alone
    /// leaves the running pods alone; a manual request still restarts them, with the new key.
    public static func desired(fingerprint: String, rotateRequest: String?, live: RestartToken?, restartPods: Bool) -> RestartToken {
        let request = rotateRequest.flatMap { $0.isEmpty ? nil : requestHash($0) } ?? live?.request
        let wanted = RestartToken(fingerprint: fingerprint, request: request)
        if let live, !restartPods, live.request == request { return live }
        return wanted
    }
}
