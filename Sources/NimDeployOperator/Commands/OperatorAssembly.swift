import KubeWatch

/// What the operator runs: its informers, controllers and helpers.
enum OperatorAssembly {
    static func parts(client: KubeClient, options: OperatorOptions, operatorNamespace: String, metrics: MetricsRegistry) -> Manager.Parts {
        let log = Logger(name: "namespaces")
        let namespaces = Informer(client: client, resource: .namespaces, onError: { error in
            log.warn("watch failed; retrying", ["error": .string(error.description)])
        })
        namespaces.addHandler { event in
            if case .added(let namespace) = event { log.debug("namespace seen", ["name": .string(namespace.name)]) }
        }
        return Manager.Parts(informers: [namespaces])
    }
}
