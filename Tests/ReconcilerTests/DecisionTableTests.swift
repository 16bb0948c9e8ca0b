import Foundation
import Testing
import KubeCore
import KubeAPI
import Reconciler

/// The reconcile's decisions, from observations made by hand: every reason of the README's
/// table, each rotation path, adoption, deletion, suspend. No cluster, no I/O: the whole table
/// runs in milliseconds. What it cannot show (the writes reaching a server, the caches catching
/// up, the controller's retries) the integration tests show.
@Suite struct DecisionTableTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let working = APIKey("nvapi-decision-table-working-key-000000000001")
    static let rotated = APIKey("nvapi-decision-table-rotated-key-000000000002")
    static let catalog: CatalogStore.State = {
        let document = #"""
            {"schemaVersion":"1.0.0","models":[
              {"id":"meta/llama-3.1-8b-instruct","name":"Llama 3.1 8B Instruct","containerImage":"nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2","tags":["1.1.2","1.1.1"],"latestTag":"1.1.2","euRestricted":false},
              {"id":"nvidia/nemo-megatron-gpt-20b","name":"NeMo","containerImage":"nvcr.io/nim/nvidia/nemo-megatron-gpt-20b:1.0.0","tags":["1.0.0"],"latestTag":"1.0.0","euRestricted":true}
            ]}
            """#
        let (catalog, problems) = ModelCatalog.parse(["models.json": document])
        return .loaded(catalog, problems: problems)
    }()

    /// A cluster as a reconcile sees it, and what each read on purpose answers.
    struct World {
        var spec: JSON = ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]]
        var annotations: [String: String] = [:]
        var status: JSON?
        var deleting = false
        var options = ReconcilerOptions(catalog: ObjectKey(namespace: "nim-system", name: "nim-models"))
        var catalog = DecisionTableTests.catalog
        var key: Observation.KeyReading = .read(DecisionTableTests.working, version: "1")
        var sighting: WriteLedger.KeySighting? = WriteLedger.KeySighting(version: "1", firstPending: DecisionTableTests.now, last: DecisionTableTests.now)
        var verdict: KeyVerdict = .valid
        var caBundle: Result<String, DeploymentProblem> = .success("0123456789abcdef")
        var unlistedService: Result<KubeObject?, DeploymentProblem> = .success(nil)
        var children = Observation.Children()
        var pods: [KubeObject] = []
        var liveToken: RestartToken?
        /// What the model answers the operator's probe, and a canary's metrics.
        var modelVerdict = ModelVerdict(.verified, "meta/llama-3.1-8b-instruct is listed and answered in 120 ms.", seconds: 0.12)
        var traffic: Result<TrafficReading, TransportError> = .success(TrafficReading(successes: 100, failures: 0, timeToFirstTokenP95: 0.05))
        /// spec.idleShutdown: the model's requests as last read (nil: never read).
        var activity: WriteLedger.Activity?
        var generation = 2

        var object: KubeObject {
            var object = KubeObject(apiVersion: "nim.opendatahub.io/v1alpha1", kind: "NimDeployment", namespace: "team-a", name: "llama")
            object[path: ["metadata", "uid"]] = "uid-llama"
            object[path: ["metadata", "generation"]] = .int(generation)
            object[path: ["metadata", "resourceVersion"]] = "10"
            if deleting { object[path: ["metadata", "deletionTimestamp"]] = "2027-01-15T08:00:00Z" }
            object.annotations = annotations
            object["spec"] = spec
            object["status"] = status
            return object
        }

        /// Decides as the reconciler does: asks for what the rules need, one read at a time.
        func decide(failedWrite: DeploymentProblem? = nil) -> (decision: Decision, needs: [Observation.Need]) {
            var observation = Observation(
                object: object, now: DecisionTableTests.now, options: options, catalog: catalog, catalogSource: "nim-system/nim-models")
            observation.children = children
            observation.pods = pods
            observation.liveToken = liveToken
            var needs: [Observation.Need] = []
            while let need = Decide.need(observation), !needs.contains(need) {
                needs.append(need)
                switch need {
                case .key:
                    observation.key = key
                    observation.keySighting = sighting
                case .verdict: observation.verdict = verdict
                case .caBundle: observation.caBundle = caBundle
                case .unlistedInferenceService: observation.children.unlistedService = unlistedService
                case .verification: observation.modelVerdict = modelVerdict
                case .traffic: observation.traffic = traffic
                case .activity: observation.activity = activity
                }
            }
            return (Decide.decision(observation, failedWrite: failedWrite), needs)
        }

        /// The world after the decision's writes landed and KServe reports the InferenceService
        /// ready with a ready pod of the revision written.
        func converged(ready: Bool = true) -> World {
            let (decision, _) = decide()
            var next = self
            next.status = decision.status
            var pods: [KubeObject] = []
            for (resource, object) in decision.writes {
                switch resource.plural {
                case "servingruntimes":
                    if object.name == "llama" { next.children.runtime = object } else { next.children.candidateRuntime = object }
                case "inferenceservices":
                    var service = object
                    service["status"] = [
                        "url": .string("http://\(object.name).team-a.svc.cluster.local"),
                        "conditions": [["type": "Ready", "status": ready ? "True" : "False", "reason": ready ? "" : "MinimumReplicasUnavailable"]],
                    ]
                    pods.append(DecisionTableTests.pod("\(object.name)-predictor-1", revision: DecisionTableTests.revision(of: service), ready: ready))
                    guard object.name == "llama" else {
                        next.children.candidateService = service
                        continue
                    }
                    next.children.inferenceService = service
                    next.liveToken = RestartToken(service: service)
                case "persistentvolumeclaims": next.children.claim = object
                default: break
                }
            }
            if !pods.isEmpty { next.pods = pods }
            for (resource, name) in decision.deletes where resource.plural == "inferenceservices" || resource.plural == "servingruntimes" {
                if resource.plural == "inferenceservices", name == next.children.candidateService?.name { next.children.candidateService = nil }
                if resource.plural == "servingruntimes", name == next.children.candidateRuntime?.name { next.children.candidateRuntime = nil }
            }
            next.sighting?.firstPending = nil
            next.sighting?.acted = DecisionTableTests.now.addingTimeInterval(-3600)
            // The reconcile the watch events bring: it reports what KServe and the pods say.
            next.status = next.decide().decision.status
            return next
        }
    }

    static func revision(of service: KubeObject?) -> String? {
        service?[path: ["spec", "predictor", "annotations", DesiredState.revisionAnnotation]]?.stringValue
    }

    static func pod(_ name: String, revision: String?, ready: Bool = false, waiting: String? = nil, unschedulable: String? = nil) -> KubeObject {
        var pod = KubeObject(apiVersion: "v1", kind: "Pod", namespace: "team-a", name: name)
        pod.annotations = revision.map { [DesiredState.revisionAnnotation: $0] } ?? [:]
        var conditions: [JSON] = [["type": "Ready", "status": ready ? "True" : "False"]]
        if let unschedulable { conditions.append(["type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": .string(unschedulable)]) }
        pod["status"] = ["phase": ready ? "Running" : "Pending", "conditions": .array(conditions)]
        if let waiting {
            pod[path: ["status", "containerStatuses"]] = [
                ["name": "kserve-container", "image": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2", "restartCount": 4, "state": ["waiting": ["reason": .string(waiting)]],
                 "lastState": ["terminated": ["reason": "Error", "exitCode": 1]]]
            ]
        }
        return pod
    }

    /// A decision's view for assertions.
    struct Seen {
        var decision: Decision
        var needs: [Observation.Need]
        func condition(_ type: String) -> String {
            guard let found = decision.conditions[type] else { return "absent" }
            return "\(found.status) \(found.reason)"
        }
        var kinds: [String] { decision.writes.map(\.object.kind) }
        var events: [String] { decision.announcements.compactMap(\.eventReason) }
        var counted: [String] {
            decision.announcements.compactMap { if case .rotationCounted(let result) = $0 { return result } else { return nil } }
        }
        func written(_ kind: String) -> KubeObject? { decision.writes.first { $0.object.kind == kind }?.object }
        var token: RestartToken? { RestartToken(service: written("InferenceService")) }
        func field(_ name: String) -> JSON? { decision.status?[name] }
    }

    static func seen(_ world: World, failedWrite: DeploymentProblem? = nil) -> Seen {
        let (decision, needs) = world.decide(failedWrite: failedWrite)
        return Seen(decision: decision, needs: needs)
    }

    static let everything = ["PersistentVolumeClaim", "Secret", "Secret", "ServingRuntime", "InferenceService"]

    /// Bad input of any kind: nothing written, the reason on its condition and in a Warning.
    static func refused(_ seen: Seen, _ type: String, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(seen.kinds.isEmpty, "nothing is written", sourceLocation: sourceLocation)
        #expect(seen.condition(type) == expected, sourceLocation: sourceLocation)
        #expect(seen.events.contains(String(expected.split(separator: " ").last ?? "")), "a Warning says so: \(seen.events)", sourceLocation: sourceLocation)
        #expect(seen.decision.status?["conditions"] != nil)
    }

    // MARK: - A deployment's life

    @Test func aNewDeploymentAsksForTheKeyAndItsVerdictThenWritesAllFiveInOrder() {
        let seen = Self.seen(World())
        #expect(seen.needs.map(\.description) == ["the key in Secret my-ngc-key", "NGC's verdict on key \(Self.working.fingerprint)", "InferenceService llama"])
        #expect(seen.kinds == Self.everything, "the claim first, the restart token last")
        #expect(seen.condition("ResourcesReady") == "True ResourcesApplied")
        #expect(seen.condition("KeyValid") == "True KeyValid")
        #expect(seen.condition("InferenceServiceReady") == "Unknown InferenceServicePending")
        #expect(seen.condition("Ready") == "False InferenceServicePending")
        #expect(seen.condition("Progressing") == "True Deploying")
        #expect(seen.field("keyFingerprint")?.stringValue == Self.working.fingerprint)
        #expect(seen.field("catalogEntry")?.stringValue == "meta/llama-3.1-8b-instruct")
        #expect(seen.token == RestartToken(fingerprint: Self.working.fingerprint))
        #expect(seen.decision.actsOnKeyChange == nil, "a first key is no change")
        #expect(seen.events.isEmpty && seen.decision.problem == nil)
    }

    @Test func servingOnceKServeAndThePodsSaySoAndSaidOnce() {
        let created = World()
        var ready = created.converged()
        ready.status = created.decide().decision.status
        let seen = Self.seen(ready)
        #expect(seen.condition("Ready") == "True Ready")
        #expect(seen.condition("Progressing") == "False Deployed")
        #expect(seen.condition("Degraded") == "False AsExpected")
        #expect(seen.field("url")?.stringValue == "http://llama.team-a.svc.cluster.local")
        #expect(seen.events == ["Deployed"])
        #expect(seen.needs.map(\.description) == ["the key in Secret my-ngc-key", "NGC's verdict on key \(Self.working.fingerprint)", "the model at http://llama.team-a.svc.cluster.local"], "the InferenceService is listed: no lookup; the model is asked once Ready")
        #expect(seen.condition("ModelVerified") == "True Verified")
        var again = ready
        again.status = seen.decision.status
        let steady = Self.seen(again)
        #expect(steady.events.isEmpty, "said once")
        #expect(steady.decision.status?.semanticallyEquals(seen.decision.status ?? nil) == true, "the same status: nothing to write")
    }

    @Test func conditionsThatSayTheSameKeepTheirTransitionTime() {
        var world = World().converged()
        world.status = Self.seen(world).decision.status
        let before = world.status?["conditions"]?.arrayValue?.first { $0["type"] == "Ready" }?["lastTransitionTime"]
        let later = Self.seen(world).decision.status?["conditions"]?.arrayValue?.first { $0["type"] == "Ready" }?["lastTransitionTime"]
        #expect(before != nil && before == later)
    }

    @Test func deletingDecidesNothing() {
        var world = World().converged()
        world.deleting = true
        let seen = Self.seen(world)
        #expect(seen.needs.isEmpty && seen.kinds.isEmpty && seen.decision.status == nil && seen.decision.announcements.isEmpty)
    }

    @Test func suspendedKeepsEverythingAtZeroReplicas() {
        var world = World().converged()
        world.spec["suspend"] = true
        let seen = Self.seen(world)
        #expect(seen.kinds == Self.everything)
        #expect(seen.condition("Ready") == "False Suspended" && seen.condition("Progressing") == "False Suspended")
        #expect(seen.written("InferenceService")?[path: ["spec", "predictor", "minReplicas"]] == 0)
    }

    // MARK: - Spec, catalog, image

    /// A spec with the base's fields, changed by `change`.
    static func spec(_ change: (inout [String: JSON]) -> Void) -> JSON {
        var spec: [String: JSON] = ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]]
        change(&spec)
        return .object(spec)
    }

    static let badSpecs: [(JSON, String)] = [
        (spec { $0["model"] = nil }, "InvalidSpec"),
        (spec { $0["model"] = nil; $0["image"] = "not an image::" }, "InvalidSpec"),
        (spec { $0["storage"] = ["accessMode": "ReadWriteSometimes"] }, "InvalidSpec"),
        (spec { $0["model"] = "llama-3.1-8b-instrct" }, "ModelNotFound"),
        (spec { $0["tag"] = "9.9" }, "TagNotFound"),
        (spec { $0["apiKeySecretRef"] = nil }, "KeyRequired"),
        (spec { $0["env"] = [["name": "NGC_API_KEY", "value": "x"]] }, "ReservedEnvVar"),
        (spec { $0["podLabels"] = ["serving.kserve.io/x": "y"] }, "ReservedPodMetadata"),
        (spec { $0["storage"] = ["existingClaim": "models"] }, "ClaimNotFound"),
    ]

    @Test(arguments: badSpecs)
    func badSpecsWriteNothing(spec: JSON, reason: String) {
        var world = World()
        world.spec = spec
        let seen = Self.seen(world)
        let type = reason == "KeyRequired" ? "KeyValid" : "ResourcesReady"
        Self.refused(seen, type, "False \(reason)")
        #expect(seen.condition("Ready") == "False \(reason)" && seen.condition("Degraded") == "True \(reason)")
        #expect(seen.decision.problem?.isTransient == false && seen.decision.requeueAfter == nil, "no retry: the next change brings it back")
    }

    @Test func anUnknownModelIsToldTheNearestNames() {
        var world = World()
        world.spec["model"] = "llama-3.1-8b-instrct"
        #expect(Self.seen(world).decision.problem?.message.contains("Similar: llama-3.1-8b-instruct") == true)
    }

    @Test func aCatalogNotReadOrMissingStopsModelsButNotImages() {
        for state in [CatalogStore.State.notLoaded, .missing] {
            var world = World()
            world.catalog = state
            Self.refused(Self.seen(world), "ResourcesReady", "False CatalogUnavailable")
            world.spec = ["image": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.1", "apiKeySecretRef": ["name": "my-ngc-key"]]
            let seen = Self.seen(world)
            #expect(seen.kinds == Self.everything)
            #expect(seen.field("tag")?.stringValue == "1.1.1" && seen.field("catalogEntry") == nil)
        }
    }

    @Test func anEURestrictedModelIsRefusedInTheEUAndWarnedOfElsewhere() {
        var world = World()
        world.spec["model"] = "nemo-megatron-gpt-20b"
        let warned = Self.seen(world)
        #expect(warned.kinds == Self.everything && warned.condition("RegionRestricted") == "True EURestrictedModel")
        #expect(warned.events == ["EURestrictedModel"])
        world.options.region = "EU"
        let refused = Self.seen(world)
        Self.refused(refused, "ResourcesReady", "False RegionRestricted")
        #expect(refused.needs.isEmpty, "refused before the key is read")
    }

    // MARK: - The key

    @Test(arguments: [
        DeploymentProblem.keySecretNotFound(secret: "my-ngc-key"), .keyNotInSecret(secret: "my-ngc-key", tried: ["NGC_API_KEY", "api_key"], present: ["token"]),
        .keyEmpty(secret: "my-ngc-key", dataKey: "NGC_API_KEY"), .keyMalformed(secret: "my-ngc-key", dataKey: "NGC_API_KEY", why: "holds a line break"),
    ])
    func aKeyThatCannotBeReadCreatesNothing(problem: DeploymentProblem) {
        var world = World()
        world.key = .failed(problem)
        let seen = Self.seen(world)
        Self.refused(seen, "KeyValid", "False \(problem.reason)")
        #expect(seen.condition("ResourcesReady") == "False WaitingForKey")
        #expect(seen.needs.count == 1, "NGC is not asked")
    }

    @Test func anOrganizationKeyIsRefusedBeforeAnyCall() {
        var world = World()
        world.key = .read(APIKey("an-old-organization-key-000000000000000000"), version: "1")
        let seen = Self.seen(world)
        Self.refused(seen, "KeyValid", "False LegacyKeyUnsupported")
        #expect(seen.needs.count == 1)
    }

    @Test(arguments: [(KeyVerdict.invalid(code: 401), "InvalidKey"), (.notEntitled, "KeyNotEntitled"), (.regionRestricted, "RegionRestricted")])
    func aKeyNGCRefusesCreatesNothing(verdict: KeyVerdict, reason: String) {
        var world = World()
        world.verdict = verdict
        let seen = Self.seen(world)
        #expect(seen.kinds.isEmpty && seen.condition("Ready") == "False \(reason)")
        #expect(seen.events == [reason])
        #expect(seen.field("keyFingerprint") == nil, "a refused key is never recorded as the one in use")
    }

    @Test func ngcUnreachableAtFirstIsRetriedAndCreatesNothing() {
        var world = World()
        world.verdict = .unreachable("timed out")
        let seen = Self.seen(world)
        #expect(seen.kinds.isEmpty)
        #expect(seen.condition("KeyValid") == "Unknown NGCUnreachable" && seen.condition("Degraded") == "False Retrying")
        #expect(seen.decision.problem?.isTransient == true)
    }

    @Test func ngcUnreachableDoesNotStopASpecChangeToAWorkingDeployment() {
        var world = World().converged()
        world.verdict = .unreachable("timed out")
        world.spec["tag"] = "1.1.1"
        let seen = Self.seen(world)
        guard case .verdict(_, _, let since)? = seen.needs.last(where: { if case .verdict = $0 { return true } else { return false } }) else {
            Issue.record("NGC is asked")
            return
        }
        #expect(since == nil, "no pod starts with a new key: an earlier answer stands")
        #expect(seen.kinds == Self.everything && seen.condition("KeyValid") == "True KeyValid")
    }

    @Test func disconnectedCollectsNoKeyAndWritesNoSecret() {
        var world = World()
        world.options.disconnected = true
        world.spec["apiKeySecretRef"] = nil
        let seen = Self.seen(world)
        #expect(seen.needs.map(\.description) == ["InferenceService llama"])
        #expect(seen.kinds == ["PersistentVolumeClaim", "ServingRuntime", "InferenceService"])
        #expect(seen.condition("KeyValid") == "True KeyNotRequired" && seen.token == RestartToken(fingerprint: RestartToken.disconnected))
    }

    @Test func validationDisabledAsksNoVerdict() {
        var world = World()
        world.options.disableKeyValidation = true
        let seen = Self.seen(world)
        #expect(!seen.needs.contains { if case .verdict = $0 { return true } else { return false } })
        #expect(seen.condition("KeyValid") == "True ValidationDisabled" && seen.kinds == Self.everything)
    }

    // MARK: - Rotation

    /// The working deployment, and a new key in the user's Secret seen just now.
    static func newKeyInTheSecret() -> World {
        var world = World().converged()
        world.key = .read(rotated, version: "2")
        world.sighting = WriteLedger.KeySighting(version: "2", firstPending: now, last: now, acted: now.addingTimeInterval(-3600))
        return world
    }

    @Test func aNewKeyIsValidatedSinceItsChangeAndRollsThePodsOnce() {
        let seen = Self.seen(Self.newKeyInTheSecret())
        #expect(seen.needs.contains(.verdict(Self.rotated, repository: ImageReference(parsing: "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2")!, answeredSince: Self.now)))
        #expect(seen.kinds == Self.everything)
        #expect(seen.written("Secret")?["stringData"] != nil || seen.written("Secret")?["data"] != nil)
        #expect(seen.token == RestartToken(fingerprint: Self.rotated.fingerprint))
        #expect(seen.events == ["KeyRotated"] && seen.counted == ["rotated"])
        #expect(seen.field("keyFingerprint")?.stringValue == Self.rotated.fingerprint && seen.field("lastKeyRotationTime") != nil)
        #expect(seen.decision.actsOnKeyChange == ObjectKey(namespace: "team-a", name: "my-ngc-key"))
    }

    @Test func aSecondChangeWithinTheSettleWindowWaitsForQuiet() {
        var world = Self.newKeyInTheSecret()
        world.sighting?.acted = Self.now.addingTimeInterval(-0.5)
        world.sighting?.last = Self.now.addingTimeInterval(-0.2)
        let seen = Self.seen(world)
        #expect(seen.kinds.isEmpty && seen.condition("KeyValid") == "Unknown KeyRotationPending")
        #expect(seen.condition("Progressing") == "True KeyRotationPending" && seen.condition("Ready") == "True Ready", "the working key serves meanwhile")
        #expect(abs((seen.decision.requeueAfter ?? 0) - 1.8) < 1e-6, "quiet counts from the last change")
        #expect(seen.decision.actsOnKeyChange == nil && !seen.needs.contains { if case .verdict = $0 { return true } else { return false } })
        world.options.keyRotationSettle = 0
        #expect(Self.seen(world).kinds == Self.everything, "0: every change at once")
    }

    @Test func aBurstRollsThePodsTwiceOntoItsFirstKeyAndItsLast() {
        // The settle rule through the ledger that feeds it, as the Secret watch and the
        // reconciles see five writes 150 ms apart.
        let ledger = WriteLedger()
        let secret = ObjectKey(namespace: "team-a", name: "my-ngc-key")
        var world = World().converged()
        var rollouts = 0
        var step = 0
        for ms in stride(from: 0, through: 3000, by: 50) {
            let at = Self.now.addingTimeInterval(Double(ms) / 1000)
            if ms % 150 == 0, step < 5 {
                step += 1
                ledger.sawKeySecret(secret, version: "v\(step)", at: at)
                world.key = .read(APIKey("nvapi-burst-key-number-\(step)-0000000000000000"), version: "v\(step)")
            }
            world.sighting = ledger.keySighting(secret)
            var observation = world
            observation.options.keyRotationSettle = 1
            let decision = Self.decide(observation, at: at)
            if let acted = decision.actsOnKeyChange { ledger.actedOnKeyChange(acted, at: at) }
            if !decision.writes.isEmpty, decision.announcements.contains(where: { $0.eventReason == "KeyRotated" }) {
                rollouts += 1
                world.status = decision.status
                world.liveToken = RestartToken(service: decision.writes.last?.object)
            }
        }
        #expect(rollouts == 2)
        #expect(world.status?["keyFingerprint"]?.stringValue == APIKey("nvapi-burst-key-number-5-0000000000000000").fingerprint)
    }

    /// A decision at another moment than `now`.
    static func decide(_ world: World, at time: Date) -> Decision {
        var observation = Observation(object: world.object, now: time, options: world.options, catalog: world.catalog, catalogSource: "nim-system/nim-models")
        observation.children = world.children
        observation.pods = world.pods
        observation.liveToken = world.liveToken
        observation.key = world.key
        observation.keySighting = world.sighting
        observation.verdict = world.verdict
        return Decide.decision(observation)
    }

    @Test func aNewKeyNGCRefusesNeverReplacesTheWorkingOne() {
        var world = Self.newKeyInTheSecret()
        world.verdict = .invalid(code: 401)
        let seen = Self.seen(world)
        #expect(seen.kinds.isEmpty)
        #expect(seen.condition("Ready") == "True ServingWithPreviousKey" && seen.condition("KeyValid") == "False InvalidKey")
        #expect(seen.field("keyFingerprint")?.stringValue == Self.working.fingerprint)
        #expect(seen.events == ["InvalidKey"] && seen.counted == ["rejected"])
    }

    @Test func aNewKeyWhileNGCIsDownWaitsAndKeepsServing() {
        var world = Self.newKeyInTheSecret()
        world.verdict = .unreachable("connection refused")
        let seen = Self.seen(world)
        #expect(seen.kinds.isEmpty && seen.condition("Ready") == "True ServingWithPreviousKey")
        #expect(seen.decision.problem?.isTransient == true && seen.counted == ["deferred"])
    }

    @Test func withRestartPodsOffTheSecretsChangeAndThePodsKeepTheirKey() {
        var world = Self.newKeyInTheSecret()
        world.spec["keyRotation"] = ["restartPods": false]
        let seen = Self.seen(world)
        #expect(seen.token == RestartToken(fingerprint: Self.working.fingerprint), "the pods are not restarted")
        #expect(seen.decision.conditions["KeyValid"]?.status == "True")
        #expect(seen.decision.status?["conditions"]?.arrayValue?.first { $0["type"] == "KeyValid" }?["message"]?.stringValue?.contains("keep the previous key") == true)
        #expect(seen.counted == ["secrets_only"])
    }

    @Test func aRotateRequestRestartsThePodsOnceAfterAFreshVerdict() {
        var world = World().converged()
        world.annotations[NimDeployment.rotateAnnotation] = "2027-01-15"
        let seen = Self.seen(world)
        #expect(seen.needs.contains { if case .verdict(_, _, let since) = $0 { return since == Self.now } else { return false } })
        #expect(seen.token == RestartToken(fingerprint: Self.working.fingerprint, request: RestartToken.requestHash("2027-01-15")))
        #expect(seen.events == ["PodsRestarted"] && seen.counted == ["restarted"])
        var done = world
        done.liveToken = seen.token
        done.status = seen.decision.status
        #expect(Self.seen(done).events.isEmpty, "the same request again restarts nothing")
    }

    @Test func aRotationInterruptedAfterTheSecretsIsFinished() {
        // Status says the Secrets hold the new key; the InferenceService still has the old token.
        var world = Self.newKeyInTheSecret()
        world.status?["keyFingerprint"] = .string(Self.rotated.fingerprint)
        let seen = Self.seen(world)
        #expect(seen.token == RestartToken(fingerprint: Self.rotated.fingerprint))
        #expect(seen.events == ["PodsRestarted"])
    }

    // MARK: - Claims and the CA bundle

    @Test func aKeptClaimOfAnotherClassIsRefusedAndALargerOneKeptAtItsSize() {
        var claim = KubeObject(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "team-a", name: "nim-cache-llama")
        claim["spec"] = ["storageClassName": "slow", "accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "500Gi"]]]
        var world = World()
        world.spec["storage"] = ["storageClassName": "fast"]
        world.children.claim = claim
        let refused = Self.seen(world)
        Self.refused(refused, "ResourcesReady", "False ClaimMismatch")
        #expect(refused.decision.problem?.message.contains("kept from an earlier deployment") == true)
        world.spec["storage"] = ["storageClassName": "slow"]
        let kept = Self.seen(world)
        #expect(kept.written("PersistentVolumeClaim")?[path: ["spec", "resources", "requests", "storage"]] == "500Gi")
    }

    @Test func aClaimTheServerRefusesToGrowStopsTheRest() {
        let problem = DeploymentProblem.claimMismatch(claim: "nim-cache-llama", differences: ["the API server refused the change: forbidden"], retained: false)
        let seen = Self.seen(World(), failedWrite: problem)
        #expect(seen.kinds.isEmpty && seen.condition("ResourcesReady") == "False ClaimMismatch")
        #expect(seen.field("keyFingerprint") == nil, "nothing is recorded as applied")
    }

    @Test func aServerThatRefusesOrFailsAWriteIsSaidAndRetriedWhenTimeMayFixIt() {
        let refused = Self.seen(World(), failedWrite: .applyFailed(object: "ServingRuntime llama", status: 422, message: "spec.containers: Required value"))
        #expect(refused.condition("ResourcesReady") == "False ApplyFailed" && refused.decision.problem?.isTransient == false)
        let busy = Self.seen(World(), failedWrite: .applyFailed(object: "ServingRuntime llama", status: 503, message: "etcd leader changed"))
        #expect(busy.condition("ResourcesReady") == "Unknown ApplyFailed" && busy.decision.problem?.isTransient == true)
        let gone = Self.seen(World(), failedWrite: .apiUnavailable("connection refused"))
        #expect(gone.condition("Ready") == "False APIServerUnavailable" && gone.condition("Degraded") == "False Retrying")
    }

    @Test func aQuotaRefusalIsRetried() {
        let seen = Self.seen(World(), failedWrite: .applyFailed(object: "PersistentVolumeClaim nim-cache-llama", status: 403, message: "exceeded quota: storage"))
        #expect(seen.decision.problem?.isTransient == true)
    }

    @Test func theCABundleIsReadOnlyWhenNamedAndItsDigestRollsThePods() {
        var world = World()
        world.spec["proxy"] = ["httpsProxy": "http://proxy:3128", "caBundle": ["configMapName": "corp-ca"]]
        let seen = Self.seen(world)
        #expect(seen.needs.contains { if case .caBundle(let bundle) = $0 { return bundle.configMapName == "corp-ca" && bundle.key == "ca-bundle.crt" } else { return false } })
        let annotations = seen.written("InferenceService")?[path: ["spec", "predictor", "annotations"]]
        #expect(annotations?[DesiredState.caBundleDigestAnnotation]?.stringValue == "0123456789abcdef")
        world.caBundle = .failure(.caBundleNotFound(configMap: "corp-ca", key: "ca-bundle.crt", present: nil))
        Self.refused(Self.seen(world), "ResourcesReady", "False CABundleNotFound")
        world.caBundle = .failure(.caBundleInvalid(configMap: "corp-ca", key: "ca-bundle.crt"))
        Self.refused(Self.seen(world), "ResourcesReady", "False CABundleInvalid")
        #expect(!Self.seen(World()).needs.contains { if case .caBundle = $0 { return true } else { return false } })
    }

    @Test func moreReplicasThanAReadWriteOnceClaimMountsIsWarnedOfOnce() {
        var world = World()
        world.spec["replicas"] = ["min": 1, "max": 3]
        let seen = Self.seen(world)
        #expect(seen.condition("ScaleLimited") == "True ReadWriteOnceCache" && seen.events == ["ReadWriteOnceCache"])
        world.spec["storage"] = ["accessMode": "ReadWriteMany"]
        #expect(Self.seen(world).condition("ScaleLimited") == "absent")
    }

    @Test func aGPUSchedulerIsHandedThePredictorPods() {
        var world = World()
        world.spec["schedulerName"] = "kai-scheduler"
        #expect(Self.seen(world).written("InferenceService")?[path: ["spec", "predictor", "schedulerName"]] == "kai-scheduler")
        #expect(Self.seen(World()).written("InferenceService")?[path: ["spec", "predictor", "schedulerName"]] == nil, "unset: the default scheduler")
        world.spec["schedulerName"] = "Kai Scheduler"
        Self.refused(Self.seen(world), "ResourcesReady", "False InvalidSpec")
    }

    // MARK: - A cache filled before the model server starts

    static func preloaded() -> World {
        var world = World()
        world.spec["storage"] = ["preload": true]
        world.spec["modelProfile"] = "tensorrt_llm-h100-fp8-tp1-throughput"
        return world
    }

    static func job(_ seen: Seen) -> KubeObject? { seen.written("Job") }

    /// The world with the Job of `seen` as the Job controller left it.
    static func withJob(_ world: World, from seen: Seen, conditions: [JSON] = [], active: Int = 0) -> World {
        var next = world
        next.status = seen.decision.status
        if var job = Self.job(seen) {
            job["status"] = ["active": .int(active), "conditions": .array(conditions)]
            next.children.cacheJobs.append(job)
        }
        if let claim = seen.written("PersistentVolumeClaim") { next.children.claim = claim }
        return next
    }

    @Test func aPreloadedCacheIsFilledByAJobBeforeTheModelServerIsMade() throws {
        let first = Self.seen(Self.preloaded())
        #expect(first.kinds == ["PersistentVolumeClaim", "Secret", "Secret", "Job"], "no runtime, no InferenceService yet")
        #expect(first.condition("CacheReady") == "Unknown CachePending" && first.condition("Ready") == "False CachePending")
        #expect(first.condition("ResourcesReady") == "True WaitingForCache")
        let job = try #require(Self.job(first))
        let pod = try #require(job[path: ["spec", "template", "spec"]])
        let container = try #require(pod["containers"]?[0])
        #expect(container["command"] == ["download-to-cache", "--profile", "tensorrt_llm-h100-fp8-tp1-throughput"])
        #expect(container["image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2" && container[path: ["resources", "limits"]] == nil, "no GPU with a profile named")
        #expect(container["env"]?.arrayValue?.contains { $0["name"] == "NGC_API_KEY" && $0[path: ["valueFrom", "secretKeyRef", "name"]] == "nvidia-nim-secrets-llama" } == true)
        #expect(pod["volumes"]?[0]?[path: ["persistentVolumeClaim", "claimName"]] == "nim-cache-llama" && pod["restartPolicy"] == "Never")
        #expect(pod["imagePullSecrets"] == [["name": "nvidia-nim-image-pull-llama"]])

        let downloading = Self.seen(Self.withJob(Self.preloaded(), from: first, active: 1))
        #expect(downloading.kinds == ["PersistentVolumeClaim", "Secret", "Secret"], "one Job at a time")
        #expect(downloading.condition("CacheReady") == "Unknown CacheDownloading" && downloading.condition("Progressing") == "True CacheDownloading")

        let done = Self.seen(Self.withJob(Self.preloaded(), from: first, conditions: [["type": "Complete", "status": "True"]]))
        #expect(done.kinds == Self.everything, "the model server follows")
        #expect(done.condition("CacheReady") == "True CacheFilled" && done.events == ["CacheFilled"])
        #expect(done.written("PersistentVolumeClaim")?.annotations[CachePreload.filledAnnotation] != nil, "the claim says what it holds")

        // A Job still running for another content: waited for, never a second writer.
        var other = Self.preloaded()
        other.spec["tag"] = "1.1.1"
        var stillRunning = Self.withJob(other, from: first, active: 1)
        stillRunning.spec["tag"] = "1.1.1"
        #expect(Self.seen(stillRunning).written("Job") == nil && Self.seen(stillRunning).condition("CacheReady") == "Unknown CacheDownloading")
        // A Complete Job older than the claim (deleted and made again since) fills nothing.
        var recreated = Self.withJob(Self.preloaded(), from: first, conditions: [["type": "Complete", "status": "True"]])
        recreated.children.cacheJobs[0][path: ["metadata", "creationTimestamp"]] = "2027-01-01T00:00:00Z"
        recreated.children.claim?[path: ["metadata", "creationTimestamp"]] = "2027-01-02T00:00:00Z"
        #expect(Self.seen(recreated).kinds == ["PersistentVolumeClaim", "Secret", "Secret", "Job"], "a new Job for the new claim")
        #expect(Self.seen(recreated).written("Job")?.name != Self.job(first)?.name, "under a new name")

        // The Job gone (its TTL), the claim's word stands.
        var later = Self.preloaded()
        later.children.claim = done.written("PersistentVolumeClaim")
        #expect(Self.seen(later).kinds == Self.everything)
    }

    @Test func aFailedDownloadIsRetriedWithBackoffAndNeverTakenForAFullCache() throws {
        let first = Self.seen(Self.preloaded())
        let failedAt = Self.now.addingTimeInterval(-30)
        let failed: [JSON] = [["type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": .string(KubeTime.format(failedAt))]]
        let world = Self.withJob(Self.preloaded(), from: first, conditions: failed)
        let waiting = Self.seen(world)
        #expect(waiting.kinds == ["PersistentVolumeClaim", "Secret", "Secret"] && waiting.written("PersistentVolumeClaim")?.annotations[CachePreload.filledAnnotation] == nil)
        #expect(waiting.condition("CacheReady") == "False CacheFailed" && waiting.condition("Degraded") == "True CacheFailed")
        #expect(abs((waiting.decision.requeueAfter ?? 0) - 30) < 1, "the next attempt a minute after the failure")
        #expect(waiting.events == ["CacheFailed"])
        var retried = world
        var earlier = failed[0]
        earlier["lastTransitionTime"] = .string(KubeTime.format(Self.now.addingTimeInterval(-61)))
        retried.children.cacheJobs[0][path: ["status", "conditions"]] = [earlier]
        let second = Self.seen(retried)
        #expect(Self.job(second)?.labels[CachePreload.attemptLabel] == "2" && Self.job(second)?.name != Self.job(first)?.name)
    }

    @Test func aNewImageIsDownloadedBesideTheRunningOneBeforeItRolls() {
        let serving = Self.withJob(Self.preloaded(), from: Self.seen(Self.preloaded()), conditions: [["type": "Complete", "status": "True"]]).converged()
        var next = serving
        next.spec["tag"] = "1.1.1"
        let seen = Self.seen(next)
        #expect(seen.kinds == ["PersistentVolumeClaim", "Secret", "Secret", "Job"], "the running runtime and InferenceService are left as they are")
        #expect(seen.condition("Ready") == "True Ready" && seen.condition("Progressing") == "True CachePending")
        #expect(Self.job(seen)?[path: ["spec", "template", "spec", "containers"]]?[0]?["image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.1")
    }

    @Test func preloadNeedsAClaimOfTheOperatorsAndAKey() {
        var existing = Self.preloaded()
        existing.spec["storage"] = ["preload": true, "existingClaim": "mine"]
        Self.refused(Self.seen(existing), "ResourcesReady", "False InvalidSpec")
        var disconnected = Self.preloaded()
        disconnected.options.disconnected = true
        disconnected.spec["apiKeySecretRef"] = nil
        let refused = Self.seen(disconnected)
        Self.refused(refused, "ResourcesReady", "False InvalidSpec")
        #expect(refused.decision.problem?.message.contains("docs/airgap.md") == true)
    }

    // MARK: - Mirrors

    static func mirrored(_ pullSecret: MirrorPullSecret, disconnected: Bool = false) -> Seen {
        var world = World()
        world.options.registryMirrors = [RegistryMirror(source: "nvcr.io", mirror: "registry.corp:5000/nvidia")]
        world.options.mirrorPullSecret = pullSecret
        if disconnected {
            world.options.disconnected = true
            world.spec["apiKeySecretRef"] = nil
        }
        return seen(world)
    }

    static func pullSecrets(_ seen: Seen) -> [String] {
        (seen.written("ServingRuntime")?[path: ["spec", "imagePullSecrets"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    @Test func aMirroredImageIsPulledFromTheMirrorWithThePullSecretAsked() throws {
        let withKey = Self.mirrored(.ngcKey)
        #expect(withKey.written("ServingRuntime")?[path: ["spec", "containers"]]?[0]?["image"] == "registry.corp:5000/nvidia/nim/meta/llama-3.1-8b-instruct:1.1.2")
        #expect(withKey.field("image") == "registry.corp:5000/nvidia/nim/meta/llama-3.1-8b-instruct:1.1.2", "status says what runs")
        let data = try #require(withKey.decision.writes.first { $0.object.name == "nvidia-nim-image-pull-llama" }?.object[path: ["data", ".dockerconfigjson"]]?.stringValue)
        let config = try JSON(parsing: Array(try #require(Data(base64Encoded: data))))
        #expect(config["auths"]?.objectValue.map { Array($0.keys) } == ["registry.corp:5000"], "the pull secret is for the mirror's host")
        #expect(Self.pullSecrets(withKey) == ["nvidia-nim-image-pull-llama"])
        #expect(withKey.needs.contains(.verdict(Self.working, repository: ImageReference(parsing: "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2")!, answeredSince: nil)),
            "the key is judged for NGC's repository")
        let none = Self.mirrored(.none)
        #expect(none.kinds == ["PersistentVolumeClaim", "Secret", "ServingRuntime", "InferenceService"] && Self.pullSecrets(none).isEmpty)
        let named = Self.mirrored(.named("corp-registry"))
        #expect(Self.pullSecrets(named) == ["corp-registry"] && named.field("secretNames")?["imagePull"] == "corp-registry")
        let disconnected = Self.mirrored(.named("corp-registry"), disconnected: true)
        #expect(Self.pullSecrets(disconnected) == ["corp-registry"] && disconnected.kinds == ["PersistentVolumeClaim", "ServingRuntime", "InferenceService"])
    }

    @Test func theLongestSourceWinsAndOtherRegistriesAreLeftAlone() {
        let mirrors = [RegistryMirror(source: "nvcr.io", mirror: "a.corp/all"), RegistryMirror(source: "nvcr.io/nim/meta", mirror: "b.corp:5000")]
        func pulled(_ text: String) -> String { RegistryMirror.pulled(ImageReference(parsing: text)!, mirrors: mirrors).description }
        #expect(pulled("nvcr.io/nim/meta/llama:1") == "b.corp:5000/llama:1")
        #expect(pulled("nvcr.io/nim/nvidia/embed@sha256:" + String(repeating: "a", count: 64)) == "a.corp/all/nim/nvidia/embed@sha256:" + String(repeating: "a", count: 64))
        #expect(pulled("nvcr.io/nim/metadata/x:1") == "a.corp/all/nim/metadata/x:1", "a source matches whole path components")
        #expect(pulled("quay.io/x/y:1") == "quay.io/x/y:1")
        #expect((try? RegistryMirror.parse("nvcr.io=registry.corp:5000/nvidia").get()) == RegistryMirror(source: "nvcr.io", mirror: "registry.corp:5000/nvidia"))
        for bad in ["nvcr.io", "nvcr.io=", "=b.corp", "nvcr.io=https://b.corp", "nvcr.io=b.corp/", "library=b.corp"] {
            #expect((try? RegistryMirror.parse(bad).get()) == nil, "\(bad)")
        }
    }

    // MARK: - What others left under the children's names

    static func legacyRuntime(nim: Bool = true) -> KubeObject {
        var runtime = KubeObject(apiVersion: "serving.kserve.io/v1alpha1", kind: "ServingRuntime", namespace: "team-a", name: "llama")
        runtime.labels = nim ? ["opendatahub.io/dashboard": "true"] : [:]
        runtime.annotations = nim ? ["opendatahub.io/template-name": "nvidia-nim-runtime"] : [:]
        runtime["spec"] = [
            "containers": [[
                "name": nim ? "kserve-container" : "server", "image": .string(nim ? "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2" : "docker.io/library/nginx:1"),
                "env": [["name": "NGC_API_KEY", "valueFrom": ["secretKeyRef": ["name": "nvidia-nim-secrets", "key": "NGC_API_KEY"]]], ["name": "NIM_MAX_MODEL_LEN", "value": "8192"]],
                "volumeMounts": [["name": "nim-pvc", "mountPath": "/mnt/models/cache"]],
            ]],
            "volumes": [["name": "nim-pvc", "persistentVolumeClaim": ["claimName": "nim-pvc-old"]]],
            "imagePullSecrets": [["name": "ngc-secret"]],
        ]
        return runtime
    }

    @Test func aLegacyNIMRuntimeIsTakenOverWithItsCacheAndSaidOnceWritten() {
        var world = World()
        world.children.foreignRuntime = Self.legacyRuntime()
        let seen = Self.seen(world)
        #expect(seen.kinds == ["Secret", "Secret", "ServingRuntime", "InferenceService"], "no new claim: the legacy one is kept")
        let said = seen.decision.announcements.compactMap { if case .onceRuntimeWritten(let inner) = $0 { return inner.eventReason } else { return nil } }
        #expect(said == ["Adopted"], "said only once the runtime is written")
        let volumes = seen.written("ServingRuntime")?[path: ["spec", "volumes"]]?.arrayValue ?? []
        #expect(volumes.contains { $0[path: ["persistentVolumeClaim", "claimName"]] == "nim-pvc-old" })
    }

    @Test func aForeignRuntimeOrInferenceServiceIsNeverOverwritten() {
        var world = World()
        world.children.foreignRuntime = Self.legacyRuntime(nim: false)
        Self.refused(Self.seen(world), "ResourcesReady", "False ResourceConflict")
        var other = KubeObject(apiVersion: "serving.kserve.io/v1beta1", kind: "InferenceService", namespace: "team-a", name: "llama")
        other["spec"] = ["predictor": ["model": ["runtime": "someone-elses"]]]
        world = World()
        world.unlistedService = .success(other)
        let seen = Self.seen(world)
        Self.refused(seen, "ResourcesReady", "False ResourceConflict")
        #expect(seen.decision.problem?.message.contains("serves runtime someone-elses") == true)
        world.unlistedService = .failure(.apiUnavailable("timeout"))
        #expect(Self.seen(world).decision.problem?.isTransient == true && Self.seen(world).kinds.isEmpty)
    }

    // MARK: - What the pods say

    @Test func podsThatCannotStartSayWhyOnceAndDegradedWhenTheyCrash() {
        let world = World().converged(ready: false)
        let revision = Self.revision(of: world.children.inferenceService)
        var crashing = world
        crashing.pods = [Self.pod("llama-predictor-1", revision: revision, waiting: "CrashLoopBackOff")]
        let crash = Self.seen(crashing)
        #expect(crash.condition("Ready") == "False CrashLoopBackOff" && crash.condition("Degraded") == "True CrashLoopBackOff")
        #expect(crash.events == ["CrashLoopBackOff"])
        crashing.status = crash.decision.status
        #expect(Self.seen(crashing).events.isEmpty, "said once")
        var pulling = world
        pulling.pods = [Self.pod("llama-predictor-1", revision: revision, waiting: "ImagePullBackOff")]
        #expect(Self.seen(pulling).condition("Degraded") == "True ImagePullBackOff")
        var pending = world
        pending.pods = [Self.pod("llama-predictor-1", revision: revision, unschedulable: "0/3 nodes are available: untolerated taint {nvidia.com/gpu: }.")]
        let unschedulable = Self.seen(pending)
        #expect(unschedulable.condition("Ready") == "False Unschedulable" && unschedulable.condition("Progressing") == "True Unschedulable")
        #expect(unschedulable.events == ["Unschedulable"])
        var creating = world
        creating.pods = [Self.pod("llama-predictor-1", revision: revision, waiting: "ContainerCreating")]
        #expect(Self.seen(creating).condition("Ready") == "False PullingImage")
        var none = world
        none.pods = [Self.pod("llama-predictor-0", revision: "an-older-revision")]
        #expect(Self.seen(none).condition("Ready") == "False WaitingForPods")
    }

    @Test func aNewRevisionStartsBesideTheOneServing() {
        var world = World().converged()
        world.spec["tag"] = "1.1.1"
        let next = Self.seen(world)
        #expect(Self.revision(of: next.written("InferenceService")) != Self.revision(of: world.children.inferenceService))
        world.pods.append(Self.pod("llama-predictor-2", revision: Self.revision(of: next.written("InferenceService"))))
        let seen = Self.seen(world)
        #expect(seen.condition("Ready") == "True Ready" && seen.condition("Progressing") == "True RollingOut")
        world.pods[1] = Self.pod("llama-predictor-2", revision: Self.revision(of: next.written("InferenceService")), waiting: "CrashLoopBackOff")
        // Crash-looping: rolled back to the revision that was verified, which still serves.
        let rolledBack = Self.seen(world)
        #expect(rolledBack.condition("Degraded") == "True RolledBack" && rolledBack.condition("RolledBack") == "True CrashLoopBackOff")
        #expect(Self.revision(of: rolledBack.written("InferenceService")) == Self.revision(of: world.children.inferenceService), "the known-good revision again")
        #expect(rolledBack.condition("Ready") == "True Ready" && rolledBack.events.contains("RolledBack"))
    }

    @Test func aReadinessProbeThatDoesNotAskTheModelIsSaid() {
        var world = World()
        world.spec["readinessProbe"] = ["enabled": false]
        let ready = world.converged()
        let message = Self.seen(ready).decision.status?["conditions"]?.arrayValue?.first { $0["type"] == "Ready" }?["message"]?.stringValue ?? ""
        #expect(message.contains("not that the model answers"))
    }

    @Test func theDecisionNeverHoldsTheKey() {
        for world in [World(), Self.newKeyInTheSecret(), { var w = Self.newKeyInTheSecret(); w.verdict = .invalid(code: 401); return w }()] {
            let seen = Self.seen(world)
            let said = seen.decision.announcements.map { "\($0)" }.joined() + (seen.decision.status?.serialized() ?? "")
            #expect(!said.contains("nvapi-decision-table"), "\(said.prefix(200))")
        }
    }
}
