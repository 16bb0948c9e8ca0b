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
        for page in ["docs/troubleshooting.md", "docs/gitops.md", "docs/multicluster.md", "docs/upgrade.md", "docs/uninstall.md", "CONTRIBUTING.md", "LICENSE"] {
            #expect(readme.contains("(\(page))"), "\(page) is linked")
            #expect(FileManager.default.fileExists(atPath: Paths.repository.appendingPathComponent(page).path), "\(page) exists")
        }
        let license = try String(contentsOf: Paths.repository.appendingPathComponent("LICENSE"), encoding: .utf8)
        #expect(license.contains("Apache License") && license.contains("Version 2.0, January 2004"))
    }
}
