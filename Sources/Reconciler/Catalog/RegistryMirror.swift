import Foundation
import KubeCore

/// `nvcr.io=registry.corp:5000/nvidia`: every image the operator generates under the source is
/// pulled from the mirror instead. Plain Kubernetes has no cluster-wide mirror object (OpenShift's
/// ImageTagMirrorSet and ImageDigestMirrorSet redirect on the nodes); this redirects in the pod
/// spec, so the kubelet, the audit log and `kubectl get pods` all show where the image comes from.
public struct RegistryMirror: Sendable, Equatable, CustomStringConvertible {
    /// A registry host, optionally with a path: `nvcr.io`, `nvcr.io/nim`.
    public var source: String
    /// `host[:port][/path]`.
    public var mirror: String

    public init(source: String, mirror: String) {
        self.source = source
        self.mirror = mirror
    }

    /// `SOURCE=MIRROR`; nil with why it is not one.
    public static func parse(_ text: String) -> Result<RegistryMirror, ParseError> {
        let parts = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { return .failure(ParseError(text: text, why: "is not SOURCE=MIRROR (such as nvcr.io=registry.corp:5000/nvidia)")) }
        for (part, what) in [(parts[0], "source"), (parts[1], "mirror")] {
            guard let probe = ImageReference(parsing: part + "/probe"), probe.registry == String(part.split(separator: "/").first ?? ""), !part.hasSuffix("/"),
                part.contains(".") || part.contains(":") || part.hasPrefix("localhost")
            else { return .failure(ParseError(text: text, why: "has a \(what) that is no registry host (with an optional path): \"\(part)\"")) }
        }
        return .success(RegistryMirror(source: parts[0], mirror: parts[1]))
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var text: String
        public var why: String
        public var description: String { "\"\(text)\" \(why)" }
    }

    public var description: String { "\(source)=\(mirror)" }

    /// The image as pulled from the mirror; nil when it is not under the source.
    public func rewrite(_ image: ImageReference) -> ImageReference? {
        let repository = image.repository
        guard repository == source || repository.hasPrefix(source + "/") else { return nil }
        let moved = mirror + repository.dropFirst(source.count)
        guard let first = moved.split(separator: "/").first, moved.contains("/") else { return nil }
        return ImageReference(registry: String(first), path: String(moved.dropFirst(first.count + 1)), tag: image.tag, digest: image.digest)
    }

    /// Where an image sits below the path of a mirror that holds several registries: NGC's by
    /// its own path, another below its host name, the port's colon made a dash
    /// (`quay.io/x`, `registry.local-5000/x`), so one registry's paths never meet another's.
    public static func pathBelowMirror(registry: String, path: String) -> String {
        registry == "nvcr.io" ? path : registry.replacingOccurrences(of: ":", with: "-") + (path.isEmpty ? "" : "/" + path)
    }

    /// The image as pulled: from the mirror of the longest source it is under, else as it is.
    public static func pulled(_ image: ImageReference, mirrors: [RegistryMirror]) -> ImageReference {
        mirrors.sorted { $0.source.count > $1.source.count }.lazy.compactMap { $0.rewrite(image) }.first ?? image
    }
}

/// The pull secret of a mirrored image (`--mirror-pull-secret`).
public enum MirrorPullSecret: Sendable, Equatable, CustomStringConvertible {
    /// The per-deployment pull secret, written for the mirror's host with the NGC key (a
    /// pull-through mirror that takes it); none when no key is collected.
    case ngcKey
    /// No pull secret: the mirror needs none, or the nodes have its credentials (OpenShift's
    /// global pull secret, a kubelet credential provider).
    case none
    /// A Secret of this name in each deployment's namespace, made by the admin.
    case named(String)

    public static func parse(_ text: String) -> MirrorPullSecret? {
        switch text {
        case "ngc-key": return .ngcKey
        case "none": return MirrorPullSecret.none
        default: return NameValidation.dns1123SubdomainProblem(text) == nil ? .named(text) : nil
        }
    }

    public var description: String {
        switch self {
        case .ngcKey: return "ngc-key"
        case .none: return "none"
        case .named(let name): return name
        }
    }
}
