import Foundation
import KubeCore
import NimDeployManager

/// The entry point: parse, dispatch, exit with the command's status (0 done, 1 failed, 2 usage;
/// `migrate` and `catalog` also 3: something needs a person).
func main(_ arguments: [String]) async -> Int32 {
    if arguments.first == "--version" || arguments.first == "-v" {
        StandardStreams.say(NimDeployVersion.description)
        return 0
    }
    let command = arguments.first { !$0.hasPrefix("-") } ?? "help"
    let rest = Array(arguments.drop { $0 != command }.dropFirst())
    do {
        switch command {
        case "run":
            return try await subcommand(rest, OperatorOptions.valueFlags, OperatorOptions.switchFlags, usage: Usage.run,
                                        parse: OperatorOptions.init, execute: RunCommand.execute)
        case "demo":
            throw Arguments.UsageError(message: "the demo is its own program: nim-deploy-demo \(rest.joined(separator: " ")) (scripts/demo builds and runs it)")
        case "migrate":
            return try await subcommand(rest, MigrateCommand.valueFlags, MigrateCommand.switchFlags, usage: Usage.migrate,
                                        parse: MigrateCommand.options, execute: MigrateCommand.execute)
        case "catalog":
            return try await CatalogCommand.main(rest)
        case "airgap":
            return try await subcommand(rest, AirGapCommand.valueFlags, AirGapCommand.switchFlags, usage: Usage.airgap,
                                        parse: AirGapCommand.options, execute: AirGapCommand.execute)
        case "template":
            return try await subcommand(rest, TemplateCommand.valueFlags, TemplateCommand.switchFlags, usage: Usage.template,
                                        parse: TemplateCommand.options, execute: TemplateCommand.execute)
        case "version":
            StandardStreams.say(NimDeployVersion.description)
            return 0
        case "help":
            switch rest.first {
            case "run": return help(Usage.run)
            case "migrate": return help(Usage.migrate)
            case "catalog": return help(Usage.catalog)
            case "version": return help(Usage.version)
            case "template": return help(Usage.template)
            case "airgap": return help(Usage.airgap)
            case nil: return help(Usage.main)
            case let topic?: throw Arguments.UsageError(message: "no help for \"\(topic)\"" + Arguments.suggestion(Substring(topic), among: commands))
            }
        default:
            if arguments.contains("--help") || arguments.contains("-h") { return help(Usage.main) }
            throw Arguments.UsageError(message: "unknown command \"\(command)\"" + Arguments.suggestion(Substring(command), among: commands))
        }
    } catch {
        StandardStreams.write("nim-deploy-operator: \(error)\nRun 'nim-deploy-operator --help' for usage.\n", to: .error)
        return 2
    }
}

let commands: Set<String> = ["run", "migrate", "catalog", "airgap", "template", "version", "help"]

MallocArenas.limit(to: 2)
exit(await main(Array(CommandLine.arguments.dropFirst())))
