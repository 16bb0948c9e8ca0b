import Foundation
import Testing
import KubeCore
import HTTPServing
import Reconciler
import TestSupport

/// `catalog generate --from-registry`: the catalog of what a mirror holds, from a real
/// distribution registry (Basic auth, `/v2/_catalog` paged) and from a stand-in speaking the
/// token flow of the distribution spec with paged tag lists.
@Suite(.serialized) struct RegistryCatalogTests {
    /// bcrypt of "mirror-password-1" for the registry's htpasswd (cost 4: the registry checks it on every request).
    static let htpasswd = "admin:$2b$04$hGwQe6sSd606lK/FzDyPAOZU98y1vRW7r1ty/7PdQM.B9uDJIXQQq\n"
    static let password = "mirror-password-1"

    static func authFile(host: String, password: String = RegistryCatalogTests.password, in directory: URL) throws -> String {
        let document: JSON = ["auths": [host: ["auth": .string(Data("admin:\(password)".utf8).base64EncodedString())]]]
        let path = directory.appendingPathComponent("auth-\(UUID().uuidString).json").path
        try Data(document.serializedBytes()).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func push(_ layout: URL, to registry: LocalRegistry, _ repository: String, tags: [String], auth: String) async throws {
        for tag in tags {
            let result = try await run(
                ["skopeo", "copy", "--all", "--dest-tls-verify=false", "--dest-authfile", auth, "oci:\(layout.path):1.0", "docker://\(registry.host)/\(repository):\(tag)"], timeout: 60)
            #expect(result.status == 0, "\(result)")
        }
    }

    @Test func aRealMirrorWithBasicAuthBecomesTheCatalogOfWhatItHolds() async throws {
        let work = try AirGapCommandTests.directory()
        let registry = try await LocalRegistry(htpasswd: Self.htpasswd)
        let auth = try Self.authFile(host: registry.host, in: work)
        let (layout, _) = try LocalRegistry.ociLayout(tag: "1.0", in: work)
        try await Self.push(layout, to: registry, "nvidia/nim/meta/tiny", tags: ["1.0", "1.1"], auth: auth)
        try await Self.push(layout, to: registry, "nvidia/nim/nvidia/embed", tags: ["2.0"], auth: auth)
        try await Self.push(layout, to: registry, "nvidia/tools/busybox", tags: ["1"], auth: auth)

        // With the source catalog: its names and flags kept, what the mirror lacks reported.
        let source = try AirGapCommandTests.catalog([
            ("meta/tiny", "nvcr.io/nim/meta/tiny:1.2", ["1.2", "1.1", "1.0"]),
            ("meta/absent", "nvcr.io/nim/meta/absent:1", ["1"]),
        ], in: work)
        let output = work.appendingPathComponent("mirrored.yaml").path
        let withSource = try await run([
            Paths.operatorBinary, "catalog", "generate", "--from-registry", "http://\(registry.host)/nvidia", "--source-catalog", source,
            "--registry-auth", auth, "--output", output,
        ])
        #expect(withSource.status == 3, "written, with what is lacking: \(withSource)")
        #expect(withSource.stderr.contains("model absent: not in the mirror") && withSource.stderr.contains("the mirror lacks tag 1.2"), "\(withSource.stderr)")
        #expect(!withSource.stdout.contains(Self.password) && !withSource.stderr.contains(Self.password))
        let read = try CatalogManifest.read(try String(contentsOf: URL(fileURLWithPath: output), encoding: .utf8))
        #expect(read.catalog.modelNames == ["tiny"])
        let tiny = try #require(read.catalog["meta/tiny"])
        #expect(tiny.tags == ["1.1", "1.0"] && tiny.latestTag == "1.1" && tiny.image.repository == "nvcr.io/nim/meta/tiny")
        let validated = try await run([Paths.operatorBinary, "catalog", "validate", output])
        #expect(validated.status == 0, "\(validated)")

        // Without: every nim/ repository of /v2/_catalog, read one entry a page.
        let all = try await run([
            Paths.operatorBinary, "catalog", "generate", "--from-registry", "http://\(registry.host)/nvidia", "--registry-auth", auth,
            "--registry-page-size", "1", "--image-names", "mirror", "--output", output,
        ])
        #expect(all.status == 0, "\(all)")
        let everything = try CatalogManifest.read(try String(contentsOf: URL(fileURLWithPath: output), encoding: .utf8)).catalog
        #expect(everything.modelNames == ["embed", "tiny"], "busybox is no NIM")
        #expect(everything["tiny"]?.image.repository == "\(registry.host)/nvidia/nim/meta/tiny")

        // Refused credentials: nothing written.
        let wrong = try await run([
            Paths.operatorBinary, "catalog", "generate", "--from-registry", "http://\(registry.host)/nvidia", "--registry-auth",
            try Self.authFile(host: registry.host, password: "not-the-password", in: work), "--output", work.appendingPathComponent("none.yaml").path,
        ])
        #expect(wrong.status == 1 && wrong.stderr.contains("credentials are refused"), "\(wrong)")
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("none.yaml").path))
    }

    /// A registry that hands out bearer tokens (as nvcr.io, Quay and Harbor do) and pages its tag
    /// lists two at a time.
    final class TokenRegistry: Sendable {
        let server: HTTPServer
        let tokensIssued = Locked(0)
        static let tags = ["1.0", "1.1", "1.2", "2.0", "latest"]

        init() throws {
            let issued = tokensIssued
            let box = Locked<UInt16>(0)
            server = HTTPServer { request, writer in
                let json: (Int, JSON, [(String, String)]) -> Void = { status, body, headers in
                    writer.respond(status: status, headers: HTTPHeaders([("Content-Type", "application/json")] + headers), body: body.serializedBytes())
                }
                if request.path == "/token" {
                    guard request.headers["Authorization"] == "Basic " + Data("admin:\(RegistryCatalogTests.password)".utf8).base64EncodedString() else { return json(401, [:], []) }
                    issued.update { $0 += 1 }
                    return json(200, ["token": .string("token-for-" + (request.queryValue("scope") ?? ""))], [])
                }
                let challenge = "Bearer realm=\"http://127.0.0.1:\(box.value)/token\",service=\"stand-in\",scope=\"repository:nvidia/nim/meta/tiny:pull\""
                guard request.headers["Authorization"] == "Bearer token-for-repository:nvidia/nim/meta/tiny:pull" else {
                    return json(401, ["errors": [["code": "UNAUTHORIZED"]]], [("WWW-Authenticate", challenge)])
                }
                guard request.path == "/v2/nvidia/nim/meta/tiny/tags/list" else { return json(404, [:], []) }
                let last = request.queryValue("last")
                let start = last.flatMap { Self.tags.firstIndex(of: $0).map { $0 + 1 } } ?? 0
                let page = Array(Self.tags[start..<min(start + 2, Self.tags.count)])
                var headers: [(String, String)] = []
                if start + 2 < Self.tags.count, let end = page.last { headers.append(("Link", "</v2/nvidia/nim/meta/tiny/tags/list?last=\(end)&n=2>; rel=\"next\"")) }
                json(200, ["name": "nvidia/nim/meta/tiny", "tags": .array(page.map(JSON.string))], headers)
            }
            box.update { $0 = (try? server.start()) ?? 0 }
        }

        var host: String { "127.0.0.1:\(server.port)" }
    }

    @Test func theTokenFlowAndPagedTagListsOfTheDistributionSpec() async throws {
        let work = try AirGapCommandTests.directory()
        let registry = try TokenRegistry()
        defer { registry.server.stop() }
        let source = try AirGapCommandTests.catalog([("meta/tiny", "nvcr.io/nim/meta/tiny:2.0", ["2.0", "1.2", "1.1", "1.0"])], in: work)
        let output = work.appendingPathComponent("mirrored.yaml").path
        let result = try await run([
            Paths.operatorBinary, "catalog", "generate", "--from-registry", "http://\(registry.host)/nvidia", "--source-catalog", source,
            "--registry-auth", try Self.authFile(host: registry.host, in: work), "--output", output,
        ])
        #expect(result.status == 0, "\(result)")
        let tiny = try #require(try CatalogManifest.read(try String(contentsOf: URL(fileURLWithPath: output), encoding: .utf8)).catalog["meta/tiny"])
        #expect(tiny.tags == ["2.0", "1.2", "1.1", "1.0", "latest"], "every page read")
        #expect(tiny.latestTag == "2.0", "the source's latest, as it is mirrored")
        #expect(registry.tokensIssued.value == 1, "one token for the scope, kept for the next pages")
        #expect(!result.stderr.contains("token-for-"), "the token is never printed")
        let anonymous = try await run([Paths.operatorBinary, "catalog", "generate", "--from-registry", "http://\(registry.host)/nvidia", "--source-catalog", source])
        #expect(anonymous.status == 1 && anonymous.stderr.contains("refused a token") && anonymous.stderr.contains("--registry-auth"), "\(anonymous)")
    }
}
