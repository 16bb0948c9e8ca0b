import Foundation
import Testing
import KubeCore
import Reconciler

/// The revision rules in the decision table: verification, rollback, retry, canary steps and
/// what each says, from observations made by hand.
extension DecisionTableTests {
    static func latest(_ seen: Seen) -> JSON? { seen.field("revisions")?[0] }

    /// A world serving revision 1, verified, then with `changes` to the spec.
    static func servingThenChanged(_ changes: [String: JSON], serverless: Bool = false, before: [String: JSON] = [:], options: ReconcilerOptions? = nil) -> World {
        var world = World()
        if let options { world.options = options }
        for (key, value) in before { world.spec[key] = value }
        world = world.converged()
        if serverless {
            world.children.inferenceService?.annotations[DesiredState.deploymentModeAnnotation] = "Serverless"
            world = world.converged()
        }
        for (key, value) in changes { world.spec[key] = value }
        return world
    }

    @Test func aFirstRevisionIsVerifiedAndKnownGood() {
        let world = World().converged()
        let seen = Self.seen(world)
        #expect(Self.latest(seen)?["number"] == 1 && Self.latest(seen)?["outcome"] == "Verified")
        #expect(seen.field("knownGoodRevision")?["spec"] == ["model": "llama-3.1-8b-instruct"])
        #expect(seen.condition("ModelVerified") == "True Verified")
    }

    @Test func aWrongAnswerRollsBackToTheKnownGoodSpecWithTheCurrentKey() {
        var world = Self.servingThenChanged(["tag": "1.1.1"])
        world.modelVerdict = ModelVerdict(.wrongAnswer, "Asked a chat completion: it answered \"Lyon.\"", seconds: 0.2)
        // Written, then Ready: asked, and rolled back.
        let written = Self.seen(world)
        world.children.inferenceService = written.written("InferenceService").map { service in
            var service = service
            service["status"] = ["url": "http://llama.team-a.svc.cluster.local", "conditions": [["type": "Ready", "status": "True"]]]
            return service
        }
        world.pods = [Self.pod("llama-predictor-2", revision: Self.revision(of: world.children.inferenceService), ready: true)]
        world.status = written.decision.status
        let seen = Self.seen(world)
        #expect(seen.condition("RolledBack") == "True WrongAnswer" && seen.condition("Degraded") == "True RolledBack")
        #expect(seen.written("ServingRuntime")?[path: ["spec", "containers"]]?[0]?["image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2")
        #expect(seen.events.contains("RolledBack"))
        #expect(Self.latest(seen)?["change"]?.stringValue?.hasPrefix("rollback to revision 1") == true)
        #expect(seen.field("failedRevision")?["number"] == 2)
    }

    @Test func aKeyOnlyRevisionThatFailsIsNotRolledBackToTheRotatedKey() {
        var world = World().converged()
        world.key = .read(Self.rotated, version: "2")
        world.sighting = WriteLedger.KeySighting(version: "2", firstPending: Self.now, last: Self.now.addingTimeInterval(-10))
        world.modelVerdict = ModelVerdict(.wrongAnswer, "it answered nothing", seconds: 0.1)
        let seen = Self.seen(world.converged())
        #expect(seen.condition("RolledBack") == "absent")
        #expect(seen.condition("Degraded") == "True WrongAnswer")
        #expect(Self.latest(seen)?["outcome"] == "Failed")
        #expect(seen.token?.fingerprint == Self.rotated.fingerprint, "the rotated key stays")
    }

    @Test func aModelThatCannotBeReachedIsReportedNotJudged() {
        var world = World()
        world.modelVerdict = ModelVerdict(.unreachable, "Cannot connect", seconds: 0.01)
        let seen = Self.seen(world.converged())
        #expect(seen.condition("ModelVerified") == "Unknown ModelUnreachable")
        #expect(Self.latest(seen)?["outcome"] == "Verified", "Ready counts: nothing says the revision is bad")
    }

