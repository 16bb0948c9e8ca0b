import Foundation
import KubeCore
import KubeAPI
import NimDeployManager
import Reconciler

/// `catalog generate --from-registry URL`: the catalog of what a mirror actually holds, read
/// through the OCI distribution API. With `--source-catalog` only the repositories that catalog
/// names are asked for (registries often refuse `/v2/_catalog`), and its names, descriptions and
/// EU flags are kept; without, every `nim/` repository of `/v2/_catalog` becomes an entry.
///
/// Exit status: 0 written; 3 written, but the source lists models or tags the mirror lacks;
/// 1 nothing written; 2 usage.
enum RegistryFetch {
    static let valueFlags: Set<String> = [
        "from-registry", "source-catalog", "registry-auth", "registry-ca-bundle", "image-names", "registry-page-size", "output", "format", "name", "namespace",
    ]

    struct Options: Sendable {
        var baseURL: String
        var host: String
        var prefix: String
        var sourceCatalog: String?
        var authFile: String?
        var caBundle: String?
        var imageNames = RegistryCatalog.ImageNames.source
        var pageSize = 100
        var output: String?
        var format = CatalogManifest.Shape.modelsJSON
        var name = CatalogManifest.defaultName
        var namespace: String?

        init(_ arguments: Arguments) throws(Arguments.UsageError) {
            let url = arguments.value("from-registry") ?? ""
            guard let schemeEnd = url.range(of: "://"), ["http", "https"].contains(String(url[..<schemeEnd.lowerBound])) else {
                throw Arguments.UsageError(message: "--from-registry must be an https:// (or http://) URL with an optional path, such as https://registry.corp:5000/nvidia, not \"\(url)\"")
            }
            let rest = url[schemeEnd.upperBound...].split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            guard let host = rest.first, !host.isEmpty else { throw Arguments.UsageError(message: "--from-registry \"\(url)\" names no host") }
            self.host = host
            baseURL = String(url[..<schemeEnd.upperBound]) + host
            prefix = rest.dropFirst().joined(separator: "/")
            sourceCatalog = arguments.value("source-catalog")
            authFile = arguments.value("registry-auth")
            caBundle = arguments.value("registry-ca-bundle")
            switch arguments.value("image-names") {
            case nil, "source": imageNames = .source
            case "mirror": imageNames = .mirror
            case let other?: throw Arguments.UsageError(message: "--image-names must be source or mirror, not \"\(other)\"")
            }
            pageSize = try arguments.integer("registry-page-size", default: 100, range: 1...10_000)
            output = arguments.value("output")
            if let text = arguments.value("format") {
                guard let shape = CatalogManifest.Shape(rawValue: text) else { throw Arguments.UsageError(message: "--format must be per-model or models-json, not \"\(text)\"") }
                format = shape
            }
            name = arguments.value("name") ?? name
            if let problem = NameValidation.dns1123SubdomainProblem(name) { throw Arguments.UsageError(message: "--name: \(problem)") }
            namespace = arguments.value("namespace")
        }
    }

    static func execute(_ options: Options) async -> Int32 {
        func fail(_ message: String, status: Int32 = 1) -> Int32 {
            StandardStreams.complain("catalog generate: \(message)")
            return status
        }
        var source: ModelCatalog?
        if let file = options.sourceCatalog {
            do { source = try CatalogManifest.read(try CatalogCommand.readText(file)).catalog } catch { return fail("--source-catalog \(file): \(error)") }
        }
        var credentials: OCIRegistry.Credentials?
        if let file = options.authFile {
            guard let data = FileManager.default.contents(atPath: file), let document = try? JSON(parsing: Array(data)) else {
                return fail("--registry-auth \(file): not a readable auth file (JSON with auths)")
            }
            guard let found = OCIRegistry.Credentials.fromAuthFile(document, host: options.host) else { return fail("--registry-auth \(file) has no credentials for \(options.host)") }
            credentials = found
        }
        var tls = TLSOptions()
        if let path = options.caBundle {
            guard let pem = FileManager.default.contents(atPath: path), String(decoding: pem, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
                return fail("--registry-ca-bundle \(path): not a readable PEM file")
            }
            tls.certificateAuthority = Array(pem)
        }
        let registry = OCIRegistry(baseURL: options.baseURL, credentials: credentials, transport: CurlTransport(tls: tls), pageSize: options.pageSize)
        let base = options.prefix.isEmpty ? "" : options.prefix + "/"
        do {
            let repositories: [String]
            if let source {
                repositories = source.modelNames.compactMap { source[$0] }.map { entry in
                    base + RegistryMirror.pathBelowMirror(registry: entry.image.registry, path: entry.image.path)
                }
            } else {
                repositories = try await registry.repositories().filter { $0.hasPrefix(base + "nim/") }
            }
            let tags = try await withThrowingTaskGroup(of: (String, [String]).self) { group -> [String: [String]] in
                var found: [String: [String]] = [:]
                var pending = repositories[...]
                for _ in 0..<8 {
                    guard let repository = pending.popFirst() else { break }
                    group.addTask { (repository, try await registry.tags(repository)) }
                }
                while let (repository, list) = try await group.next() {
                    found[repository] = list
                    if let repository = pending.popFirst() { group.addTask { (repository, try await registry.tags(repository)) } }
                }
                return found
            }
            let result = RegistryCatalog(tags: tags, host: options.host, prefix: options.prefix, source: source, imageNames: options.imageNames)
            guard !result.catalog.entries.isEmpty else {
                for line in result.lacking { StandardStreams.complain("  lacking: \(line)") }
                return fail("the mirror at \(options.baseURL)/\(options.prefix) holds no NIM image\(source == nil ? "" : " of the source catalog"); nothing written")
            }
            let text = CatalogManifest.yaml(result.catalog, shape: options.format, name: options.name, namespace: options.namespace, generatedAt: CatalogFetch.generatedAt())
            do { try CatalogCommand.write(text, to: options.output) } catch { return fail("cannot write \(options.output ?? "-"): \(error.localizedDescription)") }
            for line in result.lacking { StandardStreams.complain("  lacking: \(line)") }
            StandardStreams.complain("catalog generate: \(result.catalog.entries.count) models from \(options.baseURL)/\(options.prefix)" + (options.output.map { $0 == "-" ? "" : " to \($0)" } ?? ""))
            return result.lacking.isEmpty ? 0 : CatalogCommand.incomplete
        } catch let error as OCIRegistry.Failure {
            return fail("\(error.message); nothing written")
        } catch {
            return fail("\(error); nothing written")
        }
    }
}
