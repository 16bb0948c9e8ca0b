import Foundation
import KubeCore
import KubeAPI
import Reconciler

/// What `run` and `demo` run: the NimDeployment controller and its helpers.
public enum OperatorAssembly {
    /// The controller, wired; nil (the reason logged) when a setting cannot be used.
    public static func build(client: KubeClient, options: OperatorOptions, operatorNamespace: String, metrics: MetricsRegistry) async -> (NimOperator, Manager.Parts)? {
        let log = Logger(name: "setup")
        let catalog: ObjectKey
        if let configured = options.catalog {
            let parts = configured.split(separator: "/").map(String.init)
            catalog = ObjectKey(namespace: parts[0], name: parts[1])
        } else {
            catalog = ObjectKey(namespace: operatorNamespace, name: "nim-model-metadata")
        }
        guard let fsGroup = await fsGroup(options.nimFSGroup, client: client, log: log) else { return nil }
        var reconcilerOptions = ReconcilerOptions(
            catalog: catalog, disconnected: options.disconnected, disableKeyValidation: options.disableKeyValidation, region: options.region,
            keyRotationSettle: options.keyRotationSettle, migrateLegacy: options.migrateLegacy, defaultFSGroup: fsGroup.group,
            registryMirrors: options.registryMirrors, mirrorPullSecret: options.mirrorPullSecret)
        reconcilerOptions.operatorNamespace = operatorNamespace
        reconcilerOptions.podMonitorLabels = options.podMonitorLabels
        reconcilerOptions.gatewayAPI = await serves(
            "gateway.networking.k8s.io/v1", client: client, log: log,
            yes: "Gateway API served: progressive rollouts in RawDeployment mode use a weighted HTTPRoute",
            no: "no Gateway API: progressive rollouts in RawDeployment mode roll in place")
        if options.podMonitors {
            reconcilerOptions.podMonitors = await serves(
                "monitoring.coreos.com/v1", client: client, log: log,
                yes: "Prometheus Operator served: each NimDeployment gets a PodMonitor for its NIM's metrics",
                no: "no Prometheus Operator: no PodMonitors")
        }
        guard let transport = ngcTransport(options, log: log) else { return nil }
        let ngc = NGCClient(baseURL: options.ngcAPIURL, timeout: options.ngcTimeout, transport: transport, metrics: metrics)
        let nim = NimOperator(
            client: client, namespaces: options.watchNamespaces, options: reconcilerOptions, ngc: ngc, concurrency: options.concurrency, metrics: metrics,
            syncPeriod: options.syncPeriod)
        let parts = Manager.Parts(informers: nim.informers, late: nim.lateInformers, controllers: nim.controllers, background: nim.backgroundTasks)
        return (nim, parts)
    }

    /// The transport for NGC calls: the flags' proxy and extra CAs, else the environment's proxy
    /// and the system's CAs.
    public static func ngcTransport(_ options: OperatorOptions, log: Logger) -> CurlTransport? {
        var proxy = ProxySettings.fromEnvironment()
        if let url = options.ngcProxy { proxy = ProxySettings(url: url, noProxy: options.ngcNoProxy ?? proxy.noProxy) }
        if let list = options.ngcNoProxy { proxy.noProxy = list }
        var tls = TLSOptions()
        if let path = options.ngcCABundle {
            guard let pem = FileManager.default.contents(atPath: path), String(decoding: pem, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
                log.error("--ngc-ca-bundle: not a readable PEM file", ["path": .string(path)])
                return nil
            }
            tls = TLSOptions.trusting(additional: Array(pem))
        }
        if proxy.httpsProxy != nil || options.ngcCABundle != nil {
            log.info("NGC calls", ["proxy": .string(proxy.httpsProxy.map(ProxySettings.redacted) ?? "none"), "noProxy": .string(proxy.noProxy.joined(separator: ",")), "extraCA": .string(options.ngcCABundle ?? "none")])
        }
        return CurlTransport(tls: tls, proxy: proxy)
    }

    /// Whether the cluster serves an optional API (the Gateway API, the Prometheus Operator's).
    /// Asked once at start (installing it later takes a restart); a discovery that fails counts
    /// as no, and what depends on it says so (condition ProgressiveRollout, no PodMonitors).
    static func serves(_ groupVersion: String, client: KubeClient, log: Logger, yes: String, no: String) async -> Bool {
        do {
            let served = try await client.serves(groupVersion: groupVersion)
            log.info(served ? yes : no)
            return served
        } catch {
            log.warn("cannot tell whether \(groupVersion) is served: taken as not", ["error": .string(error.description)])
            return false
        }
    }

    /// The NIM pods' fsGroup as decided (nil: none).
    public struct FSGroup { var group: Int? }

    /// `auto`: OpenShift's restricted-v2 SCC assigns every pod an fsGroup from the namespace's
    /// range and refuses another, so none there; elsewhere the cache claim is writable only with
    /// one (NIM images run as user 1000). OpenShift is told by the SCC API being served. Nil when
    /// discovery keeps failing: guessing would roll every NIM onto pods the platform may refuse,
    /// and roll them back at the next start, so the start fails (and is retried by the kubelet).
    public static func fsGroup(_ choice: OperatorOptions.FSGroupChoice, client: KubeClient, log: Logger) async -> FSGroup? {
        switch choice {
        case .none: return FSGroup(group: nil)
        case .group(let group): return FSGroup(group: group)
        case .auto:
            var lastError = ""
            for attempt in 0..<4 {
                if attempt > 0 { try? await Task.sleep(nanoseconds: UInt64(500_000_000) << UInt64(attempt - 1)) }
                do {
                    if try await client.serves(groupVersion: "security.openshift.io/v1") {
                        log.info("OpenShift: the predictor pods get no fixed fsGroup (restricted-v2 assigns one)")
                        return FSGroup(group: nil)
                    }
                    log.info("not OpenShift: the predictor pods get fsGroup \(ReconcilerOptions.plainKubernetesFSGroup) unless a spec sets one")
                    return FSGroup(group: ReconcilerOptions.plainKubernetesFSGroup)
                } catch {
                    lastError = error.description
                }
            }
            log.error("cannot tell whether this is OpenShift (--nim-fs-group auto); set --nim-fs-group none or a group id to start without asking", ["error": .string(lastError)])
            return nil
        }
    }
}