    @Test func nothingIsAskedOfASuspendedOrScaledToZeroRevision() {
        var suspended = World()
        suspended.spec["suspend"] = true
        let paused = Self.seen(suspended.converged())
        #expect(!paused.needs.contains { if case .verification = $0 { return true } else { return false } })
        #expect(Self.latest(paused)?["outcome"] == "Progressing", "judged once it runs again")

        var zero = World()
        zero.spec["replicas"] = ["min": 0, "max": 1]
        var scaledToZero = zero.converged()
        scaledToZero.status = zero.decide().decision.status
        scaledToZero.pods = []
        let idle = Self.seen(scaledToZero)
        #expect(idle.condition("ModelVerified") == "Unknown ScaledToZero" && Self.latest(idle)?["outcome"] == "Verified")
    }

    @Test func verificationOffCountsReadyAsGood() {
        var world = World()
        world.spec["verification"] = ["enabled": false]
        let seen = Self.seen(world.converged())
        #expect(!seen.needs.contains { if case .verification = $0 { return true } else { return false } })
        #expect(seen.condition("ModelVerified") == "absent" && Self.latest(seen)?["outcome"] == "Verified")
    }

    @Test func progressiveInRawDeploymentWithoutTheGatewayAPIRollsInPlaceAndSaysSo() {
        let world = Self.servingThenChanged(["tag": "1.1.1"], before: ["rollout": ["strategy": "Progressive"]])
        let seen = Self.seen(world)
        #expect(seen.condition("ProgressiveRollout") == "False NoTrafficSplitting")
        #expect(seen.kinds == Self.everything, "in place: no candidate")
        #expect(Self.latest(seen)?["step"] == nil)
    }

    static func weights(_ seen: Seen) -> [String: Int] {
        let backends = seen.written("HTTPRoute")?[path: ["spec", "rules"]]?[0]?["backendRefs"]?.arrayValue ?? []
        return Dictionary(backends.compactMap { b in b["name"]?.stringValue.map { ($0, b["weight"]?.intValue ?? 1) } }) { $1 }
    }

    static let gateway: JSON = ["strategy": "Progressive", "steps": [10], "pauseSeconds": 0, "gateway": ["name": "gw", "hostname": "llama.example.com"]]

    static var withGatewayAPI: ReconcilerOptions {
        var options = World().options
        options.gatewayAPI = true
        return options
    }

    @Test func aRawDeploymentCandidateHasNoShareUntilVerifiedThenStepsIsPromotedAndGoes() {
        var world = Self.servingThenChanged(["tag": "1.1.1"], before: ["rollout": Self.gateway], options: Self.withGatewayAPI)
        let written = Self.seen(world)
        #expect(Self.weights(written) == ["llama-predictor": 100, "llama-canary-predictor": 0], "no share before it is verified")
        #expect(written.written("HTTPRoute")?[path: ["spec", "hostnames"]] == ["llama.example.com"])
        #expect(written.decision.writes.filter { $0.object.kind == "InferenceService" }.map(\.object.name) == ["llama", "llama-canary"])
        #expect(Self.revision(of: written.decision.writes.first { $0.object.kind == "InferenceService" && $0.object.name == "llama" }?.object) == Self.revision(of: world.children.inferenceService), "the stable stays as it was")
        var shares: [[String: Int]] = []
        for _ in 0..<4 {
            world = world.converged()
            shares.append(Self.weights(Self.seen(world)))
        }
        #expect(shares.first == ["llama-predictor": 90, "llama-canary-predictor": 10], "\(shares)")
        #expect(shares.last == ["llama-predictor": 100], "promoted, the candidate dropped from the route: \(shares)")
        let done = Self.seen(world)
        #expect(Self.latest(done)?["outcome"] == "Verified" && world.children.candidateService == nil)
        #expect(done.written("ServingRuntime")?[path: ["spec", "containers"]]?[0]?["image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.1")
    }

    @Test func aCanaryWhoseSplitGoesAwayRollsInPlaceAndIsJudgedAgain() {
        var world = Self.servingThenChanged(["tag": "1.1.1"], before: ["rollout": Self.gateway], options: Self.withGatewayAPI)
        world = world.converged()
        #expect(Self.latest(Self.seen(world))?["step"] != nil)
        world.options.gatewayAPI = false
        let seen = Self.seen(world)
        #expect(seen.condition("ProgressiveRollout") == "False NoTrafficSplitting")
        #expect(Self.latest(seen)?["step"] == nil && Self.latest(seen)?["verifiedAt"] == nil, "in place, asked again where it runs")
        #expect(seen.decision.deletes.map(\.name).sorted() == ["llama-canary", "llama-canary", "nim-traffic-llama"])
    }

