import Foundation
import KubeWatch
import Reconciler

/// What `run` and `demo` run: the NimDeployment controller and its helpers.
enum OperatorAssembly {
    /// The controller, wired; nil (the reason logged) when a setting cannot be used.
    static func build(client: KubeClient, options: OperatorOptions, operatorNamespace: String, metrics: MetricsRegistry) async -> (NimOperator, Manager.Parts)? {
        let log = Logger(name: "setup")
        let catalog: ObjectKey
        if let configured = options.catalog {
            let parts = configured.split(separator: "/").map(String.init)
            catalog = ObjectKey(namespace: parts[0], name: parts[1])
        } else {
            catalog = ObjectKey(namespace: operatorNamespace, name: "nim-model-metadata")
        }
        let reconcilerOptions = ReconcilerOptions(
            catalog: catalog, disconnected: options.disconnected, disableKeyValidation: options.disableKeyValidation, region: options.region,
            keyRotationSettle: options.keyRotationSettle, migrateLegacy: options.migrateLegacy, defaultFSGroup: await fsGroup(options.nimFSGroup, client: client))
        guard let transport = ngcTransport(options, log: log) else { return nil }
        let ngc = NGCClient(baseURL: options.ngcAPIURL, timeout: options.ngcTimeout, transport: transport, metrics: metrics)
        let nim = NimOperator(
            client: client, namespaces: options.watchNamespaces, options: reconcilerOptions, ngc: ngc, concurrency: options.concurrency, metrics: metrics,
            syncPeriod: options.syncPeriod)
        let parts = Manager.Parts(informers: nim.informers, controllers: nim.controllers, background: nim.backgroundTasks)
        return (nim, parts)
    }

    /// The transport for NGC calls: the flags' proxy and extra CAs, else the environment's proxy
    /// and the system's CAs.
    static func ngcTransport(_ options: OperatorOptions, log: Logger) -> CurlTransport? {
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
            log.info("NGC calls", ["proxy": .string(proxy.httpsProxy ?? "none"), "noProxy": .string(proxy.noProxy.joined(separator: ",")), "extraCA": .string(options.ngcCABundle ?? "none")])
        }
        return CurlTransport(tls: tls, proxy: proxy)
    }

    /// `auto`: OpenShift's restricted-v2 SCC assigns every pod an fsGroup from the namespace's
    /// range and refuses another, so none there; elsewhere the cache claim is writable only with
    /// one (NIM images run as user 1000). OpenShift is told by the SCC API being served.
    static func fsGroup(_ choice: OperatorOptions.FSGroupChoice, client: KubeClient) async -> Int? {
        let log = Logger(name: "setup")
        switch choice {
        case .none: return nil
        case .group(let group): return group
        case .auto:
            do {
                if try await client.serves(groupVersion: "security.openshift.io/v1") {
                    log.info("OpenShift: the predictor pods get no fixed fsGroup (restricted-v2 assigns one)")
                    return nil
                }
            } catch {
                log.warn("cannot tell whether this is OpenShift; the predictor pods get fsGroup \(ReconcilerOptions.plainKubernetesFSGroup)", ["error": .string(error.description)])
            }
            return ReconcilerOptions.plainKubernetesFSGroup
        }
    }
}
