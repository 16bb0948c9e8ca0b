import Foundation
import KubeCore
import KubeAPI
#if canImport(Glibc)
    import Glibc
#endif

/// The CNCF distribution registry (Debian's `docker-registry`) on a loopback port, storing in a
/// temporary directory: the real thing skopeo copies into and the catalog reads from.
public final class LocalRegistry: Sendable {
    public let port: Int
    public let directory: URL
    private let command: BackgroundCommand

    /// `host:port`, as image references name it.
    public var host: String { "127.0.0.1:\(port)" }

    /// `htpasswd`: the content of an htpasswd file (bcrypt entries) to require basic auth.
    public init(htpasswd: String? = nil) async throws {
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        var config = """
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: \(directory.appendingPathComponent("data").path)
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)

            """
        if let htpasswd {
            let path = directory.appendingPathComponent("htpasswd")
            try Data(htpasswd.utf8).write(to: path)
            config += "auth:\n  htpasswd:\n    realm: test\n    path: \(path.path)\n"
        }
        let configPath = directory.appendingPathComponent("config.yml")
        try Data(config.utf8).write(to: configPath)
        command = BackgroundCommand(["docker-registry", "serve", configPath.path])
        try command.start()
        let host = host
        let client = CurlTransport()
        try await eventually(timeout: 20, "the registry at \(host) answers") {
            let response = try? await client.send(HTTPRequest(method: "GET", url: "http://\(host)/v2/"))
            return response.map { $0.status == 200 || $0.status == 401 } ?? false
        }
    }

    deinit {
        command.kill()
        try? FileManager.default.removeItem(at: directory)
    }

    public func stop() { command.kill() }

    /// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
    public static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw DeadlineExceeded(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Writes a tiny multi-architecture image (an OCI index of an amd64 and an arm64 manifest,
    /// each one empty layer) as an OCI layout, for `skopeo copy --all oci:DIR:TAG ...`.
    /// Returns the layout directory and the index's digest.
    public static func ociLayout(tag: String, in parent: URL) throws -> (directory: URL, digest: String) {
        let directory = parent.appendingPathComponent("layout-\(UUID().uuidString)")
        let blobs = directory.appendingPathComponent("blobs/sha256")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        func blob(_ bytes: [UInt8]) throws -> JSON {
            let digest = SHA256.hex(bytes)
            try Data(bytes).write(to: blobs.appendingPathComponent(digest))
            return ["digest": .string("sha256:\(digest)"), "size": .int(bytes.count)]
        }
        // An empty tar: two zero blocks.
        var layer = try blob(Array(repeating: 0, count: 1024))
        layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
        var manifests: [JSON] = []
        for architecture in ["amd64", "arm64"] {
            let configJSON: JSON = [
                "architecture": .string(architecture), "os": "linux",
                "rootfs": ["type": "layers", "diff_ids": [.string("sha256:" + SHA256.hex(Array(repeating: 0, count: 1024)))]],
            ]
            var config = try blob(configJSON.serializedBytes())
            config["mediaType"] = "application/vnd.oci.image.config.v1+json"
            let manifest: JSON = ["schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]]
            var entry = try blob(manifest.serializedBytes())
            entry["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
            entry["platform"] = ["architecture": .string(architecture), "os": "linux"]
            manifests.append(entry)
        }
        let index: JSON = ["schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": .array(manifests)]
        var indexEntry = try blob(index.serializedBytes())
        indexEntry["mediaType"] = "application/vnd.oci.image.index.v1+json"
        indexEntry["annotations"] = ["org.opencontainers.image.ref.name": .string(tag)]
        let top: JSON = ["schemaVersion": 2, "manifests": [indexEntry]]
        try Data(top.serializedBytes()).write(to: directory.appendingPathComponent("index.json"))
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: directory.appendingPathComponent("oci-layout"))
        return (directory, indexEntry["digest"]?.stringValue ?? "")
    }
}
