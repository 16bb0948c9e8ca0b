import Foundation
import Synchronization
import KubeCore
import NimDeployManager
import Reconciler

/// `catalog generate` and `catalog detect-eu`: they ask NGC the same questions and differ in
/// what they keep. Progress goes to standard error (a line redrawn in place on a terminal), the
/// result to --output or standard output, so `generate | kubectl apply -f -` works.
enum CatalogFetch {
    static let valueFlags: Set<String> = ["output", "api-key-file", "ngc-api-url", "concurrency", "retries", "timeout"]
    static let generateFlags: Set<String> = ["format", "eu-restricted", "name", "namespace"]

    struct Options: Sendable {
        var generate: Bool
        var output: String?
        var format = CatalogManifest.Shape.perModel
        var euRestrictedFile: String?
        var apiKeyFile: String?
        var ngcURL = NGCClient.defaultBaseURL
        var name = CatalogManifest.defaultName
        var namespace: String?
        var generator = CatalogGenerator.Options()

        init(_ arguments: Arguments, generate: Bool) throws(Arguments.UsageError) {
            self.generate = generate
            output = arguments.value("output")
            apiKeyFile = arguments.value("api-key-file")
            euRestrictedFile = arguments.value("eu-restricted")
            ngcURL = arguments.value("ngc-api-url") ?? ngcURL
            // The key travels as a bearer token: plain http only to this machine (a stand-in, a proxy).
            let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"].contains { ngcURL == $0 || ngcURL.hasPrefix($0 + ":") || ngcURL.hasPrefix($0 + "/") }
            guard ngcURL.hasPrefix("https://") || loopback else {
                throw Arguments.UsageError(message: "--ngc-api-url must be an https URL (http only to this machine), not \"\(ngcURL)\"")
            }
            if let text = arguments.value("format") {
                guard let shape = CatalogManifest.Shape(rawValue: text) else {
                    throw Arguments.UsageError(message: "--format must be per-model or models-json, not \"\(text)\"")
                }
                format = shape
            }
            name = arguments.value("name") ?? name
            if let problem = NameValidation.dns1123SubdomainProblem(name) { throw Arguments.UsageError(message: "--name: \(problem)") }
            namespace = arguments.value("namespace")
            if let namespace, let problem = NameValidation.dns1123LabelProblem(namespace) { throw Arguments.UsageError(message: "--namespace: \(problem)") }
            generator.concurrency = try arguments.integer("concurrency", default: generator.concurrency, range: 1...64)
            generator.retries = try arguments.integer("retries", default: generator.retries, range: 0...10)
            generator.timeout = TimeInterval(try arguments.integer("timeout", default: Int(generator.timeout), range: 1...600))
        }
    }

    static func execute(_ options: Options) async -> Int32 {
        let command = options.generate ? "catalog generate" : "catalog detect-eu"
        func fail(_ message: String, status: Int32 = 1) -> Int32 {
            StandardStreams.complain("\(command): \(message)")
            return status
        }
        let key: APIKey
        switch readKey(options.apiKeyFile) {
        case .success(let found): key = found
        case .failure(let problem): return fail(problem.message, status: problem.isUsage ? 2 : 1)
        }
        var euRestricted: EURestrictedList?
        if let file = options.euRestrictedFile {
            do { euRestricted = try EURestrictedList(parsing: try CatalogCommand.readText(file)) } catch {
                return fail("--eu-restricted \(file): \(error)")
            }
        }
        let generator = CatalogGenerator(baseURL: options.ngcURL, options: options.generator)
        let progress = Progress(label: options.generate ? "reading model repositories" : "probing model repositories")
        do {
            let text: String
            let summary: CatalogGenerator.Summary
            if options.generate {
                let (catalog, found) = try await generator.generate(key: key, euRestricted: euRestricted, progress: progress.update)
                summary = found
                text = CatalogManifest.yaml(catalog, shape: options.format, name: options.name, namespace: options.namespace, generatedAt: generatedAt())
            } else {
                let (list, found) = try await generator.detectRegionRestricted(key: key, progress: progress.update)
                summary = found
                text = list.json
            }
            progress.finish()
            if Task.isCancelled { return fail("stopped; nothing written") }
            if summary.found == 0 { return fail("the catalog search lists no models; nothing written") }
            if summary.written == 0 && options.generate { return fail("no model could be read; nothing written (\(summary.line()))") }
            do { try CatalogCommand.write(text, to: options.output) } catch { return fail("cannot write \(options.output ?? "-"): \(error.localizedDescription)") }
            for skip in summary.skipped { StandardStreams.complain("  skipped \(skip.model): \(skip.reason.rawValue): \(skip.detail)") }
            for note in summary.notes { StandardStreams.complain("  note: \(note)") }
            if options.generate && euRestricted == nil {
                StandardStreams.complain("  note: no --eu-restricted list: every model is written with euRestricted false")
            }
            let result = options.generate ? "written" : "EU-restricted"
            let destination = options.output.map { $0 == "-" ? "" : " to \($0)" } ?? ""
            StandardStreams.complain("\(command): \(summary.line(written: result))\(destination)")
            if summary.isIncomplete {
                return fail("incomplete: \(summary.failed.count) of \(summary.found) models could not be read; see the skipped lines", status: CatalogCommand.incomplete)
            }
            return 0
        } catch {
            progress.finish()
            return fail(error.description + "; nothing written")
        }
    }

    struct KeyProblem: Error {
        var message: String
        var isUsage = false
    }

    /// The key from `--api-key-file` or `NGC_API_KEY`; never from the command line, where
    /// `ps` and shell history would show it.
    static func readKey(_ file: String?) -> Result<APIKey, KeyProblem> {
        let raw: String
        let source: String
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else { return .failure(KeyProblem(message: "cannot read --api-key-file \(file)")) }
            raw = String(decoding: data, as: UTF8.self)
            source = "--api-key-file \(file)"
        } else if let value = ProcessInfo.processInfo.environment["NGC_API_KEY"] {
            raw = value
            source = "NGC_API_KEY"
        } else {
            return .failure(KeyProblem(message: "give the NGC API key in NGC_API_KEY or a file named by --api-key-file", isUsage: true))
        }
        switch APIKey.parse(raw) {
        case .success(let key):
            guard key.isPersonal else {
                return .failure(KeyProblem(message: "the key in \(source) is not a personal API key (nvapi-...); only personal keys are supported"))
            }
            return .success(key)
        case .failure(.empty): return .failure(KeyProblem(message: "\(source) is empty"))
        case .failure(.malformed(let why)): return .failure(KeyProblem(message: "the key in \(source) \(why)"))
        }
    }

    /// `SOURCE_DATE_EPOCH` when set (reproducible release builds), else now.
    static func generatedAt() -> String {
        let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap(TimeInterval.init)
        return KubeTime.format(epoch.map { Date(timeIntervalSince1970: $0) } ?? Date())
    }

    /// `reading model repositories 57/186`, redrawn in place when standard error is a terminal;
    /// nothing otherwise (a CI log wants the summary, not 186 lines).
    final class Progress: Sendable {
        private let label: String
        private let drawn = Mutex(false)
        private let terminal = isatty(STDERR_FILENO) == 1

        init(label: String) { self.label = label }

        var update: @Sendable (Int, Int) -> Void {
            { [self] done, total in
                guard terminal else { return }
                drawn.withLock { $0 = true }
                StandardStreams.write("\r\u{1B}[K\(label) \(done)/\(total)", to: .error)
            }
        }

        func finish() {
            if drawn.withLock({ $0 }) { StandardStreams.write("\r\u{1B}[K", to: .error) }
        }
    }
}
