/// A command line: a subcommand, `--flag value` / `--flag=value` options, boolean switches and
/// positional arguments. Hand-written because the project takes no third-party packages; the
/// help text in `Usage` is the reference for what each command accepts.
struct Arguments {
    struct UsageError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    var command: String?
    var values: [String: String] = [:]
    var switches: Set<String> = []
    var positional: [String] = []

    /// - Parameters:
    ///   - valueFlags: flags that take a value.
    ///   - switchFlags: flags that are on when present (`--flag=false` turns one off).
    init(_ arguments: [String], valueFlags: Set<String>, switchFlags: Set<String>) throws(UsageError) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "--" {
                positional.append(contentsOf: rest)
                break
            }
            guard argument.hasPrefix("--"), argument.count > 2 else {
                if argument.hasPrefix("-") && argument != "-" && argument != "-h" {
                    throw UsageError(message: "unknown option \(argument)")
                }
                if argument == "-h" { switches.insert("help"); continue }
                if command == nil && positional.isEmpty { command = argument } else { positional.append(argument) }
                continue
            }
            var name = String(argument.dropFirst(2))
            var inline: String?
            if let equals = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if switchFlags.contains(name) {
                switch inline?.lowercased() {
                case nil, "true", "1": switches.insert(name)
                case "false", "0": switches.remove(name)
                default: throw UsageError(message: "--\(name) takes true or false, not \"\(inline ?? "")\"")
                }
            } else if valueFlags.contains(name) {
                guard let value = inline ?? rest.popFirst() else { throw UsageError(message: "--\(name) needs a value") }
                values[name] = value
            } else {
                throw UsageError(message: "unknown option --\(name)")
            }
        }
    }

    func value(_ name: String) -> String? { values[name] }
    func flag(_ name: String) -> Bool { switches.contains(name) }

    func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let text = values[name] else { return fallback }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError(message: "--\(name) must be a number from \(range.lowerBound) to \(range.upperBound), not \"\(text)\"")
        }
        return number
    }
}
