import KubeCore

/// An NGC API key. It prints, logs and reflects as its fingerprint only; the value leaves only
/// through `secretValue`, into Secret data and the Authorization header.
public struct APIKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    /// Keys longer than this are not keys (a file pasted by mistake, a hostile 1 MiB value).
    public static let maximumLength = 4096
    public static let personalPrefix = "nvapi-"

    public init(_ value: String) {
        self.value = value
        Redactor.current.register(value)
        // Keys the redactor no longer holds by value (it keeps the last few thousand) are still
        // masked by their prefix, if one ever shows up again.
        Redactor.current.registerPrefix(Self.personalPrefix)
    }

    /// `sha256:` and the first 12 hex digits of the key's SHA-256: enough to tell keys apart in
    /// status and logs, useless for recovering the key.
    public var fingerprint: String { "sha256:" + String(SHA256.hex(Array(value.utf8)).prefix(12)) }

    public var isPersonal: Bool { value.hasPrefix(Self.personalPrefix) }

    /// For Secret data and the NGC request only.
    public var secretValue: String { value }

    public var description: String { "APIKey(\(fingerprint))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["fingerprint": fingerprint]) }

    /// Reads a key from Secret data (base64-decoded): surrounding whitespace and a trailing
    /// newline (what `echo > file` leaves) are forgiven; anything else odd is refused with why.
    public static func parse(_ raw: String) -> Result<APIKey, KeyFormatProblem> {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return .failure(.empty) }
        if trimmed.count > maximumLength { return .failure(.malformed("is \(trimmed.count) characters long; keys are under \(maximumLength)")) }
        if trimmed.contains(where: { $0.isWhitespace || $0.isNewline }) { return .failure(.malformed("contains whitespace or line breaks")) }
        if !trimmed.allSatisfy({ $0.isASCII && !$0.isNewline && ($0.asciiValue ?? 0) >= 0x21 }) {
            return .failure(.malformed("contains characters a key cannot have"))
        }
        return .success(APIKey(trimmed))
    }

    public enum KeyFormatProblem: Error, Sendable, Equatable {
        case empty
        case malformed(String)
    }

    /// Why a Secret's data holds no usable key.
    public enum SecretDataProblem: Error, Sendable, Equatable {
        case missing(tried: [String], present: [String])
        case notText(dataKey: String)
        case empty(dataKey: String)
        case malformed(dataKey: String, why: String)
    }

    /// The data keys a key is looked for under, in order, when none is named.
    public static let dataKeys = ["NGC_API_KEY", "api_key"]

    /// Reads the key from a Secret's (base64) data: under `dataKey`, or the first of `dataKeys`.
    public static func read(fromSecretData data: [String: String], dataKey: String? = nil) -> Result<(key: APIKey, dataKey: String), SecretDataProblem> {
        let candidates = dataKey.map { [$0] } ?? dataKeys
        guard let found = candidates.first(where: { data[$0] != nil }), let encoded = data[found] else {
            return .failure(.missing(tried: candidates, present: Array(data.keys)))
        }
        guard let decoded = Data(base64Encoded: encoded), let text = String(data: decoded, encoding: .utf8) else { return .failure(.notText(dataKey: found)) }
        switch parse(text) {
        case .success(let key): return .success((key, found))
        case .failure(.empty): return .failure(.empty(dataKey: found))
        case .failure(.malformed(let why)): return .failure(.malformed(dataKey: found, why: why))
        }
    }

    /// The password a dockerconfigjson Secret's data gives `registry`.
    public static func read(fromPullSecretData data: [String: String], registry: String) -> APIKey? {
        guard let encoded = data[".dockerconfigjson"], let decoded = Data(base64Encoded: encoded), let config = try? JSON(parsing: Array(decoded)),
            let password = config[path: ["auths", registry, "password"]]?.stringValue, !password.isEmpty
        else { return nil }
        return APIKey(password)
    }
}

import Foundation
