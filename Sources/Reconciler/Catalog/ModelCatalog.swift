import Foundation
import KubeCore

/// The models an administrator offers, from a ConfigMap in one of the two shapes that exist:
/// one key per model (what `nim_metadata.sh generate` writes) or a single `models.json`. The
/// controller and the `catalog` commands parse it with this one piece of code.
public struct ModelCatalog: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var displayName: String
        /// Registry and path, without a tag: `nvcr.io/nim/meta/llama-3.1-8b-instruct`.
        public var image: ImageReference
        public var tags: [String]
        public var latestTag: String
        public var euRestricted: Bool
        public var updatedDate: String?
        public var shortDescription: String?
        /// The entry's id (`nvidia/llama-3.1-8b-instruct`): the `models.json` shape's `id`, else
        /// the repository's team and name (`meta/llama-3.1-8b-instruct`). Its last path part is
        /// `name`.
        public var id: String?

        /// The id an entry has when its catalog gives none: the repository's last two parts.
        public var derivedID: String { image.path.split(separator: "/").suffix(2).joined(separator: "/") }

        public init(
            name: String, displayName: String? = nil, image: ImageReference, tags: [String], latestTag: String, euRestricted: Bool = false,
            updatedDate: String? = nil, shortDescription: String? = nil, id: String? = nil
        ) {
            self.id = id
            self.name = name
            self.displayName = displayName ?? name
            self.image = image
            self.tags = tags
            self.latestTag = latestTag
            self.euRestricted = euRestricted
            self.updatedDate = updatedDate
            self.shortDescription = shortDescription
        }

        /// NGC's `namespace` of the repository: the image path without its name (`nim/meta`).
        public var namespace: String { image.path.split(separator: "/").dropLast().joined(separator: "/") }

        /// NGC's org and team for the repository probe (`nim`, `meta`).
        public var ngcRepository: (org: String, team: String, name: String)? {
            guard image.registry == "nvcr.io" else { return nil }
            let parts = image.path.split(separator: "/").map(String.init)
            guard parts.count == 3 else { return nil }
            return (parts[0], parts[1], parts[2])
        }

        public func imageReference(tag: String) -> ImageReference {
            var reference = image
            reference.tag = tag
            return reference
        }
    }

    /// Something wrong with one key of the ConfigMap; the rest of the catalog still works. An
    /// error leaves the entry out; a warning keeps it, read the way the message says.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Severity: String, Sendable { case error, warning }
        public var key: String
        public var message: String
        public var severity: Severity

        public init(key: String, message: String, severity: Severity = .error) {
            self.key = key
            self.message = message
            self.severity = severity
        }

        public var description: String { "\(key): \(message)" }
    }

    public var entries: [String: Entry]

    public init(entries: [String: Entry] = [:]) { self.entries = entries }

    /// The entry `model` names: its id (`nvidia/llama-3.1-8b-instruct`) or its id's last path
    /// part (`llama-3.1-8b-instruct`), as the contract says; another id with the same last part
    /// is not that entry.
    public subscript(model: String) -> Entry? {
        guard let entry = entries[Self.name(of: model)] else { return nil }
        if model.contains("/") { return (entry.id ?? entry.derivedID) == model ? entry : nil }
        return entry
    }

    /// The last path part of a model reference: what entries are keyed by.
    public static func name(of model: String) -> String { model.split(separator: "/").last.map(String.init) ?? model }

    public var modelNames: [String] { entries.keys.sorted() }

    /// Models whose names look like `model`, for a "did you mean" in the status.
    public func suggestions(for model: String, limit: Int = 3) -> [String] {
        let wanted = model.lowercased()
        let scored = entries.keys.map { name -> (String, Int) in
            let lowered = name.lowercased()
            var score = 0
            if lowered.hasPrefix(wanted) || wanted.hasPrefix(lowered) { score += 10 }
            if lowered.contains(wanted) || wanted.contains(lowered) { score += 5 }
            score += Set(lowered.split(separator: "-")).intersection(Set(wanted.split(separator: "-"))).count
            return (name, score)
        }
        return scored.filter { $0.1 > 1 }.sorted { ($0.1, $1.0) > ($1.1, $0.0) }.prefix(limit).map(\.0)
    }

    // MARK: - Parsing

    /// Parses a ConfigMap's `data`. Entries that cannot be read are left out and reported.
    public static func parse(_ data: [String: String]) -> (catalog: ModelCatalog, problems: [Problem]) {
        if let document = data["models.json"] {
            var (catalog, problems) = parseModelsJSON(document)
            for key in data.keys.sorted() where key != "models.json" {
                problems.append(Problem(key: key, message: "ignored: a catalog with models.json reads nothing else", severity: .warning))
            }
            if catalog.entries.isEmpty && !problems.contains(where: { $0.severity == .error }) {
                problems.append(Problem(key: "models.json", message: "lists no models"))
            }
            return (catalog, problems)
        }
        var catalog = ModelCatalog()
        var problems: [Problem] = []
        for (key, value) in data.sorted(by: { $0.key < $1.key }) {
            switch parsePerModel(key: key, value: value, problems: &problems) {
            case .success(let entry):
                if catalog.entries[entry.name] != nil {
                    problems.append(Problem(key: key, message: "model \(entry.name) is listed under another key too; the first key wins"))
                } else {
                    catalog.entries[entry.name] = entry
                }
            case .failure(let problem): problems.append(problem)
            }
        }
        if data.isEmpty { problems.append(Problem(key: "data", message: "the ConfigMap has no models")) }
        return (catalog, problems)
    }

    public static func parse(configMap: KubeObject) -> (catalog: ModelCatalog, problems: [Problem]) {
        parse(KubeObject.stringMap(configMap["data"]))
    }

    /// One key per model: `{"name","displayName","namespace":"nim/meta","tags","latestTag",...}`,
    /// image `nvcr.io/<namespace>/<name>`.
    static func parsePerModel(key: String, value: String, problems: inout [Problem]) -> Result<Entry, Problem> {
        let json: JSON
        do { json = try JSON(parsing: value) } catch { return .failure(Problem(key: key, message: "not JSON: \(error)")) }
        return parsePerModel(key: key, json: json, problems: &problems)
    }

    static func parsePerModel(key: String, json: JSON, problems: inout [Problem]) -> Result<Entry, Problem> {
        guard json.objectValue != nil else { return .failure(Problem(key: key, message: "not a JSON object")) }
        if let field = json["name"], field.stringValue == nil { return .failure(Problem(key: key, message: "\"name\" is \(field.typeName), not a string")) }
        let name = json["name"]?.stringValue ?? key
        if name != key {
            problems.append(Problem(key: key, message: "stored under \"\(key)\" but named \"\(name)\"; the model is \(name)", severity: .warning))
        }
        guard let namespace = json["namespace"]?.stringValue, !namespace.isEmpty else {
            return .failure(Problem(key: key, message: "no \"namespace\" (for example nim/meta), so no image"))
        }
        guard let image = ImageReference(parsing: "nvcr.io/\(namespace)/\(name)"), image.tag == nil, image.digest == nil else {
            return .failure(Problem(key: key, message: "nvcr.io/\(namespace)/\(name) is not an image reference"))
        }
        return entry(key: key, name: name, displayName: json["displayName"]?.stringValue, image: image, json: json, problems: &problems).map { found in
            var entry = found
            entry.id = json["id"]?.stringValue ?? entry.derivedID
            return entry
        }
    }

    /// `{"schemaVersion","models":[{"id","name","containerImage","tags","latestTag","euRestricted"}]}`;
    /// the model is the `id`'s last path part.
    static func parseModelsJSON(_ document: String) -> (catalog: ModelCatalog, problems: [Problem]) {
        var catalog = ModelCatalog()
        var problems: [Problem] = []
        let json: JSON
        do { json = try JSON(parsing: document) } catch {
            return (catalog, [Problem(key: "models.json", message: "not JSON: \(error)")])
        }
        guard let models = json["models"]?.arrayValue else {
            return (catalog, [Problem(key: "models.json", message: "no \"models\" array")])
        }
        if let version = json["schemaVersion"]?.stringValue, !version.hasPrefix("1.") {
            problems.append(Problem(key: "models.json", message: "schemaVersion \(version) is not 1.x; read as 1.x", severity: .warning))
        }
        for (index, model) in models.enumerated() {
            let label = "models.json[\(index)]"
            guard model.objectValue != nil else {
                problems.append(Problem(key: label, message: "not a JSON object"))
                continue
            }
            guard let id = model["id"]?.stringValue ?? model["name"]?.stringValue, !id.isEmpty else {
                problems.append(Problem(key: label, message: "no \"id\""))
                continue
            }
            let name = id.split(separator: "/").last.map(String.init) ?? id
            guard let containerImage = model["containerImage"]?.stringValue, var image = ImageReference(parsing: containerImage) else {
                problems.append(Problem(key: "\(label) (\(name))", message: "no valid \"containerImage\""))
                continue
            }
            image.tag = nil
            image.digest = nil
            switch entry(key: "\(label) (\(name))", name: name, displayName: model["name"]?.stringValue, image: image, json: model, problems: &problems) {
            case .success(var entry):
                entry.id = id
                if catalog.entries[name] != nil { problems.append(Problem(key: label, message: "model \(name) is listed twice; the first wins")) } else {
                    catalog.entries[name] = entry
                }
            case .failure(let problem): problems.append(problem)
            }
        }
        return (catalog, problems)
    }

    /// What a registry accepts as a tag (the distribution spec's grammar).
    static func isValidTag(_ tag: String) -> Bool {
        guard let first = tag.first, tag.count <= 128, first.isASCII, first.isLetter || first.isNumber || first == "_" else { return false }
        return tag.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }

    static func entry(key: String, name: String, displayName: String?, image: ImageReference, json: JSON, problems: inout [Problem]) -> Result<Entry, Problem> {
        guard NameValidation.dns1123SubdomainProblem(name) == nil || name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            return .failure(Problem(key: key, message: "model name \"\(name)\" is not usable as a name"))
        }
        guard let listed = json["tags"]?.arrayValue, !listed.isEmpty else { return .failure(Problem(key: key, message: "no \"tags\"")) }
        var tags: [String] = []
        for value in listed {
            guard let tag = value.stringValue, isValidTag(tag) else {
                problems.append(Problem(key: key, message: "tag \(value) is not an image tag; left out", severity: .warning))
                continue
            }
            if tags.contains(tag) {
                problems.append(Problem(key: key, message: "tag \(tag) is listed twice", severity: .warning))
                continue
            }
            tags.append(tag)
        }
        guard !tags.isEmpty else { return .failure(Problem(key: key, message: "no usable \"tags\"")) }
        guard let latest = json["latestTag"]?.stringValue, !latest.isEmpty else {
            return .failure(Problem(key: key, message: "no \"latestTag\""))
        }
        guard tags.contains(latest) else {
            return .failure(Problem(key: key, message: "latestTag \"\(latest)\" is not one of its tags"))
        }
        // A region restriction is never guessed: a value that is neither a boolean nor the words
        // true/false leaves the model out rather than offering it where it may not be allowed.
        var euRestricted = false
        switch json["euRestricted"] {
        case nil, .null?: break
        case .bool(let flag)?: euRestricted = flag
        case .string(let text)? where text == "true" || text == "false":
            euRestricted = text == "true"
            problems.append(Problem(key: key, message: "euRestricted is the string \"\(text)\"; read as \(text)", severity: .warning))
        case let other?:
            return .failure(Problem(key: key, message: "euRestricted is \(other), not true or false"))
        }
        let updatedDate = json["updatedDate"]?.stringValue
        if let updatedDate, KubeTime.parse(updatedDate) == nil {
            problems.append(Problem(key: key, message: "updatedDate \"\(updatedDate)\" is not an RFC 3339 time", severity: .warning))
        }
        return .success(
            Entry(
                name: name, displayName: displayName ?? name, image: image, tags: tags, latestTag: latest, euRestricted: euRestricted,
                updatedDate: updatedDate, shortDescription: json["shortDescription"]?.stringValue ?? json["description"]?.stringValue))
    }
}
