import Foundation
import Testing
import KubeCore
import LocalControlPlane
import Reconciler
import StandIns
import TestSupport

/// Key rotation (contract section 5) as a user does it: change the Secret named in
/// `apiKeySecretRef`, or set `nim.opendatahub.io/rotate`; then read the Secrets, the
/// InferenceService's restart token, the rollouts KServe made, status, Events and metrics.
@Suite struct RotationTests {
    static let keyA = NimEnvironment.validKey
    static let keyB = "nvapi-rotation-second-key-00000000001"
    static let keyC = "nvapi-rotation-third-key-000000000002"
    static func fingerprint(_ key: String) -> String { APIKey(key).fingerprint }

    /// What any base64 of bytes containing `key` contains, whatever the key's offset: the
    /// encoding of the key at each of the three alignments, without the characters its
    /// neighbours share.
    static func base64Forms(of key: String) -> [String] {
        (0..<3).map { offset in
            let encoded = Data(Array(repeating: UInt8(ascii: "x"), count: offset) + Array(key.utf8)).base64EncodedString()
            return String(encoded.dropFirst(4).dropLast(4))
        }
    }

    /// A deployment running with key A, converged and announced.
    func running(_ env: NimEnvironment, settle: TimeInterval = ReconcilerOptions.defaultKeyRotationSettle, spec: JSON? = nil) async throws {
        try await env.startOperator(env.options(keyRotationSettle: settle))
        try await env.createKeySecret()
        if let spec { try await env.deploy(spec: spec) } else { try await env.deploy() }
        try await env.waitFor("Ready", "True")
        try await eventually("the Deployed event") { try await !env.events("Deployed").isEmpty }
        #expect(try await env.restartToken() == Self.fingerprint(Self.keyA))
    }

    func waitForKey(_ env: NimEnvironment, _ key: String, of name: String = "llama") async throws {
        try await eventually("\(name) runs key \(Self.fingerprint(key))") {
            let object = try await env.deployment(name)
            let ready = object[dotted: "status.conditions"]?.arrayValue?.first { $0["type"] == "Ready" }
            return object[dotted: "status.keyFingerprint"]?.stringValue == Self.fingerprint(key) && ready?["status"] == "True"
                && ready?["reason"] == "Ready"
        }
    }

    func metric(_ env: NimEnvironment, _ name: String, _ labels: [String: String] = [:]) throws -> Double {
        try PrometheusText.parse(env.metrics.render()).first { $0.name == name && $0.labels == labels }?.value ?? 0
    }

    func rotations(_ env: NimEnvironment, _ result: String) throws -> Double { try metric(env, "nim_key_rotations_total", ["result": result]) }

