import Foundation
import KubeCore
import KubeAPI

/// What the NIM's pods get beyond the model and the key: env, probes, /dev/shm, the CA bundle,
/// the security context and the scheduling settings, from the spec and the defaults that fit NIM.
///
/// All of it lands on the InferenceService's predictor, which KServe lays over the ServingRuntime
/// by strategic merge (env by name, mounts by path, volumes by name): the container's settings on
/// `predictor.model`, the pod's beside it. The runtime keeps what the contract puts there (image,
/// port, the key and cache, the scratch mounts). One object, so a change is one write: KServe
/// renders an InferenceService with whatever runtime its cache holds, and a change split across
/// the two could be rendered half-done, rolling the pods twice. The predictor is also the only
/// place KServe has runtimeClassName, priorityClassName, serviceAccountName and a pod
/// securityContext.
public enum PodTemplate {
    public static let httpPort = 8000
    public static let grpcPort = 8001
    public static let readyPath = "/v1/health/ready"
    public static let livePath = "/v1/health/live"

    /// The startup probe's budget: 720 checks 10 s apart, two hours. A first download of a large
    /// model takes 20 to 40 minutes on a good link and hours on a slow one, and a startup probe
    /// that gives up kills the container and starts the download again (the peers' 20 and 30
    /// minutes loop forever on a 70B model behind a slow proxy). Once the model is cached a
    /// start takes minutes, so the budget only matters when something is wrong.
    public static let startupPeriod = 10
    public static let startupFailures = 720
    /// Readiness every 10 s, out after 3 misses: traffic leaves a pod within 30 s.
    public static let readinessPeriod = 10
    /// Liveness every 15 s with a 5 s timeout and 3 misses: a NIM busy with a long batch answers
    /// its health endpoint late but answers; one timeout of 1 s (the peers') under load restarts
    /// a healthy server and reloads its model.
    public static let livenessPeriod = 15
    public static let probeTimeout = 5

    /// /dev/shm: 2Gi with one GPU (what single-GPU NIMs need, and this operator's size so far);
    /// 16Gi with more, NIM's guidance for tensor parallelism without NVLink. Bounded rather than
    /// unbounded (the nim-llm chart's choice): memory-backed, it counts towards the pod's
    /// memory, and an unbounded tmpfs lets one pod take half a node's memory.
    public static let singleGPUSharedMemory = "2Gi"
    public static let multiGPUSharedMemory = "16Gi"

    /// Where the CA bundle is mounted, and the variables its readers look at.
    public static let caDirectory = "/etc/nim-ca"
    public static let caFile = "/etc/nim-ca/ca-bundle.crt"
    /// Always reached directly with a proxy set: NIM's own processes talk over loopback, and
    /// in-cluster services are not behind the egress proxy (OpenShift's cluster proxy does the same).
    public static let alwaysDirect = ["localhost", "127.0.0.1", "::1", ".svc", ".cluster.local"]

    static let gpuToleration: JSON = ["key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"]

    /// The runtime container's env: the cache path, the key, then what a taken-over runtime had
    /// (less what the spec's env sets, which the predictor carries).
    static func runtimeEnv(_ settings: PodSettings, keySecret: String?, adopted: [JSON], cachePath: String) -> [JSON] {
        var env: [JSON] = [["name": "NIM_CACHE_PATH", "value": .string(cachePath)]]
        if let keySecret {
            env.append(["name": "NGC_API_KEY", "valueFrom": ["secretKeyRef": ["name": .string(keySecret), "key": "NGC_API_KEY"]]])
        }
        let taken = Set(env.compactMap { $0["name"]?.stringValue } + settings.env.compactMap { $0["name"]?.stringValue })
        return env + adopted.filter { !taken.contains($0["name"]?.stringValue ?? "") }
    }

