import Foundation
import Synchronization
import KubeCore
import KubeAPI
import LocalControlPlane

/// A local control plane on a free port and a client for it, for one test.
public final class TestCluster: Sendable {
    public let controlPlane: LocalControlPlane
    public let client: KubeClient

    public init(options: LocalControlPlane.Options = LocalControlPlane.Options()) throws {
        controlPlane = LocalControlPlane(options: options)
        let url = try controlPlane.start()
        var configuration = ClientConfiguration(server: url, source: "test")
        // Told apart from the operator's requests in the control plane's statistics.
        configuration.userAgent = "test-user"
        client = KubeClient(configuration: configuration)
    }

    deinit { controlPlane.stop() }

    /// Writes this cluster's kubeconfig to a temporary file and returns its path.
    public func writeKubeconfig(namespace: String = "default") throws -> String {
        let path = NSTemporaryDirectory() + "kubeconfig-\(UUID().uuidString)"
        try controlPlane.kubeconfig(namespace: namespace).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    public func createNamespace(_ name: String) async throws {
        _ = try await client.create(KubeObject(apiVersion: "v1", kind: "Namespace", namespace: nil, name: name), .namespaces)
    }
}

public struct DeadlineExceeded: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Waits until `condition` holds, checking every 20 ms, or fails after `timeout`. Tests wait on
/// what they can observe, never on a fixed sleep.
public func eventually(
    timeout: TimeInterval = 10, _ what: String = "condition", sourceLocation: String = #fileID + ":" + String(#line),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try await condition() { return }
        if Date() > deadline { throw DeadlineExceeded(description: "\(what) not reached within \(timeout) s (\(sourceLocation))") }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
}

/// Paths to the repository and to ../shared, found from this file.
public enum Paths {
    public static let repository: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// The workplace's shared material (recorded API exchanges, KServe CRDs, NGC answers):
    /// `$NIMDEPLOY_SHARED`, else `../shared` beside this repository, else beside the repository
    /// this one was cloned from (CI clones into a temporary directory), else `/work/shared`.
    public static let shared: URL = {
        var candidates: [String] = []
        if let configured = ProcessInfo.processInfo.environment["NIMDEPLOY_SHARED"] { candidates.append(configured) }
        candidates.append(repository.deletingLastPathComponent().appendingPathComponent("shared").path)
        if let origin = originDirectory() { candidates.append(URL(fileURLWithPath: origin).deletingLastPathComponent().appendingPathComponent("shared").path) }
        candidates.append("/work/shared")
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate + "/kube-wire") {
            return URL(fileURLWithPath: candidate)
        }
        FileHandle.standardError.write(Data("tests: the shared material (kube-wire, crds, ngc) was not found in \(candidates); set NIMDEPLOY_SHARED\n".utf8))
        return URL(fileURLWithPath: candidates.last ?? "/work/shared")
    }()

    /// Where `origin` points, when it is a directory on this machine.
    static func originDirectory() -> String? {
        guard let config = try? String(contentsOf: repository.appendingPathComponent(".git/config"), encoding: .utf8) else { return nil }
        var inOrigin = false
        for line in config.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("[") { inOrigin = line == "[remote \"origin\"]" }
            if inOrigin, line.hasPrefix("url = ") {
                let url = String(line.dropFirst("url = ".count))
                let path = url.hasPrefix("file://") ? String(url.dropFirst("file://".count)) : url
                return path.hasPrefix("/") ? path : nil
            }
        }
        return nil
    }

    /// The built `nim-deploy-operator`, next to the test bundle (the test target depends on it).
    public static var operatorBinary: String { built("nim-deploy-operator") }

    /// The built `nim-deploy-demo`.
    public static var demoBinary: String { built("nim-deploy-demo") }

    static func built(_ name: String) -> String {
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL { candidates.append(executable.deletingLastPathComponent()) }
        candidates.append(URL(fileURLWithPath: Bundle.main.bundlePath).deletingLastPathComponent())
        candidates.append(repository.appendingPathComponent(".build/debug"))
        for directory in candidates {
            let path = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return repository.appendingPathComponent(".build/debug/\(name)").path
    }
}

/// A value tests share between tasks.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public var value: Value { mutex.withLock { $0 } }
    public func update<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

/// Runs `body` with every log line it and the tasks it starts write, debug included, kept for
/// assertions (`Logger.sink.captured()`); tests running meanwhile log into their own.
public func capturingLogs<T>(_ body: () async throws -> T) async rethrows -> T {
    try await Logger.$sink.withValue(Logger.Sink(level: .debug, capturing: true, echo: false)) { try await body() }
}

/// RBAC objects the metrics tests grant with.
public enum MetricsRBAC {
    /// A ClusterRole allowing `get /metrics`.
    public static func readerRole(_ name: String) -> JSON {
        ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": ["name": .string(name)],
         "rules": [["nonResourceURLs": ["/metrics"], "verbs": ["get"]]]]
    }

    /// A ClusterRoleBinding of `role` to the service account.
    public static func binding(_ name: String, role: String, namespace: String, account: String) -> JSON {
        ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": ["name": .string(name)],
         "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(role)],
         "subjects": [["kind": "ServiceAccount", "name": .string(account), "namespace": .string(namespace)]]]
    }
}
