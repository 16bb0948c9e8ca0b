import KubeCore
import NimDeployManager
import Reconciler

/// `template`: the OpenShift Templates Open Data Hub's dashboard processes to make a NIM
/// ServingRuntime, from the operator's own runtime code (config/openshift and the chart carry
/// what this prints).
enum TemplateCommand {
    struct Options: Sendable {
        var protocols: [NimDeployment.ServingProtocol] = [.http, .grpc]
        var namespace: String?
    }

    static let valueFlags: Set<String> = ["protocol", "namespace"]
    static let switchFlags: Set<String> = ["help"]

    static func options(_ arguments: Arguments) throws(Arguments.UsageError) -> Options {
        var options = Options()
        if let choice = arguments.value("protocol") {
            switch choice {
            case "all": break
            case "http": options.protocols = [.http]
            case "grpc": options.protocols = [.grpc]
            default: throw Arguments.UsageError(message: "--protocol must be http, grpc or all, not \"\(choice)\"")
            }
        }
        options.namespace = arguments.value("namespace")
        return options
    }

    /// The Templates as one YAML stream, as config/openshift holds them.
    static func yaml(_ options: Options) -> String {
        let documents = options.protocols.map { serving -> JSON in
            var template = DashboardTemplate.template(serving)
            if let namespace = options.namespace { template[path: ["metadata", "namespace"]] = .string(namespace) }
            return template.body
        }
        return YAML.emitAll(documents)
    }

    static func execute(_ options: Options) async -> Int32 {
        StandardStreams.write(yaml(options), to: .output)
        return 0
    }
}
