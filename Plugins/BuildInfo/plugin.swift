import Foundation
import PackagePlugin

/// Writes `BuildInfo.swift` before each build: the commit the binary is built from (`git
/// rev-parse`), so `nim-deploy-operator version` can say it; `unknown` outside a git checkout
/// (the image build copies the sources only).
@main
struct BuildInfo: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "Generated")
        let file = output.appending(path: "BuildInfo.swift").path
        let script = """
            commit=$(git -C "$1" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
            dirty=$(git -C "$1" status --porcelain --untracked-files=no 2>/dev/null | head -c1)
            [ -n "$dirty" ] && commit="$commit-dirty"
            mkdir -p "$(dirname "$2")"
            printf 'enum BuildInfo {\\n    static let commit = "%s"\\n}\\n' "$commit" > "$2.new"
            cmp -s "$2.new" "$2" 2>/dev/null && rm "$2.new" || mv "$2.new" "$2"
            """
        return [
            .prebuildCommand(
                displayName: "Build info (git commit)", executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "sh", context.package.directoryURL.path, file], outputFilesDirectory: output)
        ]
    }
}
