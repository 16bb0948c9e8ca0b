import Foundation
import Synchronization

/// Structured logs: one JSON object per line on stderr, with a level, a logger name, a message
/// and fields. Every string passes through the redactor on its way out.
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

    /// Where lines go and which are kept; shared by every logger of the process.
    public final class Sink: Sendable {
        private let minimum = Atomic<Int>(Level.info.rawValue)
        private let capture = Mutex<[String]?>(nil)

        public var level: Level {
            get { Level(rawValue: minimum.load(ordering: .relaxed)) ?? .info }
            set { minimum.store(newValue.rawValue, ordering: .relaxed) }
        }

        /// Keeps lines in memory as well (tests assert on what was logged).
        public func startCapturing() { capture.withLock { $0 = [] } }

        public func captured() -> [String] { capture.withLock { $0 ?? [] } }

        func write(_ line: String) {
            capture.withLock { $0?.append(line) }
            StandardStreams.write(line + "\n", to: .error)
        }
    }

    public static let sink = Sink()

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
        guard level >= Self.sink.level else { return }
        var line: [String: JSON] = self.fields.merging(extra()) { _, new in new }
        line["ts"] = .string(KubeTime.formatMicro(Date()))
        line["level"] = .string(level.name)
        line["logger"] = .string(name)
        line["msg"] = .string(message())
        Self.sink.write(Redactor.shared.scrub(JSON.object(line)).serialized())
    }
}

/// Keeps secrets out of everything a process says: log lines, events, conditions, errors.
/// Values registered here, and any token with a registered prefix (NGC personal keys start with
/// `nvapi-`), are replaced before the text leaves.
public final class Redactor: Sendable {
    public static let shared = Redactor()
    public static let placeholder = "[REDACTED]"

    /// Values by their first eight bytes, so a scrub costs one lookup per byte of the text, not
    /// one search per value held (an operator rotating keys for months holds thousands).
    private let state = Mutex<(heads: [UInt64: Set<String>], order: [String], prefixes: Set<String>)>(([:], [], []))
    /// The most recent values kept. Older ones still match a registered prefix (`nvapi-`) if
    /// they ever reappear.
    public static let retained = 4096

    public init() {}

    /// The first eight bytes of a text, as one number (values are eight bytes or more).
    private static func head<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        bytes.prefix(8).reduce(0) { ($0 << 8) | UInt64($1) }
    }

    /// A secret value that must never be printed. Very short values are ignored: replacing
    /// every "a" would make logs unreadable without protecting anything.
    public func register(_ secret: String) {
        let trimmed = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count >= 8 else { return }
        let key = Self.head(trimmed.utf8)
        state.withLock { state in
            guard state.heads[key, default: []].insert(trimmed).inserted else { return }
            state.order.append(trimmed)
            if state.order.count > Self.retained {
                let drop = state.order.count - Self.retained / 2
                for old in state.order.prefix(drop) {
                    let oldKey = Self.head(old.utf8)
                    state.heads[oldKey]?.remove(old)
                    if state.heads[oldKey]?.isEmpty == true { state.heads[oldKey] = nil }
                }
                state.order.removeFirst(drop)
            }
        }
    }

    /// Any token starting with `prefix` is a secret (`nvapi-`).
    public func registerPrefix(_ prefix: String) {
        state.withLock { _ = $0.prefixes.insert(prefix) }
    }

    public func scrub(_ text: String) -> String {
        let (heads, prefixes) = state.withLock { ($0.heads, $0.prefixes) }
        var result = text
        for prefix in prefixes where result.contains(prefix) {
            result = Self.maskTokens(in: result, prefix: prefix)
        }
        guard !heads.isEmpty else { return result }
        var candidates: Set<String> = []
        var window: UInt64 = 0
        for (offset, byte) in result.utf8.enumerated() {
            window = (window << 8) | UInt64(byte)
            if offset >= 7, let values = heads[window] { candidates.formUnion(values) }
        }
        for value in candidates where result.contains(value) {
            result = result.replacingOccurrences(of: value, with: Self.placeholder)
        }
        return result
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
