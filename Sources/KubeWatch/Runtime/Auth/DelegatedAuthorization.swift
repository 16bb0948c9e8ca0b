import Foundation
import KubeCore
import KubeAPI

/// Who may read one of the process's own endpoints, as the API server decides it: the bearer
/// token by a TokenReview, the request by a SubjectAccessReview on its path. This is what
/// controller-runtime's secure metrics filter and kube-rbac-proxy do, so the same
/// `nonResourceURLs: ["/metrics"]` ClusterRole that grants Prometheus those scrapes grants this one.
///
/// Answers are cached for `ttl` (10 s, k8s.io/apiserver's delegating authenticator and
/// authorizer default), denials too: a scrape every 15 s costs two reviews, and a caller sending
/// the same bad token in a loop costs the API server one review every 10 s. The token cache is
/// keyed by the token's SHA-256 and the access cache by the whole review's spec (user, uid,
/// groups, extra: a scoped token of a user is not the same subject as the user's full token). A
/// token longer than `maximumTokenBytes` is refused unasked. Tokens go nowhere else: not to logs,
/// metrics or errors. A verdict takes at most `deadline`; past it the answer is 500.
public actor DelegatedAuthorization {
    public enum Verdict: Sendable, Equatable {
        case allowed(user: String)
        /// No bearer token, or one the API server does not know (401).
        case unauthenticated(reason: String)
        /// A known user without the permission (403).
        case forbidden(user: String)
        /// A review could not be made (500): the API server's answer, never the token.
        case unavailable(reason: String)

        public var httpStatus: Int {
            switch self {
            case .allowed: 200
            case .unauthenticated: 401
            case .forbidden: 403
            case .unavailable: 500
            }
        }

        /// The counter's `result` label.
        public var outcome: String {
            switch self {
            case .allowed: "allowed"
            case .unauthenticated: "unauthenticated"
            case .forbidden: "forbidden"
            case .unavailable: "error"
            }
        }
    }

    public static let tokenReviews = ResourceType(group: "authentication.k8s.io", version: "v1", plural: "tokenreviews", kind: "TokenReview", namespaced: false)
    public static let subjectAccessReviews = ResourceType(
        group: "authorization.k8s.io", version: "v1", plural: "subjectaccessreviews", kind: "SubjectAccessReview", namespaced: false)

    struct UserInfo: Hashable {
        var name: String
        var uid: String
        var groups: [String]
        var extra: JSON
    }

    private struct Cached<Value> {
        var value: Value
        var expires: Date
    }

    /// Service account tokens are about 1 KiB; OIDC ones a few.
    public static let maximumTokenBytes = 16 << 10

    private let client: KubeClient
    private let ttl: TimeInterval
    private let deadline: TimeInterval
    private let capacity: Int
    private let now: @Sendable () -> Date
    private let log = Logger(name: "metrics-auth")
    private var tokens: [String: Cached<Result<UserInfo, AuthFailure>>] = [:]
    private var decisions: [String: Cached<Bool>] = [:]

    struct AuthFailure: Error, Hashable { var reason: String }

    public init(client: KubeClient, ttl: TimeInterval = 10, capacity: Int = 4096, deadline: TimeInterval = 10, now: @escaping @Sendable () -> Date = Date.init) {
        self.client = client
        self.ttl = ttl
        self.deadline = deadline
        self.capacity = capacity
        self.now = now
    }

    /// The verdict on a request carrying `authorization` (the header's value) for `verb` on `path`.
    public nonisolated func check(authorization: String?, verb: String = "get", path: String) async -> Verdict {
        let deadline = self.deadline
        return await withTaskGroup(of: Verdict?.self) { group in
            group.addTask { await self.decide(authorization: authorization, verb: verb, path: path) }
            group.addTask {
                try? await Task.sleep(nanoseconds: UInt64(deadline * 1_000_000_000))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .unavailable(reason: "the API server did not answer the reviews within \(Int(deadline)) s")
        }
    }

    private func decide(authorization: String?, verb: String, path: String) async -> Verdict {
        guard let authorization, authorization.utf8.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
            return .unauthenticated(reason: "no bearer token")
        }
        let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty, token.utf8.count <= Self.maximumTokenBytes else { return .unauthenticated(reason: "no usable bearer token") }
        let user: UserInfo
        switch await authenticate(token) {
        case .success(let known): user = known
        case .failure(let failure): return .unauthenticated(reason: failure.reason)
        case nil: return .unavailable(reason: "the TokenReview failed")
        }
        switch await authorize(user, verb: verb, path: path) {
        case true?: return .allowed(user: user.name)
        case false?:
            return .forbidden(user: user.name)
        case nil: return .unavailable(reason: "the SubjectAccessReview failed")
        }
    }

    /// The user the API server says the token is, a failure it gave, or nil when it could not be asked.
    private func authenticate(_ token: String) async -> Result<UserInfo, AuthFailure>? {
        let digest = SHA256.hex(Array(token.utf8))
        if let cached = tokens[digest], cached.expires > now() { return cached.value }
        let review = KubeObject([
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": ["token": .string(token)],
        ])
        let answer: KubeObject
        do {
            answer = try await client.create(review, Self.tokenReviews)
        } catch {
            log.error("cannot review a token", ["error": .string(error.description)])
            return nil
        }
        let status = answer.body["status"]
        let result: Result<UserInfo, AuthFailure>
        if status?["authenticated"]?.boolValue == true, let name = status?[path: ["user", "username"]]?.stringValue {
            result = .success(UserInfo(
                name: name, uid: status?[path: ["user", "uid"]]?.stringValue ?? "",
                groups: (status?[path: ["user", "groups"]]?.arrayValue ?? []).compactMap(\.stringValue),
                extra: status?[path: ["user", "extra"]] ?? [:]))
        } else {
            result = .failure(AuthFailure(reason: "token not accepted"))
        }
        remember(&tokens, digest, result)
        return result
    }

    /// Whether the user may; nil when the API server could not be asked.
    private func authorize(_ user: UserInfo, verb: String, path: String) async -> Bool? {
        var spec: [String: JSON] = [
            "user": .string(user.name), "groups": .array(user.groups.map(JSON.string)),
            "nonResourceAttributes": ["path": .string(path), "verb": .string(verb)],
        ]
        if !user.uid.isEmpty { spec["uid"] = .string(user.uid) }
        if user.extra.objectValue?.isEmpty == false { spec["extra"] = user.extra }
        // The spec whole, canonical (sorted keys): any difference in who asks is another entry.
        let key = JSON.object(spec).serialized()
        if let cached = decisions[key], cached.expires > now() { return cached.value }
        let review = KubeObject(["apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": .object(spec)])
        let allowed: Bool
        do {
            allowed = try await client.create(review, Self.subjectAccessReviews).body[path: ["status", "allowed"]]?.boolValue == true
        } catch {
            log.error("cannot review access", ["user": .string(user.name), "path": .string(path), "error": .string(error.description)])
            return nil
        }
        if !allowed { log.warn("refused: the user may not \(verb) \(path)", ["user": .string(user.name)]) }
        remember(&decisions, key, allowed)
        return allowed
    }

    /// Expired entries go when the cache is full; if it is still full, all do (a flood of distinct
    /// tokens must not grow memory).
    private func remember<Value>(_ cache: inout [String: Cached<Value>], _ key: String, _ value: Value) {
        let moment = now()
        if cache.count >= capacity {
            cache = cache.filter { $0.value.expires > moment }
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
        }
        cache[key] = Cached(value: value, expires: moment.addingTimeInterval(ttl))
    }
}
