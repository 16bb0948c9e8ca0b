import Foundation
import Testing
import KubeCore
import KubeAPI
import LocalControlPlane
import Reconciler
import StandIns
import TestSupport

/// The scenarios of the design documents and every bad input, through the local control plane,
/// with the NGC and KServe stand-ins: what a user applies, what exists afterwards, what status
/// and events say.
@Suite struct ScenarioTests {
    @Test func happyPathMakesFiveObjectsAndReportsReady() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy()
        try await env.waitFor("Ready", "True")
        let revision = try await env.waitForRevision("Verified")
        #expect(revision["number"] == 1 && revision["change"] == "first revision: nvcr.io/nim/meta/llama-3.1-8b-instruct:latest")
        let deployment = try await env.deployment()
        let status = try #require(deployment["status"])
        #expect(status[path: ["knownGoodRevision", "number"]] == 1, "the first revision that verified is the known-good one")
        #expect(env.models.requests(namespace: "team-a", name: "llama") == ["GET /v1/models", "POST /v1/chat/completions"], "the model itself was asked, once")
        #expect(status["image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:latest")
        #expect(status["tag"] == "latest")
        #expect(status["keyFingerprint"] == .string(APIKey(NimEnvironment.validKey).fingerprint))
        #expect(status["url"] == "http://llama-team-a.example.com")
        #expect(status["secretNames"] == ["apiKey": "nvidia-nim-secrets-llama", "imagePull": "nvidia-nim-image-pull-llama"])
        #expect(status["pvcName"] == "nim-cache-llama")
        let types = Set((status["conditions"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue })
        #expect(types == ["Ready", "KeyValid", "ResourcesReady", "InferenceServiceReady", "ModelVerified", "Progressing", "Degraded"])
        #expect((status["conditions"]?.arrayValue ?? []).allSatisfy { $0["observedGeneration"]?.intValue == deployment.generation })
        #expect(try await env.children() == [
            "secrets": ["nvidia-nim-image-pull-llama", "nvidia-nim-secrets-llama"], "pvc": ["nim-cache-llama"], "runtimes": ["llama"], "isvc": ["llama"],
        ])
        let secret = try await env.client.get(.secrets, namespace: "team-a", name: "nvidia-nim-secrets-llama")
        #expect(secret[path: ["data", "api_key"]] == .string(Data(NimEnvironment.validKey.utf8).base64EncodedString()))
        try await eventually("a Deployed event") { try await env.events().contains { $0["reason"] == "Deployed" } }
        let ngcCalls = try PrometheusText.parse(env.metrics.render()).filter { $0.name == "nim_ngc_requests_total" && $0.labels["result"] == "200" }
        #expect(ngcCalls.reduce(0) { $0 + $1.value } >= 1, "NGC calls by endpoint and result")
        #expect(deployment["spec"] == ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]], "spec is never written")
        #expect(deployment.labels.isEmpty && deployment.annotations.keys.allSatisfy { !$0.hasPrefix("nim.") })
    }

    @Test func anInvalidKeyCreatesNothingAndAGoodKeyConvergesWithoutARestart() async throws {
        let env = try await NimEnvironment()
        let bad = "nvapi-revoked-key-000000000000"
        env.ngc.reject(bad)
        try await env.startOperator()
        try await env.createKeySecret(key: bad)
        try await env.deploy()
        try await env.waitFor("KeyValid", "False", reason: "InvalidKey")
        try await env.waitFor("Degraded", "True", reason: "InvalidKey")
        #expect(try await env.children().isEmpty, "no Secret, claim, runtime or InferenceService")
        let message = try await env.condition("KeyValid")?["message"]?.stringValue ?? ""
        #expect(message.contains("NGC rejected the key") && !message.contains(bad))
        try await eventually("a Warning event") { try await env.events().contains { $0["reason"] == "InvalidKey" && $0["type"] == "Warning" } }
        try await env.setKey(NimEnvironment.validKey)
        try await env.waitFor("Ready", "True")
        #expect(try await env.children().count == 4)
    }

    @Test func missingEmptyMisplacedGarbledAndLegacyKeysSayWhatToDo() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.deploy()
        try await env.waitFor("KeyValid", "False", reason: "KeySecretNotFound")
        #expect(try await env.condition("KeyValid")?["message"]?.stringValue?.contains("kubectl create secret generic my-ngc-key") == true)

        try await env.createKeySecret(key: "")
        try await env.waitFor("KeyValid", "False", reason: "KeyEmpty")
        try await env.client.delete(.secrets, namespace: "team-a", name: "my-ngc-key")
        try await env.createKeySecret(key: NimEnvironment.validKey, dataKey: "apikey")
        try await env.waitFor("KeyValid", "False", reason: "KeyNotInSecret")
        #expect(try await env.condition("KeyValid")?["message"]?.stringValue?.contains("it has data keys apikey") == true)
        try await env.client.delete(.secrets, namespace: "team-a", name: "my-ngc-key")
        try await env.createKeySecret(key: "nvapi-has a space")
        try await env.waitFor("KeyValid", "False", reason: "KeyMalformed")
        let ngcCalls = env.ngc.calls("caller-info")
        try await env.setKey("legacy-org-key-0000000000")
        try await env.waitFor("KeyValid", "False", reason: "LegacyKeyUnsupported")
        #expect(env.ngc.calls("caller-info") == ngcCalls, "a legacy key is refused before any call to NGC")
        #expect(try await env.children().isEmpty)
        try await env.setKey("  " + NimEnvironment.validKey + "\n")
        try await env.waitFor("Ready", "True")
    }

    @Test func unknownModelsAndTagsCreateNothingAndAFixConverges() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy(spec: ["model": "llama-3.1-8b", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("ResourcesReady", "False", reason: "ModelNotFound")
        #expect(try await env.condition("Ready")?["message"]?.stringValue?.contains("llama-3.1-8b-instruct") == true, "suggests the closest models")
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "tag": "9.9.9", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("ResourcesReady", "False", reason: "TagNotFound")
        #expect(try await env.children().isEmpty)
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "tag": "1.15.5", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("Ready", "True")
        #expect(try await env.deployment()[dotted: "status.image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.15.5")
    }

    @Test func aCustomCatalogInTheModelsJSONShape() async throws {
        let env = try await NimEnvironment(installCatalog: false)
        let models = #"{"schemaVersion":"1.0.0","models":[{"id":"acme/private-llm","name":"Private LLM","containerImage":"registry.acme.example/nim/private-llm:2.0","tags":["2.0","1.9"],"latestTag":"2.0"}]}"#
        _ = try await env.client.create(
            KubeObject(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "acme-models", "namespace": "team-b"], "data": ["models.json": .string(models)]]),
            .configMaps)
        try await env.startOperator(env.options(catalog: ObjectKey(namespace: "team-b", name: "acme-models")))
        try await env.createKeySecret()
        try await env.deploy(spec: ["model": "private-llm", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("Ready", "True")
        #expect(try await env.deployment()[dotted: "status.image"] == "registry.acme.example/nim/private-llm:2.0")
        let pull = try await env.client.get(.secrets, namespace: "team-a", name: "nvidia-nim-image-pull-llama")
        let config = try JSON(parsing: Data(base64Encoded: pull[path: ["data", ".dockerconfigjson"]]?.stringValue ?? "") ?? Data())
        #expect(config[path: ["auths", "registry.acme.example"]] != nil)
        // The catalog changes: the deployment of the changed model is reconciled again.
        _ = try await env.client.patch(.configMaps, namespace: "team-b", name: "acme-models", .merge(["data": ["models.json": .string(models.replacingOccurrences(of: #""tags":["2.0","1.9"],"latestTag":"2.0""#, with: #""tags":["2.1"],"latestTag":"2.1""#))]]))
        try await env.waitFor("Ready", "True")
        try await eventually("the new latest tag is rolled out") { try await env.deployment()[dotted: "status.tag"] == "2.1" }
    }

    @Test func aMissingCatalogIsReportedAndAnImageStillDeploys() async throws {
        let env = try await NimEnvironment(installCatalog: false)
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("ResourcesReady", "False", reason: "CatalogUnavailable")
        try await env.deploy("mirror", spec: ["image": "mirror.example.com/nim/meta/llama-3.1-8b-instruct:1.15.5", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("Ready", "True", of: "mirror")
        #expect(try await env.deployment("mirror")[dotted: "status.image"] == "mirror.example.com/nim/meta/llama-3.1-8b-instruct:1.15.5")
    }

    @Test func disconnectedMakesNoSecretsAndNeedsNoKey() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator(env.options(disconnected: true))
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct"])
        try await env.waitFor("Ready", "True")
        #expect(try await env.condition("KeyValid")?["reason"] == "KeyNotRequired")
        #expect(try await env.children() == ["pvc": ["nim-cache-llama"], "runtimes": ["llama"], "isvc": ["llama"]])
        let runtime = try await env.client.get(KServe.servingRuntimes, namespace: "team-a", name: "llama")
        #expect(runtime[dotted: "spec.imagePullSecrets"] == nil)
        #expect(runtime[path: ["spec", "containers"]]?[0]?["env"] == [["name": "NIM_CACHE_PATH", "value": "/mnt/models/cache"]])
        #expect(env.ngc.calls("caller-info") == 0, "disconnected: NGC is never called")
    }

    @Test func euRestrictedModelsAreRefusedInTheEUAndFlaggedElsewhere() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator(env.options(region: "EU"))
        try await env.createKeySecret()
        try await env.deploy(spec: ["model": "llama-3.2-11b-vision-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("Degraded", "True", reason: "RegionRestricted")
        #expect(try await env.children().isEmpty)
        try await env.startOperator()
        try await env.waitFor("Ready", "True")
        try await env.waitFor("RegionRestricted", "True", reason: "EURestrictedModel")
        try await eventually("a Warning event") { try await env.events().contains { $0["reason"] == "EURestrictedModel" } }
        // NGC itself answers 451 from the EU, whatever the catalog says.
        env.ngc.setInEU(true)
        try await env.deploy("second", spec: ["model": "llama-3.2-11b-vision-instruct", "apiKeySecretRef": ["name": "other-key"]])
        try await env.createKeySecret("other-key", key: "nvapi-second-key-11111111111111")
        try await env.waitFor("Degraded", "True", reason: "RegionRestricted", of: "second")
    }

    @Test func anUnreachableNGCChangesNothingAndRecovers() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        env.ngc.failNext(Array(repeating: 503, count: 3))
        try await env.deploy()
        try await env.waitFor("KeyValid", "Unknown", reason: "NGCUnreachable")
        try await env.waitFor("Degraded", "False", reason: "Retrying")
        try await env.waitFor("Ready", "True", timeout: 30)
        #expect(env.ngc.calls("caller-info") >= 4, "retried with backoff until NGC answered")
    }

    @Test func aFailureHalfwayIsAccountedForAndCompletedNextTime() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        // The API server refuses the InferenceService: everything before it exists, owned and named in status.
        // More failures than the client's own retries absorb (six attempts per apply).
        env.controlPlane.faults.failNext(12, code: 500, verbs: ["patch"], resource: "inferenceservices.serving.kserve.io")
        try await env.deploy()
        try await env.waitFor("ResourcesReady", "Unknown", reason: "ApplyFailed")
        let message = try await env.condition("ResourcesReady")?["message"]?.stringValue ?? ""
        #expect(message.contains("InferenceService llama"), "\(message)")
        let partial = try await env.children()
        #expect(partial["isvc"] == nil && partial["runtimes"] == ["llama"])
        for name in ["nvidia-nim-secrets-llama", "nvidia-nim-image-pull-llama"] {
            #expect(try await env.client.get(.secrets, namespace: "team-a", name: name).controllerReference?.name == "llama", "owned: nothing orphaned")
        }
        try await env.waitFor("Ready", "True", timeout: 30)
        #expect(try await env.children()["isvc"] == ["llama"])
    }

    @Test func someoneElsesInferenceServiceIsNeverTakenAndItsDeletionUnblocks() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        var foreign = KubeObject(apiVersion: KServe.inferenceServices.apiVersion, kind: KServe.inferenceServices.kind, namespace: "team-a", name: "llama")
        foreign["spec"] = ["predictor": ["model": ["modelFormat": ["name": "sklearn"], "runtime": "someone-elses", "storageUri": "s3://models/iris"]]]
        _ = try await env.client.apply(foreign, KServe.inferenceServices, fieldManager: "another-team")
        // Read before the first write: the name is taken, and the forced apply never sent.
        try await env.deploy()
        try await env.waitFor("ResourcesReady", "False", reason: "ResourceConflict")
        #expect(try await env.client.get(KServe.inferenceServices, namespace: "team-a", name: "llama")[path: ["spec", "predictor", "model", "runtime"]] == "someone-elses")
        // Deleted by its owner: the deployment is decided again at once and gets its own.
        try await env.client.delete(KServe.inferenceServices, namespace: "team-a", name: "llama")
        try await env.waitFor("Ready", "True", timeout: 30)
        #expect(try await env.client.get(KServe.inferenceServices, namespace: "team-a", name: "llama").labels[ChildLabels.managedBy] == ChildLabels.operatorName)
    }

    @Test func applyingTwiceAndRestartingTheOperatorWriteNothing() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy()
        try await env.deploy("embedder", spec: ["model": "nv-embedqa-e5-v5", "tag": "1.6.0", "apiKeySecretRef": ["name": "my-ngc-key"], "storage": ["whenDeleted": "Delete"]])
        try await env.waitFor("Ready", "True")
        try await env.waitFor("Ready", "True", of: "embedder")
        try await eventually("events are out") { try await env.events().count >= 2 }
        let converged = env.operatorWrites()
        let statsBefore = env.controlPlane.requestStats
        // The same manifests again: the server sees no change, the operator writes nothing.
        try await env.deploy()
        try await env.deploy("embedder", spec: ["model": "nv-embedqa-e5-v5", "tag": "1.6.0", "apiKeySecretRef": ["name": "my-ngc-key"], "storage": ["whenDeleted": "Delete"]])
        // A restart: a new operator lists everything and reconciles it all.
        let reconciles = { env.metrics.render().split(separator: "\n").first { $0.hasPrefix("controller_runtime_reconcile_total{controller=\"nimdeployment\",result=\"success\"}") } }
        let before = reconciles()
        try await env.startOperator()
        try await eventually("both deployments reconciled after the restart") { reconciles() != before }
        try await eventually("the restarted operator has looked at both") {
            let line = reconciles().map(String.init) ?? ""
            return (Double(line.split(separator: " ").last ?? "0") ?? 0) >= (Double(before?.split(separator: " ").last ?? "0") ?? 0) + 2
        }
        let since = env.controlPlane.requestStats - statsBefore
        let extra = since.counts.filter { $0.key.agent == "nim-deploy-operator" && RequestStats.writeVerbs.contains($0.key.verb) }
        #expect(env.operatorWrites() == converged, "no writes after convergence: \(extra)")
        // Its own Secrets are checked against the digest the cache holds: only the one key
        // Secret the two deployments share is read whole (once by each, at most).
        #expect(since.count(verb: "get", resource: "secrets", agent: "nim-deploy-operator") <= 2, "\(since.counts.filter { $0.key.resource == "secrets" })")
    }

    @Test func aChildSecretEditedByHandIsPutRight() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy()
        try await env.waitFor("Ready", "True")
        var applied: [String: JSON?] = [:]
        for (name, dataKey, pasted) in [("nvidia-nim-secrets-llama", "NGC_API_KEY", "nvapi-pasted-by-hand"), ("nvidia-nim-image-pull-llama", ".dockerconfigjson", "{\"auths\":{}}")] {
            var secret = try await env.client.get(.secrets, namespace: "team-a", name: name)
            applied[name] = secret["data"]
            secret[path: ["data", dataKey]] = .string(Data(pasted.utf8).base64EncodedString())
            _ = try await env.client.update(secret, .secrets)
        }
        for (name, data) in applied {
            try await eventually("\(name) holds what the deployment's key makes again") { try await env.client.get(.secrets, namespace: "team-a", name: name)["data"] == data }
        }
    }

    @Test func deletionCollectsChildrenAndARetainedCacheIsReused() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy()
        try await env.waitFor("Ready", "True")
        let claim = try await env.client.get(.persistentVolumeClaims, namespace: "team-a", name: "nim-cache-llama")
        _ = try await env.client.delete(NimDeployment.resource, namespace: "team-a", name: "llama")
        try await eventually("everything but the retained claim is gone") { try await env.children() == ["pvc": ["nim-cache-llama"]] }
        try await env.deploy()
        try await env.waitFor("Ready", "True")
        let reused = try await env.client.get(.persistentVolumeClaims, namespace: "team-a", name: "nim-cache-llama")
        #expect(reused.uid == claim.uid, "the same claim, with the model already in it")
        // whenDeleted: Delete takes the claim along.
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "storage": ["whenDeleted": "Delete"]])
        try await eventually("now owned") { try await env.client.get(.persistentVolumeClaims, namespace: "team-a", name: "nim-cache-llama").controllerReference != nil }
        _ = try await env.client.delete(NimDeployment.resource, namespace: "team-a", name: "llama")
        try await eventually("all gone") { try await env.children().isEmpty }
    }

    @Test func anExistingClaimIsNeverTouched() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "storage": ["existingClaim": "shared-cache"]])
        try await env.waitFor("ResourcesReady", "False", reason: "ClaimNotFound")
        var claim = KubeObject(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "team-a", name: "shared-cache")
        claim["spec"] = ["accessModes": ["ReadWriteMany"], "resources": ["requests": ["storage": "100Gi"]]]
        let created = try await env.client.create(claim, .persistentVolumeClaims)
        try await env.waitFor("Ready", "True")
        #expect(try await env.deployment()[dotted: "status.pvcName"] == "shared-cache")
        _ = try await env.client.delete(NimDeployment.resource, namespace: "team-a", name: "llama")
        try await eventually("the deployment's own objects are gone") { try await env.children().isEmpty }
        let after = try await env.client.get(.persistentVolumeClaims, namespace: "team-a", name: "shared-cache")
        #expect(after.resourceVersion == created.resourceVersion, "never modified, never deleted")
    }

    @Test func theInferenceServiceStatusIsMirrored() async throws {
        let env = try await NimEnvironment()
        env.kserve.fail("llama")
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy()
        try await env.waitFor("InferenceServiceReady", "False", reason: "ModelLoadFailed")
        // KServe's word is mirrored; the pods say why.
        try await env.waitFor("Ready", "False", reason: "CrashLoopBackOff")
        try await env.waitFor("Degraded", "True", reason: "CrashLoopBackOff")
    }

    @Test func onlyTheWatchedNamespacesAreReconciled() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator(namespaces: ["team-a"])
        try await env.createKeySecret()
        try await env.createKeySecret(namespace: "team-b")
        try await env.deploy()
        try await env.deploy(namespace: "team-b")
        try await env.waitFor("Ready", "True")
        try await eventually("team-a converged") { try await env.children(namespace: "team-a").count == 4 }
        #expect(try await env.deployment(namespace: "team-b")["status"] == nil, "team-b is not this operator's")
        #expect(try await env.children(namespace: "team-b").isEmpty)
    }

    @Test func theSchemaRefusesWhatSpansFields() async throws {
        let env = try await NimEnvironment()
        let cases: [(String, String)] = [
            (#"{"apiKeySecretRef":{"name":"k"}}"#, "spec.model (a model of the catalog) or spec.image"),
            (#"{"image":"nvcr.io/x/y:1","tag":"2"}"#, "spec.tag selects a catalog tag"),
            (#"{"model":"m","replicas":{"min":3,"max":2}}"#, "replicas.min must not exceed replicas.max"),
            (#"{"model":"m","storage":{"existingClaim":"c","size":"1Gi"}}"#, "with storage.existingClaim the claim is yours"),
            (#"{"model":"m","storage":{"subPath":"/abs"}}"#, "relative path"),
        ]
        for (spec, rule) in cases {
            do {
                try await env.deploy("bad", spec: try JSON(parsing: spec))
                Issue.record("the CRD should refuse \(spec)")
            } catch let error as KubeError {
                #expect(error.status?.code == 422)
                #expect(error.status?.message.contains(rule) == true, "\(error.status?.message ?? "")")
            }
        }
    }

    @Test func theKeyAppearsInNoLogEventStatusOrMetric() async throws {
        try await capturingLogs {
            let env = try await NimEnvironment()
            let secretKey = "nvapi-leak-canary-9f8e7d6c5b4a39281706"
            let badKey = "nvapi-leak-canary-rejected-000111222"
            env.ngc.reject(badKey)
            try await env.startOperator()
            try await env.createKeySecret(key: badKey)
            try await env.deploy()
            try await env.waitFor("KeyValid", "False", reason: "InvalidKey")
            try await env.setKey(secretKey)
            try await env.waitFor("Ready", "True")
            for (place, text) in try await env.placesAKeyCouldLeak() {
                #expect(!text.contains("leak-canary"), "the key is in the \(place)")
            }
        }
    }
}