    /// The predictor container's env: what the settings set, then the spec's own (whose names
    /// never clash with the operator's: those are refused).
    static func predictorEnv(_ settings: PodSettings) -> [JSON] {
        var env: [JSON] = []
        if let profile = settings.modelProfile { env.append(["name": "NIM_MODEL_PROFILE", "value": .string(profile)]) }
        if let proxy = settings.proxy {
            func both(_ upper: String, _ value: String?) {
                guard let value else { return }
                env.append(["name": .string(upper), "value": .string(value)])
                env.append(["name": .string(upper.lowercased()), "value": .string(value)])
            }
            if proxy.proxies {
                both("HTTP_PROXY", proxy.httpProxy)
                both("HTTPS_PROXY", proxy.httpsProxy)
                let direct = ProxySettings.list(proxy.noProxy ?? "")
                both("NO_PROXY", (direct + alwaysDirect.filter { !direct.contains($0) }).joined(separator: ","))
            }
            if proxy.caBundle != nil {
                for name in PodSettings.caEnvNames { env.append(["name": .string(name), "value": .string(caFile)]) }
            }
            // NIM's downloader uses the system's trust store (and so the bundle) with this set.
            env.append(["name": "NIM_SDK_USE_NATIVE_TLS", "value": "1"])
        }
        return env + settings.env
    }

    /// The container fields the predictor lays over the runtime's: env, probes, the CA mounts,
    /// the container's security context.
    static func predictorContainer(_ settings: PodSettings, protocol serving: NimDeployment.ServingProtocol) -> [String: JSON] {
        var container = probes(settings, protocol: serving)
        let env = predictorEnv(settings)
        if !env.isEmpty { container["env"] = .array(env) }
        if let mounts = caBundle(settings)?.mounts { container["volumeMounts"] = .array(mounts) }
        container["securityContext"] = containerSecurity
        return container
    }

    /// The volumes the predictor lays over the runtime's: /dev/shm at its size, the CA bundle.
    static func predictorVolumes(_ settings: PodSettings, gpus: Int) -> [JSON] {
        [sharedMemory(settings, gpus: gpus)] + (caBundle(settings).map { [$0.volume] } ?? [])
    }

    /// `startupProbe`, `readinessProbe`, `livenessProbe` of the NIM container.
    static func probes(_ settings: PodSettings, protocol serving: NimDeployment.ServingProtocol) -> [String: JSON] {
        func handler(_ path: String) -> [String: JSON] {
            serving == .grpc ? ["grpc": ["port": .int(grpcPort)]] : ["httpGet": ["path": .string(path), "port": .int(httpPort)]]
        }
        let standard: [(field: String, setting: PodSettings.Probe, probe: [String: JSON])] = [
            ("startupProbe", settings.startupProbe,
             handler(readyPath).merging(["periodSeconds": .int(startupPeriod), "timeoutSeconds": .int(probeTimeout), "failureThreshold": .int(startupFailures)]) { $1 }),
            ("readinessProbe", settings.readinessProbe,
             handler(readyPath).merging(["periodSeconds": .int(readinessPeriod), "timeoutSeconds": .int(probeTimeout), "failureThreshold": 3]) { $1 }),
            ("livenessProbe", settings.livenessProbe,
             handler(livePath).merging(["periodSeconds": .int(livenessPeriod), "timeoutSeconds": .int(probeTimeout), "failureThreshold": 3]) { $1 }),
        ]
        var probes: [String: JSON] = [:]
        for (field, setting, probe) in standard {
            switch setting {
            case .standard: probes[field] = .object(probe)
            case .disabled: break
            case .replaced(let given): probes[field] = given
            }
        }
        return probes
    }

    /// How long the startup probe lets a pod load before it is restarted; nil without one.
    public static func startupBudget(_ settings: PodSettings) -> TimeInterval? {
        switch settings.startupProbe {
        case .standard: return TimeInterval(startupPeriod * startupFailures)
        case .disabled: return nil
        case .replaced(let probe):
            let period = probe["periodSeconds"]?.intValue ?? 10
            return TimeInterval((probe["initialDelaySeconds"]?.intValue ?? 0) + period * (probe["failureThreshold"]?.intValue ?? 3))
        }
    }

