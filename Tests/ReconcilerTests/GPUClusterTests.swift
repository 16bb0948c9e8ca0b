import Foundation
import Testing
import KubeCore
import LocalControlPlane
import Reconciler
import StandIns
import TestSupport

/// What a platform engineer sets to run a NIM on a real GPU cluster (scheduling, env, probes,
/// /dev/shm, proxy and CA, who the pods run as), where each lands, what is refused, what rolls
/// the pods, and what status says while the predictor pods pull, load, crash or wait for a node.
@Suite struct GPUClusterTests {
    static let base: [String: JSON] = ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]]
    static func spec(_ extra: [String: JSON]) -> JSON { .object(base.merging(extra) { $1 }) }
    static let pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZmFrZS1jb3Jwb3JhdGUtY2EwCgYIKoZIzj0EAwIwFzEV\n-----END CERTIFICATE-----\n"

    static func envValue(_ container: JSON, _ name: String) -> JSON? {
        (container["env"]?.arrayValue ?? []).first { $0["name"]?.stringValue == name }.map { $0["value"] ?? $0["valueFrom"] ?? .null }
    }

    static func envNames(_ container: JSON) -> [String] { (container["env"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue } }

    static func createConfigMap(_ env: NimEnvironment, _ name: String, data: [String: String]) async throws {
        var map = KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "team-a", name: name)
        map["data"] = .object(data.mapValues(JSON.string))
        _ = try await env.client.apply(map, .configMaps, fieldManager: "test-user")
    }

    @Test func everySettingLandsWhereKServeHonoursIt() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await Self.createConfigMap(env, "corporate-ca", data: ["ca-bundle.crt": Self.pem])
        let readiness: JSON = ["httpGet": ["path": "/v1/health/ready", "port": 8000], "periodSeconds": 5, "failureThreshold": 6]
        let affinity: JSON = [
            "nodeAffinity": ["requiredDuringSchedulingIgnoredDuringExecution": ["nodeSelectorTerms": [["matchExpressions": [
                ["key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-H100-80GB-HBM3"]],
            ]]]]],
        ]
        try await env.deploy(spec: Self.spec([
            "resources": ["gpus": 4],
            "env": [["name": "NIM_MAX_MODEL_LEN", "value": "32768"], ["name": "HF_TOKEN", "valueFrom": ["secretKeyRef": ["name": "hf", "key": "token"]]]],
            "modelProfile": "tensorrt_llm-h100-fp8-tp4-throughput",
            "nodeSelector": ["nvidia.com/gpu.present": "true"],
            "tolerations": [["key": "dedicated", "operator": "Equal", "value": "inference", "effect": "NoSchedule"]],
            "affinity": affinity,
            "runtimeClassName": "nvidia", "priorityClassName": "inference", "serviceAccountName": "nim-runner", "schedulerName": "kai-scheduler",
            "podLabels": ["team": "a"], "podAnnotations": ["example.com/cost-center": "42"],
            "sharedMemorySize": "32Gi",
            "startupProbe": ["enabled": false], "readinessProbe": ["probe": readiness],
            "proxy": ["httpsProxy": "http://proxy.corp:3128", "httpProxy": "http://proxy.corp:3128", "noProxy": ".corp,10.0.0.0/8", "caBundle": ["configMapName": "corporate-ca"]],
            "securityContext": ["runAsUser": 1001, "runAsGroup": 1001, "fsGroup": 2000, "runAsNonRoot": true],
        ]))
        // Applied means KServe's own schemas (../shared/crds/full) took both objects.
        try await env.waitFor("Ready", "True")

        // The container's settings, on the predictor's model container, which KServe lays over
        // the runtime's: so they are in the pod's container.
        let model = try await env.predictor()["model"] ?? [:]
        #expect(Self.envValue(model, "NIM_MAX_MODEL_LEN") == "32768" && model["readinessProbe"] == readiness)
        let runtime = try await env.runtimeContainer()
        #expect(Self.envNames(runtime) == ["NIM_CACHE_PATH", "NGC_API_KEY"], "the runtime keeps the contract's: \(Self.envNames(runtime))")
        let container = try await env.podContainer()
        #expect(Self.envValue(container, "NIM_MAX_MODEL_LEN") == "32768")
        #expect(Self.envValue(container, "HF_TOKEN") == ["secretKeyRef": ["name": "hf", "key": "token"]], "valueFrom kept as given")
        #expect(Self.envValue(container, "NIM_MODEL_PROFILE") == "tensorrt_llm-h100-fp8-tp4-throughput")
        for name in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] { #expect(Self.envValue(container, name) == "http://proxy.corp:3128", "\(name)") }
        #expect(Self.envValue(container, "NO_PROXY") == ".corp,10.0.0.0/8,localhost,127.0.0.1,::1,.svc,.cluster.local")
        #expect(Self.envValue(container, "no_proxy") == Self.envValue(container, "NO_PROXY"))
        for name in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"] { #expect(Self.envValue(container, name) == "/etc/nim-ca/ca-bundle.crt", "\(name)") }
        #expect(Self.envValue(container, "NIM_SDK_USE_NATIVE_TLS") == "1")
        #expect(Array(Self.envNames(container).prefix(2)) == ["NIM_CACHE_PATH", "NGC_API_KEY"], "the operator's first, the spec's after")
        #expect(container["startupProbe"] == nil, "turned off")
        #expect(container["readinessProbe"] == readiness, "replaced as given")
        #expect(container[path: ["livenessProbe", "httpGet", "path"]] == "/v1/health/live", "the default stays")
        let caMount: JSON = ["name": "nim-ca-bundle", "mountPath": "/etc/nim-ca", "readOnly": true]
        let systemBundle: JSON = ["name": "nim-ca-bundle", "mountPath": "/etc/ssl/certs/ca-certificates.crt", "subPath": "ca-bundle.crt", "readOnly": true]
        let mounts = container["volumeMounts"]?.arrayValue ?? []
        #expect(mounts.contains(caMount) && mounts.contains(systemBundle), "\(mounts)")
        #expect(mounts.contains { $0["mountPath"] == "/mnt/models/cache" }, "the runtime's mounts stay")
        let volumes = try await env.currentPod()[dotted: "spec.volumes"]?.arrayValue ?? []
        let shm: JSON = ["name": "shm", "emptyDir": ["medium": "Memory", "sizeLimit": "32Gi"]]
        let caVolume: JSON = ["name": "nim-ca-bundle", "configMap": ["name": "corporate-ca", "items": [["key": "ca-bundle.crt", "path": "ca-bundle.crt"]]]]
        #expect(volumes.contains(shm) && volumes.contains(caVolume), "the predictor's volumes over the runtime's by name: \(volumes)")
        #expect(volumes.filter { $0["name"] == "shm" }.count == 1)

        // The pod's settings, on the InferenceService's predictor.
        let predictor = try await env.predictor()
        #expect(predictor["nodeSelector"] == ["nvidia.com/gpu.present": "true"])
        #expect(predictor["tolerations"] == [
            ["key": "dedicated", "operator": "Equal", "value": "inference", "effect": "NoSchedule"],
            ["key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"],
        ], "the spec's, and the GPU taint's as GPUs are requested")
        #expect(predictor["affinity"] == affinity)
        #expect(predictor["runtimeClassName"] == "nvidia" && predictor["priorityClassName"] == "inference" && predictor["serviceAccountName"] == "nim-runner")
        #expect(predictor["schedulerName"] == "kai-scheduler")
        #expect(predictor["securityContext"] == [
            "runAsUser": 1001, "runAsGroup": 1001, "fsGroup": 2000, "runAsNonRoot": true, "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": ["type": "RuntimeDefault"],
        ])
        #expect(predictor[path: ["labels", "team"]] == "a" && predictor[path: ["labels", "nim.opendatahub.io/deployment"]] == "llama")
        #expect(predictor[path: ["annotations", "example.com/cost-center"]] == "42")
        #expect(predictor[path: ["annotations", DesiredState.caBundleDigestAnnotation]]?.stringValue?.count == 16)

        // And KServe (the stand-in) runs the pod with them.
        let pod = try await env.currentPod()
        #expect(pod.labels["team"] == "a" && pod.annotations["example.com/cost-center"] == "42")
        #expect(pod[dotted: "spec.runtimeClassName"] == "nvidia" && pod[dotted: "spec.nodeSelector"] == ["nvidia.com/gpu.present": "true"])
        #expect(pod[dotted: "spec.schedulerName"] == "kai-scheduler")
    }

    @Test func theDefaultsFitNIM() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator(env.options(defaultFSGroup: 1000))
        try await env.createKeySecret()
        try await env.deploy()
        try await env.deploy("multi", spec: Self.spec(["resources": ["gpus": 2], "protocol": "grpc"]))
        try await env.waitFor("Ready", "True")
        try await env.waitFor("Ready", "True", of: "multi")

        let container = try await env.podContainer()
        #expect(container["startupProbe"] == ["httpGet": ["path": "/v1/health/ready", "port": 8000], "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 720], "two hours to download and load")
        #expect(container["readinessProbe"] == ["httpGet": ["path": "/v1/health/ready", "port": 8000], "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3])
        #expect(container["livenessProbe"] == ["httpGet": ["path": "/v1/health/live", "port": 8000], "periodSeconds": 15, "timeoutSeconds": 5, "failureThreshold": 3])
        #expect(container["securityContext"] == ["allowPrivilegeEscalation": false, "capabilities": ["drop": ["ALL"]]])
        #expect(Self.envNames(container) == ["NIM_CACHE_PATH", "NGC_API_KEY"], "nothing else by default")
        let shm: JSON = ["name": "shm", "emptyDir": ["medium": "Memory", "sizeLimit": "2Gi"]]
        let volumes = try await env.currentPod()[dotted: "spec.volumes"]?.arrayValue ?? []
        #expect(volumes.contains(shm))
        let predictor = try await env.predictor()
        #expect(predictor["tolerations"] == [["key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"]])
        #expect(predictor["securityContext"] == ["fsGroup": 1000, "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": ["type": "RuntimeDefault"]])
        #expect(predictor["nodeSelector"] == nil && predictor["affinity"] == nil && predictor["runtimeClassName"] == nil)

        // Several GPUs: a larger /dev/shm; gRPC: the health checks over gRPC on its port.
        let multi = try await env.podContainer(of: "multi")
        // (KServe's schema defaults grpc.service to "", the standard health service.)
        #expect(multi["readinessProbe"] == ["grpc": ["port": 8001, "service": ""], "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3])
        #expect(multi[path: ["startupProbe", "grpc", "port"]] == 8001 && multi[path: ["livenessProbe", "grpc", "port"]] == 8001)
        let largerShm: JSON = ["name": "shm", "emptyDir": ["medium": "Memory", "sizeLimit": "16Gi"]]
        let multiVolumes = try await env.currentPod(of: "multi")[dotted: "spec.volumes"]?.arrayValue ?? []
        #expect(multiVolumes.contains(largerShm))
    }

    /// Bad settings the schema cannot see, each refused with a condition and an Event: on a new
    /// deployment nothing is made; on a running one nothing is rolled.
    @Test(arguments: [
        (["env": [["name": "NGC_API_KEY", "value": "x"]]], "ReservedEnvVar", "NGC_API_KEY"),
        (["env": [["name": "NGC_CLI_API_KEY", "value": "x"]]], "ReservedEnvVar", "rotation would no longer reach the pods"),
        (["env": [["name": "NIM_CACHE_PATH", "value": "/tmp"]]], "ReservedEnvVar", "mounts the cache claim there"),
        (["modelProfile": "vllm-bf16-tp1", "env": [["name": "NIM_MODEL_PROFILE", "value": "other"]]], "ReservedEnvVar", "spec.modelProfile sets it"),
        (["proxy": ["httpsProxy": "http://p:3128"], "env": [["name": "no_proxy", "value": "x"]]], "ReservedEnvVar", "spec.proxy sets it"),
        (["proxy": ["caBundle": ["configMapName": "ca"]], "env": [["name": "SSL_CERT_FILE", "value": "/x"]]], "ReservedEnvVar", "caBundle sets it"),
        (["podLabels": ["app": "mine"]], "ReservedPodMetadata", "spec.podLabels sets app"),
        (["podLabels": ["nim.opendatahub.io/deployment": "other"]], "ReservedPodMetadata", "nim.opendatahub.io/deployment"),
        (["podAnnotations": ["serving.kserve.io/deploymentMode": "Serverless"]], "ReservedPodMetadata", "serving.kserve.io/deploymentMode"),
        (["podLabels": ["team": "not a label value"]], "InvalidSpec", "spec.podLabels.team"),
        (["sharedMemorySize": "0"], "InvalidSpec", "spec.sharedMemorySize must be a quantity above zero"),
        (["proxy": ["caBundle": ["configMapName": "missing-ca"]]], "CABundleNotFound", "ConfigMap \"missing-ca\""),
    ] as [([String: JSON], String, String)])
    func refusedWithAConditionAndAnEventAndNothingRolled(_ bad: [String: JSON], _ reason: String, _ says: String) async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy("fresh", spec: Self.spec(bad))
        try await env.deploy()
        try await env.waitFor("Ready", "False", reason: reason, of: "fresh")
        let condition = try #require(try await env.condition("ResourcesReady", of: "fresh"))
        #expect(condition["reason"]?.stringValue == reason && condition["message"]?.stringValue?.contains(says) == true, "\(condition)")
        try await eventually("a Warning event") { try await !env.events(reason, of: "fresh").isEmpty }
        let children = try await env.children()
        #expect(children.values.allSatisfy { !$0.contains { $0.hasSuffix("fresh") } }, "nothing made for it: \(children)")

        // The same change to a working deployment: it runs on as it was.
        try await env.waitFor("Ready", "True")
        try await env.quiesce()
        let runtime = try await env.client.get(KServe.servingRuntimes, namespace: "team-a", name: "llama")
        let rollouts = env.rollouts()
        var changed = try await env.deployment()["spec"]?.objectValue ?? [:]
        changed.merge(bad) { $1 }
        try await env.deploy(spec: .object(changed))
        try await env.waitFor("ResourcesReady", "False", reason: reason)
        #expect(try await env.client.get(KServe.servingRuntimes, namespace: "team-a", name: "llama").resourceVersion == runtime.resourceVersion)
        #expect(env.rollouts() == rollouts, "nothing rolled")
    }

    /// What the API server refuses at admission, naming the field.
    @Test func theSchemaRefusesMalformedPodSettings() async throws {
        let env = try await NimEnvironment()
        let cases: [(JSON, String)] = [
            (["tolerations": [["key": "nvidia.com/gpu", "operator": "Sometimes"]]], "a toleration's operator is Exists or Equal"),
            (["tolerations": [["key": "k", "operator": "Exists", "value": "v"]]], "a toleration with operator Exists has no value"),
            (["tolerations": [["key": "k", "effect": "Never"]]], "a toleration's effect is NoSchedule, PreferNoSchedule or NoExecute"),
            (["readinessProbe": ["probe": ["httpGet": ["path": "/", "port": 8000], "tcpSocket": ["port": 8000]]]], "exactly one of exec, httpGet, tcpSocket and grpc"),
            (["startupProbe": ["enabled": false, "probe": ["tcpSocket": ["port": 8000]]]], "a probe that is turned off (enabled false) cannot be given"),
            (["env": [["value": "x"]]], "spec.env[0].name: Required value"),
            (["env": [["name": "A", "value": "1", "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"]]]]], "an env entry has value or valueFrom, not both"),
            (["livenessProbe": ["probe": ["tcpSocket": ["port": 8000], "successThreshold": 2]]], "a liveness probe's successThreshold must be 1"),
            (["env": [["name": "A", "value": "1"], ["name": "A", "value": "2"]]], "Duplicate value"),
            (["proxy": ["httpsProxy": "ftp://p"]], "spec.proxy.httpsProxy"),
            (["proxy": ["caBundle": ["key": "ca.crt"]]], "spec.proxy.caBundle.configMapName: Required value"),
            (["securityContext": ["runAsUser": -1]], "spec.securityContext.runAsUser"),
            (["sharedMemorySize": "lots"], "spec.sharedMemorySize"),
            (["runtimeClassName": "Not_A_Name"], "spec.runtimeClassName"),
            (["schedulerName": "Kai Scheduler"], "spec.schedulerName"),
        ]
        for (bad, message) in cases {
            var object = KubeObject(apiVersion: NimDeployment.resource.apiVersion, kind: NimDeployment.resource.kind, namespace: "team-a", name: "bad")
            var spec = Self.base
            for (key, value) in bad.objectValue ?? [:] { spec[key] = value }
            object["spec"] = .object(spec)
            do {
                _ = try await env.client.create(object, NimDeployment.resource)
                Issue.record("admitted: \(bad.serialized())")
            } catch {
                #expect(error.status?.code == 422 && error.status?.message.contains(message) == true, "\(bad.serialized()): \(error.status?.message ?? "\(error)")")
            }
        }
        #expect(try await env.client.list(NimDeployment.resource, namespace: "team-a").items.isEmpty, "nothing stored")
    }

    @Test func aCABundleIsWaitedForCheckedAndRollsThePodsWhenItChanges() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy(spec: Self.spec(["proxy": ["httpsProxy": "http://proxy.corp:3128", "caBundle": ["configMapName": "corporate-ca"]]]))
        try await env.waitFor("ResourcesReady", "False", reason: "CABundleNotFound")
        #expect(try await env.children().isEmpty, "nothing made until the bundle exists")

        try await Self.createConfigMap(env, "corporate-ca", data: ["other.crt": Self.pem])
        try await eventually("the key is missing, and the keys there are named") {
            let message = try await env.condition("ResourcesReady")?["message"]?.stringValue ?? ""
            return message.contains("has no key ca-bundle.crt (it has keys other.crt)")
        }
        try await Self.createConfigMap(env, "corporate-ca", data: ["ca-bundle.crt": "not a certificate"])
        try await env.waitFor("ResourcesReady", "False", reason: "CABundleInvalid")
        try await Self.createConfigMap(env, "corporate-ca", data: ["ca-bundle.crt": Self.pem])
        try await env.waitFor("Ready", "True")
        try await env.quiesce()
        let rollouts = env.rollouts()
        let digest = try await env.predictor()[path: ["annotations", DesiredState.caBundleDigestAnnotation]]

        // The bundle renewed: the pods read it when they start, so they roll, once.
        try await Self.createConfigMap(env, "corporate-ca", data: ["ca-bundle.crt": Self.pem + Self.pem])
        try await eventually("the new digest on the predictor") { try await env.predictor()[path: ["annotations", DesiredState.caBundleDigestAnnotation]] != digest }
        try await env.quiesce()
        #expect(env.rollouts() == rollouts + 1)
        try await env.waitFor("Ready", "True")
    }

    /// Each kind of pod setting rolls the pods once when it changes (whether it lands on the
    /// runtime or on the predictor), an unchanged spec writes nothing, and a setting removed from
    /// the spec is removed from the children.
    @Test func eachChangeRollsOnceAndARemovedSettingIsRemoved() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await Self.createConfigMap(env, "corporate-ca", data: ["ca-bundle.crt": Self.pem])
        try await env.deploy()
        try await env.waitFor("Ready", "True")
        try await env.quiesce()
        // Scaling rolls nothing (KServe copies the InferenceService's annotations into the pods).
        let unscaled = env.rollouts()
        try await env.quiesce()
        #expect(env.rollouts() == unscaled, "a change of replicas rolled the pods")
        let changes: [(String, String, JSON)] = [
            ("env (runtime)", "env", [["name": "NIM_LOG_LEVEL", "value": "DEBUG"]]),
            ("modelProfile (runtime)", "modelProfile", "vllm-bf16-tp1"),
            ("sharedMemorySize (runtime volume)", "sharedMemorySize", "8Gi"),
            ("readinessProbe (runtime)", "readinessProbe", ["probe": ["tcpSocket": ["port": 8000], "periodSeconds": 20]]),
            ("proxy and CA (runtime)", "proxy", ["httpsProxy": "http://proxy.corp:3128", "caBundle": ["configMapName": "corporate-ca"]]),
            ("tolerations (predictor)", "tolerations", [["key": "dedicated", "operator": "Exists", "effect": "NoSchedule"]]),
            ("nodeSelector (predictor)", "nodeSelector", ["nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"]),
            ("runtimeClassName (predictor)", "runtimeClassName", "nvidia"),
            ("securityContext (predictor)", "securityContext", ["fsGroup": 3000]),
            ("podLabels (predictor)", "podLabels", ["team": "a"]),
            ("podAnnotations (predictor)", "podAnnotations", ["example.com/owner": "ml"]),
        ]
        var spec = try await env.deployment()["spec"]?.objectValue ?? [:]
        var verified = try await env.events("RevisionVerified").count
        for (what, field, value) in changes {
            let before = env.rollouts()
            spec[field] = value
            try await env.deploy(spec: .object(spec))
            try await env.quiesce()
            spec = try await env.deployment()["spec"]?.objectValue ?? [:]
            #expect(env.rollouts() == before + 1, "\(what): rolled \(env.rollouts() - before) times")
            try await env.waitFor("Ready", "True")
            try await env.waitForRevision("Verified")
            // Its Event follows the status.
            verified += 1
            try await eventually("\(what): RevisionVerified said") { try await env.events("RevisionVerified").count == verified }
        }
        // The same manifest again: the server sees no change, the operator writes nothing.
        let writes = env.operatorWrites()
        let statsBefore = env.controlPlane.requestStats
        try await env.deploy(spec: .object(spec))
        env.resyncAll()
        try await env.settleKServe(["llama"], namespace: "team-a")
        let extra = (env.controlPlane.requestStats - statsBefore).counts.filter { $0.key.agent == "nim-deploy-operator" && RequestStats.writeVerbs.contains($0.key.verb) }
        #expect(env.operatorWrites() == writes, "an unchanged spec writes nothing: \(extra)")

        // Every pod setting taken out again: gone from the children, in one rollout.
        let before = env.rollouts()
        for (_, field, _) in changes { spec[field] = nil }
        try await env.deploy(spec: .object(spec))
        try await env.quiesce()
        #expect(env.rollouts() == before + 1)
        let predictor = try await env.predictor()
        let model = predictor["model"] ?? [:]
        #expect(model["env"] == nil && model["volumeMounts"] == nil, "\(model)")
        #expect(model[path: ["readinessProbe", "httpGet", "path"]] == "/v1/health/ready", "the default is back")
        let container = try await env.podContainer()
        #expect(Self.envNames(container) == ["NIM_CACHE_PATH", "NGC_API_KEY"], "\(Self.envNames(container))")
        #expect((container["volumeMounts"]?.arrayValue ?? []).allSatisfy { $0["name"] != "nim-ca-bundle" })
        #expect(predictor["nodeSelector"] == nil && predictor["runtimeClassName"] == nil && predictor[path: ["labels", "team"]] == nil)
        #expect(predictor[path: ["annotations", "example.com/owner"]] == nil && predictor[path: ["securityContext", "fsGroup"]] == nil)
        #expect(predictor["tolerations"] == [["key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"]])
    }

    @Test func aChildSomeoneDeletesIsMadeAgain() async throws {
        let env = try await NimEnvironment.serving()
        for (resource, name) in [(KServe.inferenceServices, "llama"), (KServe.servingRuntimes, "llama"), (ResourceType.secrets, "nvidia-nim-secrets-llama")] {
            let before = try await env.client.get(resource, namespace: "team-a", name: name)
            _ = try await env.client.delete(resource, namespace: "team-a", name: name)
            try await eventually("\(resource.kind) \(name) is made again") {
                let again = try? await env.client.get(resource, namespace: "team-a", name: name)
                return again != nil && again?.uid != before.uid
            }
        }
        try await env.waitFor("Ready", "True")
    }

    /// Ready only when the model answers ready; until then Progressing says why, from the pods.
    @Test func statusFollowsThePredictorPods() async throws {
        let env = try await NimEnvironment.serving()
        let key = ObjectKey(namespace: "team-a", name: "llama")

        try await env.kserve.setPredictor(key, .pullingImage)
        try await env.waitFor("Ready", "False", reason: "PullingImage")
        try await env.waitFor("Progressing", "True", reason: "PullingImage")
        #expect(try await env.condition("Ready")?["message"]?.stringValue?.contains("nvcr.io/nim/meta/llama-3.1-8b-instruct:latest") == true)

        try await env.kserve.setPredictor(key, .loadingModel)
        try await env.waitFor("Ready", "False", reason: "ModelLoading")
        let loading = try await env.condition("Progressing")?["message"]?.stringValue ?? ""
        #expect(loading.contains("downloading and loading the model") && loading.contains("running since ") && loading.contains("the startup probe allows 2h"), "\(loading)")
        #expect(try await env.condition("Degraded")?["status"] == "False", "loading is progress")

        try await env.kserve.setPredictor(key, .crashLooping(reason: "OOMKilled", exitCode: 137, message: ""))
        try await env.waitFor("Ready", "False", reason: "CrashLoopBackOff")
        try await env.waitFor("Degraded", "True", reason: "CrashLoopBackOff")
        let crashing = try await env.condition("Degraded")?["message"]?.stringValue ?? ""
        #expect(crashing.contains("last exit: OOMKilled, exit code 137") && crashing.contains("raise spec.resources.limits.memory"), "\(crashing)")
        try await eventually("a Warning event") { try await !env.events("CrashLoopBackOff").isEmpty }

        try await env.kserve.setPredictor(key, .imagePullBackOff(message: "unauthorized: authentication required"))
        try await env.waitFor("Degraded", "True", reason: "ImagePullBackOff")
        #expect(try await env.condition("Ready")?["message"]?.stringValue?.contains("unauthorized: authentication required") == true)

        try await env.kserve.setPredictor(key, nil)
        try await env.waitFor("Ready", "True")
        try await env.waitFor("Degraded", "False")
        try await env.waitFor("Progressing", "False", reason: "Deployed")
    }

    @Test func podsNoNodeTakesAreUnschedulableWithTheSchedulersWords() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        // No GPU node is an A100 one.
        try await env.deploy(spec: Self.spec(["nodeSelector": ["nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"]]))
        try await env.waitFor("Ready", "False", reason: "Unschedulable")
        let message = try await env.condition("Progressing")?["message"]?.stringValue ?? ""
        #expect(message.contains("didn't match Pod's node affinity/selector") && message.contains("spec.nodeSelector"), "\(message)")
        try await eventually("a Warning event") { try await !env.events("Unschedulable").isEmpty }
        try await env.deploy(spec: Self.spec(["nodeSelector": ["nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"]]))
        try await env.waitFor("Ready", "True")

        // Without GPUs no toleration of the GPU taint is added: a GPU-only pool takes no such pod.
        try await env.deploy("cpu-only", spec: Self.spec(["resources": ["gpus": 0]]))
        try await env.waitFor("Ready", "False", reason: "Unschedulable", of: "cpu-only")
        #expect(try await env.condition("Ready", of: "cpu-only")?["message"]?.stringValue?.contains("untolerated taint {nvidia.com/gpu: present}") == true)
    }

    @Test func aRetainedClaimThatNoLongerFitsIsNamedNotRefusedRaw() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy(spec: Self.spec(["storage": ["size": "200Gi"]]))
        try await env.waitFor("Ready", "True")
        _ = try await env.client.delete(NimDeployment.resource, namespace: "team-a", name: "llama")
        try await eventually("only the retained claim is left") { try await env.children() == ["pvc": ["nim-cache-llama"]] }

        // Re-created with another class and access mode: what differs, and what to do.
        try await env.deploy(spec: Self.spec(["storage": ["storageClassName": "fast-nvme", "accessMode": "ReadWriteMany"]]))
        try await env.waitFor("ResourcesReady", "False", reason: "ClaimMismatch")
        let message = try await env.condition("ResourcesReady")?["message"]?.stringValue ?? ""
        #expect(message.contains("was kept from an earlier deployment of this name"), "\(message)")
        #expect(message.contains("its storageClassName is unset, spec.storage.storageClassName asks for \"fast-nvme\""), "\(message)")
        #expect(message.contains("its access modes are ReadWriteOnce, spec.storage.accessMode asks for ReadWriteMany"), "\(message)")
        #expect(try await env.children() == ["pvc": ["nim-cache-llama"]], "nothing else made")
        try await eventually("a Warning event") { try await !env.events("ClaimMismatch").isEmpty }

        // A smaller size fits the larger claim, which keeps its size (a claim cannot shrink).
        try await env.deploy(spec: Self.spec(["storage": ["size": "50Gi"]]))
        try await env.waitFor("Ready", "True")
        let claim = try await env.client.get(.persistentVolumeClaims, namespace: "team-a", name: "nim-cache-llama")
        #expect(claim[path: ["spec", "resources", "requests", "storage"]] == "200Gi")
    }

    @Test func theGPUClusterSampleConverges() async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        let documents = try YAML.parseAll(String(contentsOf: Paths.repository.appendingPathComponent("config/samples/nim_v1alpha1_nimdeployment_gpu_cluster.yaml"), encoding: .utf8))
        for document in documents {
            var object = KubeObject(document)
            if object.kind == "ConfigMap" { object["data"] = ["ca-bundle.crt": .string(Self.pem)] }
            _ = try await env.client.apply(object, object.kind == "ConfigMap" ? .configMaps : NimDeployment.resource, fieldManager: "kubectl")
        }
        try await env.waitFor("Ready", "True", of: "llama-70b")
        let predictor = try await env.predictor(of: "llama-70b")
        #expect(predictor[path: ["model", "resources", "limits", "nvidia.com/gpu"]] == "4")
        #expect(Self.envValue(try await env.podContainer(of: "llama-70b"), "NIM_MODEL_PROFILE") == "tensorrt_llm-h100-fp8-tp4-throughput")
    }

    /// A rollout under way: the previous revision serves while the new one loads.
    @Test func aNewRevisionLoadingBesideTheServingOneIsProgress() throws {
        func pod(_ name: String, revision: String, ready: Bool) -> KubeObject {
            var pod = KubeObject(apiVersion: "v1", kind: "Pod", namespace: "team-a", name: name)
            pod.annotations = [DesiredState.revisionAnnotation: revision]
            pod["status"] = [
                "conditions": [["type": "Ready", "status": ready ? "True" : "False"]],
                "containerStatuses": [["name": "kserve-container", "ready": .bool(ready), "started": .bool(ready), "restartCount": 0,
                                       "state": ["running": ["startedAt": "2026-12-03T07:00:00Z"]]]],
            ]
            return pod
        }
        let rolling = try #require(PredictorProgress.assess(pods: [pod("old", revision: "r1", ready: true), pod("new", revision: "r2", ready: false)], revision: "r2", startupBudget: 7200))
        #expect(rolling.stage == .loadingModel && rolling.previousRevisionServes)
        #expect(rolling.message.contains("running since 2026-12-03T07:00:00Z; the startup probe allows 2h"), "\(rolling.message)")
        let done = try #require(PredictorProgress.assess(pods: [pod("new", revision: "r2", ready: true)], revision: "r2", startupBudget: 7200))
        #expect(done.stage == .ready && !done.previousRevisionServes)
        #expect(PredictorProgress.assess(pods: [], revision: "r2", startupBudget: nil) == nil, "no pods: KServe's word stands")
    }
}
