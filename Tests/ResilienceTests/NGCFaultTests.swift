import Foundation
import Testing
import Reconciler
import TestSupport

/// NGC misbehaving while keys change: an answer that does not come is not a verdict. A new
/// deployment waits (NGCUnreachable, nothing half-built), a rotated key waits, the working key
/// stays; once NGC answers, everything converges.
extension Resilience {
    @Suite struct NGCFaults {
        enum Fault: String, CaseIterable, Sendable {
            case down = "NGC down (503 to everything)"
            case slow = "NGC slower than --ngc-timeout (2 s answers, 1 s timeout)"
            case failing = "NGC answering 500"
            case garbled = "NGC answering 200 with garbage bodies"
        }

        @Test(arguments: Fault.allCases)
        func keysWaitForAnAnswerAndNothingHalfBuilt(_ fault: Fault) async throws {
            let env = try await NimEnvironment()
            var fleet = Fleet(env: env)
            let process = try OperatorProcess(env: env, ["--ngc-timeout", "1s"])
            try await fleet.create(4)
            try await fleet.converge("before the fault")
            let before = try await env.keysInSecrets(of: fleet.members[0].name, namespace: fleet.members[0].namespace)

            switch fault {
            case .down: env.ngc.setDown(true)
            case .slow: env.ngc.setLatency(2)
            case .failing: env.ngc.failNext(Array(repeating: 500, count: 10_000))
            case .garbled: env.ngc.setGarbage(true)
            }
            try await fleet.rotate(fleet.members[0], to: Fleet.key(8000))
            try await fleet.create(1, prefix: "new")
            let newcomer = try #require(fleet.members.last)
            if fault != .garbled {
                // Validation only reads the status code: a garbled 200 is an answer, the others are
                // not. No answer is Unknown (transient, retried), not False (a verdict).
                try await env.waitFor("KeyValid", "Unknown", reason: "NGCUnreachable", of: newcomer.name, namespace: newcomer.namespace, timeout: 30)
                #expect(try await env.children(namespace: newcomer.namespace).values.joined().filter { $0.hasSuffix(newcomer.name) }.isEmpty, "nothing built for \(newcomer.name)")
                let held = try await env.keysInSecrets(of: fleet.members[0].name, namespace: fleet.members[0].namespace)
                #expect(held.apiKey == before.apiKey && held.pull == before.pull, "the working key stays until NGC answers")
                try await eventually(timeout: 10, "an NGCUnreachable event") { try await !env.events("NGCUnreachable", of: newcomer.name, namespace: newcomer.namespace).isEmpty }
            }
            let faultEnded = Date()
            env.ngc.setDown(false)
            env.ngc.setLatency(0)
            env.ngc.setGarbage(false)
            env.ngc.clearFailures()
            try await fleet.converge(timeout: 90, "after \(fault.rawValue)")
            report(fault.rawValue, converged: Date().timeIntervalSince(faultEnded), "new deployment: NGCUnreachable and no children while it lasted; rotated key not written until NGC answered; then all converged")
            #expect(process.isRunning && process.troubles.isEmpty)
        }
    }
}
