import Foundation
import Testing
import KubeCore
import Reconciler

/// Desired state is data: these tests build it from inputs and read it, with no cluster.
@Suite struct DesiredStateTests {
    static let key = APIKey("nvapi-desired-state-test-key")

    func deployment(_ spec: JSON, name: String = "llama") throws -> NimDeployment {
        var object = KubeObject(apiVersion: "nim.opendatahub.io/v1alpha1", kind: "NimDeployment", namespace: "team-a", name: name)
        object[path: ["metadata", "uid"]] = "uid-1"
        object["spec"] = spec
        return try NimDeployment(object)
    }

    func image(_ text: String = "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.15.5") -> ResolvedImage {
        ResolvedImage(image: ImageReference(parsing: text)!, model: "llama-3.1-8b-instruct", tag: "1.15.5", displayName: "Llama-3.1-8B-Instruct")
    }

    func desired(_ spec: JSON, key: APIKey? = DesiredStateTests.key, image: ResolvedImage? = nil, mode: String?? = nil) throws -> DesiredState {
        DesiredState(DesiredInputs(deployment: try deployment(spec), image: image ?? self.image(), key: key, restartToken: RestartToken(fingerprint: key?.fingerprint ?? RestartToken.disconnected), existingDeploymentMode: mode))
    }

