import Foundation
import Testing
import KubeCore
import Reconciler
import StandIns
import TestSupport

/// `nim-deploy-operator catalog` against an NGC stand-in serving the documented answers: what a
/// release engineer runs to build, check and compare the model catalog.
@Suite struct CatalogCommandTests {
    static let key = NimEnvironment.validKey
    static let otherKey = "nvapi-another-key-0123456789"
    /// The real catalog the design documents ship (186 models, 4 EU-restricted).
    static let shipped = ModelCatalog.parse(configMap: KubeObject((try? YAML.parse(String(contentsOf: Paths.shared.appendingPathComponent("ngc/nim-models-data.yaml"), encoding: .utf8))) ?? [:])).catalog

    /// 24 models of the real catalog, all 4 EU-restricted ones among them.
    static let sample: ModelCatalog = {
        let restricted = shipped.modelNames.filter { shipped[$0]?.euRestricted == true }
        let others = shipped.modelNames.filter { shipped[$0]?.euRestricted == false }.prefix(24 - restricted.count)
        return ModelCatalog(entries: shipped.entries.filter { restricted.contains($0.key) || others.contains($0.key) })
    }()

    /// An NGC stand-in and a directory for what the commands write.
    final class World: Sendable {
        let ngc: NGCStandIn
        let directory: URL

        init(_ catalog: ModelCatalog = CatalogCommandTests.sample) throws {
            ngc = NGCStandIn(catalog: catalog)
            try ngc.start()
            directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("catalog-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }

        deinit {
            ngc.stop()
            try? FileManager.default.removeItem(at: directory)
        }

        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        func catalog(_ command: String, _ arguments: [String], key: String? = CatalogCommandTests.key, environment: [String: String] = [:]) async throws -> CommandResult {
            var environment = environment
            environment["NGC_API_KEY"] = key
            // Whatever this machine's environment holds, the program sees only the test's key.
            let result = try await run(
                [Paths.operatorBinary, "catalog", command, "--ngc-api-url", ngc.baseURL] + arguments, environment: environment,
                unset: key == nil ? ["NGC_API_KEY"] : [], timeout: 120)
            for secret in [CatalogCommandTests.key, CatalogCommandTests.otherKey] + (key.map { [$0] } ?? []) {
                #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "a key was printed")
            }
            return result
        }

        func read(_ name: String) throws -> (catalog: ModelCatalog, problems: [ModelCatalog.Problem], text: String) {
            let text = try String(contentsOfFile: path(name), encoding: .utf8)
            #expect(!text.contains(CatalogCommandTests.key), "the key was written")
            let read = try CatalogManifest.read(text)
            return (read.catalog, read.problems, text)
        }
    }

    static func withoutRegion(_ catalog: ModelCatalog) -> ModelCatalog {
        ModelCatalog(entries: catalog.entries.mapValues { var entry = $0; entry.euRestricted = false; return entry })
    }

    static func validate(_ path: String) async throws -> CommandResult {
        try await run([Paths.operatorBinary, "catalog", "validate", path])
    }

    @Test func generateWritesEveryListedModelAsTheControllerReadsIt() async throws {
        let world = try World()
        world.ngc.setMaximumPageSize(5)
        let untagged = try #require(Self.sample.modelNames.first)
        world.ngc.setUntagged([untagged])
        let result = try await world.catalog("generate", ["--output", world.path("out/catalog.yaml")])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("catalog generate: 24 found, 23 written, 1 skipped (1 no latestTag) to \(world.path("out/catalog.yaml"))"), "\(result)")
        let untaggedEntry = try #require(Self.sample[untagged])
        #expect(result.stderr.contains("skipped \(untaggedEntry.image.path): no latestTag"))
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("note: no --eu-restricted list: every model is written with euRestricted false"))

        let written = try world.read("out/catalog.yaml")
        #expect(written.problems.isEmpty, "\(written.problems)")
        var expected = Self.withoutRegion(Self.sample)
        expected.entries[untagged] = nil
        #expect(written.catalog == expected)
        #expect(written.text.contains("opendatahub.io/managed: \"true\""))
        #expect(world.ngc.calls("search") == 5, "24 models, 5 a page")
        #expect(world.ngc.calls("repository") == 23)
        #expect(world.ngc.validations(of: Self.key) == 1)

