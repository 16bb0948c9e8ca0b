import KubeCore
/// `?labelSelector=&fieldSelector=&limit=&continue=&resourceVersion=` for a list.
public struct ListOptions: Sendable {
    public var labelSelector: LabelSelector?
    public var fieldSelector: FieldSelector?
    public var limit: Int?
    public var continueToken: String?
    /// `"0"` reads from the watch cache (any age), `nil` is a consistent read.
    public var resourceVersion: String?
    /// Ask for metadata only (`PartialObjectMetadataList`): what a Secret cache needs.
    public var metadataOnly = false
    /// The items' `metadata.managedFields` are skipped while parsing (the server sends them
    /// whatever is asked): what a cache needs.
    public var dropsManagedFields = false

    public init(labelSelector: LabelSelector? = nil, fieldSelector: FieldSelector? = nil, limit: Int? = nil,
                continueToken: String? = nil, resourceVersion: String? = nil, metadataOnly: Bool = false, dropsManagedFields: Bool = false) {
        self.dropsManagedFields = dropsManagedFields
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
        self.metadataOnly = metadataOnly
    }

    var query: [(String, String)] {
        var items: [(String, String)] = []
        if let labelSelector, !labelSelector.isEverything { items.append(("labelSelector", labelSelector.description)) }
        if let fieldSelector, !fieldSelector.requirements.isEmpty { items.append(("fieldSelector", fieldSelector.description)) }
        if let limit { items.append(("limit", String(limit))) }
        if let continueToken { items.append(("continue", continueToken)) }
        if let resourceVersion { items.append(("resourceVersion", resourceVersion)) }
        return items
    }
}

/// `?watch=1&resourceVersion=&allowWatchBookmarks=true&timeoutSeconds=` for one watch request.
public struct WatchOptions: Sendable {
    public var labelSelector: LabelSelector?
    public var fieldSelector: FieldSelector?
    public var resourceVersion: String?
    public var allowBookmarks = true
    /// kube-rs's 290 s: under the 295 s a proxy in front of many API servers allows.
    public var timeoutSeconds = 290
    public var metadataOnly = false
    /// The events' `metadata.managedFields` are skipped while parsing, as for a list.
    public var dropsManagedFields = false

    public init(labelSelector: LabelSelector? = nil, fieldSelector: FieldSelector? = nil, resourceVersion: String? = nil,
                allowBookmarks: Bool = true, timeoutSeconds: Int = 290, metadataOnly: Bool = false, dropsManagedFields: Bool = false) {
        self.dropsManagedFields = dropsManagedFields
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.resourceVersion = resourceVersion
        self.allowBookmarks = allowBookmarks
        self.timeoutSeconds = timeoutSeconds
        self.metadataOnly = metadataOnly
    }

    var query: [(String, String)] {
        var items: [(String, String)] = [("watch", "1")]
        if let labelSelector, !labelSelector.isEverything { items.append(("labelSelector", labelSelector.description)) }
        if let fieldSelector, !fieldSelector.requirements.isEmpty { items.append(("fieldSelector", fieldSelector.description)) }
        if let resourceVersion { items.append(("resourceVersion", resourceVersion)) }
        if allowBookmarks { items.append(("allowWatchBookmarks", "true")) }
        items.append(("timeoutSeconds", String(timeoutSeconds)))
        return items
    }
}

/// `DeleteOptions`: propagation and preconditions.
public struct DeleteOptions: Sendable {
    public enum Propagation: String, Sendable { case background = "Background", foreground = "Foreground", orphan = "Orphan" }

    public var propagation: Propagation?
    public var preconditionUID: String?
    public var preconditionResourceVersion: String?
    public var dryRun = false

    public init(propagation: Propagation? = nil, preconditionUID: String? = nil, preconditionResourceVersion: String? = nil, dryRun: Bool = false) {
        self.propagation = propagation
        self.preconditionUID = preconditionUID
        self.preconditionResourceVersion = preconditionResourceVersion
        self.dryRun = dryRun
    }