    let minimal: JSON = ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]]

    @Test func fiveObjectsNamedLabelledAndOwnedAsTheContractSays() throws {
        let state = try desired(minimal)
        #expect(state.objects.map(\.1.name) == ["nim-cache-llama", "nvidia-nim-secrets-llama", "nvidia-nim-image-pull-llama", "llama", "llama"])
        for (_, object) in state.objects {
            #expect(object.namespace == "team-a")
            #expect(object.labels["app.kubernetes.io/managed-by"] == "nim-deploy-operator")
            #expect(object.labels["app.kubernetes.io/part-of"] == "nim-integration")
            #expect(object.labels["opendatahub.io/managed"] == "true")
            #expect(object.labels["nim.opendatahub.io/deployment"] == "llama")
        }
        let owned = state.objects.filter { !$0.1.ownerReferences.isEmpty }.map(\.1.name)
        #expect(owned == ["nvidia-nim-secrets-llama", "nvidia-nim-image-pull-llama", "llama", "llama"], "a Retain claim has no owner")
        let reference = try #require(state.runtime.controllerReference)
        #expect(reference.kind == "NimDeployment" && reference.uid == "uid-1" && reference.blockOwnerDeletion)
    }

    @Test func secretsHoldTheKeyTwiceAndADockerConfigForTheRegistry() throws {
        let state = try desired(minimal)
        let secret = try #require(state.apiKeySecret)
        #expect(secret["type"] == "Opaque")
        let encoded = Data("nvapi-desired-state-test-key".utf8).base64EncodedString()
        #expect(secret["data"] == ["NGC_API_KEY": .string(encoded), "api_key": .string(encoded)])
        let pull = try #require(state.pullSecret)
        #expect(pull["type"] == "kubernetes.io/dockerconfigjson")
        let config = try JSON(parsing: Data(base64Encoded: pull[path: ["data", ".dockerconfigjson"]]?.stringValue ?? "")!)
        #expect(config[path: ["auths", "nvcr.io", "username"]] == "$oauthtoken")
        #expect(config[path: ["auths", "nvcr.io", "password"]] == "nvapi-desired-state-test-key")
        #expect(config[path: ["auths", "nvcr.io", "auth"]] == .string(Data("$oauthtoken:nvapi-desired-state-test-key".utf8).base64EncodedString()))
        let mirrored = try desired(["image": "registry.example.com:5000/mirror/llama:1", "apiKeySecretRef": ["name": "k"]], image: image("registry.example.com:5000/mirror/llama:1"))
        let mirroredConfig = try JSON(parsing: Data(base64Encoded: mirrored.pullSecret?[path: ["data", ".dockerconfigjson"]]?.stringValue ?? "")!)
        #expect(mirroredConfig[path: ["auths", "registry.example.com:5000"]] != nil, "the pull secret is for the image's registry")
    }

    @Test func theCachedViewOfASecretHoldsADigestOfItsDataNotTheKey() throws {
        let secret = try #require(try desired(minimal).apiKeySecret)
        let viewed = SecretView.trimmed(secret)
        #expect(viewed["data"] == nil && viewed.labels == secret.labels && viewed["type"] == "Opaque")
        #expect(!viewed.body.serialized().contains(Data("nvapi-desired-state-test-key".utf8).base64EncodedString()))
        // The server's order of the data's keys does not change it; another key does.
        var reordered = secret
        reordered["data"] = .object(Dictionary(uniqueKeysWithValues: (secret["data"]?.objectValue ?? [:]).reversed().map { ($0.key, $0.value) }))
        #expect(SecretView.trimmed(reordered).body == viewed.body)
        let other = try #require(try desired(minimal, key: APIKey("nvapi-another-key")).apiKeySecret)
        #expect(SecretView.trimmed(other).body != viewed.body)
    }

    @Test func theRuntimeFollowsSectionThree() throws {
        let runtime = try desired(minimal).runtime
        #expect(runtime.annotations["runtimes.opendatahub.io/nvidia-nim"] == "true")
        #expect(runtime.annotations["opendatahub.io/recommended-accelerators"] == #"["nvidia.com/gpu"]"#)
        #expect(runtime.annotations["openshift.io/display-name"] == "NVIDIA NIM - Llama-3.1-8B-Instruct")
        #expect(runtime.labels["opendatahub.io/dashboard"] == "true")
        let spec = try #require(runtime["spec"])
        #expect(spec["annotations"] == ["prometheus.io/path": "/v1/metrics", "prometheus.io/port": "8000"])
        #expect(spec["multiModel"] == false)
        #expect(spec["protocolVersions"] == ["grpc-v2", "v2"])
        #expect(spec["supportedModelFormats"] == [["name": "llama-3.1-8b-instruct", "version": "1.15.5", "autoSelect": true, "priority": 1]])
        #expect(spec["imagePullSecrets"] == [["name": "nvidia-nim-image-pull-llama"]])
        let container = try #require(spec["containers"]?[0])
        #expect(container["name"] == "kserve-container")
        #expect(container["image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.15.5")
        #expect(container["ports"] == [["containerPort": 8000, "protocol": "TCP"]])
        #expect(container["imagePullPolicy"] == "Always")
        #expect(container["env"] == [
            ["name": "NIM_CACHE_PATH", "value": "/mnt/models/cache"],
            ["name": "NGC_API_KEY", "valueFrom": ["secretKeyRef": ["name": "nvidia-nim-secrets-llama", "key": "NGC_API_KEY"]]],
        ])
        let mounts = Dictionary(uniqueKeysWithValues: (container["volumeMounts"]?.arrayValue ?? []).map { ($0["mountPath"]?.stringValue ?? "", $0["name"]?.stringValue ?? "") })
        for path in ["/mnt/models/cache", "/dev/shm", "/opt/nim/workspace", "/.cache", "/opt/nim/nginx", "/opt/nim/generated_configs", "/opt/nim/.cache", "/opt/nim/.config", "/opt/nim/.triton"] {
            #expect(mounts[path] != nil, "\(path) is mounted")
        }
        let volumes = spec["volumes"]?.arrayValue ?? []
        #expect(volumes.first { $0["name"] == "nim-pvc" }?[path: ["persistentVolumeClaim", "claimName"]] == "nim-cache-llama")
        #expect(volumes.first { $0["name"] == "shm" }?["emptyDir"] == ["medium": "Memory", "sizeLimit": "2Gi"])
    }

    @Test func theInferenceServiceFollowsSectionThree() throws {
        let service = try desired(minimal).inferenceService
        #expect(service.annotations["serving.kserve.io/deploymentMode"] == "RawDeployment", "set when creating")
        let predictor = try #require(service[path: ["spec", "predictor"]])
        #expect(predictor["minReplicas"] == 1 && predictor["maxReplicas"] == 1)
        #expect(predictor[path: ["model", "modelFormat", "name"]] == "llama-3.1-8b-instruct")
        #expect(predictor[path: ["model", "runtime"]] == "llama")
        #expect(predictor[path: ["model", "resources"]] == ["limits": ["nvidia.com/gpu": "1"], "requests": ["nvidia.com/gpu": "1"]])
        #expect(predictor[path: ["annotations", "nim.opendatahub.io/key-fingerprint"]] == .string(Self.key.fingerprint))
        #expect(service[dotted: "spec.predictor.model.env"] == nil, "no secrets on the InferenceService")
        let existing = try desired(minimal, mode: .some("Serverless")).inferenceService
        #expect(existing.annotations["serving.kserve.io/deploymentMode"] == "Serverless", "immutable: what is there is kept")
        let unset = try desired(minimal, mode: .some(nil)).inferenceService
        #expect(unset.annotations["serving.kserve.io/deploymentMode"] == nil)
    }

    @Test func everyKnobOfTheSpec() throws {
        let state = try desired([
            "model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "k"], "protocol": "grpc",
            "storage": ["size": 20, "storageClassName": "fast", "accessMode": "ReadWriteMany", "subPath": "models/llama", "whenDeleted": "Delete"],
            "resources": ["gpus": 2, "requests": ["cpu": "4", "memory": "16Gi"], "limits": ["memory": "32Gi"]],
            "replicas": ["min": 2, "max": 3], "keyRotation": ["forcePull": false],
        ])
        let claim = try #require(state.claim)
        #expect(claim["spec"] == ["accessModes": ["ReadWriteMany"], "resources": ["requests": ["storage": "20"]], "storageClassName": "fast"])
        #expect(!claim.ownerReferences.isEmpty, "Delete: owned, so it goes with the deployment")
        let container = try #require(state.runtime[path: ["spec", "containers"]]?[0])
        #expect(container["ports"] == [["containerPort": 8001, "name": "h2c", "protocol": "TCP"]])
        #expect(container["imagePullPolicy"] == nil)
        #expect((container["volumeMounts"]?.arrayValue ?? []).first?["subPath"] == "models/llama")
        let predictor = try #require(state.inferenceService[path: ["spec", "predictor"]])
        #expect(predictor["minReplicas"] == 2 && predictor["maxReplicas"] == 3)
        #expect(predictor[path: ["model", "resources"]] == [
            "limits": ["nvidia.com/gpu": "2", "memory": "32Gi"], "requests": ["nvidia.com/gpu": "2", "cpu": "4", "memory": "16Gi"],
        ])
        let suspended = try desired(["model": "m", "apiKeySecretRef": ["name": "k"], "suspend": true, "replicas": ["min": 2, "max": 4]])
        #expect(suspended.inferenceService[path: ["spec", "predictor", "minReplicas"]] == 0)
        #expect(suspended.inferenceService[path: ["spec", "predictor", "maxReplicas"]] == 0)
        let existing = try desired(["model": "m", "apiKeySecretRef": ["name": "k"], "storage": ["existingClaim": "mine"]])
        #expect(existing.claim == nil, "the user's claim is never written")
        #expect(existing.runtime[path: ["spec", "volumes"]]?[0]?[path: ["persistentVolumeClaim", "claimName"]] == "mine")
    }

    @Test func disconnectedMakesNoSecretsAndNoKeyInTheRuntime() throws {
        let state = try desired(["model": "llama-3.1-8b-instruct"], key: nil)
        #expect(state.apiKeySecret == nil && state.pullSecret == nil)
        let spec = try #require(state.runtime["spec"])
        #expect(spec["imagePullSecrets"] == nil)
        #expect(spec[path: ["containers"]]?[0]?["env"] == [["name": "NIM_CACHE_PATH", "value": "/mnt/models/cache"]])
    }

    @Test(arguments: [
        (String(repeating: "a", count: 253), 253, 53),
        ("my.dotted.name", 253, 53),
        ("1starts-with-a-digit", 253, 53),
        (String(repeating: "long-name-", count: 6) + "x", 253, 53),
    ])
    func longAndOddNamesAreFittedDeterministically(_ name: String, _ subdomainLimit: Int, _ servingLimit: Int) {
        let names = ChildNames(deployment: name)
        let again = ChildNames(deployment: name)
        #expect(names == again, "the same every time")
        #expect(names.apiKeySecret.count <= subdomainLimit && NameValidation.dns1123SubdomainProblem(names.apiKeySecret) == nil)
        #expect(names.claim.count <= subdomainLimit)
        #expect(names.inferenceService.count <= servingLimit)
        #expect(names.inferenceService.first?.isLetter == true && !names.inferenceService.contains("."), "a DNS-1035 label: \(names.inferenceService)")
        #expect(names.deploymentLabel.count <= 63 && LabelValidation.valueProblem(names.deploymentLabel) == nil)
        #expect(ChildNames(deployment: name + "x").inferenceService != names.inferenceService, "different names stay different")
    }

    static let invalidSpecs: [(String, String)] = [
        (#"{"apiKeySecretRef":{"name":"k"}}"#, "spec.model"),
        (#"{"model":7}"#, "spec.model must be a string"),
        (#"{"model":"m","protocol":"udp"}"#, "spec.protocol"),
        (#"{"model":"m","replicas":{"min":3,"max":2}}"#, "spec.replicas"),
        (#"{"model":"m","storage":{"subPath":"../../etc"}}"#, "spec.storage.subPath"),
        (#"{"model":"m","storage":{"size":"lots"}}"#, "spec.storage.size"),
        (#"{"model":"m","resources":{"gpus":-1}}"#, "spec.resources.gpus"),
        (#"{"model":"m","apiKeySecretRef":{"name":"Bad_Name"}}"#, "apiKeySecretRef.name"),
    ]

    @Test(arguments: invalidSpecs)
    func invalidSpecsSayWhichField(_ spec: String, _ field: String) throws {
        var object = KubeObject(apiVersion: "nim.opendatahub.io/v1alpha1", kind: "NimDeployment", namespace: "team-a", name: "x")
        object["spec"] = try JSON(parsing: spec)
        do throws(DeploymentProblem) {
            _ = try NimDeployment(object)
            Issue.record("expected an InvalidSpec for \(spec)")
        } catch {
            #expect(error.reason == "InvalidSpec")
            #expect(error.message.contains(field), "\(error.message)")
        }
    }

    @Test func theKeyNeverPrints() {
        let key = APIKey("nvapi-must-never-print-1234567890")
        for text in ["\(key)", String(describing: key), String(reflecting: key), "\(Mirror(reflecting: key).children.map { "\($0.value)" })"] {
            #expect(!text.contains("must-never-print"), "\(text)")
        }
        #expect(key.fingerprint.hasPrefix("sha256:") && key.fingerprint.count == 19)
        #expect(APIKey.parse("  nvapi-x\n") == .success(APIKey("nvapi-x")), "a trailing newline is forgiven")
        #expect(APIKey.parse("nvapi-a b") == .failure(.malformed("contains whitespace or line breaks")))
        #expect(APIKey.parse(" \n") == .failure(.empty))
        if case .failure(.malformed(let why)) = APIKey.parse(String(repeating: "k", count: 1 << 20)) { #expect(why.contains("long")) } else { Issue.record("a 1 MiB key") }
    }
}

@Suite struct CatalogTests {
    @Test func theRealGeneratedCatalogParsesCompletely() throws {
        let text = try String(contentsOf: TestPaths.shared.appendingPathComponent("ngc/nim-models-data.yaml"), encoding: .utf8)
        let (catalog, problems) = ModelCatalog.parse(configMap: KubeObject(try YAML.parse(text)))
        #expect(catalog.entries.count == 186)
        #expect(problems.isEmpty, "\(problems)")
        let llama = try #require(catalog["llama-3.1-8b-instruct"])
        #expect(llama.image.description == "nvcr.io/nim/meta/llama-3.1-8b-instruct")
        #expect(llama.tags.contains("1.15.5") && llama.latestTag == "latest")
        #expect(catalog["llama-3.2-11b-vision-instruct"]?.euRestricted == true)
        #expect(catalog.suggestions(for: "llama-3.1-8b").contains("llama-3.1-8b-instruct"))
    }

    @Test func theModelsJSONShape() {
        let document = #"""
        {"schemaVersion":"1.0.0","models":[
          {"id":"nvidia/llama-3.1-8b-instruct","name":"Llama 3.1 8B Instruct","containerImage":"nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2","tags":["1.1.2","1.1.1"],"latestTag":"1.1.2","euRestricted":false},
          {"id":"nvidia/nemo-megatron-gpt-20b","name":"NeMo","containerImage":"nvcr.io/nim/nvidia/nemo-megatron-gpt-20b:1.0.0","tags":["1.0.0"],"latestTag":"1.0.0","euRestricted":true},
          {"id":"broken","containerImage":"nvcr.io/nim/x/broken:1","tags":["1"],"latestTag":"2"},
          {"name":"noid"}
        ]}
        """#
        let (catalog, problems) = ModelCatalog.parse(["models.json": document])
        #expect(catalog.modelNames == ["llama-3.1-8b-instruct", "nemo-megatron-gpt-20b"])
        #expect(catalog["llama-3.1-8b-instruct"]?.imageReference(tag: "1.1.1").description == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.1")
        #expect(catalog["nemo-megatron-gpt-20b"]?.euRestricted == true)
        #expect(problems.count == 2)
        #expect(problems.contains { $0.message.contains("latestTag \"2\" is not one of its tags") })
    }

    @Test func brokenEntriesAreReportedByKey() {
        let (catalog, problems) = ModelCatalog.parse([
            "good": #"{"name":"good","namespace":"nim/meta","tags":["1"],"latestTag":"1"}"#,
            "notjson": "{nope",
            "nonamespace": #"{"name":"x","tags":["1"],"latestTag":"1"}"#,
            "notags": #"{"name":"y","namespace":"nim/meta","latestTag":"1"}"#,
        ])
        #expect(catalog.modelNames == ["good"])
        #expect(Set(problems.map(\.key)) == ["notjson", "nonamespace", "notags"])
        #expect(ModelCatalog.parse([:]).problems.first?.message == "the ConfigMap has no models")
    }

    @Test(arguments: [
        ("nvcr.io/nim/meta/llama:1.0", "nvcr.io", "nim/meta/llama", "1.0"),
        ("registry.local:5000/nim/llama@sha256:" + String(repeating: "a", count: 64), "registry.local:5000", "nim/llama", nil),
        ("ubuntu", "docker.io", "library/ubuntu", nil),
        ("localhost/x/y:2", "localhost", "x/y", "2"),
    ])
    func imageReferences(_ text: String, _ registry: String, _ path: String, _ tag: String?) {
        let reference = ImageReference(parsing: text)
        #expect(reference?.registry == registry && reference?.path == path && reference?.tag == tag)
    }
}

/// `Paths` from TestSupport, without making this target depend on the control plane for one URL.
enum TestPaths {
    static var shared: URL { Paths.shared }
}

import TestSupport
