/// A command line: a subcommand, `--flag value` / `--flag=value` options, boolean switches and
/// positional arguments. Hand-written because the project takes no third-party packages; the
/// help text in `Usage` is the reference for what each command accepts.
public struct Arguments {
    public struct UsageError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
        public init(message: String) { self.message = message }
    }

    public var command: String?
    public var values: [String: String] = [:]
    public var switches: Set<String> = []
    public var positional: [String] = []

    /// - Parameters:
    ///   - valueFlags: flags that take a value.
    ///   - switchFlags: flags that are on when present (`--flag=false` turns one off).
    public init(_ arguments: [String], valueFlags: Set<String>, switchFlags: Set<String>) throws(UsageError) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "--" {
                positional.append(contentsOf: rest)
                break
            }
            guard argument.hasPrefix("--"), argument.count > 2 else {
                if argument.hasPrefix("-") && argument != "-" && argument != "-h" {
                    throw UsageError(message: "unknown option \(argument)" + Self.suggestion(argument.drop { $0 == "-" }, among: valueFlags.union(switchFlags), prefix: "--"))
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
                throw UsageError(message: "unknown option --\(name)" + Self.suggestion(Substring(name), among: valueFlags.union(switchFlags), prefix: "--"))
            }
        }
    }

    /// "; did you mean --concurrency?" for the nearest known word, when one is near enough.
    public static func suggestion(_ word: Substring, among known: Set<String>, prefix: String = "") -> String {
        guard let nearest = nearest(String(word), among: known) else { return "" }
        return "; did you mean \(prefix)\(nearest)?"
    }

    /// The known word fewest edits away (insert, delete, replace, swap two neighbours), if it is
    /// within a third of the word's length (and at least two).
    public static func nearest(_ word: String, among known: Set<String>) -> String? {
        let limit = max(2, word.count / 3)
        return known.map { ($0, distance(Array(word), Array($0))) }.filter { $0.1 <= limit }
            .min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    public static func distance(_ a: [Character], _ b: [Character]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1) }
            }
        }
        return table[a.count][b.count]
    }

    public func value(_ name: String) -> String? { values[name] }
    public func flag(_ name: String) -> Bool { switches.contains(name) }

    public func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let text = values[name] else { return fallback }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError(message: "--\(name) must be a number from \(range.lowerBound) to \(range.upperBound), not \"\(text)\"")
        }
        return number
    }
}
