/// `registry/path:tag` or `registry/path@sha256:...`, split the way container runtimes split it.
public struct ImageReference: Sendable, Equatable, CustomStringConvertible {
    public var registry: String
    /// The repository path within the registry (`nim/meta/llama-3.1-8b-instruct`).
    public var path: String
    public var tag: String?
    public var digest: String?

    public init(registry: String, path: String, tag: String? = nil, digest: String? = nil) {
        self.registry = registry
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    /// A first component with a dot or a port, or `localhost`, names a registry; anything else
    /// is Docker Hub's.
    public init?(parsing text: String) {
        guard !text.isEmpty, !text.contains(where: \.isWhitespace) else { return nil }
        var rest = Substring(text)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            digest = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            guard digest?.hasPrefix("sha256:") == true else { return nil }
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
            guard tag?.isEmpty == false else { return nil }
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        if parts.count > 1, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost" {
            self.init(registry: parts[0], path: parts.dropFirst().joined(separator: "/"), tag: tag, digest: digest)
        } else {
            self.init(registry: "docker.io", path: parts.count == 1 ? "library/\(parts[0])" : parts.joined(separator: "/"), tag: tag, digest: digest)
        }
    }

    public var repository: String { "\(registry)/\(path)" }
    /// The last path component: what the model is called when only an image is given.
    public var name: String { path.split(separator: "/").last.map(String.init) ?? path }

    public var description: String {
        var text = repository
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }
}
