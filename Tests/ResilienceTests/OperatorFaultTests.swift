import Foundation
import Testing
import LocalControlPlane
import Reconciler
import TestSupport

/// The operator process killed where it hurts: SIGKILL (no cleanup, requests cut mid-flight)
/// while it creates, rotates and migrates; and two replicas with leader election.
extension Resilience {
    @Suite struct OperatorFaults {
        @Test func killedAtRandomPointsWhileCreatingRotatingAndMigrating() async throws {
            var random = Seed.random()
            let env = try await NimEnvironment.legacy()
            var fleet = Fleet(env: env)
            var process = try OperatorProcess(env: env, ["--migrate-legacy"])
            var kills = 0
            func killSoon(_ random: inout SeededRandom) async throws {
                try await Task.sleep(nanoseconds: UInt64.random(in: 20_000_000...400_000_000, using: &random))
                process.kill()
                _ = await process.command.wait(timeout: 10)
                kills += 1
                process = try OperatorProcess(env: env, ["--migrate-legacy"])
            }
            // While creating.
            try await fleet.create(8)
            try await killSoon(&random)
            try await fleet.create(4, prefix: "more")
            try await killSoon(&random)
            // While rotating.
            for round in 0..<3 {
                for (index, member) in fleet.members.enumerated() where index % 3 == round { try await fleet.rotate(member, to: Fleet.key(6000 + 10 * round + index)) }
                try await killSoon(&random)
            }
            let seconds = try await fleet.converge(timeout: 90, "after \(kills) kills")
            // Migration ran in the legacy namespace through the kills: each deployment moved, once,
            // its key kept. It is its own controller: the fleet converging says nothing of it.
            for name in LegacyFixture.migratable {
                var held: String?
                try await eventually(timeout: 60, "\(name) migrated") {
                    held = try? await env.secretKey("nvidia-nim-secrets-\(name)", namespace: "legacy")
                    return held != nil
                }
                #expect(held == (name == "handmoved" ? LegacyFixture.handMovedKey : LegacyFixture.key), "\(name)")
            }
            report("operator SIGKILLed \(kills)x at seeded points while creating 12, rotating 12 keys, migrating 3 legacy deployments", converged: seconds,
                   "as for API faults; legacy deployments migrated with their keys")
            #expect(process.troubles.isEmpty)
        }

        @Test func theFollowerTakesOverWhenTheLeaderIsKilled() async throws {
            let env = try await NimEnvironment()
            var fleet = Fleet(env: env)
            let first = try OperatorProcess(env: env, ["--leader-elect"])
            let firstIdentity = try await first.identity()
            try await eventually(timeout: 30, "the first replica leads") { (try? await self.holder(env)) == firstIdentity }  // no Lease yet: 404
            let second = try OperatorProcess(env: env, ["--leader-elect"])
            let secondIdentity = try await second.identity()
            try await fleet.create(6)
            try await fleet.converge("under the first leader")
            #expect(try await holder(env) == firstIdentity, "the follower never took the Lease while the leader lived")
            #expect(!second.log.contains("\"msg\":\"key rotated\"") && !second.log.contains("acquired lease"))

            let rolloutsBefore = fleet.members.map { env.rollouts(of: $0.name, namespace: $0.namespace) }
            first.kill()
            let killed = Date()
            try await eventually(timeout: 30, "the follower leads") { (try? await self.holder(env)) == secondIdentity }
            let takeover = Date().timeIntervalSince(killed)
            #expect(takeover <= 15 + 2 + 3, "within the lease duration (15 s) and a retry period")
            // The new leader rotates a key once, and rolls nothing it did not have to.
            try await fleet.rotate(fleet.members[0], to: Fleet.key(7000))
            let seconds = try await fleet.converge("under the second leader")
            for member in fleet.members { try await env.quiesce(member.name, namespace: member.namespace) }
            let rolloutsAfter = fleet.members.map { env.rollouts(of: $0.name, namespace: $0.namespace) }
            let sharing = fleet.members.filter { $0.namespace == fleet.members[0].namespace && $0.keySecret == fleet.members[0].keySecret }
            for (index, member) in fleet.members.enumerated() {
                #expect(rolloutsAfter[index] - rolloutsBefore[index] == (sharing.contains(member) ? 1 : 0), "\(member.name): one rollout per rotation, none otherwise")
            }
            report(String(format: "leader SIGKILLed, follower took over in %.1f s", takeover), converged: seconds, "no Lease taken while the leader lived; one rollout per rotation after")
            _ = await second.stop()
        }

        func holder(_ env: NimEnvironment) async throws -> String? {
            try await env.client.get(.leases, namespace: NimEnvironment.operatorNamespace, name: "nim-deploy-operator")[path: ["spec", "holderIdentity"]]?.stringValue
        }
    }
}
