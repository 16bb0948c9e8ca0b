import Foundation
import Synchronization
import KubeCore
import KubeAPI

/// A registry read through the OCI distribution API: its repositories (`/v2/_catalog`) and
/// each repository's tags (`/v2/<name>/tags/list`), page by page (`n`, and the `Link` header's
/// next page). It authenticates as the registry asks in its `WWW-Authenticate` challenge: Basic
/// with the credentials, or the distribution spec's token flow (a bearer token from the realm,
/// for the scope, got with the credentials when there are any), a token kept per scope.
public final class OCIRegistry: Sendable {
    public struct Credentials: Sendable, CustomStringConvertible {
        public var username: String
        public var password: String
        public init(username: String, password: String) {
            self.username = username
            self.password = password
            Redactor.current.register(password)
        }
        public var description: String { "Credentials(\(username))" }
        var basic: String { "Basic " + Data("\(username):\(password)".utf8).base64EncodedString() }

        /// From an auth file (containers-auth.json(5), Docker's config.json): `auths.<host>.auth`
        /// (base64 of `user:password`) or `username` and `password`.
        public static func fromAuthFile(_ document: JSON, host: String) -> Credentials? {
            let auths = document["auths"]?.objectValue ?? [:]
            guard let entry = auths[host] ?? auths["https://\(host)"] ?? auths["http://\(host)"] else { return nil }
            if let user = entry["username"]?.stringValue, let password = entry["password"]?.stringValue { return Credentials(username: user, password: password) }
            guard let encoded = entry["auth"]?.stringValue, let data = Data(base64Encoded: encoded) else { return nil }
            let text = String(decoding: data, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":") else { return nil }
            return Credentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// `scheme://host[:port]`.
    public let baseURL: String
    let credentials: Credentials?
    let transport: any HTTPTransport
    let pageSize: Int
    private let tokens = Mutex<[String: String]>([:])

    public init(baseURL: String, credentials: Credentials?, transport: any HTTPTransport, pageSize: Int = 100) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.credentials = credentials
        self.transport = transport
        self.pageSize = max(1, pageSize)
    }

    public func repositories() async throws(Failure) -> [String] {
        try await pages("/v2/_catalog?n=\(pageSize)", scope: "registry:catalog:*", field: "repositories")
    }

    public func tags(_ repository: String) async throws(Failure) -> [String] {
        try await pages("/v2/\(repository)/tags/list?n=\(pageSize)", scope: "repository:\(repository):pull", field: "tags")
    }

    private func pages(_ first: String, scope: String, field: String) async throws(Failure) -> [String] {
        var items: [String] = []
        var next: String? = first
        var seen: Set<String> = []
        while let path = next, seen.insert(path).inserted {
            let response = try await get(path, scope: scope)
            guard response.status == 200 else {
                if response.status == 404 { return [] }
                throw Failure(message: "\(baseURL)\(path.split(separator: "?").first ?? ""): HTTP \(response.status)" + (response.status == 401 ? " (the credentials are refused)" : ""))
            }
            guard let document = try? JSON(parsing: response.body) else { throw Failure(message: "\(baseURL)\(path): the answer is not JSON") }
            items += (document[field]?.arrayValue ?? []).compactMap(\.stringValue)
            next = Self.nextPage(response.headers["Link"])
        }
        return items
    }

    /// `<https://r/v2/_catalog?last=x&n=100>; rel="next"` to the path and query of that page.
    static func nextPage(_ link: String?) -> String? {
        guard let link, link.contains("rel=\"next\"") || link.contains("rel=next"),
            let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close
        else { return nil }
        let target = String(link[link.index(after: open)..<close])
        if target.hasPrefix("/") { return target }
        guard let schemeEnd = target.range(of: "://"), let slash = target[schemeEnd.upperBound...].firstIndex(of: "/") else { return nil }
        return String(target[slash...])
    }

    private func get(_ path: String, scope: String) async throws(Failure) -> HTTPResponse {
        var headers: [(String, String)] = [("Accept", "application/json")]
        if let token = tokens.withLock({ $0[scope] }) { headers.append(("Authorization", "Bearer \(token)")) }
        var response = try await send(path, headers: headers)
        guard response.status == 401, let challenge = response.headers["WWW-Authenticate"] else { return response }
        let (scheme, parameters) = Self.parseChallenge(challenge)
        switch scheme.lowercased() {
        case "basic":
            guard let credentials else { throw Failure(message: "\(baseURL) asks for credentials (Basic): give an auth file with --registry-auth") }
            response = try await send(path, headers: [("Accept", "application/json"), ("Authorization", credentials.basic)])
        case "bearer":
            let token = try await fetchToken(parameters, scope: parameters["scope"] ?? scope)
            tokens.withLock { $0[scope] = token }
            response = try await send(path, headers: [("Accept", "application/json"), ("Authorization", "Bearer \(token)")])
        default:
            throw Failure(message: "\(baseURL) asks for \(scheme) authentication, which is not supported (Basic and Bearer are)")
        }
        return response
    }

    private func fetchToken(_ parameters: [String: String], scope: String) async throws(Failure) -> String {
        guard let realm = parameters["realm"] else { throw Failure(message: "\(baseURL): a Bearer challenge without a realm") }
        // Credentials go over TLS when the registry itself is reached over TLS.
        if baseURL.hasPrefix("https://"), !realm.hasPrefix("https://") {
            throw Failure(message: "\(baseURL) names a token service that is not https (\(realm)); the credentials are not sent there")
        }
        var query: [(String, String)] = [("scope", scope)]
        if let service = parameters["service"] { query.insert(("service", service), at: 0) }
        let url = realm + (realm.contains("?") ? "&" : "?") + URLQuery.build(query)
        var headers: [(String, String)] = [("Accept", "application/json")]
        if let credentials { headers.append(("Authorization", credentials.basic)) }
        let response: HTTPResponse
        do {
            response = try await transport.send(HTTPRequest(method: "GET", url: url, headers: headers))
        } catch {
            throw Failure(message: "the token service \(realm) cannot be reached: \(error.message)")
        }
        guard response.status == 200, let document = try? JSON(parsing: response.body),
            let token = document["token"]?.stringValue ?? document["access_token"]?.stringValue
        else {
            throw Failure(message: "the token service \(realm) refused a token for \(scope) (HTTP \(response.status))" + (credentials == nil ? "; give an auth file with --registry-auth" : ""))
        }
        Redactor.current.register(token)
        return token
    }

    private func send(_ path: String, headers: [(String, String)]) async throws(Failure) -> HTTPResponse {
        do {
            return try await transport.send(HTTPRequest(method: "GET", url: baseURL + path, headers: headers))
        } catch {
            throw Failure(message: "\(baseURL) cannot be reached: \(error.message)")
        }
    }

    /// `Bearer realm="https://auth",service="registry",scope="repository:x:pull"`.
    static func parseChallenge(_ text: String) -> (scheme: String, parameters: [String: String]) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let scheme = String(trimmed.prefix { $0 != " " })
        var parameters: [String: String] = [:]
        var rest = Substring(trimmed.dropFirst(scheme.count))
        while let equals = rest.firstIndex(of: "=") {
            let name = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: " ,")).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                let end = rest.firstIndex(of: "\"") ?? rest.endIndex
                value = String(rest[..<end])
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : ""
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            parameters[name] = value
        }
        return (scheme, parameters)
    }
}
