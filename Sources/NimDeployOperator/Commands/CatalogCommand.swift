import Foundation
import KubeCore
import NimDeployManager
import Reconciler

/// `catalog`: the model catalog ConfigMap as a release artifact (contract section 4):
/// `generate` builds it from NVIDIA's API, `detect-eu` lists what NVIDIA does not serve from
/// here, `validate` and `diff` read it with the controller's own parser.
///
/// Exit status, for CI: generate and detect-eu 0 complete, 3 written but some models could not
/// be read (a person should look), 1 nothing written; validate 0 usable, 1 not; diff 0 same,
/// 1 different, 2 trouble (as diff(1)); 2 is also a usage error everywhere.
enum CatalogCommand {
    static let incomplete: Int32 = 3

    static func main(_ arguments: [String]) async throws -> Int32 {
        let verb = arguments.first { !$0.hasPrefix("-") }
        let rest = verb.map { verb in Array(arguments.drop { $0 != verb }.dropFirst()) } ?? arguments
        switch verb {
        case "generate" where rest.contains { $0 == "--from-registry" || $0.hasPrefix("--from-registry=") }:
            let parsed = try Arguments(rest, valueFlags: RegistryFetch.valueFlags, switchFlags: ["help"])
            if parsed.flag("help") { return help(Usage.catalogGenerate) }
            try rejectPositional(parsed)
            let options = try RegistryFetch.Options(parsed)
            return await runCancellable { await RegistryFetch.execute(options) }
        case "generate", "detect-eu":
            let parsed = try Arguments(rest, valueFlags: CatalogFetch.valueFlags.union(verb == "generate" ? CatalogFetch.generateFlags : []), switchFlags: ["help"])
            if parsed.flag("help") { return help(verb == "generate" ? Usage.catalogGenerate : Usage.catalogDetectEU) }
            try rejectPositional(parsed)
            let options = try CatalogFetch.Options(parsed, generate: verb == "generate")
            return await runCancellable { await CatalogFetch.execute(options) }
        case "validate":
            let parsed = try Arguments(rest, valueFlags: [], switchFlags: ["help"])
            if parsed.flag("help") { return help(Usage.catalogValidate) }
            let files = [parsed.command].compactMap { $0 } + parsed.positional
            guard files.count == 1 else { throw Arguments.UsageError(message: "catalog validate takes one file") }
            return validate(files[0])
        case "diff":
            let parsed = try Arguments(rest, valueFlags: ["output"], switchFlags: ["help"])
            if parsed.flag("help") { return help(Usage.catalogDiff) }
            let files = [parsed.command].compactMap { $0 } + parsed.positional
            guard files.count == 2 else { throw Arguments.UsageError(message: "catalog diff takes two files: OLD NEW") }
            let format = parsed.value("output") ?? "text"
            guard let chosen = DiffFormat(rawValue: format) else { throw Arguments.UsageError(message: "--output must be text, json or markdown, not \"\(format)\"") }
            return diff(files[0], files[1], format: chosen)
        case nil where arguments.contains("--help") || arguments.contains("-h"), "help"?:
            return help(Usage.catalog)
        case nil:
            throw Arguments.UsageError(message: "catalog needs a command: generate, detect-eu, validate or diff")
        case let other?:
            throw Arguments.UsageError(message: "unknown catalog command \"\(other)\"")
        }
    }

    // MARK: - validate

    static func validate(_ path: String) -> Int32 {
        let read: (configMap: KubeObject, catalog: ModelCatalog, problems: [ModelCatalog.Problem])
        do { read = try CatalogManifest.read(try readText(path)) } catch {
            StandardStreams.say("\(path): \(error)")
            return 1
        }
        let shape = read.configMap["data"]?["models.json"] != nil ? CatalogManifest.Shape.modelsJSON : .perModel
        StandardStreams.say("\(path): ConfigMap \(read.configMap.name.isEmpty ? "(no name)" : read.configMap.name), \(shape.rawValue)")
        for problem in read.problems { StandardStreams.say("\(problem.severity.rawValue): \(problem.key): \(problem.message)") }
        let errors = read.problems.filter { $0.severity == .error }.count
        let warnings = read.problems.count - errors
        let usable = errors == 0 && !read.catalog.entries.isEmpty
        StandardStreams.say("\(usable ? "valid" : "invalid"): \(read.catalog.entries.count) models usable, \(plural(errors, "error")), \(plural(warnings, "warning"))")
        return usable ? 0 : 1
    }

    // MARK: - diff

    enum DiffFormat: String { case text, json, markdown }

