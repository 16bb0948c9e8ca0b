import Foundation
import Testing
import KubeCore
import Reconciler
import TestSupport

/// What the docs show a user works as shown: every NimDeployment in them names a model and tag
/// the release's catalog offers, and what the demo writes is not committed by accident.
@Suite struct DocsTests {
    static func documents() throws -> [(file: String, text: String)] {
        let docs = try FileManager.default.contentsOfDirectory(atPath: Paths.repository.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.map { "docs/\($0)" }
        return try (["README.md", "charts/nim-deploy-operator/README.md"] + docs).map { file in
            (file, try String(contentsOf: Paths.repository.appendingPathComponent(file), encoding: .utf8))
        }
    }

    @Test func everyNimDeploymentInTheDocsNamesWhatTheCatalogOffers() throws {
        let configMap = try YAML.parse(String(contentsOf: Paths.repository.appendingPathComponent("config/catalog/nim-model-metadata.yaml"), encoding: .utf8))
        let catalog = ModelCatalog.parse(configMap: KubeObject(configMap)).catalog
        var checked = 0
        for (file, text) in try Self.documents() {
            for block in text.components(separatedBy: "```yaml\n").dropFirst() {
                let yaml = block.components(separatedBy: "```").first ?? ""
                for document in (try? YAML.parseAll(yaml)) ?? [] where document["kind"] == "NimDeployment" {
                    guard let model = document[path: ["spec", "model"]]?.stringValue, document[path: ["spec", "image"]] == nil else { continue }
                    let entry = catalog[model]
                    #expect(entry != nil, "\(file): model \(model)")
                    if let tag = document[path: ["spec", "tag"]]?.stringValue { #expect(entry?.tags.contains(tag) == true, "\(file): \(model) tag \(tag)") }
                    checked += 1
                }
            }
        }
        #expect(checked >= 2)
    }

    @Test func whatTheDemoWritesIsIgnoredByGit() async throws {
        let result = try await run(["git", "-C", Paths.repository.path, "check-ignore", "-q", "demo.kubeconfig"], timeout: 30)
        #expect(result.status == 0, "demo.kubeconfig is not in .gitignore: \(result)")
    }

    /// Every reason of the README's table has its section in docs/troubleshooting.md.
    @Test func everyReasonOfTheTableIsExplained() throws {
        let readme = try String(contentsOf: Paths.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let guide = try String(contentsOf: Paths.repository.appendingPathComponent("docs/troubleshooting.md"), encoding: .utf8)
        let table = readme.components(separatedBy: "| reason | condition | what happened |").dropFirst().first?.components(separatedBy: "\n\n").first ?? ""
        let reasons = table.split(separator: "\n").compactMap { $0.split(separator: "|").first }.flatMap { cell in
            cell.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
        #expect(reasons.count >= 30, "\(reasons)")
        let headings = guide.split(separator: "\n").filter { $0.hasPrefix("### ") }.joined(separator: "\n")
        for reason in reasons { #expect(headings.contains("`\(reason)`"), "\(reason) has no section in docs/troubleshooting.md") }
    }

    @Test func theReadmeLinksTheDocsAndTheLicenseIsThere() throws {
        let readme = try String(contentsOf: Paths.repository.appendingPathComponent("README.md"), encoding: .utf8)
        for page in ["docs/troubleshooting.md", "docs/gitops.md", "docs/multicluster.md", "docs/upgrade.md", "docs/uninstall.md", "docs/airgap.md", "docs/alerts.md", "CONTRIBUTING.md", "ARCHITECTURE.md", "LICENSE"] {
            #expect(readme.contains("(\(page))"), "\(page) is linked")
            #expect(FileManager.default.fileExists(atPath: Paths.repository.appendingPathComponent(page).path), "\(page) exists")
        }
        let license = try String(contentsOf: Paths.repository.appendingPathComponent("LICENSE"), encoding: .utf8)
        #expect(license.contains("Apache License") && license.contains("Version 2.0, January 2004"))
    }

    /// ARCHITECTURE.md names code: every type, `Type.member` and file it names exists, so the
    /// map does not drift from the territory.
    @Test func whatTheArchitectureNamesExists() throws {
        let text = try String(contentsOf: Paths.repository.appendingPathComponent("ARCHITECTURE.md"), encoding: .utf8)
        func swiftFiles(_ directory: String) throws -> String {
            try FileManager.default.subpathsOfDirectory(atPath: Paths.repository.appendingPathComponent(directory).path).filter { $0.hasSuffix(".swift") }
                .map { try String(contentsOf: Paths.repository.appendingPathComponent("\(directory)/\($0)"), encoding: .utf8) }.joined(separator: "\n")
        }
        let code = try swiftFiles("Sources") + swiftFiles("Tests")
        let manifest = try String(contentsOf: Paths.repository.appendingPathComponent("Package.swift"), encoding: .utf8)
        // Prose only: the fenced blocks are diagrams and sketches.
        let prose = text.components(separatedBy: "```").enumerated().filter { $0.offset % 2 == 0 }.map(\.element).joined()
        let quoted = prose.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        func declares(_ name: String, as kinds: [String]) -> Bool { kinds.contains { code.contains("\($0) \(name)") } }
        let types = ["struct", "enum", "class", "actor", "protocol", "extension"]
        var checked = 0
        for name in Set(quoted) {
            if name.contains("/") {
                let path = ["Sources/", "scripts/", "config/", "docs/"].contains(where: name.hasPrefix) ? name : "Sources/Reconciler/\(name)"
                #expect(FileManager.default.fileExists(atPath: Paths.repository.appendingPathComponent(path).path), "\(name) exists")
                checked += 1
                continue
            }
            var parts = name.split(separator: ".").map(String.init)
            guard let first = parts.first, first.first?.isUppercase == true, parts.count <= 2, first.allSatisfy({ $0.isLetter || $0.isNumber }),
                !["md", "swift"].contains(parts.last ?? "")
            else { continue }
            // A module, or a type of a module.
            if manifest.contains("name: \"\(first)\"") {
                parts.removeFirst()
                if parts.isEmpty { checked += 1; continue }
            }
            #expect(declares(parts[0], as: types), "\(name): \(parts[0]) is declared")
            if parts.count == 2 {
                let member = String(parts[1].prefix { $0 != "(" })
                #expect(declares(member, as: ["func", "var", "let", "case"] + types), "\(name) is declared")
            }
            checked += 1
        }
        #expect(checked >= 30, "\(checked) names checked")
    }
}
