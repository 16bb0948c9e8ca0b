import Foundation
import KubeCore

/// `nim-deploy-operator run` as its own process against a test environment: what is killed,
/// restarted and raced in this suite.
public final class OperatorProcess: Sendable {
    public let command: BackgroundCommand

    /// - Parameter ngcAPIURL: where NGC is; the stand-in's address by default.
    public init(env: NimEnvironment, _ extra: [String] = [], ngcAPIURL: String? = nil) throws {
        let kubeconfig = try env.cluster.writeKubeconfig()
        command = BackgroundCommand([
            Paths.operatorBinary, "run", "--kubeconfig", kubeconfig, "--namespace", NimEnvironment.operatorNamespace,
            "--ngc-api-url", ngcAPIURL ?? env.ngc.baseURL, "--key-rotation-settle", "0", "--health-probe-bind-address", "0",
            "--metrics-bind-address", "0", "--log-level", "info",
        ] + extra)
        try command.start()
    }

    public var log: String { command.stderr }
    public var isRunning: Bool { command.isRunning }

    /// SIGKILL: no cleanup, no Lease release, requests cut wherever they were.
    public func kill() { command.kill() }

    /// SIGTERM and the exit status.
    public func stop() async -> CommandResult {
        command.terminate()
        return await command.wait(timeout: 45)
    }

    /// The identity it campaigns for the Lease with (from its log).
    public func identity() async throws -> String {
        var found: String?
        try await eventually(timeout: 30, "the operator logs its identity") {
            found = self.log.split(separator: "\n").lazy.compactMap { try? JSON(parsing: String($0)) }
                .first { $0["msg"] == "waiting for the lease" }?["identity"]?.stringValue
            return found != nil
        }
        return found ?? ""
    }

    /// Log lines at error level or worse, and any sign of a crash.
    public var troubles: [String] {
        log.split(separator: "\n").map(String.init).filter { line in
            line.contains("Fatal error") || line.contains("fatalError") || line.contains("\"level\":\"fatal\"")
        }
    }
}
