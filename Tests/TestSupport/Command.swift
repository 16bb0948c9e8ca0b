import Foundation
import Synchronization
import KubeCore

/// A program run by a test: its exit status and everything it printed.
public struct CommandResult: Sendable, CustomStringConvertible {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

/// Runs a program found on PATH and waits for it, killing it after `timeout`.
/// `environment` is added to this process's; `unset` names variables the program must not see.
public func run(
    _ arguments: [String], environment: [String: String] = [:], unset: Set<String> = [], input: String? = nil, timeout: TimeInterval = 60
) async throws -> CommandResult {
    let slot = await Slots.commands.acquire()
    defer { withExtendedLifetime(slot) {} }
    let command = BackgroundCommand(arguments, environment: environment, unset: unset, input: input)
    try command.start()
    return await command.wait(timeout: timeout)
}

/// A program running beside the test; its output can be read while it runs.
public final class BackgroundCommand: Sendable {
    private let process = Process()
    private final class Output: Sendable {
        let text = Mutex<(stdout: String, stderr: String)>(("", ""))
        /// Output pipes not yet read to their end.
        let openPipes = Mutex(2)
    }

    private let output = Output()
    private let arguments: [String]
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    /// Written once the program runs, from another thread: more than a pipe holds (64 KiB)
    /// written before would block forever.
    private let input: (pipe: Pipe, data: Data)?

    public init(_ arguments: [String], environment: [String: String] = [:], unset: Set<String> = [], input: String? = nil) {
        self.arguments = arguments
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.filter { !unset.contains($0.key) }
        let stdout = stdoutPipe
        let stderr = stderrPipe
        process.standardOutput = stdout
        process.standardError = stderr
        if let input {
            let stdin = Pipe()
            process.standardInput = stdin
            self.input = (stdin, Data(input.utf8))
        } else {
            self.input = nil
            process.standardInput = FileHandle.nullDevice
        }
    }

    /// A program outlives no test: whatever a test forgot to stop goes with its BackgroundCommand.
    deinit { kill() }

    public func start() throws {
        do { try process.run() } catch {
            throw DeadlineExceeded(description: "cannot run \(arguments.joined(separator: " ")): \(error.localizedDescription)")
        }
        // A blocking reader thread per pipe, to the end: no dispatch sources, whose handlers
        // outliving their pipes crash libdispatch once file descriptors are reused.
        for (pipe, isError) in [(stdoutPipe, false), (stderrPipe, true)] {
            Thread.detachNewThread { [output] in
                let handle = pipe.fileHandleForReading
                // availableData returns what one read gives (empty at the end); read(upToCount:)
                // would wait for the whole count.
                while case let data = handle.availableData, !data.isEmpty {
                    let text = String(decoding: data, as: UTF8.self)
                    output.text.withLock { if isError { $0.stderr += text } else { $0.stdout += text } }
                }
                output.openPipes.withLock { $0 -= 1 }
            }
        }
        if let input {
            Thread.detachNewThread {
                input.pipe.fileHandleForWriting.write(input.data)
                try? input.pipe.fileHandleForWriting.close()
            }
        }
    }

    public var stdout: String { output.text.withLock { $0.stdout } }
    public var stderr: String { output.text.withLock { $0.stderr } }
    public var isRunning: Bool { process.isRunning }
    public var processIdentifier: Int32 { process.processIdentifier }

    public func terminate() { if process.isRunning { process.terminate() } }

    public func kill() { if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) } }

    /// Waits for the exit (or kills the program after `timeout`) and returns what it printed.
    public func wait(timeout: TimeInterval) async -> CommandResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        if process.isRunning {
            process.terminate()
        }
        process.waitUntilExit()
        // The readers finish once the program and anything it started have closed the pipes.
        let drained = Date().addingTimeInterval(10)
        while output.openPipes.withLock({ $0 > 0 }) && Date() < drained {
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        return output.text.withLock {
            CommandResult(status: process.terminationStatus, stdout: $0.stdout, stderr: $0.stderr)
        }
    }
}

extension BackgroundCommand {
    /// The operator's "serving probes and metrics" log line (its free ports, its metrics auth),
    /// once it has written it.
    public func servingLine(timeout: TimeInterval = 30) async throws -> JSON {
        var line: JSON?
        try await eventually(timeout: timeout, "the operator says where it serves") {
            line = stderr.split(separator: "\n").compactMap { try? JSON(parsing: String($0)) }.first { $0["msg"] == "serving probes and metrics" }
            return line != nil
        }
        return line ?? [:]
    }
}