    @Test func aNewKeyIsValidatedWrittenToBothSecretsAndRollsThePodsOnce() async throws {
        let env = try await NimEnvironment()
        try await running(env)
        try await env.deploy("embedder", spec: ["model": "nv-embedqa-e5-v5", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("Ready", "True", of: "embedder")
        #expect(try await env.status("lastKeyRotationTime") == nil, "no rotation yet")

        try await env.setKey(Self.keyB)
        for name in ["llama", "embedder"] {
            try await waitForKey(env, Self.keyB, of: name)
            #expect(try await env.keysInSecrets(of: name) == (Self.keyB, Self.keyB), "both Secrets hold the new key")
            #expect(try await env.restartToken(of: name) == Self.fingerprint(Self.keyB))
            try await eventually("\(name) rolled") { env.rollouts(of: name) == 1 }
        }
        #expect(env.ngc.validations(of: Self.keyB) >= 1, "validated before use")
        #expect(try await env.status("lastKeyRotationTime")?.stringValue.flatMap(KubeTime.parse) != nil)
        let runtime = try await env.client.get(KServe.servingRuntimes, namespace: "team-a", name: "llama")
        #expect(runtime[path: ["spec", "containers"]]?[0]?["imagePullPolicy"] == "Always", "forcePull: the new pods pull with the new key")
        try await eventually("a KeyRotated event") { try await env.events("KeyRotated").count == 1 }
        let message = try await env.events("KeyRotated").first?["message"]?.stringValue ?? ""
        #expect(message.contains(Self.fingerprint(Self.keyB)) && message.contains(Self.fingerprint(Self.keyA)) && message.contains("restart once"), "\(message)")
        #expect(try await env.events("KeyRotated").first?["type"] == "Normal")
        #expect(try rotations(env, "rotated") == 2)
        #expect(try metric(env, "nim_key_rotation_duration_seconds_count") == 2)

        // Level-triggered: another look at the same state restarts nothing.
        env.resyncAll()
        try await env.quiesce()
        #expect(env.rollouts(of: "llama") == 1)
    }

    @Test func aRefusedKeyLeavesTheWorkingSecretsAndTheDeploymentServing() async throws {
        let env = try await NimEnvironment()
        try await running(env)
        env.ngc.reject(Self.keyB)
        try await env.setKey(Self.keyB)
        try await env.waitFor("KeyValid", "False", reason: "InvalidKey")
        try await env.waitFor("Ready", "True", reason: "ServingWithPreviousKey")
        try await env.waitFor("Degraded", "True", reason: "InvalidKey")
        #expect(try await env.keysInSecrets() == (Self.keyA, Self.keyA), "the working key stays")
        #expect(try await env.restartToken() == Self.fingerprint(Self.keyA))
        #expect(try await env.status("keyFingerprint") == .string(Self.fingerprint(Self.keyA)))
        try await eventually("a Warning event") { try await env.events("InvalidKey").first?["type"] == "Warning" }
        #expect(try rotations(env, "rejected") == 1)
        // Another refused key: its own Warning.
        let alsoRefused = "nvapi-rotation-also-refused-00000003"
        env.ngc.reject(alsoRefused)
        try await env.setKey(alsoRefused)
        try await eventually("KeyValid names the second refused key") {
            try await env.condition("KeyValid")?["message"]?.stringValue?.contains(Self.fingerprint(alsoRefused)) == true
        }
        try await eventually("a second Warning event") { try await env.events("InvalidKey").count == 2 }
        #expect(try rotations(env, "rejected") == 2)

        for (bad, reason) in [("legacy-org-key-0123456789", "LegacyKeyUnsupported"), ("", "KeyEmpty"), ("nvapi-two words", "KeyMalformed")] {
            try await env.setKey(bad)
            try await env.waitFor("KeyValid", "False", reason: reason)
            try await env.waitFor("Ready", "True", reason: "ServingWithPreviousKey")
            #expect(try await env.keysInSecrets() == (Self.keyA, Self.keyA))
        }

        // The good key back: recovered, nothing restarted, no rotation.
        try await env.setKey(Self.keyA)
        try await waitForKey(env, Self.keyA)
        try await env.waitFor("Degraded", "False")
        #expect(env.rollouts(of: "llama") == 0)
        #expect(try await env.events("KeyRotated").isEmpty)

        // A good new key after a refused one rotates as usual, and Ready never dropped.
        env.ngc.reject(Self.keyB)
        try await env.setKey(Self.keyB)
        try await env.waitFor("KeyValid", "False", reason: "InvalidKey")
        try await env.setKey(Self.keyC)
        try await waitForKey(env, Self.keyC)
        try await env.quiesce()
        #expect(env.rollouts(of: "llama") == 1)
        let deployed = try await env.events("Deployed")
        #expect(deployed.count == 1 && deployed.first?["count"]?.intValue == 1, "Ready stayed True throughout")
    }

    @Test func anUnreachableNGCChangesNothingAndTheRotationFinishesWhenItAnswers() async throws {
        let env = try await NimEnvironment()
        try await running(env)
        env.ngc.setDown(true)
        try await env.setKey(Self.keyB)
        try await env.waitFor("KeyValid", "Unknown", reason: "NGCUnreachable")
        try await env.waitFor("Ready", "True", reason: "ServingWithPreviousKey")
        try await env.waitFor("Degraded", "False", reason: "Retrying")
        #expect(try await env.keysInSecrets() == (Self.keyA, Self.keyA))
        #expect(try await env.restartToken() == Self.fingerprint(Self.keyA))
        #expect(env.rollouts(of: "llama") == 0)
        #expect(try rotations(env, "deferred") == 1)
        env.ngc.setDown(false)
        try await waitForKey(env, Self.keyB)
        #expect(try await env.keysInSecrets() == (Self.keyB, Self.keyB))
        try await eventually("rolled once") { env.rollouts(of: "llama") == 1 }
    }

    @Test func aBurstOfWritesRollsTwiceAtMostOntoTheFirstKeyAndTheLast() async throws {
        let env = try await NimEnvironment()
        // A settle window far longer than any pause between the writes below.
        try await running(env, settle: 3)
        let keys = (1...4).map { "nvapi-burst-key-\($0)-000000000000000" }
        // The first change is acted on at once: a single rotation waits for nothing.
        try await env.setKey(keys[0])
        try await waitForKey(env, keys[0])
        // The rest come within the window of it: held until the Secret is quiet, then the last.
        for key in keys.dropFirst() { try await env.setKey(key) }
        try await env.waitFor("Progressing", "True", reason: "KeyRotationPending")
        try await waitForKey(env, keys[3])
        #expect(try await env.keysInSecrets() == (keys[3], keys[3]))
        try await env.quiesce()
        #expect(env.rollouts(of: "llama") == 2)
        #expect(keys.dropFirst().dropLast().allSatisfy { env.ngc.validations(of: $0) == 0 }, "the keys between are never validated")
        try await eventually("two KeyRotated events") { try await env.events("KeyRotated").count == 2 }
    }

    @Test func aKeyChangedBackSoonRollsBackOnce() async throws {
        let env = try await NimEnvironment()
        try await running(env, settle: 3)
        try await env.setKey(Self.keyB)
        try await waitForKey(env, Self.keyB)
        // Back within the window: held, then rolled back, once.
        try await env.setKey(Self.keyA)
        try await env.waitFor("Progressing", "True", reason: "KeyRotationPending")
        try await waitForKey(env, Self.keyA)
        #expect(try await env.keysInSecrets() == (Self.keyA, Self.keyA))
        try await env.quiesce()
        #expect(env.rollouts(of: "llama") == 2, "onto B, and back onto A")
        try await eventually("a KeyRotated event back to A") {
            try await env.events("KeyRotated").contains { $0["message"]?.stringValue?.contains("Rotated to key \(Self.fingerprint(Self.keyA))") == true }
        }
    }

    @Test func restartPodsFalseUpdatesTheSecretsOnlyAndSaysSo() async throws {
        let env = try await NimEnvironment()
        try await running(env, spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "keyRotation": ["restartPods": false, "forcePull": false]])
        let runtime = try await env.client.get(KServe.servingRuntimes, namespace: "team-a", name: "llama")
        #expect(runtime[path: ["spec", "containers"]]?[0]?["imagePullPolicy"] == nil, "forcePull false: the node's image is used")
        try await env.setKey(Self.keyB)
        try await waitForKey(env, Self.keyB)
        #expect(try await env.keysInSecrets() == (Self.keyB, Self.keyB))
        #expect(try await env.restartToken() == Self.fingerprint(Self.keyA), "no restart")
        let message = try await env.condition("KeyValid")?["message"]?.stringValue ?? ""
        #expect(message.contains("restartPods is false") && message.contains(Self.fingerprint(Self.keyA)), "\(message)")
        try await eventually("a KeyRotated event") { try await env.events("KeyRotated").count == 1 }
        #expect(try await env.events("KeyRotated").first?["message"]?.stringValue?.contains("keep the previous key") == true)
        #expect(try rotations(env, "secrets_only") == 1)
        #expect(env.rollouts(of: "llama") == 0)

        // The manual trigger restarts them, with the key the Secrets hold.
        try await env.requestRotation("now")
        try await eventually("rolled once") { env.rollouts(of: "llama") == 1 }
        #expect(try await env.restartToken()?.hasPrefix(Self.fingerprint(Self.keyB) + "/rotate-") == true)
        try await eventually("the note is gone") { try await env.condition("KeyValid")?["message"]?.stringValue?.contains("restartPods") == false }
        try await eventually("a PodsRestarted event") { try await env.events("PodsRestarted").count == 1 }
    }

    @Test func restartPodsFalseBackToTheRunningKeyAndAnOutageAfterItStayStill() async throws {
        let env = try await NimEnvironment()
        try await running(env, spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "keyRotation": ["restartPods": false]])
        try await env.setKey(Self.keyB)
        try await waitForKey(env, Self.keyB)
        // Back to the key the pods never left: nothing restarts, and no Event claims it.
        try await env.setKey(Self.keyA)
        try await waitForKey(env, Self.keyA)
        try await eventually("two KeyRotated events") { try await env.events("KeyRotated").count == 2 }
        let back = try await env.events("KeyRotated").compactMap { $0["message"]?.stringValue }.first { $0.contains("was \(Self.fingerprint(Self.keyB))") }
        #expect(back?.contains("the pods already run it") == true, "\(back ?? "")")
        #expect(try rotations(env, "secrets_only") == 2 && rotations(env, "rotated") == 0)

        // B again, then NGC goes away and the operator restarts (no cached answers): the status
        // settles once and stays, the note said once.
        try await env.setKey(Self.keyB)
        try await waitForKey(env, Self.keyB)
        env.ngc.setDown(true)
        try await env.startOperator()
        try await env.waitFor("KeyValid", "True")
        try await eventually("the outage is in KeyValid") {
            try await env.condition("KeyValid")?["message"]?.stringValue?.contains("cannot be asked now") == true
        }
        let settled = try await env.deployment()
        let reconciles = try metric(env, "controller_runtime_reconcile_total", ["controller": "nimdeployment", "result": "success"])
        env.resyncAll()
        try await eventually("two more reconciles") {
            try metric(env, "controller_runtime_reconcile_total", ["controller": "nimdeployment", "result": "success"]) >= reconciles + 1
        }
        env.resyncAll()
        try await eventually("another reconcile") {
            try metric(env, "controller_runtime_reconcile_total", ["controller": "nimdeployment", "result": "success"]) >= reconciles + 2
        }
        let after = try await env.deployment()
        #expect(after.resourceVersion == settled.resourceVersion, "no status write without a change")
        let message = try await env.condition("KeyValid")?["message"]?.stringValue ?? ""
        #expect(message.components(separatedBy: "restartPods is false").count == 2, "\(message)")
        #expect(env.rollouts(of: "llama") == 0)
    }

