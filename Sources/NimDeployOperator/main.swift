import Foundation
import KubeWatch

/// The entry point: parse, dispatch, exit with the command's status (0 done, 1 failed, 2 usage).
func main(_ arguments: [String]) async -> Int32 {
    let command = arguments.first { !$0.hasPrefix("-") } ?? "help"
    let rest = Array(arguments.drop { $0 != command }.dropFirst())
    do {
        switch command {
        case "run":
            let parsed = try Arguments(rest, valueFlags: OperatorOptions.valueFlags, switchFlags: OperatorOptions.switchFlags)
            if parsed.flag("help") { return help(Usage.run) }
            try rejectPositional(parsed)
            let options = try OperatorOptions(parsed)
            return await runCancellable { await RunCommand.execute(options) }
        case "demo":
            let parsed = try Arguments(rest, valueFlags: DemoCommand.valueFlags, switchFlags: DemoCommand.switchFlags)
            if parsed.flag("help") { return help(Usage.demo) }
            try rejectPositional(parsed)
            let options = try DemoCommand.options(parsed)
            return await runCancellable { await DemoCommand.execute(options) }
        case "version":
            print(NimDeployVersion.description)
            return 0
        case "help":
            switch rest.first {
            case "run": return help(Usage.run)
            case "demo": return help(Usage.demo)
            case "version": return help(Usage.version)
            default: return help(Usage.main)
            }
        default:
            if arguments.contains("--help") || arguments.contains("-h") { return help(Usage.main) }
            throw Arguments.UsageError(message: "unknown command \"\(command)\"")
        }
    } catch {
        FileHandle.standardError.write(Data("nim-deploy-operator: \(error)\nRun 'nim-deploy-operator --help' for usage.\n".utf8))
        return 2
    }
}

func help(_ text: String) -> Int32 {
    print(text)
    return 0
}

func rejectPositional(_ arguments: Arguments) throws(Arguments.UsageError) {
    if let extra = arguments.positional.first { throw Arguments.UsageError(message: "unexpected argument \"\(extra)\"") }
}

/// Runs a command in a task that SIGTERM and SIGINT cancel.
func runCancellable(_ body: @escaping @Sendable () async -> Int32) async -> Int32 {
    let task = Task { await body() }
    let handler = SignalHandler(cancelling: task)
    let status = await task.value
    withExtendedLifetime(handler) {}
    return status
}

exit(await main(Array(CommandLine.arguments.dropFirst())))
