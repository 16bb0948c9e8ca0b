import KubeWatch
import Reconciler

/// What `run` and `demo` run: the NimDeployment controller and its helpers.
enum OperatorAssembly {
    static func build(client: KubeClient, options: OperatorOptions, operatorNamespace: String, metrics: MetricsRegistry) -> (NimOperator, Manager.Parts) {
        let catalog: ObjectKey
        if let configured = options.catalog {
            let parts = configured.split(separator: "/").map(String.init)
            catalog = ObjectKey(namespace: parts[0], name: parts[1])
        } else {
            catalog = ObjectKey(namespace: operatorNamespace, name: "nim-model-metadata")
        }
        let reconcilerOptions = ReconcilerOptions(
            catalog: catalog, disconnected: options.disconnected, disableKeyValidation: options.disableKeyValidation, region: options.region,
            keyRotationSettle: options.keyRotationSettle, migrateLegacy: options.migrateLegacy)
        let ngc = NGCClient(baseURL: options.ngcAPIURL, timeout: options.ngcTimeout, metrics: metrics)
        let nim = NimOperator(
            client: client, namespaces: options.watchNamespaces, options: reconcilerOptions, ngc: ngc, concurrency: options.concurrency, metrics: metrics,
            syncPeriod: options.syncPeriod)
        let parts = Manager.Parts(informers: nim.informers, controllers: nim.controllers, background: nim.backgroundTasks)
        return (nim, parts)
    }
}
