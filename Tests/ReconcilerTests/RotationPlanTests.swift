import Foundation
import Testing
@testable import Reconciler

/// The rotation decisions are pure: from the fingerprint in status, the key now and the token
/// on the InferenceService, what to write and what it means.
@Suite struct RotationPlanTests {
    let a = "sha256:aaaaaaaaaaaa"
    let b = "sha256:bbbbbbbbbbbb"

    func plan(previous: String?, current: String, live: String?, rotate: String? = nil, restartPods: Bool = true) -> RotationPlan {
        RotationPlan(previous: previous, current: current, live: RestartToken(parsing: live), rotateRequest: rotate, restartPods: restartPods)
    }

    @Test func tokensReadBackAsWritten() {
        #expect(RestartToken(parsing: a) == RestartToken(fingerprint: a))
        let requested = RestartToken(fingerprint: a, request: RestartToken.requestHash("now"))
        #expect(RestartToken(parsing: requested.description) == requested)
        #expect(requested.description == a + "/rotate-" + RestartToken.requestHash("now"))
        #expect(RestartToken(parsing: "") == nil && RestartToken(parsing: nil) == nil)
        #expect(RestartToken.requestHash("now").count == 8)
    }

    @Test func theFirstReconcileIsNoRotation() {
        let first = plan(previous: nil, current: a, live: nil)
        #expect(first.token.description == a)
        #expect(!first.keyChanged && !first.restartsPods && first.outcome(restartPods: true) == nil)
    }

    @Test func aNewKeyRestartsThePodsOnce() {
        let rotation = plan(previous: a, current: b, live: a)
        #expect(rotation.token.description == b && rotation.keyChanged && rotation.restartsPods)
        #expect(rotation.outcome(restartPods: true) == .rotated(from: a, to: b, pods: .restarting, restartPods: true))
        // Written, status not yet: the next pass restarts nothing more and still reports it.
        let resumed = plan(previous: a, current: b, live: b)
        #expect(!resumed.restartsPods && resumed.outcome(restartPods: true) == .rotated(from: a, to: b, pods: .alreadyRunningIt, restartPods: true))
        // Done.
        #expect(plan(previous: b, current: b, live: b).outcome(restartPods: true) == nil)
    }

    @Test func restartPodsFalseKeepsTheLiveTokenUntilAsked() {
        let quiet = plan(previous: a, current: b, live: a, restartPods: false)
        #expect(quiet.token.description == a && !quiet.restartsPods && !quiet.podsRunCurrentKey)
        #expect(quiet.outcome(restartPods: false) == .rotated(from: a, to: b, pods: .keepPrevious, restartPods: false))
        #expect(quiet.outcome(restartPods: false)?.metricResult == "secrets_only")
        // Back to the key the pods never left: nothing restarts, and nothing claims it does.
        let back = plan(previous: b, current: a, live: a, restartPods: false)
        #expect(!back.restartsPods && back.outcome(restartPods: false) == .rotated(from: b, to: a, pods: .alreadyRunningIt, restartPods: false))
        let asked = plan(previous: b, current: b, live: a, rotate: "now", restartPods: false)
        #expect(asked.token == RestartToken(fingerprint: b, request: RestartToken.requestHash("now")))
        #expect(asked.outcome(restartPods: false) == .podsRestarted(fingerprint: b, requested: true))
        // Turned back on: the pods catch up with the key the Secrets hold.
        #expect(plan(previous: b, current: b, live: a).outcome(restartPods: true) == .podsRestarted(fingerprint: b, requested: false))
    }

    @Test func eachRotateValueRestartsOnceAndRemovingItRestartsNothing() {
        let hash = RestartToken.requestHash("1")
        let asked = plan(previous: a, current: a, live: a, rotate: "1")
        #expect(asked.restartsPods && asked.requested)
        let again = plan(previous: a, current: a, live: "\(a)/rotate-\(hash)", rotate: "1")
        #expect(!again.restartsPods)
        let removed = plan(previous: a, current: a, live: "\(a)/rotate-\(hash)", rotate: nil)
        #expect(!removed.restartsPods && removed.token.request == hash)
        #expect(plan(previous: a, current: a, live: a, rotate: "").outcome(restartPods: true) == nil, "an empty value asks for nothing")
        // A new key with an old request keeps the request and restarts for the key.
        let rotated = plan(previous: a, current: b, live: "\(a)/rotate-\(hash)")
        #expect(rotated.token == RestartToken(fingerprint: b, request: hash) && !rotated.requested)
    }

    @Test func disconnectedIsNoKeyChange() {
        let plan = plan(previous: a, current: RestartToken.disconnected, live: a)
        #expect(!plan.keyChanged && plan.restartsPods)
        #expect(plan.outcome(restartPods: true) == .podsRestarted(fingerprint: RestartToken.disconnected, requested: false))
    }
}
