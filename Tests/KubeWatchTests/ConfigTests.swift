import Foundation
import Testing
import KubeCore
import KubeAPI
import TestSupport

/// kubeconfig files as users have them, one per auth style, and their mistakes.
@Suite struct ConfigTests {
    let directory: URL

    init() throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("kubeconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func config(user: String, cluster: String = "server: https://example.test:6443", extra: String = "") -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: main
        clusters:
        - name: c
          cluster:
            \(cluster)
        users:
        - name: u
          user:
        \(user.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        contexts:
        - name: main
          context: {cluster: c, user: u, namespace: team-a}
        - name: other
          context: {cluster: c, user: u}
        \(extra)
        """
    }

    func authorization(_ configuration: ClientConfiguration) async throws -> String? {
        try await configuration.credentials.authorization()
    }

    @Test func bearerTokenAndContextNamespace() async throws {
        let path = try write("token", config(user: "token: abc123"))
        let configuration = try ClientConfiguration.resolve(kubeconfig: path, environment: [:])
        #expect(configuration.server == "https://example.test:6443")
        #expect(configuration.namespace == "team-a")
        #expect(try await authorization(configuration) == "Bearer abc123")
        let other = try ClientConfiguration.resolve(kubeconfig: path, context: "other", environment: [:])
        #expect(other.namespace == "default")
    }

    @Test func tokenFileIsReadRelativeToTheKubeconfigAndReRead() async throws {
        _ = try write("sa-token", "first\n")
        let path = try write("tokenfile", config(user: "tokenFile: sa-token"))
        let configuration = try ClientConfiguration.resolve(kubeconfig: path, environment: [:])
        #expect(try await authorization(configuration) == "Bearer first")
        _ = try write("sa-token", "rotated")
        // Cached within the minute, read again when forced (what a 401 does).
        #expect(try await configuration.credentials.authorization() == "Bearer first")
        #expect(try await configuration.credentials.authorization(forceRefresh: true) == "Bearer rotated")
    }

    @Test func basicAuth() async throws {
        let path = try write("basic", config(user: "username: admin\npassword: s3cret"))
        let configuration = try ClientConfiguration.resolve(kubeconfig: path, environment: [:])
        #expect(try await authorization(configuration) == "Basic " + Data("admin:s3cret".utf8).base64EncodedString())
    }

    @Test func certificateDataAndFiles() throws {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        let encoded = Data(pem.utf8).base64EncodedString()
        let inline = try write(
            "certdata",
            config(
                user: "client-certificate-data: \(encoded)\nclient-key-data: \(encoded)",
                cluster: "server: https://example.test:6443\n    certificate-authority-data: \(encoded)"))
        let fromData = try ClientConfiguration.resolve(kubeconfig: inline, environment: [:])
        #expect(fromData.tls.certificateAuthority == Array(pem.utf8))
        #expect(fromData.tls.clientCertificate == Array(pem.utf8))
        #expect(fromData.tls.clientKey == Array(pem.utf8))
        _ = try write("ca.crt", pem)
        _ = try write("client.crt", pem)
        _ = try write("client.key", pem)
        let files = try write(
            "certfiles",
            config(user: "client-certificate: client.crt\nclient-key: client.key", cluster: "server: https://example.test:6443\n    certificate-authority: ca.crt"))
        let fromFiles = try ClientConfiguration.resolve(kubeconfig: files, environment: [:])
        #expect(fromFiles.tls.certificateAuthority == Array(pem.utf8))
        #expect(fromFiles.tls.clientKey == Array(pem.utf8))
    }

    @Test func insecureSkipTLSVerify() throws {
        let path = try write("insecure", config(user: "token: t", cluster: "server: https://example.test:6443\n    insecure-skip-tls-verify: true"))
        #expect(try ClientConfiguration.resolve(kubeconfig: path, environment: [:]).tls.insecureSkipVerify)
    }

    @Test func execPluginTokenAndItsErrors() async throws {
        let script = try write("plugin.sh", """
            #!/bin/sh
            test -n "$KUBERNETES_EXEC_INFO" || exit 3
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin-'"$SUFFIX"'"}}'
            """)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let path = try write(
            "exec", config(user: "exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: ./plugin.sh\n  env: [{name: SUFFIX, value: x}]\n  interactiveMode: Never"))
        let configuration = try ClientConfiguration.resolve(kubeconfig: path, environment: [:])
        #expect(try await authorization(configuration) == "Bearer from-plugin-x")
        let broken = try write("broken", config(user: "exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: /nonexistent/plugin\n  installHint: install it"))
        let failing = try ClientConfiguration.resolve(kubeconfig: broken, environment: [:])
        await #expect(throws: ConfigError.self) { _ = try await failing.credentials.authorization() }
    }

    @Test func kubeconfigListMergesFirstWins() throws {
        let first = try write("first", """
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "https://first.test"}}]
            users: [{name: u, user: {token: first}}]
            contexts: [{name: main, context: {cluster: c, user: u}}]
            """)
        let second = try write("second", """
            apiVersion: v1
            kind: Config
            current-context: main
            clusters: [{name: c, cluster: {server: "https://second.test"}}, {name: d, cluster: {server: "https://d.test"}}]
            users: [{name: u, user: {token: second}}]
            contexts: [{name: main, context: {cluster: c, user: u}}, {name: dee, context: {cluster: d, user: u}}]
            """)
        let environment = ["KUBECONFIG": "\(first):\(directory.path)/missing:\(second)"]
        let merged = try ClientConfiguration.resolve(environment: environment)
        #expect(merged.server == "https://first.test", "the first file to define a cluster wins")
        let other = try ClientConfiguration.resolve(context: "dee", environment: environment)
        #expect(other.server == "https://d.test", "contexts from later files are still there")
    }

    @Test(arguments: [
        ("missing", "cannot read kubeconfig"),
        ("badyaml", "is not valid YAML"),
        ("nocontext", "has no current-context"),
        ("wrongcontext", "context \"nope\" not found"),
        ("nocluster", "cluster \"ghost\" of context \"main\" not found"),
        ("badserver", "must start with https:// or http://"),
        ("halfcert", "client certificate without a key"),
    ])
    func clearErrors(_ name: String, _ expected: String) throws {
        let texts = [
            "badyaml": "clusters: [\n  - {name: c",
            "nocontext": "apiVersion: v1\nkind: Config\ncontexts: [{name: a, context: {cluster: c}}]\n",
            "wrongcontext": "apiVersion: v1\nkind: Config\ncurrent-context: nope\ncontexts: [{name: a, context: {cluster: c}}]\n",
            "nocluster": "apiVersion: v1\nkind: Config\ncurrent-context: main\ncontexts: [{name: main, context: {cluster: ghost}}]\n",
            "badserver": config(user: "token: t", cluster: "server: example.test:6443"),
            "halfcert": config(user: "client-certificate-data: \(Data("x".utf8).base64EncodedString())"),
        ]
        let path = try texts[name].map { try write(name, $0) } ?? directory.appendingPathComponent(name).path
        do {
            _ = try ClientConfiguration.resolve(kubeconfig: path, environment: [:])
            Issue.record("expected an error for \(name)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func inClusterServiceAccount() async throws {
        let mount = directory.appendingPathComponent("serviceaccount")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        try "token-1".write(to: mount.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try "-----BEGIN CERTIFICATE-----\n".write(to: mount.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        try "operators\n".write(to: mount.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
        let environment = ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"]
        let configuration = try ClientConfiguration.resolve(environment: environment, inCluster: InClusterConfig(mountPath: mount.path))
        #expect(configuration.server == "https://[fd00::1]")
        #expect(configuration.namespace == "operators")
        #expect(try await authorization(configuration) == "Bearer token-1")
        try "token-2".write(to: mount.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        #expect(try await configuration.credentials.authorization(forceRefresh: true) == "Bearer token-2", "a rotated token is picked up")
        #expect(!InClusterConfig(mountPath: mount.path).isAvailable(environment: [:]), "outside a pod it does not apply")
    }
}
