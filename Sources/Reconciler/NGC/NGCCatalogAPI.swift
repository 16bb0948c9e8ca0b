import Foundation
import KubeCore
import KubeAPI

/// The NGC calls that build a catalog: key check, catalog search pages, one repository per
/// model. Each is retried on 429, 5xx and no answer (every one of them is a read), so a
/// release job survives NGC's bad minutes; what still fails is reported per model.
struct NGCCatalogAPI: Sendable {
    let baseURL: String
    let transport: any HTTPTransport
    let retry: RetryPolicy
    let timeout: TimeInterval

    /// A model of the catalog search.
    struct Listing: Sendable, Equatable {
        var name: String
        /// `nim/meta/llama-3.1-8b-instruct`.
        var resourceId: String
        var latestTag: String?
        var org: String { resourceId.split(separator: "/").first.map(String.init) ?? "" }
        var team: String { resourceId.split(separator: "/").dropFirst().first.map(String.init) ?? "" }
    }

    /// What the repository call said, after retries.
    enum RepositoryAnswer: Sendable {
        case metadata(JSON)
        case status(Int)
        case malformed(String)
        case unreachable(String)
    }

    func send(_ request: HTTPRequest) async -> Result<HTTPResponse, TransportError> {
        var attempt = 0
        while true {
            attempt += 1
            let outcome: Result<HTTPResponse, TransportError>
            do { outcome = .success(try await transport.send(request)) } catch { outcome = .failure(error) }
            var retryAfter: TimeInterval?
            switch outcome {
            case .success(let response) where response.status == 429 || response.status >= 500:
                retryAfter = RetryPolicy.retryAfter(response.headers)
            case .failure(let error) where !error.isPermanent:
                break
            default:
                return outcome
            }
            guard attempt < retry.maximumAttempts, !Task.isCancelled else { return outcome }
            do { try await Task.sleep(nanoseconds: UInt64(retry.delay(afterAttempt: attempt, retryAfter: retryAfter) * 1e9)) } catch { return outcome }
        }
    }

    /// The caller-info answer's `type`, or why the key is not usable.
    func checkKey(_ key: APIKey) async throws(CatalogGenerator.Failure) {
        switch await send(NGCRequests.callerInfo(baseURL: baseURL, key: key, timeout: timeout)) {
        case .failure(let error): throw .unreachable("get-caller-info: \(Redactor.current.scrub(error.message))")
        case .success(let response) where response.status >= 500 || response.status == 429:
            throw .unreachable("get-caller-info answered \(response.status)")
        case .success(let response) where response.status != 200:
            throw .keyRefused(code: response.status)
        case .success(let response):
            let type = (try? JSON(parsing: response.body))?["type"]?.stringValue
            if let type, type != "PERSONAL_KEY" { throw .notPersonalKey("NGC calls it a \(type)") }
        }
    }

    /// Every model of the search, page after page, without the `_scored` group's repeats.
    /// Stops at NGC's last page, at a page that adds nothing new (a server repeating itself),
    /// and at 100 000 models; returns the models and the total the search claimed.
    func listModels(pageSize: Int) async throws(CatalogGenerator.Failure) -> (listings: [Listing], total: Int?) {
        var listings: [Listing] = []
        var total: Int?
        var seen: Set<String> = []
        var page = 0
        var pages = 1
        while page < pages {
            let response: HTTPResponse
            switch await send(NGCRequests.catalogSearch(baseURL: baseURL, page: page, pageSize: pageSize, timeout: timeout)) {
            case .failure(let error): throw .unreachable("catalog search page \(page): \(error.message)")
            case .success(let answer) where answer.status != 200: throw .unreachable("catalog search page \(page) answered \(answer.status)")
            case .success(let answer): response = answer
            }
            guard let json = try? JSON(parsing: response.body), let groups = json["results"]?.arrayValue else {
                throw .badAnswer("catalog search page \(page) is not the search's JSON")
            }
            // A server that says it has more pages than it could hold is not believed past 10 000.
            pages = min(10_000, max(1, json["resultPageTotal"]?.intValue ?? 1))
            total = json["resultTotal"]?.intValue
            let answered = json[path: ["params", "page"]]?.intValue ?? page
            guard answered == page else { throw .badAnswer("asked for catalog search page \(page), got page \(answered)") }
            let before = listings.count
            for group in groups where group["groupValue"]?.stringValue == "CONTAINER" {
                for resource in group["resources"]?.arrayValue ?? [] {
                    guard let resourceId = resource["resourceId"]?.stringValue, resourceId.split(separator: "/").count == 3,
                        seen.insert(resourceId).inserted
                    else { continue }
                    let latest = resource["attributes"]?.arrayValue?.first { $0["key"]?.stringValue == "latestTag" }?["value"]?.stringValue
                    let name = resourceId.split(separator: "/").last.map(String.init) ?? resourceId
                    listings.append(Listing(name: name, resourceId: resourceId, latestTag: latest?.isEmpty == true ? nil : latest))
                }
            }
            // NGC's own stop rule: the page it answered is the last one.
            page += 1
            if answered >= pages - 1 || listings.count == before || listings.count >= 100_000 { break }
        }
        return (listings, total)
    }

    func repository(_ listing: Listing, key: APIKey) async -> RepositoryAnswer {
        let request = NGCRequests.repository(baseURL: baseURL, org: listing.org, team: listing.team, name: listing.name, key: key, timeout: timeout, resolveLabels: true)
        switch await send(request) {
        case .failure(let error): return .unreachable(Redactor.current.scrub(error.message))
        case .success(let response) where response.status == 200:
            guard let json = try? JSON(parsing: response.body), json.objectValue != nil else { return .malformed("the answer is not a JSON object") }
            return .metadata(json)
        case .success(let response) where response.status == 429 || response.status >= 500:
            return .unreachable("answered \(response.status)")
        case .success(let response): return .status(response.status)
        }
    }
}
