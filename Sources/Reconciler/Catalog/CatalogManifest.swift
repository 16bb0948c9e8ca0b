import KubeCore

/// A catalog as the ConfigMap an administrator applies: written by `catalog generate`, read by
/// `catalog validate` and `catalog diff` with the controller's own parser.
public enum CatalogManifest {
    /// The two shapes of the contract (section 4).
    public enum Shape: String, Sendable, CaseIterable {
        /// One key per model, its value the JSON `nim_metadata.sh generate` writes.
        case perModel = "per-model"
        /// One key `models.json`: `{"schemaVersion","generatedAt","models":[...]}`.
        case modelsJSON = "models-json"
    }

    public static let defaultName = "nim-model-metadata"
    public static let schemaVersion = "1.0.0"
    /// etcd's object limit as the API server enforces it for a ConfigMap.
    public static let maximumBytes = 1 << 20

    /// The ConfigMap's `data`. Values are pretty JSON with sorted keys and models in name order,
    /// so two runs over the same NGC answers give the same bytes and a review diff shows only
    /// what changed.
    public static func data(_ catalog: ModelCatalog, shape: Shape, generatedAt: String) -> [String: String] {
        switch shape {
        case .perModel:
            var data: [String: String] = [:]
            for name in catalog.modelNames {
                guard let entry = catalog[name] else { continue }
                var fields = common(entry)
                fields["name"] = .string(entry.name)
                fields["displayName"] = .string(entry.displayName)
                fields["namespace"] = .string(entry.namespace)
                // An id the repository does not give (a models.json catalog's) is kept.
                if let id = entry.id, id != entry.derivedID { fields["id"] = .string(id) }
                if let description = entry.shortDescription { fields["shortDescription"] = .string(description) }
                data[name] = JSON.object(fields).prettyPrinted() + "\n"
            }
            return data
        case .modelsJSON:
            let models: [JSON] = catalog.modelNames.compactMap { catalog[$0] }.map { entry in
                var fields = common(entry)
                fields["id"] = .string(entry.id ?? entry.derivedID)
                fields["name"] = .string(entry.displayName)
                fields["containerImage"] = .string(entry.imageReference(tag: entry.latestTag).description)
                if let description = entry.shortDescription { fields["description"] = .string(description) }
                return .object(fields)
            }
            let document: JSON = ["schemaVersion": .string(schemaVersion), "generatedAt": .string(generatedAt), "models": .array(models)]
            return ["models.json": document.prettyPrinted() + "\n"]
        }
    }

    private static func common(_ entry: ModelCatalog.Entry) -> [String: JSON] {
        var fields: [String: JSON] = [
            "tags": .array(entry.tags.map(JSON.string)), "latestTag": .string(entry.latestTag), "euRestricted": .bool(entry.euRestricted),
        ]
        if let updated = entry.updatedDate { fields["updatedDate"] = .string(updated) }
        return fields
    }

    /// The ConfigMap YAML, labelled as each shape's consumers expect it.
    public static func yaml(_ catalog: ModelCatalog, shape: Shape, name: String = defaultName, namespace: String? = nil, generatedAt: String) -> String {
        var metadata: JSON = ["name": .string(name)]
        if let namespace { metadata["namespace"] = .string(namespace) }
        metadata["labels"] = shape == .perModel ? ["opendatahub.io/managed": "true"] : ["app.kubernetes.io/part-of": "nim-integration"]
        let configMap: JSON = [
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
            "data": .object(data(catalog, shape: shape, generatedAt: generatedAt).mapValues(JSON.string)),
        ]
        return YAML.emit(configMap)
    }

    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Reads the catalog ConfigMap from a manifest (YAML or JSON; the first ConfigMap of several
    /// documents or of a List).
    public static func read(_ text: String) throws(ReadError) -> (configMap: KubeObject, catalog: ModelCatalog, problems: [ModelCatalog.Problem]) {
        let documents: [JSON]
        do { documents = try YAML.parseAll(text) } catch { throw ReadError(message: "not YAML: \(error)") }
        let objects = documents.flatMap { $0["kind"]?.stringValue == "List" ? ($0["items"]?.arrayValue ?? []) : [$0] }
        guard let configMap = objects.first(where: { $0["kind"]?.stringValue == "ConfigMap" }) else {
            let kinds = objects.compactMap { $0["kind"]?.stringValue }
            throw ReadError(message: kinds.isEmpty ? "no Kubernetes object in it" : "no ConfigMap in it (found \(kinds.joined(separator: ", ")))")
        }
        var problems: [ModelCatalog.Problem] = []
        if let data = configMap["data"], data.objectValue == nil, !data.isNull {
            throw ReadError(message: "data is \(data.typeName), not a map of strings")
        }
        for (key, value) in configMap["data"]?.objectValue ?? [:] where value.stringValue == nil {
            problems.append(ModelCatalog.Problem(key: key, message: "value is \(value.typeName), not a string; a ConfigMap holds strings"))
        }
        let size = (configMap["data"]?.objectValue ?? [:]).reduce(0) { $0 + $1.key.utf8.count + ($1.value.stringValue?.utf8.count ?? 0) }
        if size > maximumBytes {
            problems.append(ModelCatalog.Problem(key: "data", message: "is \(size) bytes; the API server stores at most \(maximumBytes) in a ConfigMap"))
        }
        if configMap["binaryData"]?.objectValue?.isEmpty == false {
            problems.append(ModelCatalog.Problem(key: "binaryData", message: "ignored: the catalog is read from data only", severity: .warning))
        }
        let object = KubeObject(configMap)
        let parsed = ModelCatalog.parse(configMap: object)
        return (object, parsed.catalog, problems + parsed.problems)
    }
}