    @Test func theRotateAnnotationRevalidatesAndRollsOncePerValue() async throws {
        let env = try await NimEnvironment()
        try await running(env)
        let validations = env.ngc.validations(of: Self.keyA)
        try await env.requestRotation("2026-11-23")
        try await eventually("rolled once") { env.rollouts(of: "llama") == 1 }
        #expect(env.ngc.validations(of: Self.keyA) == validations + 1, "asked NGC again, not the cache")
        try await eventually("a PodsRestarted event") { try await env.events("PodsRestarted").count == 1 }
        #expect(try await env.events("PodsRestarted").first?["message"]?.stringValue?.contains(NimDeployment.rotateAnnotation) == true)
        #expect(try rotations(env, "restarted") == 1)

        // The same value again, and the annotation removed: nothing. A new value: once more.
        try await env.requestRotation("2026-11-23")
        try await env.requestRotation(nil)
        try await env.requestRotation("second")
        try await eventually("rolled twice") { env.rollouts(of: "llama") == 2 }
        try await env.requestRotation(nil)
        try await env.quiesce()
        #expect(env.rollouts(of: "llama") == 2)
        #expect(try await env.restartToken() == Self.fingerprint(Self.keyA) + "/rotate-" + RestartToken.requestHash("second"))

        // A key NGC stopped accepting is not rolled out again.
        env.ngc.reject(Self.keyA)
        try await env.requestRotation("third")
        try await env.waitFor("KeyValid", "False", reason: "InvalidKey")
        try await env.waitFor("Ready", "True", reason: "ServingWithPreviousKey")
        #expect(env.rollouts(of: "llama") == 2)
        #expect(try await env.keysInSecrets() == (Self.keyA, Self.keyA))
    }

