import Foundation
import KubeWatch

/// `run`: the controller against a real cluster.
enum RunCommand {
    static func execute(_ options: OperatorOptions) async -> Int32 {
        Logger.sink.level = options.logLevel
        let log = Logger(name: "setup")
        let configuration: ClientConfiguration
        do {
            configuration = try ClientConfiguration.resolve(kubeconfig: options.kubeconfig, context: options.context)
        } catch {
            log.error("cannot load the Kubernetes configuration", ["error": .string(error.message)])
            return 1
        }
        let inCluster = configuration.source.hasPrefix("in-cluster")
        let operatorNamespace = options.namespace ?? (inCluster ? configuration.namespace : "nim-deploy-operator-system")
        log.info(
            "starting", ["version": .string(NimDeployVersion.current), "config": .string(configuration.source), "server": .string(configuration.server),
                         "namespace": .string(operatorNamespace)])
        let metrics = MetricsRegistry()
        let client = KubeClient(configuration: configuration, metrics: metrics)
        let probes: ProbeServer
        do {
            probes = try ProbeServer(metricsAddress: options.metricsBindAddress, healthAddress: options.healthProbeBindAddress, metrics: metrics)
            let ports = try probes.start()
            var serving: [String: JSON] = [:]
            for (role, port) in zip(probes.roles, ports) { serving[role] = .int(Int(port)) }
            log.info("serving probes and metrics", serving)
        } catch {
            log.error("cannot serve probes and metrics", ["error": .string(error.message)])
            return 1
        }
        defer { probes.stop() }
        let parts = OperatorAssembly.parts(client: client, options: options, operatorNamespace: operatorNamespace, metrics: metrics)
        let manager = Manager(client: client, options: options, operatorNamespace: operatorNamespace, probes: probes)
        switch await manager.run(parts) {
        case .stopped:
            log.info("stopped")
            return 0
        case .leadershipLost:
            return 1
        }
    }
}
