import Foundation
import Testing
import KubeCore
import KubeAPI
import KubeRuntime
import LocalControlPlane
import TestSupport

/// The token check in front of /metrics, against the local control plane's TokenReview and
/// SubjectAccessReview: what it lets in, what it refuses, what it caches and for how long, and
/// what it answers when the API server cannot.
@Suite struct DelegatedAuthorizationTests {
    final class Clock: Sendable {
        let now = Locked(Date(timeIntervalSince1970: 1_800_000_000))
        func advance(_ seconds: TimeInterval) { now.update { $0 = $0.addingTimeInterval(seconds) } }
    }

    static func cluster() throws -> TestCluster {
        let cluster = try TestCluster()
        try cluster.controlPlane.apply([
            MetricsRBAC.readerRole("metrics-reader"), MetricsRBAC.binding("prometheus-metrics-reader", role: "metrics-reader", namespace: "monitoring", account: "prometheus"),
        ])
        return cluster
    }

    static func reviews(_ cluster: TestCluster) -> (tokens: Int, access: Int) {
        let stats = cluster.controlPlane.requestStats
        return (stats.count(verb: "create", resource: "tokenreviews.authentication.k8s.io"), stats.count(verb: "create", resource: "subjectaccessreviews.authorization.k8s.io"))
    }

    @Test func anAllowedTokenIsLetInAndItsVerdictCachedForTheTTL() async throws {
        let cluster = try Self.cluster()
        let clock = Clock()
        let access = DelegatedAuthorization(client: cluster.client, ttl: 10, now: { clock.now.value })
        let token = cluster.controlPlane.serviceAccountToken(namespace: "monitoring", name: "prometheus")
        #expect(await access.check(authorization: "Bearer \(token)", path: "/metrics") == .allowed(user: "system:serviceaccount:monitoring:prometheus"))
        #expect(await access.check(authorization: "bearer \(token)", path: "/metrics") == .allowed(user: "system:serviceaccount:monitoring:prometheus"))
        #expect(Self.reviews(cluster) == (1, 1), "the second within the TTL asks nothing")
        // Another path is another question; the token's answer is still cached.
        #expect(await access.check(authorization: "Bearer \(token)", path: "/debug") == .forbidden(user: "system:serviceaccount:monitoring:prometheus"))
        #expect(Self.reviews(cluster) == (1, 2))
        clock.advance(11)
        #expect(await access.check(authorization: "Bearer \(token)", path: "/metrics") == .allowed(user: "system:serviceaccount:monitoring:prometheus"))
        #expect(Self.reviews(cluster) == (2, 3), "asked again once the TTL is over")
    }

    @Test func refusalsAreCachedToo() async throws {
        let cluster = try Self.cluster()
        let access = DelegatedAuthorization(client: cluster.client)
        let other = cluster.controlPlane.serviceAccountToken(namespace: "team-a", name: "default")
        for _ in 0..<3 {
            #expect(await access.check(authorization: "Bearer \(other)", path: "/metrics") == .forbidden(user: "system:serviceaccount:team-a:default"))
            #expect(await access.check(authorization: "Bearer not-a-token", path: "/metrics") == .unauthenticated(reason: "token not accepted"))
        }
        #expect(Self.reviews(cluster) == (2, 1), "one review per token, one access review per user")
    }

    @Test(arguments: [nil, "", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer    ", "Bearer " + String(repeating: "x", count: 16 << 10 + 1)])
    func noUsableBearerTokenIsRefusedWithoutAsking(_ header: String?) async throws {
        let cluster = try Self.cluster()
        let access = DelegatedAuthorization(client: cluster.client)
        let verdict = await access.check(authorization: header, path: "/metrics")
        #expect(verdict.httpStatus == 401)
        #expect(Self.reviews(cluster) == (0, 0))
    }

    @Test func anAPIServerThatFailsOrIsSlowGivesA500AndIsAskedAgainNextTime() async throws {
        let cluster = try Self.cluster()
        let token = cluster.controlPlane.serviceAccountToken(namespace: "monitoring", name: "prometheus")
        cluster.controlPlane.faults.failNext(1, code: 403, verbs: ["create"], resource: "tokenreviews.authentication.k8s.io")
        let access = DelegatedAuthorization(client: cluster.client, deadline: 0.5)
        let failed = await access.check(authorization: "Bearer \(token)", path: "/metrics")
        #expect(failed.httpStatus == 500, "\(failed)")
        #expect(!"\(failed)".contains(token))
        #expect(await access.check(authorization: "Bearer \(token)", path: "/metrics") == .allowed(user: "system:serviceaccount:monitoring:prometheus"))

        let slow = DelegatedAuthorization(client: cluster.client, deadline: 0.2)
        cluster.controlPlane.faults.latency = 2
        defer { cluster.controlPlane.faults.latency = 0 }
        let began = Date()
        let verdict = await slow.check(authorization: "Bearer \(token)", path: "/metrics")
        #expect(verdict.httpStatus == 500 && Date().timeIntervalSince(began) < 1.5, "\(verdict)")
    }
}