    /// The step after which the first operator stops, and how to hold it there.
    enum Interruption: String, CaseIterable, Sendable {
        case afterTheAPIKeySecret, afterBothSecrets, afterTheRestartToken
    }

    @Test(arguments: Interruption.allCases)
    func aRotationInterruptedAtAnyStepIsFinishedByTheNextOperator(_ step: Interruption) async throws {
        let env = try await NimEnvironment()
        try await running(env)
        let faults = env.controlPlane.faults
        switch step {
        case .afterTheAPIKeySecret: faults.failNext(100_000, code: 500, verbs: ["patch"], resource: "secrets", name: "nvidia-nim-image-pull-llama")
        case .afterBothSecrets: faults.failNext(100_000, code: 500, verbs: ["patch"], resource: "inferenceservices.serving.kserve.io", name: "llama")
        case .afterTheRestartToken: faults.failNext(100_000, code: 500, verbs: ["patch"], resource: "nimdeployments.nim.opendatahub.io", name: "llama")
        }
        try await env.setKey(Self.keyB)
        try await eventually("the first operator reached the step") {
            let secrets = try await env.keysInSecrets()
            switch step {
            case .afterTheAPIKeySecret: return secrets.apiKey == Self.keyB
            case .afterBothSecrets: return secrets.pull == Self.keyB
            case .afterTheRestartToken: return try await env.restartToken() == Self.fingerprint(Self.keyB)
            }
        }
        await env.stopOperator()
        if step != .afterTheRestartToken {
            #expect(try await env.restartToken() == Self.fingerprint(Self.keyA), "no restart before both Secrets hold the key")
        }
        #expect(try await env.status("keyFingerprint") == .string(Self.fingerprint(Self.keyA)))
        faults.reset()

        try await env.startOperator()
        try await waitForKey(env, Self.keyB)
        #expect(try await env.keysInSecrets() == (Self.keyB, Self.keyB))
        #expect(try await env.restartToken() == Self.fingerprint(Self.keyB))
        try await env.quiesce()
        #expect(env.rollouts(of: "llama") == 1, "exactly once, whoever finished it")
        try await eventually("one KeyRotated event") { try await env.events("KeyRotated").count == 1 }
        #expect(try await env.events("KeyRotated").first?["count"]?.intValue ?? 1 == 1)
    }

