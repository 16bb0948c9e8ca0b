import Foundation
import Testing
import KubeCore
import LocalControlPlane
import Reconciler
import TestSupport

/// Legacy migration inside the running operator: off until asked, per namespace or everywhere;
/// progress in Events and the `nim-legacy-migration` ConfigMap; blocked deployments unblocked by
/// fixing the key; a run interrupted half-way finished by the next operator; NimDeployments
/// taking over what they should and refusing what they should not.
@Suite struct MigrationTests {

    func reconciles(_ env: NimEnvironment) throws -> Double {
        try PrometheusText.parse(env.metrics.render())
            .filter { $0.name == "controller_runtime_reconcile_total" && $0.labels["controller"] == LegacyMigration.controllerName }
            .reduce(0) { $0 + $1.value }
    }

    func migrations(_ env: NimEnvironment, _ result: String) throws -> Double {
        try PrometheusText.parse(env.metrics.render()).first { $0.name == "nim_legacy_migrations_total" && $0.labels == ["result": result] }?.value ?? -1
    }

    func summary(_ env: NimEnvironment, namespace: String = "legacy") async throws -> [String: String]? {
        do {
            let map = try await env.client.get(.configMaps, namespace: namespace, name: LegacyMigration.summaryName)
            return (map["data"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }

    func migrated(_ env: NimEnvironment, _ names: [String], namespace: String = "legacy") async throws -> Bool {
        for name in names {
            let runtime = try await env.client.get(KServe.servingRuntimes, namespace: namespace, name: name)
            guard LegacyRuntime(runtime).state == .migrated else { return false }
        }
        return true
    }

    func annotate(_ env: NimEnvironment, _ namespace: String) async throws {
        _ = try await env.client.patch(.namespaces, name: namespace, .merge(["metadata": ["annotations": [LegacyMigration.enableAnnotation: "true"]]]))
    }

    @Test func offUntilANamespaceAsksThenEachDeploymentMovesOnce() async throws {
        let env = try await NimEnvironment.legacy()
        let before = try await env.client.get(.secrets, namespace: "legacy", name: "nvidia-nim-secrets").resourceVersion
        try await env.startOperator()
        // Every namespace has been looked at once, and nothing was done.
        let namespaces = try await env.client.list(.namespaces).items.count
        try await eventually("each namespace reconciled") { try reconciles(env) >= Double(namespaces) }
        #expect(try await summary(env) == nil)
        #expect(try await migrated(env, ["llama"]) == false)
        #expect(try await env.client.list(.secrets, namespace: "legacy").items.allSatisfy { !$0.name.hasPrefix("nvidia-nim-secrets-") })

        try await annotate(env, "legacy")
        try await eventually("the three move") { try await migrated(env, LegacyFixture.migratable) }
        try await eventually("the summary says so") { try await summary(env)?["summary"]?.hasPrefix("3 ") == true }
        let data = try #require(try await summary(env))
        #expect(data["summary"]?.contains("1 air-gapped") == true, "\(data)")
        #expect(data["summary"]?.contains("nim-deploy-operator migrate --namespace legacy --cleanup") == true)
        #expect(data["llama"]?.contains("igrated") == true, "\(data)")
        let entries = try JSON(parsing: data["deployments.json"] ?? "").arrayValue ?? []
        #expect(entries.compactMap { $0["deployment"]?.stringValue }.sorted() == ["airgapped", "handmoved", "llama", "mistral"])
        #expect(try await summary(env, namespace: "legacy-org") == nil, "only the annotated namespace")
        #expect(try migrations(env, "migrated") == 3 && migrations(env, "blocked") == 0)

        for (name, key) in [("llama", LegacyFixture.key), ("mistral", LegacyFixture.key), ("handmoved", LegacyFixture.handMovedKey)] {
            let secret = try await env.client.get(.secrets, namespace: "legacy", name: "nvidia-nim-secrets-\(name)")
            #expect(secret[path: ["data", "NGC_API_KEY"]]?.stringValue.flatMap { Data(base64Encoded: $0) } == Data(key.utf8))
        }
        #expect(try await env.client.get(.secrets, namespace: "legacy", name: "nvidia-nim-secrets").resourceVersion == before, "shared Secret untouched")
        try await eventually("a Migrated event on each runtime") {
            let events = try await env.events(namespace: "legacy")
            return LegacyFixture.migratable.allSatisfy { name in
                events.contains { $0["reason"] == "Migrated" && $0[dotted: "involvedObject.name"]?.stringValue == name }
            }
        }
        try await env.settleKServe(LegacyFixture.migratable + ["airgapped"], namespace: "legacy")
        #expect(LegacyFixture.migratable.allSatisfy { env.rollouts(of: $0, namespace: "legacy") == 1 })
        #expect(env.rollouts(of: "airgapped", namespace: "legacy") == 0)
        let leaks = try await env.placesAKeyCouldLeak(deployment: "llama", namespace: "legacy")
        for (place, text) in leaks { #expect(!text.contains(LegacyFixture.key), "\(place)") }
    }

    @Test func anOrganizationKeyBlocksWithOneWarningUntilItIsReplaced() async throws {
        let env = try await NimEnvironment.legacy()
        try await env.startOperator(env.options(migrateLegacy: true))
        try await eventually("legacy migrates without an annotation") { try await migrated(env, LegacyFixture.migratable) }
        try await eventually("orgkey is reported blocked") {
            try await summary(env, namespace: "legacy-org")?["orgkey"]?.hasPrefix("blocked (LegacyKeyUnsupported): ") == true
        }
        try await eventually("a Warning event") {
            try await env.events(namespace: "legacy-org").contains { $0["reason"] == "LegacyKeyUnsupported" && $0["type"] == "Warning" }
        }
        // Reconciled again (a resync), still blocked: no second Warning.
        let count = try reconciles(env)
        env.resyncAll()
        _ = try await env.client.patch(.namespaces, name: "legacy-org", .merge(["metadata": ["labels": ["touched": "1"]]]))
        try await eventually("reconciled again") { try reconciles(env) > count }
        let warnings = try await env.events(namespace: "legacy-org").filter { $0["reason"] == "LegacyKeyUnsupported" }
        #expect(warnings.count == 1 && (warnings.first?["count"]?.intValue ?? 1) == 1, "\(warnings)")
        #expect(try migrations(env, "blocked") == 1, "counted once, when it became blocked")
        #expect(!(try await summary(env, namespace: "legacy-org")?.values.contains { $0.contains(LegacyFixture.orgKey) } ?? true))

        // The admin puts a personal key in the shared Secret: the namespace is unblocked.
        try await env.createKeySecret("nvidia-nim-secrets", namespace: "legacy-org", key: "nvapi-personal-replacement-0000000000007")
        try await eventually("orgkey migrates") { try await migrated(env, ["orgkey"], namespace: "legacy-org") }
        let secret = try await env.client.get(.secrets, namespace: "legacy-org", name: "nvidia-nim-secrets-orgkey")
        #expect(secret[path: ["data", "NGC_API_KEY"]]?.stringValue.flatMap { Data(base64Encoded: $0) } == Data("nvapi-personal-replacement-0000000000007".utf8))
    }

    @Test func aMigrationInterruptedHalfWayIsFinishedByTheNextOperator() async throws {
        let env = try await NimEnvironment.legacy()
        // The runtime can never be repointed: the operator stops after the Secrets.
        env.controlPlane.faults.failNext(1_000_000, code: 500, verbs: ["update"], resource: "servingruntimes.serving.kserve.io", name: "llama")
        try await env.startOperator(env.options(migrateLegacy: true))
        try await eventually("llama is reported failed") { try await summary(env)?["llama"]?.hasPrefix("failed") == true }
        #expect(try await env.client.get(.secrets, namespace: "legacy", name: "nvidia-nim-secrets-llama").name == "nvidia-nim-secrets-llama")
        #expect(try await migrated(env, ["llama"]) == false)
        await env.stopOperator()

        env.controlPlane.faults.reset()
        try await env.startOperator(env.options(migrateLegacy: true))
        try await eventually("llama migrates") { try await migrated(env, ["llama"]) }
        try await eventually("the summary catches up") { try await summary(env)?["llama"]?.hasPrefix("failed") == false }
        try await env.settleKServe(["llama"], namespace: "legacy")
        #expect(env.rollouts(of: "llama", namespace: "legacy") == 1)
    }

    @Test func aNimDeploymentTakesOverAMigratedRuntimeButNotSomeoneElses() async throws {
        let env = try await NimEnvironment.legacy()
        try await env.startOperator(env.options(migrateLegacy: true))
        try await eventually("llama migrates") { try await migrated(env, ["llama"]) }
        try await env.settleKServe(["llama"], namespace: "legacy")

        _ = try await env.deploy("llama", namespace: "legacy", spec: [
            "model": "llama-3.1-8b-instruct", "image": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.3",
            "apiKeySecretRef": ["name": "nvidia-nim-secrets"], "storage": ["existingClaim": "nim-pvc-a1b2c3"],
        ])
        try await env.waitFor("Ready", "True", of: "llama", namespace: "legacy")
        let runtimes = try await env.client.list(KServe.servingRuntimes, namespace: "legacy").items
        #expect(runtimes.filter { $0.name.hasPrefix("llama") }.count == 1, "no second runtime")
        let runtime = try #require(runtimes.first { $0.name == "llama" })
        #expect(runtime.controllerReference?.kind == "NimDeployment")
        #expect(runtime[path: ["spec", "volumes"]]?.serialized().contains("nim-pvc-a1b2c3") == true, "the cache stays where it was")
        #expect(try await env.client.list(.persistentVolumeClaims, namespace: "legacy").items.count == 2, "no second cache")
        try await eventually("an Adopted event") { try await env.events("Adopted", of: "llama", namespace: "legacy").count == 1 }

        // A runtime of another product with the same name is never taken.
        var foreign = KubeObject(apiVersion: "serving.kserve.io/v1alpha1", kind: "ServingRuntime", namespace: "legacy", name: "vllm")
        foreign["spec"] = ["containers": [["name": "kserve-container", "image": "quay.io/vllm/vllm:0.6"]], "supportedModelFormats": [["name": "vllm"]]]
        let created = try await env.client.create(foreign, KServe.servingRuntimes, fieldManager: "someone")
        try await env.createKeySecret("my-ngc-key", namespace: "legacy", key: NimEnvironment.validKey)
        _ = try await env.deploy("vllm", namespace: "legacy")
        try await env.waitFor("Ready", "False", reason: "ResourceConflict", of: "vllm", namespace: "legacy")
        #expect(try await env.client.get(KServe.servingRuntimes, namespace: "legacy", name: "vllm").resourceVersion == created.resourceVersion)
        #expect(try await env.client.list(KServe.inferenceServices, namespace: "legacy").items.allSatisfy { $0.name != "vllm" }, "nothing half-built")
        try await eventually("a Warning event") { try await env.events("ResourceConflict", of: "vllm", namespace: "legacy").count == 1 }
    }
}