    static func sharedMemory(_ settings: PodSettings, gpus: Int) -> JSON {
        let size = settings.sharedMemorySize.map(DesiredState.quantity) ?? .string(gpus > 1 ? multiGPUSharedMemory : singleGPUSharedMemory)
        return ["name": "shm", "emptyDir": ["medium": "Memory", "sizeLimit": size]]
    }

    /// The CA bundle's volume and mounts, when there is one: its own directory (what the CA
    /// variables point at), and over the system bundle's file where Debian and Ubuntu (NIM's
    /// base) and Red Hat keep it, for the clients that read only the system's trust store.
    static func caBundle(_ settings: PodSettings) -> (volume: JSON, mounts: [JSON])? {
        guard let bundle = settings.proxy?.caBundle else { return nil }
        let volume: JSON = ["name": "nim-ca-bundle", "configMap": ["name": .string(bundle.configMapName), "items": [["key": .string(bundle.key), "path": "ca-bundle.crt"]]]]
        let mounts: [JSON] = [["name": "nim-ca-bundle", "mountPath": .string(caDirectory), "readOnly": true]]
            + TLSOptions.systemBundlePaths.map { ["name": "nim-ca-bundle", "mountPath": .string($0), "subPath": "ca-bundle.crt", "readOnly": true] }
        return (volume, mounts)
    }

    /// What restricted-v2 and the restricted Pod Security Standard ask of a container, and
    /// nothing NIM needs: no privilege escalation, no capabilities.
    static let containerSecurity: JSON = ["allowPrivilegeEscalation": false, "capabilities": ["drop": ["ALL"]]]

    /// The predictor's pod security: the spec's ids, else the operator's default fsGroup; with
    /// `defaults`, seccomp RuntimeDefault (what restricted-v2 and the restricted standard ask).
    static func podSecurity(_ settings: PodSettings, defaultFSGroup: Int?, defaults: Bool = true) -> JSON? {
        var context: [String: JSON] = defaults ? ["seccompProfile": ["type": "RuntimeDefault"]] : [:]
        let security = settings.securityContext
        if let user = security.runAsUser { context["runAsUser"] = .int(user) }
        if let group = security.runAsGroup { context["runAsGroup"] = .int(group) }
        if let nonRoot = security.runAsNonRoot { context["runAsNonRoot"] = .bool(nonRoot) }
        if let fsGroup = security.fsGroup ?? defaultFSGroup {
            context["fsGroup"] = .int(fsGroup)
            // A model cache holds hundreds of GB: changing the owner of every file on every
            // start takes minutes. Only when the volume's root does not already match.
            context["fsGroupChangePolicy"] = "OnRootMismatch"
        }
        return context.isEmpty ? nil : .object(context)
    }

    /// Scheduling and identity of the predictor pods.
    static func scheduling(_ settings: PodSettings, gpus: Int) -> [String: JSON] {
        var fields: [String: JSON] = [:]
        if !settings.nodeSelector.isEmpty { fields["nodeSelector"] = .object(settings.nodeSelector.mapValues(JSON.string)) }
        var tolerations = settings.tolerations ?? []
        if gpus > 0, !tolerations.contains(where: { $0["key"] == gpuToleration["key"] }) { tolerations.append(gpuToleration) }
        if !tolerations.isEmpty { fields["tolerations"] = .array(tolerations) }
        if let affinity = settings.affinity { fields["affinity"] = affinity }
        if let name = settings.runtimeClassName { fields["runtimeClassName"] = .string(name) }
        if let name = settings.priorityClassName { fields["priorityClassName"] = .string(name) }
        if let name = settings.schedulerName { fields["schedulerName"] = .string(name) }
        if let name = settings.serviceAccountName { fields["serviceAccountName"] = .string(name) }
        return fields
    }
}
