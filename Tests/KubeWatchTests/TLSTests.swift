import Foundation
import Testing
import KubeAPI
import TestSupport

/// The libcurl transport over real TLS: a proxy that demands a client certificate, in front
/// of the local control plane. Certificates are made with openssl for each run.
@Suite(.serialized) struct TLSTests {
    let cluster: TestCluster
    let directory: String
    let proxy: BackgroundCommand
    let url: String

    init() async throws {
        cluster = try TestCluster()
        directory = NSTemporaryDirectory() + "tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = """
            set -e
            cd "\(directory)"
            key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
            key ca.key; openssl req -x509 -new -key ca.key -out ca.crt -days 1 -subj /CN=test-ca 2>/dev/null
            key other.key; openssl req -x509 -new -key other.key -out other.crt -days 1 -subj /CN=other-ca 2>/dev/null
            key server.key; openssl req -new -key server.key -out server.csr -subj /CN=localhost 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile server.ext 2>/dev/null
            key client.key; openssl req -new -key client.key -out client.csr -subj /CN=operator 2>/dev/null
            printf 'extendedKeyUsage=clientAuth\\n' > client.ext
            openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 1 -extfile client.ext 2>/dev/null
            """
        let made = try await run(["sh", "-c", script])
        guard made.status == 0 else { throw DeadlineExceeded(description: "openssl failed: \(made)") }
        let port = cluster.controlPlane.baseURL.split(separator: ":").last.map(String.init) ?? "0"
        let fixture = Paths.repository.appendingPathComponent("Tests/KubeWatchTests/Fixtures/tls_proxy.py").path
        proxy = BackgroundCommand(["python3", fixture, "\(directory)/server.crt", "\(directory)/server.key", "\(directory)/ca.crt", port])
        try proxy.start()
        let proxy = self.proxy
        try await eventually("the TLS proxy prints its port") { !proxy.stdout.isEmpty }
        url = "https://127.0.0.1:\(proxy.stdout.trimmingCharacters(in: .whitespacesAndNewlines))"
    }

    func file(_ name: String) -> [UInt8] { Array(FileManager.default.contents(atPath: "\(directory)/\(name)") ?? Data()) }

    func client(_ tls: TLSOptions) -> KubeClient {
        KubeClient(configuration: ClientConfiguration(server: url, tls: tls, source: "tls test"))
    }

    @Test func mutualTLSWithInMemoryMaterial() async throws {
        defer { proxy.terminate() }
        let client = client(TLSOptions(certificateAuthority: file("ca.crt"), clientCertificate: file("client.crt"), clientKey: file("client.key")))
        let namespaces = try await client.list(.namespaces)
        #expect(namespaces.items.contains { $0.name == "default" })
    }

    @Test func kubeconfigWithCertificateFiles() async throws {
        defer { proxy.terminate() }
        let kubeconfig = """
            apiVersion: v1
            kind: Config
            current-context: tls
            clusters: [{name: tls, cluster: {server: "\(url)", certificate-authority: ca.crt}}]
            users: [{name: op, user: {client-certificate: client.crt, client-key: client.key}}]
            contexts: [{name: tls, context: {cluster: tls, user: op}}]
            """
        try kubeconfig.write(toFile: "\(directory)/kubeconfig", atomically: true, encoding: .utf8)
        let configuration = try ClientConfiguration.resolve(kubeconfig: "\(directory)/kubeconfig", environment: [:])
        let namespace = try await KubeClient(configuration: configuration).get(.namespaces, name: "default")
        #expect(namespace.name == "default")
    }

    @Test func refusedWithoutAClientCertificate() async throws {
        defer { proxy.terminate() }
        await #expect(throws: KubeError.self) { _ = try await client(TLSOptions(certificateAuthority: file("ca.crt"))).list(.namespaces) }
    }

    @Test func refusedWhenTheServerIsSignedByAnotherCA() async throws {
        defer { proxy.terminate() }
        do {
            _ = try await client(TLSOptions(certificateAuthority: file("other.crt"), clientCertificate: file("client.crt"), clientKey: file("client.key"))).list(.namespaces)
            Issue.record("an untrusted server must be refused")
        } catch {
            guard case .transport(let failure) = error else {
                Issue.record("expected a transport error, got \(error)")
                return
            }
            #expect(failure.message.lowercased().contains("certificate") || failure.message.lowercased().contains("ssl"), "\(failure.message)")
        }
    }

    @Test func insecureSkipVerifyStillSendsTheClientCertificate() async throws {
        defer { proxy.terminate() }
        let client = client(TLSOptions(clientCertificate: file("client.crt"), clientKey: file("client.key"), insecureSkipVerify: true))
        #expect(try await client.get(.namespaces, name: "default").name == "default")
    }
}