        let validation = try await Self.validate(world.path("out/catalog.yaml"))
        #expect(validation.status == 0, "\(validation)")
        #expect(validation.stdout.contains("valid: 23 models usable, 0 errors, 0 warnings"))
    }

    @Test func bothShapesHoldTheSameCatalogAndRunsRepeatByteForByte() async throws {
        let world = try World()
        let epoch = ["SOURCE_DATE_EPOCH": "1767225600"]
        for (file, format) in [("a.yaml", "per-model"), ("b.yaml", "per-model"), ("c.yaml", "models-json"), ("d.yaml", "models-json")] {
            let result = try await world.catalog("generate", ["--format", format, "--output", world.path(file), "--name", "nim-models-data", "--namespace", "opendatahub"], environment: epoch)
            #expect(result.status == 0, "\(result)")
        }
        let perModel = try world.read("a.yaml")
        let modelsJSON = try world.read("c.yaml")
        #expect(perModel.catalog == Self.withoutRegion(Self.sample))
        #expect(modelsJSON.catalog == perModel.catalog)
        #expect(perModel.text == (try world.read("b.yaml")).text)
        #expect(modelsJSON.text == (try world.read("d.yaml")).text)
        #expect(modelsJSON.text.contains("\"generatedAt\": \"2026-01-01T00:00:00Z\""))
        #expect(modelsJSON.text.contains("\"schemaVersion\": \"1.0.0\""))
        for text in [perModel.text, modelsJSON.text] {
            #expect(text.contains("name: nim-models-data") && text.contains("namespace: opendatahub"))
        }
    }

    @Test func generateToStandardOutputPipesIntoValidate() async throws {
        let world = try World()
        let generated = try await world.catalog("generate", [])
        #expect(generated.status == 0)
        #expect(generated.stdout.hasPrefix("apiVersion: v1\n"))
        let validation = try await run([Paths.operatorBinary, "catalog", "validate", "-"], input: generated.stdout)
        #expect(validation.status == 0, "\(validation)")
        #expect(validation.stdout.contains("-: ConfigMap nim-model-metadata, per-model"))
    }

    @Test func detectEUListsWhatAnswers451AndGenerateMarksIt() async throws {
        let world = try World()
        let restricted = Self.sample.modelNames.filter { Self.sample[$0]?.euRestricted == true }
        #expect(restricted.count == 4)

        // From the EU: 451 for the restricted ones (empty body, as recorded).
        world.ngc.setInEU(true)
        let detected = try await world.catalog("detect-eu", ["--output", world.path("eu.json")])
        #expect(detected.status == 0, "\(detected)")
        #expect(detected.stderr.contains("catalog detect-eu: 24 found, 4 EU-restricted, 0 skipped"), "\(detected)")
        let list = try EURestrictedList(parsing: String(contentsOfFile: world.path("eu.json"), encoding: .utf8))
        #expect(list.models.map(\.name).sorted() == restricted)
        let json = try JSON(parsing: String(contentsOfFile: world.path("eu.json"), encoding: .utf8))
        #expect(json[0]?["org"] == "nim" && json[0]?["team"]?.stringValue?.isEmpty == false && json[0]?["resourceId"]?.stringValue?.hasPrefix("nim/") == true)

        let fromEU = try await world.catalog("generate", ["--output", world.path("eu-catalog.yaml")])
        #expect(fromEU.status == 0, "a 451 is the region speaking, not a failure: \(fromEU)")
        #expect(fromEU.stderr.contains("24 found, 20 written, 4 skipped (4 EU-restricted (451))"), "\(fromEU)")
        #expect(Set(try world.read("eu-catalog.yaml").catalog.modelNames).isDisjoint(with: restricted))

        // From elsewhere, with the list: everything, the four marked.
        world.ngc.setInEU(false)
        let marked = try await world.catalog("generate", ["--eu-restricted", world.path("eu.json"), "--output", world.path("catalog.yaml")])
        #expect(marked.status == 0, "\(marked)")
        let catalog = try world.read("catalog.yaml").catalog
        #expect(catalog == Self.sample, "the shipped catalog, EU flags included")
        #expect(catalog.modelNames.filter { catalog[$0]?.euRestricted == true } == restricted)

        // Generated with an unreadable list: refused before any call.
        try "{\"not\": \"a list\"}".write(toFile: world.path("bad.json"), atomically: true, encoding: .utf8)
        let before = world.ngc.calls("caller-info")
        let bad = try await world.catalog("generate", ["--eu-restricted", world.path("bad.json")])
        #expect(bad.status == 1 && bad.stderr.contains("--eu-restricted \(world.path("bad.json")): not a JSON array of models"), "\(bad)")
        #expect(world.ngc.calls("caller-info") == before)
    }

