import Dispatch
import Foundation
import KubeCore
import KubeAPI
import KubeRuntime
import NimDeployManager
import Reconciler

/// `run`: the controller against a real cluster.
enum RunCommand {
    static func execute(_ options: OperatorOptions) async -> Int32 {
        Logger.sink.level = options.logLevel
        let log = Logger(name: "setup")
        var configuration: ClientConfiguration
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
        configuration.dropsManagedFields = true
        let client = KubeClient(configuration: configuration, metrics: metrics)
        if let missing = await Preflight.missingKinds(client, namespace: options.watchNamespaces?.first) {
            log.error(
                "required kinds are not served: install their CRDs and start again",
                ["missing": .array(missing.map(JSON.string)),
                 "hint": "kubectl apply -k config/crd (NimDeployment); KServe provides ServingRuntime and InferenceService"])
            return 1
        }
        ProcessMetrics.register(in: metrics)
        metrics.gauge("nim_deploy_operator_build_info", help: "1, labelled with the operator's version and commit.", labels: ["version", "commit"])
            .set(1, [NimDeployVersion.current, BuildInfo.commit])
        let probes: ProbeServer
        do {
            let access = options.metricsAuth == .token ? DelegatedAuthorization(client: client) : nil
            probes = try ProbeServer(metricsAddress: options.metricsBindAddress, healthAddress: options.healthProbeBindAddress, metrics: metrics, access: access)
            let ports = try probes.start()
            var serving: [String: JSON] = [:]
            for (role, port) in zip(probes.roles, ports) { serving[role] = .int(Int(port)) }
            serving["metricsAuth"] = .string(options.metricsAuth.rawValue)
            log.info("serving probes and metrics", serving)
            let host = options.metricsBindAddress.split(separator: ":", omittingEmptySubsequences: false).dropLast().joined(separator: ":")
            if options.metricsAuth == .token, options.metricsBindAddress != "0", !(host.hasPrefix("127.") || host == "localhost") {
                log.warn(
                    "/metrics takes bearer tokens over plain HTTP on every interface: bind it to 127.0.0.1 behind the metrics-proxy (TLS), as config/ and the chart do",
                    ["address": .string(options.metricsBindAddress)])
            }
        } catch {
            log.error("cannot serve probes and metrics", ["error": .string(error.message)])
            return 1
        }
        defer { probes.stop() }
        guard let (nim, parts) = await OperatorAssembly.build(client: client, options: options, operatorNamespace: operatorNamespace, metrics: metrics) else { return 1 }
        // SIGHUP: reconcile every deployment once, now.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "sighup"))
        hangup.setEventHandler {
            log.info("SIGHUP: reconciling every deployment")
            nim.resyncAll()
        }
        hangup.resume()
        defer { hangup.cancel() }
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

/// What must exist before the controller can do anything: without these kinds its caches can
/// never sync. Checked once at start, as controller-rs does, so a missing CRD is a clear
/// failure (and a restart loop until it is installed) rather than a pod that is never ready.
enum Preflight {
    static func missingKinds(_ client: KubeClient, namespace: String?) async -> [String]? {
        var missing: [String] = []
        for resource in [NimDeployment.resource, KServe.servingRuntimes, KServe.inferenceServices] {
            do {
                _ = try await client.list(resource, namespace: namespace, options: ListOptions(limit: 1))
            } catch {
                if error.isNotFound { missing.append(resource.groupResource) }
            }
        }
        return missing.isEmpty ? nil : missing
    }
}
