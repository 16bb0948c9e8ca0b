import Foundation
import KubeWatch
import TestSupport

/// `nim-deploy-operator run` as its own process against a test environment: what is killed,
/// restarted and raced in this suite.
final class OperatorProcess: Sendable {
    let command: BackgroundCommand

    init(env: NimEnvironment, _ extra: [String] = []) throws {
        let kubeconfig = try env.cluster.writeKubeconfig()
        command = BackgroundCommand([
            Paths.operatorBinary, "run", "--kubeconfig", kubeconfig, "--namespace", NimEnvironment.operatorNamespace,
            "--ngc-api-url", env.ngc.baseURL, "--key-rotation-settle", "0", "--health-probe-bind-address", "0",
            "--metrics-bind-address", "0", "--log-level", "info",
        ] + extra)
        try command.start()
    }

    var log: String { command.stderr }
    var isRunning: Bool { command.isRunning }

    /// SIGKILL: no cleanup, no Lease release, requests cut wherever they were.
    func kill() { command.kill() }

    /// SIGTERM and the exit status.
    func stop() async -> CommandResult {
        command.terminate()
        return await command.wait(timeout: 45)
    }

    /// The identity it campaigns for the Lease with (from its log).
    func identity() async throws -> String {
        var found: String?
        try await eventually(timeout: 30, "the operator logs its identity") {
            found = self.log.split(separator: "\n").lazy.compactMap { try? JSON(parsing: String($0)) }
                .first { $0["msg"] == "waiting for the lease" }?["identity"]?.stringValue
            return found != nil
        }
        return found ?? ""
    }

    /// Log lines at error level or worse, and any sign of a crash.
    var troubles: [String] {
        log.split(separator: "\n").map(String.init).filter { line in
            line.contains("Fatal error") || line.contains("fatalError") || line.contains("\"level\":\"fatal\"")
        }
    }
}