    static func diff(_ oldPath: String, _ newPath: String, format: DiffFormat) -> Int32 {
        var catalogs: [ModelCatalog] = []
        for path in [oldPath, newPath] {
            do {
                let read = try CatalogManifest.read(try readText(path))
                let errors = read.problems.filter { $0.severity == .error }
                if !errors.isEmpty {
                    StandardStreams.complain("\(path): \(plural(errors.count, "entry")) left out as the controller would: " + errors.prefix(3).map(\.description).joined(separator: "; "))
                }
                catalogs.append(read.catalog)
            } catch {
                StandardStreams.complain("\(path): \(error)")
                return 2
            }
        }
        let difference = CatalogDiff(from: catalogs[0], to: catalogs[1])
        switch format {
        case .json:
            StandardStreams.say(diffJSON(difference).prettyPrinted())
        case .markdown:
            StandardStreams.write(diffMarkdown(difference), to: .output)
        case .text:
            if !difference.added.isEmpty {
                StandardStreams.say("added (\(difference.added.count)):")
                for entry in difference.added { StandardStreams.say("  + \(entry.name): \(entry.image.path), latestTag \(entry.latestTag), tags \(entry.tags.joined(separator: " "))\(entry.euRestricted ? ", EU-restricted" : "")") }
            }
            if !difference.removed.isEmpty {
                StandardStreams.say("removed (\(difference.removed.count)):")
                for entry in difference.removed { StandardStreams.say("  - \(entry.name): \(entry.image.path)") }
            }
            if !difference.changed.isEmpty {
                StandardStreams.say("changed (\(difference.changed.count)):")
                for change in difference.changed { StandardStreams.say("  ~ \(change.name): \(change.summary)") }
            }
            StandardStreams.say("summary: \(difference.added.count) added, \(difference.removed.count) removed, \(difference.changed.count) changed, \(difference.unchanged) unchanged")
        }
        return difference.isEmpty ? 0 : 1
    }

    /// The diff as a report for a pull request or QE: a table per kind of change.
    static func diffMarkdown(_ difference: CatalogDiff) -> String {
        func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
        var text = "## Model catalog changes\n\n"
        text += "\(difference.added.count) added, \(difference.removed.count) removed, \(difference.changed.count) changed, \(difference.unchanged) unchanged.\n"
        if !difference.added.isEmpty {
            text += "\n### Added\n\n| model | image | latest tag | tags | EU-restricted |\n|---|---|---|---|---|\n"
            for entry in difference.added {
                text += "| \(cell(entry.name)) | `\(entry.image.path)` | \(entry.latestTag) | \(cell(entry.tags.joined(separator: ", "))) | \(entry.euRestricted ? "yes" : "no") |\n"
            }
        }
        if !difference.removed.isEmpty {
            text += "\n### Removed\n\n| model | image |\n|---|---|\n"
            for entry in difference.removed { text += "| \(cell(entry.name)) | `\(entry.image.path)` |\n" }
        }
        if !difference.changed.isEmpty {
            text += "\n### Changed\n\n| model | tags added | tags removed | latest tag | other |\n|---|---|---|---|---|\n"
            for change in difference.changed {
                var other = change.otherFields
                if let eu = change.euRestricted { other.append("EU-restricted \(eu.old) → \(eu.new)") }
                if let image = change.image { other.append("image \(image.old) → \(image.new)") }
                text += "| \(cell(change.name)) | \(cell(change.tagsAdded.joined(separator: ", "))) | \(cell(change.tagsRemoved.joined(separator: ", "))) | "
                    + (change.latestTag.map { "\($0.old) → \($0.new)" } ?? "") + " | \(cell(other.joined(separator: "; "))) |\n"
            }
        }
        return text
    }

    static func diffJSON(_ difference: CatalogDiff) -> JSON {
        let changed: [JSON] = difference.changed.map { change in
            var fields: [String: JSON] = [
                "name": .string(change.name), "tagsAdded": .array(change.tagsAdded.map(JSON.string)),
                "tagsRemoved": .array(change.tagsRemoved.map(JSON.string)), "otherFields": .array(change.otherFields.map(JSON.string)),
            ]
            if let latest = change.latestTag { fields["latestTag"] = ["old": .string(latest.old), "new": .string(latest.new)] }
            if let eu = change.euRestricted { fields["euRestricted"] = ["old": .bool(eu.old), "new": .bool(eu.new)] }
            if let image = change.image { fields["image"] = ["old": .string(image.old), "new": .string(image.new)] }
            return .object(fields)
        }
        return [
            "added": .array(difference.added.map { ["name": .string($0.name), "image": .string($0.image.path), "latestTag": .string($0.latestTag)] }),
            "removed": .array(difference.removed.map { ["name": .string($0.name), "image": .string($0.image.path)] }),
            "changed": .array(changed), "unchanged": .int(difference.unchanged),
        ]
    }

    // MARK: - Files and output

    struct FileError: Error, CustomStringConvertible {
        var description: String
    }

    /// A file's text, `-` for standard input.
    static func readText(_ path: String) throws -> String {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else { throw FileError(description: "cannot read the file") }
            data = contents
        }
        guard let text = String(data: data, encoding: .utf8) else { throw FileError(description: "not UTF-8 text") }
        return text
    }

    /// Writes `text` to `path` (`-` or nil: standard output) all at once: a reader never sees
    /// half a catalog, and a failed run leaves the previous file in place.
    static func write(_ text: String, to path: String?) throws {
        guard let path, path != "-" else {
            StandardStreams.write(text, to: .output)
            return
        }
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
    }


    static func plural(_ count: Int, _ noun: String) -> String {
        count == 1 ? "1 \(noun)" : "\(count) \(noun == "entry" ? "entries" : noun + "s")"
    }
}
