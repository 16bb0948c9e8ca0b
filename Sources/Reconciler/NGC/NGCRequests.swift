import Foundation
import KubeCore
import KubeAPI

/// The NGC API requests (../shared/design/ngc-api.md), built in one place for the controller's
/// key checks and the `catalog` commands.
enum NGCRequests {
    /// `POST /v3/keys/get-caller-info`: 200 for a valid key.
    static func callerInfo(baseURL: String, key: APIKey, timeout: TimeInterval) -> HTTPRequest {
        HTTPRequest(
            method: "POST", url: baseURL + "/v3/keys/get-caller-info",
            headers: [("Authorization", "Bearer \(key.secretValue)"), ("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
            body: Array(("credentials=" + URLQuery.encode(key.secretValue)).utf8), timeout: timeout)
    }

    /// `GET /v2/org/<org>/team/<team>/repos/<name>`: the model's tags and metadata; 401, 403, 451.
    /// `resolveLabels` for the catalog (the design's request); the controller's yes/no probe skips it.
    static func repository(baseURL: String, org: String, team: String, name: String, key: APIKey, timeout: TimeInterval, resolveLabels: Bool = false) -> HTTPRequest {
        let path = "/v2/org/\(URLPath.escape(org))/team/\(URLPath.escape(team))/repos/\(URLPath.escape(name))" + (resolveLabels ? "?resolve-labels=true" : "")
        return HTTPRequest(method: "GET", url: baseURL + path, headers: [("Authorization", "Bearer \(key.secretValue)"), ("Accept", "application/json")], timeout: timeout)
    }

    /// One page of the public catalog search for the `nim` org's containers; no key needed.
    static func catalogSearch(baseURL: String, page: Int, pageSize: Int, timeout: TimeInterval) -> HTTPRequest {
        let query: JSON = ["query": "orgName:nim", "page": .int(page), "pageSize": .int(pageSize)]
        return HTTPRequest(
            method: "GET", url: baseURL + "/v2/search/catalog/resources/CONTAINER?q=" + URLQuery.encode(query.serialized()),
            headers: [("Accept", "application/json")], timeout: timeout)
    }

    static func trimmed(_ baseURL: String) -> String {
        var trimmed = baseURL
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed
    }
}