    @Test func throttlingAndServerErrorsAreRetried() async throws {
        let world = try World()
        world.ngc.setRetryAfter(0)
        world.ngc.failNext([429, 503], on: "caller-info")
        world.ngc.failNext([500], on: "search")
        world.ngc.failNext([502, 429], on: "repository")
        let result = try await world.catalog("generate", ["--output", world.path("catalog.yaml"), "--concurrency", "1"])
        #expect(result.status == 0, "\(result)")
        #expect(try world.read("catalog.yaml").catalog == Self.withoutRegion(Self.sample))
        let calls = world.ngc.calls("caller-info") + world.ngc.calls("search") + world.ngc.calls("repository")
        #expect(calls == 1 + 1 + 24 + 5, "every failed answer asked once more")
    }

    @Test func aRefusedOrForeignKeyWritesNothing() async throws {
        let world = try World()
        world.ngc.reject(Self.key)
        let refused = try await world.catalog("generate", ["--output", world.path("catalog.yaml")])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("NGC refused the API key (HTTP 401)") && refused.stderr.contains("nothing written"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: world.path("catalog.yaml")))
        #expect(world.ngc.calls("repository") == 0)

        let legacy = try await world.catalog("generate", [], key: "0123456789abcdefORGKEY")
        #expect(legacy.status == 1 && legacy.stderr.contains("not a personal API key (nvapi-...)"), "\(legacy)")
        let none = try await world.catalog("detect-eu", [], key: nil)
        #expect(none.status == 2 && none.stderr.contains("give the NGC API key in NGC_API_KEY or a file named by --api-key-file"), "\(none)")
        try "  \(Self.key)\n".write(toFile: world.path("key"), atomically: true, encoding: .utf8)
        world.ngc.accept(Self.key)
        let fromFile = try await world.catalog("generate", ["--api-key-file", world.path("key")], key: nil)
        #expect(fromFile.status == 0, "\(fromFile)")
        #expect(world.ngc.validations(of: Self.key) == 2, "the refused run and the one from the file")
    }

    @Test func aKeyRevokedMidRunStopsEverything() async throws {
        let world = try World()
        world.ngc.reject(Self.key, afterRepositoryCalls: 3)
        let result = try await world.catalog("generate", ["--concurrency", "1", "--output", world.path("catalog.yaml")])
        #expect(result.status == 1 && result.stderr.contains("NGC refused the API key (HTTP 401)"), "\(result)")
        #expect(world.ngc.calls("repository") == 4, "no call after the first 401")
        #expect(!FileManager.default.fileExists(atPath: world.path("catalog.yaml")))
    }

    @Test func unreadableModelsMakeTheCatalogIncompleteNotWrong() async throws {
        let world = try World()
        let names = Self.sample.modelNames
        world.ngc.setGarbage(forModels: [names[1]])
        world.ngc.disentitle(Self.key)  // 403 for every repository: checked below with a second key
        let forbidden = try await world.catalog("generate", ["--output", world.path("none.yaml")])
        #expect(forbidden.status == 1 && forbidden.stderr.contains("no model could be read; nothing written"), "\(forbidden)")
        #expect(!FileManager.default.fileExists(atPath: world.path("none.yaml")))

        let result = try await world.catalog("generate", ["--output", world.path("catalog.yaml")], key: Self.otherKey)
        #expect(result.status == 3, "\(result)")
        let model = try #require(Self.sample[names[1]])
        #expect(result.stderr.contains("skipped \(model.image.path): malformed answer: the answer is not a JSON object"), "\(result)")
        #expect(result.stderr.contains("24 found, 23 written, 1 skipped (1 malformed answer)"))
        #expect(result.stderr.contains("incomplete: 1 of 24 models could not be read"))
        let catalog = try world.read("catalog.yaml").catalog
        #expect(catalog.entries.count == 23 && catalog[names[1]] == nil)
    }

    @Test func anUnreachableOrGarbledNGCFailsAfterItsRetries() async throws {
        let world = try World()
        world.ngc.setDown(true)
        let down = try await world.catalog("generate", ["--retries", "1", "--output", world.path("catalog.yaml")])
        #expect(down.status == 1 && down.stderr.contains("NGC unreachable: get-caller-info answered 503; nothing written"), "\(down)")
        #expect(world.ngc.calls("caller-info") == 2)
        world.ngc.setDown(false)

        world.ngc.setGarbage(true)
        let garbled = try await world.catalog("generate", ["--retries", "0"])
        #expect(garbled.status == 1 && garbled.stderr.contains("catalog search page 0 is not the search's JSON"), "\(garbled)")
        world.ngc.setGarbage(false)

        world.ngc.setHung(true)
        let hung = try await world.catalog("detect-eu", ["--retries", "0", "--timeout", "1"])
        world.ngc.setHung(false)
        #expect(hung.status == 1 && hung.stderr.contains("NGC unreachable"), "\(hung)")

        let closed = try await run([Paths.operatorBinary, "catalog", "generate", "--ngc-api-url", "http://127.0.0.1:1", "--retries", "0"], environment: ["NGC_API_KEY": Self.key])
        #expect(closed.status == 1 && closed.stderr.contains("NGC unreachable"), "\(closed)")
        #expect(!FileManager.default.fileExists(atPath: world.path("catalog.yaml")))
    }

    @Test func validateReportsEveryProblemWithItsKey() async throws {
        let world = try World()
        let good = #"{"name": "good", "namespace": "nim/meta", "tags": ["1.0", "latest"], "latestTag": "1.0"}"#
        let manifest: JSON = [
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "nim-model-metadata"],
            "data": [
                "good": .string(good),
                "no-namespace": #"{"name": "no-namespace", "tags": ["1"], "latestTag": "1"}"#,
                "stale-latest": #"{"name": "stale-latest", "namespace": "nim/meta", "tags": ["1"], "latestTag": "2"}"#,
                "broken": "{\"name\": \"broken\",",
                "renamed": #"{"name": "other-name", "namespace": "nim/meta", "tags": ["1", "bad tag"], "latestTag": "1", "euRestricted": "true"}"#,
                "region": #"{"name": "region", "namespace": "nim/meta", "tags": ["1"], "latestTag": "1", "euRestricted": "maybe"}"#,
            ],
        ]
        try YAML.emit(manifest).write(toFile: world.path("bad.yaml"), atomically: true, encoding: .utf8)
        let result = try await Self.validate(world.path("bad.yaml"))
        #expect(result.status == 1, "\(result)")
        for line in [
            "error: no-namespace: no \"namespace\" (for example nim/meta), so no image",
            "error: stale-latest: latestTag \"2\" is not one of its tags",
            "error: broken: not JSON",
            "warning: renamed: stored under \"renamed\" but named \"other-name\"; the model is other-name",
            "warning: renamed: tag \"bad tag\" is not an image tag; left out",
            "warning: renamed: euRestricted is the string \"true\"; read as true",
            "error: region: euRestricted is \"maybe\", not true or false",
            "invalid: 2 models usable, 4 errors, 3 warnings",
        ] {
            #expect(result.stdout.contains(line), "\(line)\n\(result.stdout)")
        }

        let shipped = try await Self.validate(Paths.repository.appendingPathComponent("config/catalog/nim-model-metadata.yaml").path)
        #expect(shipped.status == 0 && shipped.stdout.contains("valid: 186 models usable, 0 errors, 0 warnings"), "\(shipped)")
        let notACatalog = try await Self.validate(Paths.repository.appendingPathComponent("config/samples/kustomization.yaml").path)
        #expect(notACatalog.status == 1 && notACatalog.stdout.contains("no ConfigMap in it (found Kustomization)"), "\(notACatalog)")
        let missing = try await Self.validate(world.path("missing.yaml"))
        #expect(missing.status == 1 && missing.stdout.contains("cannot read the file"), "\(missing)")
        let usage = try await run([Paths.operatorBinary, "catalog", "validate"])
        #expect(usage.status == 2 && usage.stderr.contains("catalog validate takes one file"))
    }

    @Test func diffShowsWhatAReleaseChanges() async throws {
        var next = Self.sample
        let names = Self.sample.modelNames
        next.entries[names[0]] = nil
        let addedName = try #require(Self.shipped.modelNames.first { Self.sample[$0] == nil })
        var added = try #require(Self.shipped[addedName])
        added.euRestricted = false
        next.entries[added.name] = added
        var retagged = try #require(next[names[2]])
        retagged.tags.append("9.9.9")
        retagged.latestTag = "9.9.9"
        next.entries[names[2]] = retagged

        let old = try World(Self.sample)
        let new = try World(next)
        #expect(try await old.catalog("generate", ["--output", old.path("catalog.yaml")]).status == 0)
        #expect(try await new.catalog("generate", ["--output", new.path("catalog.yaml")]).status == 0)

        let diff = try await run([Paths.operatorBinary, "catalog", "diff", old.path("catalog.yaml"), new.path("catalog.yaml")])
        #expect(diff.status == 1, "\(diff)")
        #expect(diff.stdout.contains("added (1):\n  + \(added.name): \(added.image.path), latestTag \(added.latestTag)"), "\(diff)")
        #expect(diff.stdout.contains("removed (1):\n  - \(names[0]): "))
        let previous = try #require(Self.sample[names[2]])
        #expect(diff.stdout.contains("changed (1):\n  ~ \(names[2]): tags +9.9.9; latestTag \(previous.latestTag) -> 9.9.9"))
        #expect(diff.stdout.contains("summary: 1 added, 1 removed, 1 changed, 22 unchanged"))

        let json = try await run([Paths.operatorBinary, "catalog", "diff", old.path("catalog.yaml"), new.path("catalog.yaml"), "--output", "json"])
        let parsed = try JSON(parsing: json.stdout)
        #expect(parsed["changed"]?[0]?["tagsAdded"] == ["9.9.9"] && parsed["unchanged"] == 22, "\(json)")

        // The report a pull request and QE read.
        let markdown = try await run([Paths.operatorBinary, "catalog", "diff", old.path("catalog.yaml"), new.path("catalog.yaml"), "--output", "markdown"])
        #expect(markdown.status == 1, "\(markdown)")
        #expect(markdown.stdout.hasPrefix("## Model catalog changes\n\n1 added, 1 removed, 1 changed, 22 unchanged."))
        #expect(markdown.stdout.contains("### Added\n\n| model | image | latest tag | tags | EU-restricted |\n|---|---|---|---|---|\n| \(added.name) | `\(added.image.path)` |"))
        #expect(markdown.stdout.contains("### Removed\n\n| model | image |\n|---|---|\n| \(names[0]) |"))
        #expect(markdown.stdout.contains("| \(names[2]) | 9.9.9 |  | \(previous.latestTag) → 9.9.9 |"), "\(markdown.stdout)")

        let same = try await run([Paths.operatorBinary, "catalog", "diff", old.path("catalog.yaml"), old.path("catalog.yaml")])
        #expect(same.status == 0 && same.stdout.contains("summary: 0 added, 0 removed, 0 changed, 24 unchanged"), "\(same)")
        let trouble = try await run([Paths.operatorBinary, "catalog", "diff", old.path("catalog.yaml"), old.path("missing.yaml")])
        #expect(trouble.status == 2, "\(trouble)")
    }

    @Test func anEmptyOrLyingSearchWritesNothing() async throws {
        let empty = try World(ModelCatalog())
        let none = try await empty.catalog("generate", ["--output", empty.path("catalog.yaml")])
        #expect(none.status == 1 && none.stderr.contains("the catalog search lists no models; nothing written"), "\(none)")
        #expect(!FileManager.default.fileExists(atPath: empty.path("catalog.yaml")))

        let remote = try await run([Paths.operatorBinary, "catalog", "generate", "--ngc-api-url", "http://ngc.example.com"], environment: ["NGC_API_KEY": Self.key])
        #expect(remote.status == 2 && remote.stderr.contains("must be an https URL (http only to this machine)"), "\(remote)")
    }

    @Test func twoTeamsPublishingOneNameIsAClashNotAGuess() async throws {
        var catalog = Self.sample
        var twin = try #require(catalog[Self.sample.modelNames[5]])
        twin.image.path = "nim/other-team/\(twin.name)"
        catalog.entries[twin.name + "-twin"] = twin  // same image name, another team
        let world = try World(catalog)
        let result = try await world.catalog("generate", ["--output", world.path("catalog.yaml")])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderr.contains("name clash"), "\(result)")
        #expect(try world.read("catalog.yaml").catalog.entries.count == 24)
    }

    @Test func theControllerRunsAGeneratedCatalog() async throws {
        let env = try await NimEnvironment(installCatalog: false)
        let generated = try await run(
            [Paths.operatorBinary, "catalog", "generate", "--ngc-api-url", env.ngc.baseURL, "--namespace", NimEnvironment.operatorNamespace],
            environment: ["NGC_API_KEY": NimEnvironment.validKey], timeout: 120)
        #expect(generated.status == 0, "\(generated)")
        #expect(generated.stderr.contains("186 found, 186 written"), "\(generated)")
        try env.controlPlane.apply(try YAML.parseAll(generated.stdout))
        _ = try await env.startOperator()
        try await env.createKeySecret()
        _ = try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "tag": "1.15.5", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("Ready", "True")
        #expect(try await env.deployment()[dotted: "status.image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.15.5")
    }

    // MARK: - The catalog in CI

    /// A copy of the repository's two catalog files to update, and the script's environment.
    static func updateWorkspace(_ world: World) throws -> (catalog: String, chart: String, report: String, environment: [String: String]) {
        let catalog = world.path("nim-model-metadata.yaml")
        let chart = world.path("catalog-data.yaml")
        for (from, to) in [("config/catalog/nim-model-metadata.yaml", catalog), ("charts/nim-deploy-operator/files/catalog-data.yaml", chart)] {
            try FileManager.default.copyItem(atPath: Paths.repository.appendingPathComponent(from).path, toPath: to)
        }
        let report = world.path("report.md")
        return (catalog, chart, report, [
            "NIM_DEPLOY_OPERATOR": Paths.operatorBinary, "NGC_API_URL": world.ngc.baseURL, "NGC_API_KEY": Self.key,
            "CATALOG": catalog, "CHART_CATALOG": chart, "REPORT": report,
        ])
    }

    @Test func theCIScriptUpdatesBothCopiesWritesTheReportAndChangesNothingWhenNGCIsDown() async throws {
        let world = try World()
        let (catalog, chart, report, environment) = try Self.updateWorkspace(world)
        let script = Paths.repository.appendingPathComponent("scripts/catalog-update").path
        let before = try String(contentsOfFile: catalog, encoding: .utf8)

        let updated = try await run(["bash", script], environment: environment, timeout: 120)
        #expect(updated.status == 0, "\(updated)")
        #expect(!updated.stdout.contains(Self.key) && !updated.stderr.contains(Self.key))
        let text = try String(contentsOfFile: catalog, encoding: .utf8)
        #expect(text.hasPrefix("# The model catalog the controller reads"), "the header comment is kept")
        #expect(try CatalogManifest.read(text).catalog == Self.withoutRegion(Self.sample))
        // The chart's copy holds the same data.
        let chartData = try YAML.parse(try String(contentsOfFile: chart, encoding: .utf8))["data"]
        let configData = try YAML.parse(text)["data"]
        #expect(chartData != nil && chartData == configData)
        #expect(try String(contentsOfFile: chart, encoding: .utf8).hasPrefix("# The model catalog's data"))
        let markdown = try String(contentsOfFile: report, encoding: .utf8)
        #expect(markdown.hasPrefix("## Model catalog changes") && markdown.contains("### Removed"), "\(markdown.prefix(300))")
        #expect(before != text)

        let again = try await run(["bash", script], environment: environment, timeout: 120)
        #expect(again.status == 10 && again.stderr.contains("unchanged"), "\(again)")

        world.ngc.stop()
        try Data(before.utf8).write(to: URL(fileURLWithPath: catalog))
        let down = try await run(["bash", script], environment: environment, timeout: 120)
        #expect(down.status == 1 && down.stderr.contains("nothing changed"), "\(down)")
        #expect(try String(contentsOfFile: catalog, encoding: .utf8) == before, "nothing changed")
        let noKey = try await run(["bash", script], environment: environment.filter { $0.key != "NGC_API_KEY" }, unset: ["NGC_API_KEY"], timeout: 30)
        #expect(noKey.status != 0 && noKey.stderr.contains("set NGC_API_KEY"), "\(noKey)")
    }

    /// The workflow and the Tekton Task: well-formed, every shell step parses, they run the
    /// script and take the key from the secret store. actionlint checks the workflow too when
    /// it is installed.
    @Test func theWorkflowAndTheTektonTaskRunTheScriptWithTheKeyFromTheSecretStore() async throws {
        let workflowPath = Paths.repository.appendingPathComponent(".github/workflows/catalog.yml").path
        let workflow = try YAML.parse(try String(contentsOfFile: workflowPath, encoding: .utf8))
        #expect(workflow["on"]?["workflow_dispatch"] != nil && workflow[path: ["on", "push", "branches"]] == ["release-*"])
        #expect(workflow["permissions"] == ["contents": "write", "pull-requests": "write"])
        let steps = workflow[path: ["jobs", "update", "steps"]]?.arrayValue ?? []
        let generate = try #require(steps.first { $0["id"] == "generate" })
        #expect(generate[path: ["env", "NGC_API_KEY"]] == "${{ secrets.NGC_API_KEY }}")
        #expect(generate["run"]?.stringValue?.contains("scripts/catalog-update") == true)
        #expect(steps.contains { $0["run"]?.stringValue?.contains("gh pr create") == true && $0["if"] == "steps.generate.outputs.changed == 'true'" })
        #expect(steps.contains { $0["uses"]?.stringValue?.hasPrefix("actions/upload-artifact@") == true })
        let task = try YAML.parse(try String(contentsOf: Paths.repository.appendingPathComponent("config/tekton/catalog-update-task.yaml"), encoding: .utf8))
        #expect(task["apiVersion"] == "tekton.dev/v1" && task["kind"] == "Task")
        #expect(task[path: ["spec", "volumes"]]?[0]?[path: ["secret", "secretName"]] == "ngc-api-key")
        let taskScripts = (task[path: ["spec", "steps"]]?.arrayValue ?? []).compactMap { $0["script"]?.stringValue }
        #expect(taskScripts.first?.contains("scripts/catalog-update") == true && taskScripts.last?.contains("gh pr create --base") == true)
        #expect(!(task[path: ["spec", "params"]]?.arrayValue ?? []).contains { ["key", "token"].contains(where: ($0["name"]?.stringValue ?? "").contains) }, "no secret as a parameter")
        for script in steps.compactMap({ $0["run"]?.stringValue }) + taskScripts {
            let parsed = try await run(["bash", "-n"], input: script, timeout: 30)
            #expect(parsed.status == 0, "\(parsed)\n\(script)")
        }
        if (try? await run(["sh", "-c", "command -v actionlint"], timeout: 10))?.status == 0 {
            let linted = try await run(["actionlint", workflowPath], timeout: 60)
            #expect(linted.status == 0, "\(linted)")
        }
    }
}
