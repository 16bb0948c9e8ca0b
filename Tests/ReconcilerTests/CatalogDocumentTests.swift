import Foundation
import Testing
import KubeCore
import Reconciler
import TestSupport

/// The catalog as a document: written in either shape, read back by the controller's parser,
/// compared for a release review. No I/O beyond reading the shipped catalog.
@Suite struct CatalogDocumentTests {
    static let shipped: ModelCatalog = {
        let text = (try? String(contentsOf: Paths.shared.appendingPathComponent("ngc/nim-models-data.yaml"), encoding: .utf8)) ?? ""
        return (try? CatalogManifest.read(text).catalog) ?? ModelCatalog()
    }()

    @Test(arguments: CatalogManifest.Shape.allCases)
    func everyShapeReadsBackAsTheSameCatalog(_ shape: CatalogManifest.Shape) throws {
        #expect(CatalogDocumentTests.shipped.entries.count == 186)
        let text = CatalogManifest.yaml(CatalogDocumentTests.shipped, shape: shape, generatedAt: "2026-01-01T00:00:00Z")
        let read = try CatalogManifest.read(text)
        #expect(read.problems.isEmpty, "\(read.problems)")
        #expect(read.catalog == CatalogDocumentTests.shipped)
        #expect(CatalogDiff(from: CatalogDocumentTests.shipped, to: read.catalog).isEmpty)
    }

    @Test func theDiffNamesEachKindOfChange() throws {
        var next = CatalogDocumentTests.shipped
        let names = CatalogDocumentTests.shipped.modelNames
        next.entries[names[0]] = nil
        var moved = try #require(next[names[1]])
        moved.euRestricted.toggle()
        moved.displayName += " (new)"
        next.entries[names[1]] = moved
        var retagged = try #require(next[names[2]])
        let dropped = try #require(retagged.tags.first { $0 != retagged.latestTag })
        retagged.tags.removeAll { $0 == dropped }
        retagged.tags.insert("99.0", at: 0)
        next.entries[names[2]] = retagged
        var reordered = try #require(next[names[3]])
        reordered.tags.reverse()
        next.entries[names[3]] = reordered

        let diff = CatalogDiff(from: CatalogDocumentTests.shipped, to: next)
        #expect(diff.removed.map(\.name) == [names[0]] && diff.added.isEmpty)
        #expect(diff.changed.map(\.name) == [names[1], names[2], names[3]])
        #expect(diff.changed[0].summary == "euRestricted \(!moved.euRestricted) -> \(moved.euRestricted); displayName changed")
        #expect(diff.changed[1].summary == "tags +99.0 -\(dropped)")
        #expect(diff.changed[2].summary == "tag order changed")
        #expect(diff.unchanged == 182)
        #expect(diff.modelsChanged == Set(names.prefix(4)))
        #expect(CatalogDiff(from: next, to: CatalogDocumentTests.shipped).added.map(\.name) == [names[0]])
    }

    @Test func anEUListMatchesByRepositoryOrByName() throws {
        let list = try EURestrictedList(parsing: String(contentsOf: Paths.shared.appendingPathComponent("ngc/nim_eu_restricted.json"), encoding: .utf8))
        let restricted = CatalogDocumentTests.shipped.modelNames.filter { CatalogDocumentTests.shipped[$0]?.euRestricted == true }
        #expect(CatalogDocumentTests.shipped.modelNames.filter { name in CatalogDocumentTests.shipped[name].map(list.contains) ?? false } == restricted)
        let byName = try EURestrictedList(parsing: #"[{"name": "\#(restricted[0])"}]"#)
        #expect(CatalogDocumentTests.shipped[restricted[0]].map(byName.contains) == true)
        let elsewhere = try EURestrictedList(parsing: #"[{"resourceId": "nim/other-team/\#(restricted[0])"}]"#)
        #expect(CatalogDocumentTests.shipped[restricted[0]].map(elsewhere.contains) == false, "same name, another repository")
        #expect(throws: EURestrictedList.ReadError.self) { try EURestrictedList(parsing: #"[{"org": "nim"}]"#) }
        #expect(try EURestrictedList(parsing: list.json) == list)
    }

    @Test func aModelsJSONCatalogReportsWhatItCannotUse() {
        let document = """
            {"schemaVersion": "2.0.0", "models": [
              {"id": "nvidia/good", "containerImage": "nvcr.io/nim/nvidia/good:1", "tags": ["1"], "latestTag": "1"},
              {"id": "nvidia/good", "containerImage": "nvcr.io/nim/nvidia/good:1", "tags": ["1"], "latestTag": "1"},
              {"id": "nvidia/noimage", "tags": ["1"], "latestTag": "1"},
              "not an object"
            ]}
            """
        let (catalog, problems) = ModelCatalog.parse(["models.json": document, "stray": "{}"])
        #expect(catalog.modelNames == ["good"])
        #expect(problems.map(\.description) == [
            "models.json: schemaVersion 2.0.0 is not 1.x; read as 1.x",
            "models.json[1]: model good is listed twice; the first wins",
            "models.json[2] (noimage): no valid \"containerImage\"",
            "models.json[3]: not a JSON object",
            "stray: ignored: a catalog with models.json reads nothing else",
        ])
        #expect(problems.map(\.severity) == [.warning, .error, .error, .error, .warning])
    }
}
