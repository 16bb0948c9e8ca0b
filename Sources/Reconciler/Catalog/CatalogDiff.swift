/// How one catalog differs from another: what a release review reads before shipping a new
/// catalog, and what tells the controller which deployments a catalog update concerns.
public struct CatalogDiff: Sendable, Equatable {
    /// A value before and after.
    public struct Transition<Value: Sendable & Equatable>: Sendable, Equatable {
        public var old: Value
        public var new: Value

        /// `nil` when nothing changed.
        static func between(_ old: Value, _ new: Value) -> Transition? { old == new ? nil : Transition(old: old, new: new) }
    }

    public struct Change: Sendable, Equatable {
        public var name: String
        public var tagsAdded: [String]
        public var tagsRemoved: [String]
        public var latestTag: Transition<String>?
        public var euRestricted: Transition<Bool>?
        public var image: Transition<String>?
        /// Other fields that changed (displayName, shortDescription, updatedDate).
        public var otherFields: [String]

        /// `tags +1.2 -1.0; latestTag 1.0 -> 1.2; euRestricted false -> true`.
        public var summary: String {
            var parts: [String] = []
            if !tagsAdded.isEmpty || !tagsRemoved.isEmpty {
                parts.append("tags " + (tagsAdded.map { "+" + $0 } + tagsRemoved.map { "-" + $0 }).joined(separator: " "))
            }
            if let latestTag { parts.append("latestTag \(latestTag.old) -> \(latestTag.new)") }
            if let euRestricted { parts.append("euRestricted \(euRestricted.old) -> \(euRestricted.new)") }
            if let image { parts.append("image \(image.old) -> \(image.new)") }
            if !otherFields.isEmpty { parts.append(otherFields.joined(separator: ", ") + " changed") }
            return parts.joined(separator: "; ")
        }
    }

    public var added: [ModelCatalog.Entry]
    public var removed: [ModelCatalog.Entry]
    public var changed: [Change]
    public var unchanged: Int

    public init(from old: ModelCatalog, to new: ModelCatalog) {
        added = new.modelNames.filter { old[$0] == nil }.compactMap { new[$0] }
        removed = old.modelNames.filter { new[$0] == nil }.compactMap { old[$0] }
        changed = []
        unchanged = 0
        for name in old.modelNames {
            guard let before = old[name], let after = new[name] else { continue }
            guard before != after else {
                unchanged += 1
                continue
            }
            let otherFields: [(String, Bool)] = [
                ("displayName", before.displayName != after.displayName), ("shortDescription", before.shortDescription != after.shortDescription),
                ("updatedDate", before.updatedDate != after.updatedDate), ("tag order", before.tags != after.tags && Set(before.tags) == Set(after.tags)),
            ]
            changed.append(
                Change(
                    name: name, tagsAdded: after.tags.filter { !before.tags.contains($0) }, tagsRemoved: before.tags.filter { !after.tags.contains($0) },
                    latestTag: .between(before.latestTag, after.latestTag), euRestricted: .between(before.euRestricted, after.euRestricted),
                    image: .between(before.image.description, after.image.description),
                    otherFields: otherFields.filter(\.1).map(\.0)))
        }
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }

    /// Every model whose entry appeared, went or changed in any way.
    public var modelsChanged: Set<String> { Set(added.map(\.name) + removed.map(\.name) + changed.map(\.name)) }
}
