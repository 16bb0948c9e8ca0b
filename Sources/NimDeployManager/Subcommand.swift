import Foundation
import KubeCore

/// Parses a command's flags (`--help` prints its usage) and runs it until done or signalled.
public func subcommand<Options: Sendable>(
    _ rest: [String], _ valueFlags: Set<String>, _ switchFlags: Set<String>, usage: String,
    parse: (Arguments) throws -> Options, execute: @escaping @Sendable (Options) async -> Int32
) async throws -> Int32 {
    let parsed = try Arguments(rest, valueFlags: valueFlags, switchFlags: switchFlags)
    if parsed.flag("help") { return help(usage) }
    try rejectPositional(parsed)
    let options = try parse(parsed)
    return await runCancellable { await execute(options) }
}

public func help(_ text: String) -> Int32 {
    StandardStreams.say(text)
    return 0
}

public func rejectPositional(_ arguments: Arguments) throws(Arguments.UsageError) {
    if let extra = arguments.positional.first { throw Arguments.UsageError(message: "unexpected argument \"\(extra)\"") }
}

/// Runs a command in a task that SIGTERM and SIGINT cancel.
public func runCancellable(_ body: @escaping @Sendable () async -> Int32) async -> Int32 {
    let task = Task { await body() }
    let handler = SignalHandler(cancelling: task)
    let status = await task.value
    withExtendedLifetime(handler) {}
    return status
}
