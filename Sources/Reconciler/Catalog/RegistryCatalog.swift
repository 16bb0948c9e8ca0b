import Foundation
import KubeCore

/// The catalog of what a mirror actually holds: its NIM repositories and their tags, with the
/// display names, descriptions, ids and EU flags of a source catalog where one is given, and
/// what that source lists that the mirror lacks.
public struct RegistryCatalog: Sendable {
    /// How entries name their images.
    public enum ImageNames: Sendable, Equatable {
        /// As NGC names them (`nvcr.io/...`): the mirror sets or `--image-registry-mirror` redirect.
        case source
        /// As the mirror names them (`registry.corp:5000/nvidia/...`).
        case mirror
    }

    public var catalog: ModelCatalog
    /// What the source catalog lists that the mirror lacks, one line each.
    public var lacking: [String]

    /// - Parameters:
    ///   - tags: each repository of the mirror (its full path) and its tags.
    ///   - host: the mirror's `host[:port]`; `prefix`: the path the images sit under (`nvidia`).
    public init(tags: [String: [String]], host: String, prefix: String, source: ModelCatalog?, imageNames: ImageNames) {
        let base = prefix.isEmpty ? "" : prefix + "/"
        // The mirror's repositories by their path below the prefix (`nim/meta/llama-...`).
        var mirrored: [String: [String]] = [:]
        for (repository, list) in tags where repository.hasPrefix(base) && !list.isEmpty { mirrored[String(repository.dropFirst(base.count))] = list }
        var entries: [String: ModelCatalog.Entry] = [:]
        var lacking: [String] = []
        func imageFor(_ path: String, sourceImage: ImageReference?) -> ImageReference {
            switch imageNames {
            case .mirror: return ImageReference(registry: host, path: base + path)
            case .source: return sourceImage ?? ImageReference(registry: "nvcr.io", path: path)
            }
        }
        if let source {
            for name in source.modelNames {
                guard let known = source[name] else { continue }
                // Under the prefix by NGC's path; another registry's image under its host name too.
                let path = RegistryMirror.pathBelowMirror(registry: known.image.registry, path: known.image.path)
                guard let present = mirrored[path] else {
                    lacking.append("model \(known.name): not in the mirror (\(known.image.repository))")
                    continue
                }
                let missingTags = known.tags.filter { !present.contains($0) }
                if !missingTags.isEmpty { lacking.append("model \(known.name): the mirror lacks tag\(missingTags.count == 1 ? "" : "s") \(missingTags.joined(separator: ", "))") }
                var entry = known
                entry.image = imageFor(path, sourceImage: known.image)
                entry.tags = known.tags.filter(present.contains) + Self.ordered(present.filter { !known.tags.contains($0) })
                entry.latestTag = entry.tags.contains(known.latestTag) ? known.latestTag : Self.latest(entry.tags)
                entries[entry.name] = entry
            }
        } else {
            for (path, list) in mirrored where path.hasPrefix("nim/") {
                let name = String(path.split(separator: "/").last ?? "")
                guard !name.isEmpty, entries[name] == nil else { continue }
                let ordered = Self.ordered(list)
                entries[name] = ModelCatalog.Entry(name: name, image: imageFor(path, sourceImage: nil), tags: ordered, latestTag: Self.latest(ordered))
            }
        }
        catalog = ModelCatalog(entries: entries)
        self.lacking = lacking
    }

    /// Newest first: version numbers compared part by part, `latest` first of all.
    static func ordered(_ tags: [String]) -> [String] {
        tags.sorted { a, b in
            if a == "latest" || b == "latest" { return a == "latest" && b != "latest" }
            let pa = a.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            let pb = b.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            return pa != pb ? pa.lexicographicallyPrecedes(pb) == false : a > b
        }
    }

    static func latest(_ tags: [String]) -> String { tags.contains("latest") ? "latest" : ordered(tags).first ?? "latest" }
}