    @Test func noKeyAppearsInLogsEventsStatusMetricsOrErrorsDuringRotations() async throws {
        try await capturingLogs {
            let env = try await NimEnvironment()
            let first = "nvapi-rotation-canary-first-11112222"
            let refused = "nvapi-rotation-canary-refused-3333444"
            let second = "nvapi-rotation-canary-second-5555666"
            env.ngc.reject(refused)
            try await env.startOperator()
            try await env.createKeySecret(key: first)
            try await env.deploy()
            try await env.waitFor("Ready", "True")
            try await env.setKey(refused)
            try await env.waitFor("KeyValid", "False", reason: "InvalidKey")
            env.ngc.setDown(true)
            try await env.setKey(second)
            try await env.waitFor("KeyValid", "Unknown", reason: "NGCUnreachable")
            env.ngc.setDown(false)
            try await waitForKey(env, second)
            try await env.requestRotation("again")
            try await eventually("rolled twice") { env.rollouts(of: "llama") == 2 }
            try await eventually("the events are out") { try await env.events("PodsRestarted").count == 1 }
            let places = try await env.placesAKeyCouldLeak()
            #expect(places["logs"]?.split(separator: "\n").contains { $0.contains("key rotated") && $0.contains(Self.fingerprint(second)) } == true)
            // The keys, and their base64 at any alignment (Secret data, a dockerconfigjson).
            let canaries = [first, refused, second].flatMap { [$0] + Self.base64Forms(of: $0) }
            for (place, text) in places {
                for canary in canaries { #expect(!text.contains(canary), "a key is in the \(place)") }
            }
        }
    }
}
