import Foundation
import Testing
import KubeWatch
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
}
