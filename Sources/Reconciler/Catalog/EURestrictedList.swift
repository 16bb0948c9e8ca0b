import KubeCore

/// The models NVIDIA does not serve in the EU, as `catalog detect-eu` finds them (run from an
/// EU location: they answer 451) and `catalog generate --eu-restricted` merges them: a JSON array
/// of `{"name","resourceId","org","team"}`, the design documents' `nim_eu_restricted.json`.
public struct EURestrictedList: Sendable, Equatable {
    public struct Model: Sendable, Equatable, Hashable {
        public var name: String
        /// `nim/meta/llama-3.2-11b-vision-instruct`.
        public var resourceId: String

        public init(name: String, resourceId: String) {
            self.name = name
            self.resourceId = resourceId
        }

        func matches(_ entry: ModelCatalog.Entry) -> Bool {
            resourceId == entry.image.path || (resourceId.split(separator: "/").count < 3 && name == entry.name)
        }

        var org: String { resourceId.split(separator: "/").first.map(String.init) ?? "" }
        var team: String { resourceId.split(separator: "/").dropFirst().first.map(String.init) ?? "" }
    }

    public var models: [Model]

    public init(_ models: [Model]) { self.models = models.sorted { $0.resourceId < $1.resourceId } }

    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public init(parsing text: String) throws(ReadError) {
        let json: JSON
        do { json = try JSON(parsing: text) } catch { throw ReadError(message: "not JSON: \(error)") }
        guard let items = json.arrayValue else { throw ReadError(message: "not a JSON array of models") }
        var models: [Model] = []
        for (index, item) in items.enumerated() {
            guard let name = item["name"]?.stringValue ?? item["resourceId"]?.stringValue?.split(separator: "/").last.map(String.init), !name.isEmpty else {
                throw ReadError(message: "[\(index)]: no \"name\" or \"resourceId\"")
            }
            let resourceId = item["resourceId"]?.stringValue
                ?? [item["org"]?.stringValue, item["team"]?.stringValue, name].compactMap { $0 }.joined(separator: "/")
            models.append(Model(name: name, resourceId: resourceId))
        }
        self.init(models)
    }

    /// Whether the entry is on the list: by repository when the list knows it, else by name.
    public func contains(_ entry: ModelCatalog.Entry) -> Bool { models.contains { $0.matches(entry) } }

    public var json: String {
        let items: [JSON] = models.map { ["name": .string($0.name), "resourceId": .string($0.resourceId), "org": .string($0.org), "team": .string($0.team)] }
        return JSON.array(items).prettyPrinted() + "\n"
    }
}
