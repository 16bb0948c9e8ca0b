import Foundation
import KubeCore
import KubeAPI

/// Builds the model catalog from NVIDIA's API at release time (`catalog generate`) and finds
/// the models NVIDIA does not serve from here (`catalog detect-eu`): what the design documents'
/// `nim_metadata.sh` does, with a bounded number of calls in flight and retries.
public struct CatalogGenerator: Sendable {
    public struct Options: Sendable {
        /// Repository calls in flight at once.
        public var concurrency = 8
        public var pageSize = 1000
        /// Attempts after the first for a call that got 429, 5xx or no answer.
        public var retries = 4
        public var initialBackoff: TimeInterval = 0.5
        public var timeout: TimeInterval = 30

        public init() {}
    }

    /// Why nothing could be generated.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case notPersonalKey(String)
        case keyRefused(code: Int)
        case unreachable(String)
        case badAnswer(String)

        public var description: String {
            switch self {
            case .notPersonalKey(let why): return "only personal API keys (nvapi-...) are supported: \(why)"
            case .keyRefused(let code): return "NGC refused the API key (HTTP \(code)); generate a new personal key at ngc.nvidia.com"
            case .unreachable(let why): return "NGC unreachable: \(why)"
            case .badAnswer(let why): return "NGC answered something unexpected: \(why)"
            }
        }
    }

    /// Why a model of the search is not in the result.
    public enum SkipReason: String, Sendable, CaseIterable {
        /// 451 from here: NVIDIA does not serve it in this region. Expected; not a failure.
        case regionRestricted = "EU-restricted (451)"
        /// The search lists it without a latestTag: nothing to deploy yet. Expected.
        case noLatestTag = "no latestTag"
        case notEntitled = "not entitled (403)"
        case notFound = "not found (404)"
        case malformed = "malformed answer"
        case unreachable = "no answer"
        case otherStatus = "other answer"
        case nameClash = "name clash"

        /// Skips a release should not ship without a look.
        public var isFailure: Bool { self != .regionRestricted && self != .noLatestTag }
    }

    public struct Skip: Sendable, Equatable {
        public var model: String
        public var reason: SkipReason
        public var detail: String
    }

    public struct Summary: Sendable, Equatable {
        public var found = 0
        public var written = 0
        public var skipped: [Skip] = []
        /// Things a reviewer should know that are not about one model (an EU list entry that
        /// matched nothing, a listing shorter than the search said).
        public var notes: [String] = []

        public var failed: [Skip] { skipped.filter(\.reason.isFailure) }
        /// Models that could not be read for reasons other than region or missing tag.
        public var isIncomplete: Bool { !failed.isEmpty }

        /// `186 found, 180 written, 6 skipped (4 EU-restricted (451), 2 no latestTag)`.
        public func line(written verb: String = "written") -> String {
            var counts: [String] = []
            for reason in SkipReason.allCases {
                let count = skipped.filter { $0.reason == reason }.count
                if count > 0 { counts.append("\(count) \(reason.rawValue)") }
            }
            return "\(found) found, \(written) \(verb), \(skipped.count) skipped" + (counts.isEmpty ? "" : " (\(counts.joined(separator: ", ")))")
        }
    }

    private let api: NGCCatalogAPI
    private let options: Options

    public init(baseURL: String = NGCClient.defaultBaseURL, transport: any HTTPTransport = CurlTransport(), options: Options = Options()) {
        self.options = options
        api = NGCCatalogAPI(
            baseURL: NGCRequests.trimmed(baseURL), transport: transport,
            retry: RetryPolicy(maximumAttempts: options.retries + 1, initialBackoff: options.initialBackoff, maximumBackoff: 8, maximumRetryAfter: 60),
            timeout: options.timeout)
    }

    /// The catalog: key checked, catalog paged, each model's repository read; models on
    /// `euRestricted` are marked so.
    public func generate(
        key: APIKey, euRestricted: EURestrictedList? = nil, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws(Failure) -> (catalog: ModelCatalog, summary: Summary) {
        let (answers, listed, skipped, notes) = try await survey(key: key, progress: progress)
        var summary = Summary(found: listed, skipped: skipped, notes: notes)
        var catalog = ModelCatalog()
        for (listing, answer) in answers {
            switch answer {
            case .metadata(let json):
                switch entry(listing, json, euRestricted: euRestricted) {
                case .success(let entry):
                    // Two teams may publish one image name; the catalog is keyed by name, so
                    // neither is guessed at.
                    if let taken = catalog.entries[entry.name] {
                        summary.skipped.append(Skip(model: listing.resourceId, reason: .nameClash, detail: "the name is \(taken.image.path)'s too; kept that one"))
                    } else {
                        catalog.entries[entry.name] = entry
                    }
                case .failure(let problem):
                    summary.skipped.append(Skip(model: listing.resourceId, reason: .malformed, detail: problem.message))
                }
            default:
                summary.skipped.append(skip(listing, answer))
            }
        }
        summary.written = catalog.entries.count
        summary.skipped.sort { $0.model < $1.model }
        for model in euRestricted?.models ?? [] where !catalog.entries.values.contains(where: model.matches) {
            summary.notes.append("EU list entry \(model.resourceId) matches no model written")
        }
        return (catalog, summary)
    }

    /// The models that answer 451 from here.
    public func detectRegionRestricted(
        key: APIKey, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws(Failure) -> (list: EURestrictedList, summary: Summary) {
        let (answers, listed, skipped, notes) = try await survey(key: key, progress: progress, includeUntagged: true)
        var summary = Summary(found: listed, skipped: skipped, notes: notes)
        var restricted: [EURestrictedList.Model] = []
        for (listing, answer) in answers {
            switch answer {
            case .metadata: break
            case .status(451): restricted.append(EURestrictedList.Model(name: listing.name, resourceId: listing.resourceId))
            default: summary.skipped.append(skip(listing, answer))
            }
        }
        summary.written = restricted.count
        summary.skipped.sort { $0.model < $1.model }
        if restricted.isEmpty { summary.notes.append("no model answered 451: run detect-eu from an EU location") }
        return (EURestrictedList(restricted), summary)
    }

    /// Key check, listing, then every listed model's repository with at most `concurrency` calls
    /// in flight. A 401 on any of them ends everything: the key went bad while we ran.
    private func survey(
        key: APIKey, progress: @escaping @Sendable (Int, Int) -> Void, includeUntagged: Bool = false
    ) async throws(Failure) -> (answers: [(NGCCatalogAPI.Listing, NGCCatalogAPI.RepositoryAnswer)], listed: Int, skipped: [Skip], notes: [String]) {
        guard key.isPersonal else { throw .notPersonalKey("the key does not start with \(APIKey.personalPrefix)") }
        try await api.checkKey(key)
        let (listings, total) = try await api.listModels(pageSize: options.pageSize)
        let shortfall = total.map { $0 > listings.count ? ["the search said \($0) models and listed \(listings.count)"] : [] } ?? []
        let probed = listings.filter { includeUntagged || $0.latestTag != nil }
        let untagged = listings.filter { !includeUntagged && $0.latestTag == nil }.map {
            Skip(model: $0.resourceId, reason: .noLatestTag, detail: "the catalog search gives no latestTag")
        }
        let api = self.api
        let limit = max(1, options.concurrency)
        progress(0, probed.count)
        let answers = await withTaskGroup(of: (Int, NGCCatalogAPI.RepositoryAnswer).self) { group in
            var answers = [NGCCatalogAPI.RepositoryAnswer?](repeating: nil, count: probed.count)
            var next = 0
            var done = 0
            func startNext() {
                guard next < probed.count else { return }
                let index = next
                next += 1
                group.addTask { (index, await api.repository(probed[index], key: key)) }
            }
            for _ in 0..<limit { startNext() }
            // Cancelled (SIGINT): what is in flight ends, nothing new starts.
            while let (index, answer) = await group.next() {
                answers[index] = answer
                done += 1
                progress(done, probed.count)
                if case .status(401) = answer {
                    group.cancelAll()
                    break
                }
                if !Task.isCancelled { startNext() }
            }
            return answers
        }
        if answers.contains(where: { if case .status(401)? = $0 { return true } else { return false } }) {
            throw .keyRefused(code: 401)
        }
        let pairs = zip(probed, answers).map { ($0, $1 ?? .unreachable("not asked")) }
        return (pairs, listings.count, untagged, shortfall)
    }

    /// The catalog entry for a repository answer, read by the controller's own parser so that
    /// what is written is what the controller accepts.
    private func entry(_ listing: NGCCatalogAPI.Listing, _ json: JSON, euRestricted: EURestrictedList?) -> Result<ModelCatalog.Entry, ModelCatalog.Problem> {
        var fields: [String: JSON] = ["name": .string(listing.name), "namespace": .string("\(listing.org)/\(listing.team)")]
        for field in ["displayName", "shortDescription", "tags", "updatedDate"] { fields[field] = json[field] }
        fields["latestTag"] = json["latestTag"] ?? listing.latestTag.map(JSON.string)
        var ignored: [ModelCatalog.Problem] = []
        return ModelCatalog.parsePerModel(key: listing.name, json: .object(fields), problems: &ignored).map { entry in
            var entry = entry
            entry.euRestricted = euRestricted?.contains(entry) ?? false
            return entry
        }
    }

    private func skip(_ listing: NGCCatalogAPI.Listing, _ answer: NGCCatalogAPI.RepositoryAnswer) -> Skip {
        switch answer {
        case .metadata: return Skip(model: listing.resourceId, reason: .otherStatus, detail: "answered")
        case .status(451): return Skip(model: listing.resourceId, reason: .regionRestricted, detail: "not available from this region")
        case .status(403): return Skip(model: listing.resourceId, reason: .notEntitled, detail: "the key is not entitled to it")
        case .status(404): return Skip(model: listing.resourceId, reason: .notFound, detail: "listed by the search, but no repository")
        case .status(let code): return Skip(model: listing.resourceId, reason: .otherStatus, detail: "answered \(code)")
        case .malformed(let why): return Skip(model: listing.resourceId, reason: .malformed, detail: why)
        case .unreachable(let why): return Skip(model: listing.resourceId, reason: .unreachable, detail: why)
        }
    }
}