    var body: JSON {
        var body: JSON = ["apiVersion": "v1", "kind": "DeleteOptions"]
        if let propagation { body["propagationPolicy"] = .string(propagation.rawValue) }
        var preconditions: JSON = [:]
        if let preconditionUID { preconditions["uid"] = .string(preconditionUID) }
        if let preconditionResourceVersion { preconditions["resourceVersion"] = .string(preconditionResourceVersion) }
        if preconditions.objectValue?.isEmpty == false { body["preconditions"] = preconditions }
        if dryRun { body["dryRun"] = ["All"] }
        return body
    }
}

/// The four ways to PATCH.
public enum Patch: Sendable {
    /// RFC 7386: objects merge, `null` deletes, lists are replaced.
    case merge(JSON)
    /// RFC 6902 operations; use `test` to make a change conditional.
    case json([JSON])
    /// Built-in kinds only; custom resources answer 415.
    case strategic(JSON)
    /// Server-side apply of a full intent (needs a field manager).
    case apply(JSON)

    var contentType: String {
        switch self {
        case .merge: return "application/merge-patch+json"
        case .json: return "application/json-patch+json"
        case .strategic: return "application/strategic-merge-patch+json"
        case .apply: return "application/apply-patch+yaml"
        }
    }

    var body: JSON {
        switch self {
        case .merge(let json), .strategic(let json), .apply(let json): return json
        case .json(let operations): return .array(operations)
        }
    }

    /// Whether sending it twice is the same as sending it once: such patches may be retried.
    var isIdempotent: Bool {
        switch self {
        case .merge, .apply: return true
        case .json, .strategic: return false
        }
    }
}

/// One page of a list.
public struct ObjectList: Sendable {
    public var items: [KubeObject]
    public var resourceVersion: String
    public var continueToken: String?
    public var remainingItemCount: Int?
}

/// One page of a list whose items are parsed one at a time, as they are taken: a reader that
/// keeps each item in its own form (an informer's cache) never holds the page as a whole tree,
/// only its bytes, which are a few times smaller.
public struct ListPage: Sendable {
    public let resourceVersion: String
    public let continueToken: String?
    public let remainingItemCount: Int?
    private let body: [UInt8]
    private let items: [Range<Int>]
    private var nextItem = 0
    /// Built-in lists omit kind and apiVersion on items (kubernetes#3030): put back from these.
    private let kind: String
    private let apiVersion: String

    let dropsManagedFields: Bool

    init(body: [UInt8], kind: String, apiVersion: String, dropsManagedFields: Bool = false) throws(KubeError) {
        self.dropsManagedFields = dropsManagedFields
        let parsed: (object: JSON, elements: [Range<Int>])
        do { parsed = try JSON.parsing(body, deferring: "items") } catch {
            throw .decoding("the list response is not a JSON object: \(error)")
        }
        self.body = body
        self.items = parsed.elements
        self.kind = kind
        self.apiVersion = apiVersion
        resourceVersion = parsed.object[path: ["metadata", "resourceVersion"]]?.stringValue ?? ""
        continueToken = parsed.object[path: ["metadata", "continue"]]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        remainingItemCount = parsed.object[path: ["metadata", "remainingItemCount"]]?.intValue
    }

    public var count: Int { items.count }

    /// The next item, nil after the last.
    public mutating func next() throws(KubeError) -> KubeObject? {
        guard nextItem < items.count else { return nil }
        let position = nextItem
        nextItem += 1
        let item: JSON
        do { item = try JSON(parsing: body[items[position]], droppingManagedFields: dropsManagedFields) } catch {
            throw .decoding("item \(position) of the list is not JSON: \(error)")
        }
        guard item.objectValue != nil else { throw .decoding("item \(position) of the list is not an object") }
        var object = KubeObject(item)
        if object.kind.isEmpty { object.kind = kind }
        if object.apiVersion.isEmpty { object.apiVersion = apiVersion }
        return object
    }
}
