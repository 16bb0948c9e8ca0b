import Foundation
import KubeCore

/// Where the demo finds the project's manifests (`config/`) and the workplace's shared material
/// (`../shared`): next to the current directory or to the executable (`.build/<config>/`).
enum Manifests {
    static func repositoryRoots() -> [URL] {
        var roots = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            roots.append(directory)
            directory.deleteLastPathComponent()
        }
        return roots
    }

    /// `config/...` of this repository.
    static func config(_ relative: String) -> URL? {
        for root in repositoryRoots() {
            let candidate = root.appendingPathComponent("config").appendingPathComponent(relative)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// `../shared/...`, when the workplace's shared material is beside the repository.
    static func shared(_ relative: String) -> URL? {
        var candidates: [URL] = []
        if let configured = ProcessInfo.processInfo.environment["NIMDEPLOY_SHARED"] { candidates.append(URL(fileURLWithPath: configured)) }
        for root in repositoryRoots() where FileManager.default.fileExists(atPath: root.appendingPathComponent("config").path) {
            candidates.append(root.deletingLastPathComponent().appendingPathComponent("shared"))
        }
        for base in candidates {
            let candidate = base.appendingPathComponent(relative)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    static func documents(_ url: URL) throws -> [JSON] {
        try YAML.parseAll(String(contentsOf: url, encoding: .utf8))
    }
}