    @Test func aResumedDeploymentIsNotRolledBackForTheTimeItWasSuspended() {
        var world = Self.servingThenChanged(["tag": "1.1.1", "suspend": true], before: ["rollout": ["progressDeadlineSeconds": 60]])
        world = world.converged(ready: false)
        let suspended = Self.latest(Self.seen(world))
        #expect(suspended?["suspendedAt"] != nil && suspended?["outcome"] == "Progressing")
        // An hour later the deployment serves again: its deadline counts from now.
        var status = Self.seen(world).decision.status
        let records = (status?["revisions"]?.arrayValue ?? []).enumerated().map { index, record -> JSON in
            guard index == 0 else { return record }
            var shifted = record
            shifted["startedAt"] = .string(KubeTime.format(Self.now.addingTimeInterval(-3600)))
            shifted["suspendedAt"] = .string(KubeTime.format(Self.now.addingTimeInterval(-3590)))
            return shifted
        }
        status?["revisions"] = .array(records)
        world.status = status
        world.spec["suspend"] = false
        let resumed = Self.seen(world)
        #expect(resumed.condition("RolledBack") == "absent", "not ProgressDeadlineExceeded")
        #expect(Self.latest(resumed)?["suspendedAt"] == nil && Self.latest(resumed)?["startedAt"] == .string(KubeTime.format(Self.now.addingTimeInterval(-10))))
    }

    @Test func aGRPCDeploymentIsNotAskedOverHTTP() {
        var world = World()
        world.spec["protocol"] = "grpc"
        let seen = Self.seen(world.converged())
        #expect(!seen.needs.contains { if case .verification = $0 { return true } else { return false } })
        #expect(seen.condition("ModelVerified") == "absent" && Self.latest(seen)?["outcome"] == "Verified")
    }

    @Test func serverlessStepsThroughCanaryTrafficPercent() {
        var world = Self.servingThenChanged(["tag": "1.1.1"], serverless: true, before: ["rollout": ["strategy": "Progressive", "steps": [10, 50], "pauseSeconds": 0]])
        var percents: [Int?] = []
        for _ in 0..<5 {
            let seen = Self.seen(world)
            percents.append(seen.written("InferenceService")?[path: ["spec", "predictor", "canaryTrafficPercent"]]?.intValue)
            world = world.converged()
        }
        // With no pause each step is written once, and the table sees every other write.
        #expect(percents.first == 0 && percents.contains(10) && percents.last == 100, "none before it is verified, then all: \(percents)")
        let done = Self.seen(world)
        #expect(Self.latest(done)?["outcome"] == "Verified" && done.condition("ProgressiveRollout") == "True CanaryTrafficPercent")
    }
}

@Suite struct TrafficReadingTests {
    @Test func theErrorRateAndTheP95OfTimeToFirstTokenComeFromANIMScrape() {
        let text = """
            # HELP request_success_total Number of successful requests.
            # TYPE request_success_total counter
            request_success_total{model_name="meta/llama-3.1-8b-instruct"} 97.0
            request_failure_total{model_name="meta/llama-3.1-8b-instruct"} 3.0
            # TYPE time_to_first_token_seconds histogram
            time_to_first_token_seconds_bucket{le="0.1",model_name="meta/llama-3.1-8b-instruct"} 50.0
            time_to_first_token_seconds_bucket{le="0.25",model_name="meta/llama-3.1-8b-instruct"} 90.0
            time_to_first_token_seconds_bucket{le="0.5",model_name="meta/llama-3.1-8b-instruct"} 100.0
            time_to_first_token_seconds_bucket{le="+Inf",model_name="meta/llama-3.1-8b-instruct"} 100.0
            time_to_first_token_seconds_count{model_name="meta/llama-3.1-8b-instruct"} 100.0
            """
        let reading = TrafficReading(exposition: text)
        #expect(reading.finished == 100 && abs(reading.errorRate - 0.03) < 1e-12)
        // Rank 95 falls in (0.25, 0.5]: 0.25 + 0.25 × (95 − 90) / (100 − 90), as histogram_quantile interpolates.
        #expect(abs((reading.timeToFirstTokenP95 ?? 0) - 0.375) < 1e-9)
        #expect(TrafficReading(exposition: "").timeToFirstTokenP95 == nil, "no requests: nothing to judge")
    }
}

