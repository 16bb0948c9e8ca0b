import Foundation
import Testing
import KubeCore
import KubeAPI
import LocalControlPlane
import Reconciler
import TestSupport

/// `nim-deploy-operator migrate` on the legacy projects of the fixture, as an admin runs it.
@Suite struct MigrateCommandTests {
    static let agent = "nim-deploy-operator-migrate"

    func migrate(_ env: NimEnvironment, _ arguments: String...) async throws -> CommandResult {
        try await run([Paths.operatorBinary, "migrate", "--kubeconfig", try env.cluster.writeKubeconfig()] + arguments, timeout: 120)
    }

    func secretKey(_ env: NimEnvironment, _ name: String, namespace: String = "legacy") async throws -> String? {
        try await env.secretKey(name, namespace: namespace)
    }

    /// Every object of the fixture's kinds in a namespace, by kind and name, with its version.
    func snapshot(_ env: NimEnvironment, namespace: String = "legacy") async throws -> [String: String] {
        var versions: [String: String] = [:]
        for resource in [ResourceType.secrets, .persistentVolumeClaims, .deployments, .pods, KServe.servingRuntimes, KServe.inferenceServices] {
            for object in try await env.client.list(resource, namespace: namespace).items { versions["\(resource.plural)/\(object.name)"] = object.resourceVersion }
        }
        return versions
    }

    @Test func aDryRunPrintsThePlanStepByStepAndWritesNothing() async throws {
        let env = try await NimEnvironment.legacy()
        let before = try await snapshot(env)
        let result = try await migrate(env, "--namespace", "legacy", "--dry-run")
        #expect(result.status == 0, "\(result)")
        for name in LegacyFixture.migratable { #expect(result.stdout.contains("legacy/\(name): would-migrate: "), "\(name)") }
        #expect(result.stdout.contains("legacy/airgapped: air-gapped: "))
        for step in ["1. read the key from Secret nvidia-nim-secrets (NGC_API_KEY): personal key \(APIKey(LegacyFixture.key).fingerprint)",
                     "2. create Secret nvidia-nim-secrets-llama", "2. create Secret nvidia-nim-image-pull-llama",
                     "3. repoint ServingRuntime llama: env NGC_API_KEY of container kserve-container: nvidia-nim-secrets -> nvidia-nim-secrets-llama; imagePullSecrets: ngc-secret -> nvidia-nim-image-pull-llama",
                     "4. restart the pods once: InferenceService llama gets restart token", "5. annotate ServingRuntime llama"] {
            #expect(result.stdout.contains(step), "\(step)\n\(result.stdout)")
        }
        #expect(result.stdout.contains("summary: 3 would-migrate, 1 air-gapped (dry run: nothing written)"))
        #expect(try await snapshot(env) == before)
        #expect(env.controlPlane.requestStats.writes(by: Self.agent) == 0)
    }

    @Test func migrationMovesEachDeploymentOnceAndKeepsEverythingElse() async throws {
        let env = try await NimEnvironment.legacy()
        let runtimeBefore = try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "llama")
        let serviceBefore = try await env.client.get(KServe.inferenceServices, namespace: "legacy", name: "llama")
        let claims = try await env.client.list(.persistentVolumeClaims, namespace: "legacy").items.map(\.resourceVersion)
        let result = try await migrate(env, "--namespace", "legacy")
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("summary: 3 migrated, 1 air-gapped"), "\(result)")

