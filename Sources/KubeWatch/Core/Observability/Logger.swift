import Foundation
import Synchronization

/// Structured logs: one JSON object per line on stderr, with a level, a logger name, a message
/// and fields. Every string passes through the current task's redactor on its way out.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable, CaseIterable {
        case debug, info, warn, error

        public var name: String {
            switch self {
            case .debug: return "debug"
            case .info: return "info"
            case .warn: return "warn"
            case .error: return "error"
            }
        }

        public init?(name: String) {
            guard let level = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
            self = level
        }

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// Where lines go and which are kept. The process has one (on
    /// stderr); a task and the tasks it starts may log into their own, so tests that capture
    /// logs in parallel each see only theirs: `Logger.$sink.withValue(Sink(capturing: true)) { ... }`.
    public final class Sink: Sendable {
        private let minimum: Atomic<Int>
        private let capture: Mutex<[String]?>
        private let echo: Bool

        /// `capturing`: keep lines in memory (tests assert on what was logged); `echo`: write
        /// them to stderr as well.
        public init(level: Level = .info, capturing: Bool = false, echo: Bool = true) {
            minimum = Atomic(level.rawValue)
            capture = Mutex(capturing ? [] : nil)
            self.echo = echo
        }

        public var level: Level {
            get { Level(rawValue: minimum.load(ordering: .relaxed)) ?? .info }
            set { minimum.store(newValue.rawValue, ordering: .relaxed) }
        }

        public func captured() -> [String] { capture.withLock { $0 ?? [] } }

        func write(_ line: String) {
            capture.withLock { $0?.append(line) }
            if echo { StandardStreams.write(line + "\n", to: .error) }
        }
    }

    /// The sink of the current task: the process's unless a caller chose another.
    @TaskLocal public static var sink = Sink()

    public let name: String
    public let fields: [String: JSON]

    public init(name: String, fields: [String: JSON] = [:]) {
        self.name = name
        self.fields = fields
    }

    /// A logger that adds `fields` to every line (a reconcile's key, say).
    public func with(_ extra: [String: JSON]) -> Logger {
        Logger(name: name, fields: fields.merging(extra) { _, new in new })
    }

    // Message and fields are autoclosures: a debug line's fingerprints and interpolations cost
    // nothing while debug is off.
    public func debug(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> [String: JSON] = [:]) { log(.debug, message(), fields()) }
    public func info(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> [String: JSON] = [:]) { log(.info, message(), fields()) }
    public func warn(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> [String: JSON] = [:]) { log(.warn, message(), fields()) }
    public func error(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> [String: JSON] = [:]) { log(.error, message(), fields()) }

    public func log(_ level: Level, _ message: @autoclosure () -> String, _ extra: @autoclosure () -> [String: JSON]) {
        let sink = Self.sink
        guard level >= sink.level else { return }
        var line: [String: JSON] = self.fields.merging(extra()) { _, new in new }
        line["ts"] = .string(KubeTime.formatMicro(Date()))
        line["level"] = .string(level.name)
        line["logger"] = .string(name)
        line["msg"] = .string(message())
        sink.write(Redactor.current.scrub(JSON.object(line)).serialized())
    }
}

/// Keeps secrets out of everything a process says: log lines, events, conditions, errors.
/// Values registered here, and any token with a registered prefix (NGC personal keys start with
/// `nvapi-`), are replaced before the text leaves. Every value is kept, however many: of each,
/// only its first eight bytes, its length and a 64-bit digest (about 40 bytes a value), so an
/// operator rotating keys for years never forgets one.
public final class Redactor: Sendable {
    /// The redactor of the current task: the process's unless a caller chose another (tests
    /// that must not see each other's secrets).
    @TaskLocal public static var current = Redactor()
    public static let placeholder = "[REDACTED]"

    private struct Held: Hashable {
        var length: Int
        var digest: UInt64
    }

    /// Values by their first eight bytes, so a scrub costs one lookup per byte of the text, not
    /// one search per value held.
    private let state = Mutex<(heads: [UInt64: Set<Held>], prefixes: Set<String>)>(([:], []))

    public init() {}

    /// The first eight bytes of a text, as one number (values are eight bytes or more).
    private static func head<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UInt64 {
        bytes.prefix(8).reduce(0) { ($0 << 8) | UInt64($1) }
    }

    /// FNV-1a: the same in every process, cheap over a slice.
    private static func digest(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    /// A secret value that must never be printed. Very short values are ignored: replacing
    /// every "a" would make logs unreadable without protecting anything.
    public func register(_ secret: String) {
        let trimmed = Array(secret.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard trimmed.count >= 8 else { return }
        let held = Held(length: trimmed.count, digest: Self.digest(trimmed[...]))
        let key = Self.head(trimmed)
        state.withLock { _ = $0.heads[key, default: []].insert(held) }
    }

    /// Any token starting with `prefix` is a secret (`nvapi-`).
    public func registerPrefix(_ prefix: String) {
        state.withLock { _ = $0.prefixes.insert(prefix) }
    }

    /// How many values it holds.
    public var count: Int { state.withLock { $0.heads.values.reduce(0) { $0 + $1.count } } }

    public func scrub(_ text: String) -> String {
        let (heads, prefixes) = state.withLock { ($0.heads, $0.prefixes) }
        var result = text
        for prefix in prefixes where result.contains(prefix) {
            result = Self.maskTokens(in: result, prefix: prefix)
        }
        guard !heads.isEmpty else { return result }
        let bytes = Array(result.utf8)
        guard bytes.count >= 8 else { return result }
        var ranges: [Range<Int>] = []
        var window: UInt64 = 0
        for (offset, byte) in bytes.enumerated() {
            window = (window << 8) | UInt64(byte)
            guard offset >= 7, let held = heads[window] else { continue }
            let start = offset - 7
            if let last = ranges.last, start < last.upperBound { continue }
            // The longest value held that starts here.
            let match = held.filter { start + $0.length <= bytes.count && Self.digest(bytes[start..<start + $0.length]) == $0.digest }.map(\.length).max()
            if let match { ranges.append(start..<start + match) }
        }
        guard !ranges.isEmpty else { return result }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var cursor = 0
        for range in ranges {
            output += bytes[cursor..<range.lowerBound]
            output += Array(Self.placeholder.utf8)
            cursor = range.upperBound
        }
        output += bytes[cursor...]
        return String(decoding: output, as: UTF8.self)
    }
    public func scrub(_ json: JSON) -> JSON {
        switch json {
        case .string(let text): return .string(scrub(text))
        case .array(let items): return .array(items.map(scrub))
        case .object(let object): return .object(object.mapValues(scrub))
        default: return json
        }
    }

    /// `prefix` followed by token characters becomes `prefix[REDACTED]`.
    static func maskTokens(in text: String, prefix: String) -> String {
        var output = ""
        var rest = Substring(text)
        while let range = rest.range(of: prefix) {
            output += rest[..<range.lowerBound]
            rest = rest[range.upperBound...]
            let token = rest.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." || $0 == "=" || $0 == "+" || $0 == "/" }
            // A key has material after its prefix; "(nvapi-...)" in a message is no key.
            output += prefix + (token.count >= 8 ? placeholder : String(token))
            rest = rest.dropFirst(token.count)
        }
        return output + rest
    }
}