extension DecisionTableTests {
    static func replicas(_ seen: Seen) -> (Int?, Int?) {
        let predictor = seen.written("InferenceService")?[path: ["spec", "predictor"]]
        return (predictor?["minReplicas"]?.intValue, predictor?["maxReplicas"]?.intValue)
    }

    static func quiet(_ seconds: TimeInterval) -> WriteLedger.Activity {
        WriteLedger.Activity(requests: 42, checked: now, lastChange: now.addingTimeInterval(-seconds))
    }

    @Test func aModelWithoutRequestsForTheIdleTimeScalesToZeroAndWakes() {
        var world = World()
        world.spec["idleShutdown"] = ["afterSeconds": 3600]
        world.activity = Self.quiet(60)
        world = world.converged()
        let busy = Self.seen(world)
        #expect(busy.condition("Idle") == "False Serving" && busy.condition("Ready") == "True Ready")
        #expect(busy.needs.contains(.activity("http://llama.team-a.svc.cluster.local")), "the model's counters are read")
        #expect(busy.decision.requeueAfter == 300, "and read again in five minutes")

        // An hour without a request (and since it began serving).
        var status = busy.decision.status
        let conditions = (status?["conditions"]?.arrayValue ?? []).map { condition -> JSON in
            var condition = condition
            if condition["type"] == "Idle" { condition["lastTransitionTime"] = .string(KubeTime.format(Self.now.addingTimeInterval(-7200))) }
            return condition
        }
        status?["conditions"] = .array(conditions)
        world.status = status
        world.activity = Self.quiet(4000)
        let idle = Self.seen(world)
        #expect(idle.condition("Idle") == "True IdleShutdown" && idle.condition("Ready") == "False Idle" && idle.condition("Degraded") == "False AsExpected")
        #expect(Self.replicas(idle) == (0, 0) && idle.events.contains("IdleShutdown"))
        #expect(Self.revision(of: idle.written("InferenceService")) == Self.revision(of: world.children.inferenceService), "scaling rolls nothing")

        // Stays idle: no pods, no requests to count, nothing asked.
        world.status = idle.decision.status
        let still = Self.seen(world)
        #expect(still.condition("Idle") == "True IdleShutdown" && Self.replicas(still) == (0, 0) && still.events.isEmpty)
        #expect(!still.needs.contains(.activity("http://llama.team-a.svc.cluster.local")))

        // Woken by the annotation: serving again, the clock starting now.
        var woken = world
        woken.annotations[NimDeployment.wakeAnnotation] = "please"
        let awake = Self.seen(woken)
        #expect(awake.condition("Idle") == "False Woken" && Self.replicas(awake) == (1, 1) && awake.events.contains("Woken"))
        #expect(awake.field("wakeAcknowledged") != nil)
        // Or by a spec change.
        var changed = world
        changed.generation = 3
        #expect(Self.seen(changed).condition("Idle") == "False Woken" && Self.replicas(Self.seen(changed)) == (1, 1))
    }

    @Test func aServerlessModelIsLeftToKServesScaleToZero() {
        var world = World().converged()
        world.children.inferenceService?.annotations[DesiredState.deploymentModeAnnotation] = "Serverless"
        world.spec["idleShutdown"] = ["afterSeconds": 3600]
        let seen = Self.seen(world)
        #expect(seen.condition("Idle") == "False ServerlessScaleToZero" && Self.replicas(seen).0 == 0)
    }

    @Test func anIdleTimeBelowFiveMinutesIsRefused() {
        var world = World()
        world.spec["idleShutdown"] = ["afterSeconds": 60]
        Self.refused(Self.seen(world), "Ready", "False InvalidSpec")
    }
}
