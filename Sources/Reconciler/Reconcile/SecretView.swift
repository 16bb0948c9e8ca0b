import KubeCore

/// What the cache keeps of the operator's own Secrets: their metadata and type, and in place of
/// their data a digest of it. The digest is all a reconcile needs to tell a hand-edited key
/// from the one it applied, so neither a restart nor someone else's write costs a read of the
/// whole Secret, and no key is held in the cache.
public enum SecretView {
    /// The member the digest is held under: not a field of a Secret, so no real one is shadowed.
    static let digestField = "dataDigest"

    /// Salted per process: the digest of a key never leaves memory, and one that did could not
    /// be matched against a guessed key from another process.
    private static let salt: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }()

    /// The Secret as the cache holds it; the desired Secret is put through the same view before
    /// the two are compared. `data` is serialized with sorted keys, so the server's order of
    /// them does not matter; its values are the base64 the server sends back unchanged.
    @Sendable public static func trimmed(_ secret: KubeObject) -> KubeObject {
        var kept = secret
        let data = secret["data"] ?? .object([:])
        kept["data"] = nil
        kept["stringData"] = nil
        kept[digestField] = .string(SHA256.hex(salt + data.serializedBytes()))
        return kept
    }
}