        // The key, in both per-deployment Secrets of each.
        for (name, key) in [("llama", LegacyFixture.key), ("mistral", LegacyFixture.key), ("handmoved", LegacyFixture.handMovedKey)] {
            #expect(try await secretKey(env, "nvidia-nim-secrets-\(name)") == key)
            let pull = try await env.client.get(.secrets, namespace: "legacy", name: "nvidia-nim-image-pull-\(name)")
            #expect(pull["type"] == "kubernetes.io/dockerconfigjson")
        }
        // The runtime: the references renamed where they were, everything else as it was.
        let runtime = try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "llama")
        let env0 = runtime[path: ["spec", "containers"]]?[0]?["env"]?.arrayValue ?? []
        #expect(env0.compactMap { $0["name"]?.stringValue } == ["NIM_CACHE_PATH", "NIM_MAX_MODEL_LEN", "NGC_API_KEY"])
        #expect(env0[2][path: ["valueFrom", "secretKeyRef"]] == ["name": "nvidia-nim-secrets-llama", "key": "NGC_API_KEY"])
        #expect(runtime[path: ["spec", "imagePullSecrets"]] == [["name": "nvidia-nim-image-pull-llama"]])
        #expect(runtime[path: ["spec", "volumes"]] == runtimeBefore[path: ["spec", "volumes"]])
        for (key, value) in runtimeBefore.annotations { #expect(runtime.annotations[key] == value, "\(key)") }
        #expect(runtime.annotations[LegacyRuntime.migratedFromAnnotation] == "ngc-secret,nvidia-nim-secrets")
        #expect(runtime.annotations[LegacyRuntime.migratedAtAnnotation] != nil)
        let mistralRuntime = try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "mistral")
        #expect(mistralRuntime[path: ["spec", "imagePullSecrets"]] == [["name": "nvidia-nim-image-pull-mistral"], ["name": "mirror-registry"]])
        #expect(mistralRuntime[path: ["spec", "containers"]]?[0]?["volumeMounts"]?[0]?["subPath"] == "mistral")
        // The InferenceService: nothing but the restart token; the claims: untouched.
        var service = try await env.client.get(KServe.inferenceServices, namespace: "legacy", name: "llama")
        #expect(service[path: ["spec", "predictor", "annotations", DesiredState.restartTokenAnnotation]] == .string(APIKey(LegacyFixture.key).fingerprint))
        service[path: ["spec", "predictor", "annotations"]] = nil
        #expect(service["spec"] == serviceBefore["spec"])
        #expect(try await env.client.list(.persistentVolumeClaims, namespace: "legacy").items.map(\.resourceVersion) == claims)
        // The shared Secrets stay; each deployment restarted once; an Event says so.
        for name in ["nvidia-nim-secrets", "ngc-secret", "nim-api-key-handmoved"] { _ = try await env.client.get(.secrets, namespace: "legacy", name: name) }
        try await eventually("one rollout each") { LegacyFixture.migratable.allSatisfy { env.rollouts(of: $0, namespace: "legacy") == 1 } }
        #expect(env.rollouts(of: "airgapped", namespace: "legacy") == 0)
        let events = try await env.events(namespace: "legacy")
        for name in LegacyFixture.migratable {
            #expect(events.contains { $0["reason"] == "Migrated" && $0[dotted: "involvedObject.name"]?.stringValue == name && $0[dotted: "involvedObject.kind"] == "ServingRuntime" })
        }

        // Again: nothing to do, nothing written.
        let writes = env.controlPlane.requestStats.writes(by: Self.agent)
        let again = try await migrate(env, "--namespace", "legacy")
        #expect(again.status == 0)
        #expect(again.stdout.contains("summary: 3 already-migrated, 1 air-gapped"), "\(again)")
        #expect(env.controlPlane.requestStats.writes(by: Self.agent) == writes)
        try await env.settleKServe(LegacyFixture.migratable, namespace: "legacy")
        #expect(LegacyFixture.migratable.allSatisfy { env.rollouts(of: $0, namespace: "legacy") == 1 })
        #expect(!result.stdout.contains(LegacyFixture.key) && !result.stderr.contains(LegacyFixture.key))
    }

    enum Stop: String, CaseIterable, Sendable { case afterTheFirstSecret, beforeTheRuntime, beforeTheRestart, beforeTheRecord }

    @Test(arguments: Stop.allCases)
    func aRunStoppedAtAnyStepIsFinishedByTheNext(_ stop: Stop) async throws {
        let env = try await NimEnvironment.legacy()
        let faults = env.controlPlane.faults
        switch stop {
        case .afterTheFirstSecret: faults.failNext(100_000, code: 500, verbs: ["create"], resource: "secrets", name: "nvidia-nim-image-pull-llama")
        case .beforeTheRuntime: faults.failNext(100_000, code: 500, verbs: ["update"], resource: "servingruntimes.serving.kserve.io", name: "llama")
        case .beforeTheRestart: faults.failNext(100_000, code: 500, verbs: ["patch"], resource: "inferenceservices.serving.kserve.io", name: "llama")
        case .beforeTheRecord: faults.failNext(100_000, code: 500, verbs: ["patch"], resource: "servingruntimes.serving.kserve.io", name: "llama")
        }
        let first = try await migrate(env, "--namespace", "legacy")
        #expect(first.status == 1, "\(first)")
        #expect(first.stdout.contains("legacy/llama: failed (APIServerError)"), "\(first)")
        #expect(try await secretKey(env, "nvidia-nim-secrets") == LegacyFixture.key, "the shared Secret is untouched")
        let runtimeKey = LegacyRuntime(try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "llama")).keySource
        if stop != .afterTheFirstSecret {
            #expect(try await secretKey(env, "nvidia-nim-secrets-llama") == LegacyFixture.key, "the new Secret holds the key")
        }
        if let runtimeKey {
            #expect(try await secretKey(env, runtimeKey.secret) == LegacyFixture.key, "wherever the runtime reads its key, the key is there")
        }
        faults.reset()
        let second = try await migrate(env, "--namespace", "legacy")
        #expect(second.status == 0, "\(second)")
        #expect(second.stdout.contains("legacy/llama: migrated"), "\(second)")
        let runtime = try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "llama")
        #expect(LegacyRuntime(runtime).state == .migrated)
        #expect(try await secretKey(env, "nvidia-nim-secrets-llama") == LegacyFixture.key)
        try await env.settleKServe(["llama"], namespace: "legacy")
        #expect(env.rollouts(of: "llama", namespace: "legacy") == 1, "restarted once, whichever run did it")
    }

    @Test func anOrganizationKeyIsReportedAndNothingIsWritten() async throws {
        let env = try await NimEnvironment.legacy()
        let before = try await snapshot(env, namespace: "legacy-org")
        let result = try await migrate(env, "--namespace", "legacy-org")
        #expect(result.status == 3, "\(result)")
        #expect(result.stdout.contains("legacy-org/orgkey: blocked (LegacyKeyUnsupported): "), "\(result)")
        #expect(result.stdout.contains("Generate a personal key"))
        #expect(!result.stdout.contains(LegacyFixture.orgKey))
        #expect(try await snapshot(env, namespace: "legacy-org") == before)
        try await eventually("a Warning event on the runtime") {
            try await env.events(namespace: "legacy-org").contains { $0["reason"] == "LegacyKeyUnsupported" && $0["type"] == "Warning" }
        }
    }

    @Test func aSecretHoldingAnotherKeyIsNeverOverwrittenAndKeepsTheSharedOneInUse() async throws {
        let env = try await NimEnvironment.legacy()
        try await env.createKeySecret("nvidia-nim-secrets-llama", namespace: "legacy", key: "nvapi-someone-elses-key-000000000009")
        let result = try await migrate(env, "--namespace", "legacy", "--cleanup")
        #expect(result.status == 3, "\(result)")
        #expect(result.stdout.contains("legacy/llama: blocked (SecretConflict): Secret nvidia-nim-secrets-llama exists and holds another key"), "\(result)")
        #expect(try await secretKey(env, "nvidia-nim-secrets-llama") == "nvapi-someone-elses-key-000000000009")
        #expect(result.stdout.contains("legacy/mistral: migrated"))
        #expect(result.stdout.contains("legacy: cleanup: kept secret/nvidia-nim-secrets: still used by ServingRuntime/llama (env NGC_API_KEY of container kserve-container)"), "\(result)")
        _ = try await env.client.get(.secrets, namespace: "legacy", name: "nvidia-nim-secrets")
    }

    @Test func aRuntimeReadingAnotherValueOfTheSharedSecretIsNotMoved() async throws {
        let env = try await NimEnvironment.legacy()
        _ = try await env.client.patch(.secrets, namespace: "legacy", name: "nvidia-nim-secrets", .merge(["data": ["HF_TOKEN": .string(Data("hf_token_value".utf8).base64EncodedString())]]))
        var runtime = try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "mistral")
        var containers = runtime[path: ["spec", "containers"]]?.arrayValue ?? []
        var env0 = containers[0]["env"]?.arrayValue ?? []
        env0.append(["name": "HF_TOKEN", "valueFrom": ["secretKeyRef": ["name": "nvidia-nim-secrets", "key": "HF_TOKEN"]]])
        containers[0]["env"] = .array(env0)
        runtime[path: ["spec", "containers"]] = .array(containers)
        let before = try await env.client.update(runtime, KServe.servingRuntimes)
        let result = try await migrate(env, "--namespace", "legacy")
        #expect(result.status == 3, "\(result)")
        #expect(result.stdout.contains(
            "legacy/mistral: blocked (UnmovableReference): Not moved, to lose nothing: env HF_TOKEN of container kserve-container reads HF_TOKEN from Secret nvidia-nim-secrets, which nvidia-nim-secrets-mistral will not hold"), "\(result)")
        #expect(result.stdout.contains("legacy/llama: migrated"))
        #expect(try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "mistral").resourceVersion == before.resourceVersion)
        await #expect(throws: KubeError.self) { _ = try await env.client.get(.secrets, namespace: "legacy", name: "nvidia-nim-secrets-mistral") }
        let events = try await env.events(namespace: "legacy")
        #expect(!events.contains { $0["reason"] == "Migrating" && $0[dotted: "involvedObject.name"] == "mistral" }, "no Migrating event for what does not move")
        // Cleanup keeps the shared key Secret: mistral still reads from it.
        let cleanup = try await migrate(env, "--namespace", "legacy", "--cleanup")
        #expect(cleanup.stdout.contains("legacy: cleanup: kept secret/nvidia-nim-secrets: still used by ServingRuntime/mistral"), "\(cleanup)")
    }

    @Test func cleanupDeletesOnlyWhatNothingUses() async throws {
        let env = try await NimEnvironment.legacy()
        #expect(try await migrate(env, "--namespace", "legacy").status == 0)
        // KServe renders the predictors anew with the restart: the old pods' references go.
        try await eventually("the predictors use the new Secrets") {
            let deployment = try await env.client.get(.deployments, namespace: "legacy", name: "llama-predictor")
            let pods = try await env.client.list(.pods, namespace: "legacy").items
            return deployment[path: ["spec", "template", "spec", "imagePullSecrets"]] == [["name": "nvidia-nim-image-pull-llama"]]
                && pods.allSatisfy { !SecretReference.inPodSpec($0["spec"]).contains { $0.secret == "nvidia-nim-secrets" } }
        }
        let result = try await migrate(env, "--namespace", "legacy", "--cleanup")
        #expect(result.status == 3, "\(result)")
        #expect(result.stdout.contains("legacy: cleanup: kept secret/ngc-secret: still used by Deployment/other-app (imagePullSecrets), StatefulSet/notebook (imagePullSecrets)"), "\(result)")
        for name in ["nvidia-nim-secrets", "nim-api-key-handmoved", "nim-image-pull-handmoved"] {
            #expect(result.stdout.contains("legacy: cleanup: deleted secret/\(name)"), "\(name)")
            await #expect(throws: KubeError.self) { _ = try await env.client.get(.secrets, namespace: "legacy", name: name) }
        }
        #expect(try await secretKey(env, "nvidia-nim-secrets-llama") == LegacyFixture.key)

        // other-app and the notebook pull with their own Secret now: ngc-secret goes too.
        let ownPull: JSON = ["spec": ["template": ["spec": ["imagePullSecrets": [["name": "other-app-pull"]]]]]]
        _ = try await env.client.patch(.deployments, namespace: "legacy", name: "other-app", .merge(ownPull))
        _ = try await env.client.patch(
            ResourceType(group: "apps", version: "v1", plural: "statefulsets", kind: "StatefulSet", namespaced: true), namespace: "legacy", name: "notebook", .merge(ownPull))
        let again = try await migrate(env, "--namespace", "legacy", "--cleanup", "--output", "json")
        #expect(again.status == 0, "\(again)")
        let report = try JSON(parsing: again.stdout)
        #expect(report["cleanup"]?[0]?["deleted"] == ["ngc-secret"])
        #expect(report["deployments"]?.arrayValue?.count == 4)
    }

    @Test func adoptPrintsNimDeploymentsThatTakeOverWithoutSecondCopies() async throws {
        let env = try await NimEnvironment.legacy()
        let result = try await migrate(env, "--namespace", "legacy", "--adopt")
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("summary: 3 migrated, 1 air-gapped"), "the report goes to stderr")
        let documents = try YAML.parseAll(result.stdout)
        #expect(documents.map { $0[path: ["metadata", "name"]]?.stringValue ?? "" } == LegacyFixture.migratable)
        let llama = try #require(documents.first { $0[path: ["metadata", "name"]] == "llama" })
        #expect(llama["spec"] == [
            "model": "llama-3.1-8b-instruct", "image": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.3", "apiKeySecretRef": ["name": "ngc-api-key-llama"],
            "storage": ["existingClaim": "nim-pvc-a1b2c3"], "resources": ["gpus": 1, "requests": ["cpu": "1", "memory": "8Gi"], "limits": ["cpu": "2", "memory": "16Gi"]],
            "replicas": ["min": 1, "max": 1],
        ])
        let mistral = try #require(documents.first { $0[path: ["metadata", "name"]] == "mistral" })
        #expect(mistral[path: ["spec", "storage"]] == ["existingClaim": "nim-pvc", "subPath": "mistral"])
        // Each key in a Secret of the user's own, owned by nothing: no cleanup and no deletion
        // of the NimDeployment takes it.
        for (name, key) in [("llama", LegacyFixture.key), ("mistral", LegacyFixture.key), ("handmoved", LegacyFixture.handMovedKey)] {
            #expect(try await secretKey(env, "ngc-api-key-\(name)") == key)
            #expect(try await env.client.get(.secrets, namespace: "legacy", name: "ngc-api-key-\(name)").ownerReferences.isEmpty)
        }
        let runtimeBefore = try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "llama")

        // Applied with the operator running: the deployments are taken over as they run.
        try await env.settleKServe(LegacyFixture.migratable, namespace: "legacy")
        try await env.startOperator()
        for document in documents { _ = try await env.client.apply(KubeObject(document), NimDeployment.resource, fieldManager: "gitops") }
        for name in LegacyFixture.migratable { try await env.waitFor("Ready", "True", of: name, namespace: "legacy") }
        let claims = try await env.client.list(.persistentVolumeClaims, namespace: "legacy").items.map(\.name).sorted()
        #expect(claims == ["nim-pvc", "nim-pvc-a1b2c3"], "no second cache")
        let runtime = try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "llama")
        #expect(runtime.labels[ChildLabels.managedBy] == ChildLabels.operatorName)
        #expect(runtime.controllerReference?.kind == "NimDeployment")
        // What the NimDeployment would not have given it is kept: env vars, other pull secrets.
        let envNames = { (object: KubeObject) in Set(object[path: ["spec", "containers"]]?[0]?["env"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []) }
        #expect(envNames(runtimeBefore).isSubset(of: envNames(runtime)), "\(envNames(runtimeBefore)) in \(envNames(runtime))")
        let mistralRuntime = try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "mistral")
        #expect(mistralRuntime[path: ["spec", "imagePullSecrets"]] == [["name": "nvidia-nim-image-pull-mistral"], ["name": "mirror-registry"]])
        try await env.settleKServe(LegacyFixture.migratable, namespace: "legacy")
        // Migration rolled each once (the key moved); taking over rolls each once more, onto the
        // operator's pod template (probes, security context, GPU toleration): never twice.
        #expect(LegacyFixture.migratable.allSatisfy { env.rollouts(of: $0, namespace: "legacy") == 2 }, "\(LegacyFixture.migratable.map { env.rollouts(of: $0, namespace: "legacy") })")
        // The shared Secrets are nobody's now (but ngc-secret, which other workloads use).
        let cleanup = try await migrate(env, "--namespace", "legacy", "--cleanup")
        #expect(cleanup.stdout.contains("legacy: cleanup: deleted secret/nvidia-nim-secrets"), "\(cleanup)")
        for name in LegacyFixture.migratable { try await env.waitFor("KeyValid", "True", of: name, namespace: "legacy") }
    }

    @Test(arguments: [
        (["migrate"], "give --namespace NS or --all-namespaces"),
        (["migrate", "--namespace", "a", "--all-namespaces"], "not both"),
        (["migrate", "--all-namespaces", "--output", "yaml"], "--output must be text or json"),
    ])
    func usageErrorsExitTwo(_ arguments: [String], _ message: String) async throws {
        let result = try await run([Paths.operatorBinary] + arguments, timeout: 60)
        #expect(result.status == 2 && result.stderr.contains(message), "\(result)")
    }
}
