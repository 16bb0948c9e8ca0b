import Foundation
import Synchronization
import KubeCore

/// A kubeconfig `exec` credential plugin (`client.authentication.k8s.io/v1` or `v1beta1`): runs
/// the command, reads an `ExecCredential` from its output, caches the token until it expires or
/// the server rejects it. Only tokens are supported; a plugin that returns a client
/// certificate gets a clear error.
public final class ExecCredentialPlugin: Sendable {
    let command: String
    let arguments: [String]
    let environment: [String: String]
    let apiVersion: String
    let installHint: String?
    private let cache = Mutex<(token: String, expires: Date?)?>(nil)

    init(_ exec: JSON, directory: String, what: String) throws(ConfigError) {
        guard let command = exec["command"]?.stringValue, !command.isEmpty else {
            throw ConfigError("\(what): exec plugin has no command")
        }
        // A command with a slash is a path, relative to the kubeconfig (client-go's rule).
        self.command = command.contains("/") ? KubeConfigLoader.absolute(command, directory: directory) : command
        arguments = exec["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var environment: [String: String] = [:]
        for variable in exec["env"]?.arrayValue ?? [] {
            if let name = variable["name"]?.stringValue { environment[name] = variable["value"]?.stringValue ?? "" }
        }
        self.environment = environment
        apiVersion = exec["apiVersion"]?.stringValue ?? "client.authentication.k8s.io/v1"
        installHint = exec["installHint"]?.stringValue
    }

    func token(forceRefresh: Bool) async throws(ConfigError) -> String {
        if !forceRefresh, let cached = cache.withLock({ $0 }), cached.expires.map({ $0 > Date().addingTimeInterval(10) }) ?? true {
            return cached.token
        }
        let output = try run()
        let credential: JSON
        do { credential = try JSON(parsing: output) } catch {
            throw ConfigError("exec plugin \(command) printed something that is not an ExecCredential: \(error)")
        }
        guard let token = credential[path: ["status", "token"]]?.stringValue, !token.isEmpty else {
            if credential[path: ["status", "clientCertificateData"]] != nil {
                throw ConfigError("exec plugin \(command) returned a client certificate; only token credentials are supported")
            }
            throw ConfigError("exec plugin \(command) returned no status.token")
        }
        let expires = credential[path: ["status", "expirationTimestamp"]]?.stringValue.flatMap(KubeTime.parse)
        cache.withLock { $0 = (token, expires) }
        return token
    }

    private func run() throws(ConfigError) -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        var environment = ProcessInfo.processInfo.environment.merging(self.environment) { _, new in new }
        let info: JSON = ["apiVersion": .string(apiVersion), "kind": "ExecCredential", "spec": ["interactive": false]]
        environment["KUBERNETES_EXEC_INFO"] = info.serialized()
        process.environment = environment
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        do { try process.run() } catch {
            throw ConfigError("cannot run exec plugin \(command): \(error.localizedDescription)" + (installHint.map { ". \($0)" } ?? ""))
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw ConfigError("exec plugin \(command) exited with \(process.terminationStatus): \(message)")
        }
        return [UInt8](output)
    }
}
