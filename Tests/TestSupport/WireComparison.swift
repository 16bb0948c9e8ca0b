import Foundation
import KubeCore

/// One exchange recorded from a real kube-apiserver (`../shared/kube-wire/NNN-name.json`).
public struct WireRecording: Sendable {
    public var number: Int
    public var name: String
    public var about: String
    public var method: String
    public var path: String
    public var headers: [String: String]
    /// A string body is sent as is (YAML for apply); anything else as JSON.
    public var body: JSON?
    public var status: Int
    public var responseHeaders: [String: String]
    public var responseBody: JSON?
    /// Watch responses: one parsed event per line.
    public var lines: [JSON]?

    public static func loadAll() throws -> [WireRecording] {
        let directory = Paths.shared.appendingPathComponent("kube-wire")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        return try files.map { file in
            let json = try JSON(parsing: Data(contentsOf: directory.appendingPathComponent(file)))
            let request = json["request"] ?? [:]
            let response = json["response"] ?? [:]
            return WireRecording(
                number: Int(file.prefix(3)) ?? 0, name: json["name"]?.stringValue ?? file, about: json["about"]?.stringValue ?? "",
                method: request["method"]?.stringValue ?? "GET", path: request["path"]?.stringValue ?? "/",
                headers: (request["headers"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
                body: request["body"].flatMap { $0.isNull ? JSON?.none : $0 },
                status: response["status"]?.intValue ?? 0,
                responseHeaders: (response["headers"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
                responseBody: response["body"].flatMap { $0.isNull ? JSON?.none : $0 }, lines: response["lines"]?.arrayValue)
        }
    }
}

/// Compares what this project's server said with what a real server said, the way the
/// recordings' README asks: codes, reasons, kinds, which fields exist and their types, values
/// where they are not made up by the server, and relations between made-up values (the same
/// recorded resourceVersion must map to the same local one, and different to different: so a
/// no-op that keeps the version, or a write that bumps it, is checked too).
public struct WireComparator {
    public private(set) var differences: [String] = []
    /// Recorded server-made value to ours, and back, for resourceVersions and UIDs.
    public private(set) var forward: [String: String] = [:]
    private var backward: [String: String] = [:]

    /// Fields whose values a server makes up: only their presence and type are compared.
    static let madeUp: Set<String> = ["creationTimestamp", "deletionTimestamp", "time", "lastTransitionTime", "serverAddress", "storageVersionHash"]
    /// Made-up values that later requests send back: paired so they can be substituted.
    static let paired: Set<String> = ["resourceVersion", "uid", "continue"]

    public init() {}

    /// Our value for something the real server made up, once seen.
    public func local(_ recorded: String) -> String? { forward[recorded] }

    /// Substitutes known recorded uids and continue tokens inside a text (long values only: a
    /// short number could appear anywhere).
    public func substitute(_ text: String) -> String {
        var result = text
        for (recorded, ours) in forward.sorted(by: { $0.key.count > $1.key.count }) where recorded.count > 8 {
            result = result.replacingOccurrences(of: recorded, with: ours)
        }
        return result
    }

    /// A request path with every query value that is a known recorded value replaced whole.
    public func substitutePath(_ path: String) -> String {
        guard let question = path.firstIndex(of: "?") else { return substitute(path) }
        let query = path[path.index(after: question)...].split(separator: "&").map { pair -> String in
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return String(pair) }
            return parts[0] + "=" + (forward[parts[1]] ?? substitute(parts[1]))
        }
        return String(path[..<question]) + "?" + query.joined(separator: "&")
    }

    /// A request body with every string equal to a known recorded value replaced.
    public func substitute(_ json: JSON) -> JSON {
        switch json {
        case .string(let text): return .string(forward[text] ?? substitute(text))
        case .array(let items): return .array(items.map(substitute))
        case .object(let object): return .object(object.mapValues(substitute))
        default: return json
        }
    }

    public mutating func note(_ difference: String) { differences.append(difference) }

    /// Pairs a recorded made-up value with ours; a pairing that contradicts an earlier one is a
    /// difference in behaviour (a version that should have stayed the same moved, or the reverse).
    public mutating func pair(_ recorded: String, _ ours: String, at path: String) {
        guard !recorded.isEmpty || !ours.isEmpty else { return }
        if let known = forward[recorded], known != ours {
            note("\(path): recorded \(recorded) was ours \(known) before, now \(ours)")
        } else if let known = backward[ours], known != recorded {
            note("\(path): ours \(ours) stood for recorded \(known) before, now for \(recorded)")
        } else {
            forward[recorded] = ours
            backward[ours] = recorded
        }
    }

    public mutating func compare(_ recorded: JSON?, _ actual: JSON?, at path: String) {
        guard let recorded else {
            if let actual, !actual.isNull { note("\(path): not in the recording, ours is \(actual.typeName)") }
            return
        }
        guard let actual else {
            if !recorded.isNull { note("\(path): missing (recorded \(recorded.typeName))") }
            return
        }
        let key = path.split(separator: ".").last.map(String.init) ?? ""
        switch (recorded, actual) {
        case (.object(let a), .object(let b)):
            if key == "managedFields" { return }
            if key == "fieldsV1" {
                compareFieldSets(recorded, actual, at: path)
                return
            }
            for name in Set(a.keys).union(b.keys).sorted() { compare(a[name], b[name], at: "\(path).\(name)") }
        case (.array(let a), .array(let b)):
            if key == "managedFields" {
                compareManagedFields(a, b, at: path)
                return
            }
            if key == "causes" {
                // A set: in no particular order, and a real server sometimes reports one twice.
                let recordedSet = Set(a.map { substitute($0.serialized()) })
                let ourSet = Set(b.map { $0.serialized() })
                if recordedSet != ourSet { note("\(path): causes recorded \(recordedSet.sorted()), ours \(ourSet.sorted())") }
                return
            }
            guard a.count == b.count else {
                note("\(path): \(a.count) items recorded, \(b.count) ours")
                return
            }
            for (index, pair) in zip(a, b).enumerated() { compare(pair.0, pair.1, at: "\(path)[\(index)]") }
        case (.string(let a), .string(let b)):
            if Self.paired.contains(key) {
                pair(a, b, at: path)
            } else if key == "message", a.contains(" is invalid: ") {
                // The order of an Invalid's causes is the server's iteration order; the causes
                // themselves are compared as a set. Here: the same object, the same verdict.
                if a.components(separatedBy: " is invalid: ").first != b.components(separatedBy: " is invalid: ").first {
                    note("\(path): recorded \"\(a)\", ours \"\(b)\"")
                }
            } else if Self.madeUp.contains(key) || Self.isAge(a) {
                return
            } else if substitute(a) != b && Self.normalised(substitute(a)) != Self.normalised(b) {
                note("\(path): recorded \"\(a)\", ours \"\(b)\"")
            }
        default:
            if recorded.typeName != actual.typeName && !(recorded.doubleValue != nil && actual.doubleValue != nil) {
                note("\(path): recorded \(recorded.typeName), ours \(actual.typeName)")
            } else if !recorded.semanticallyEquals(actual) {
                note("\(path): recorded \(recorded), ours \(actual)")
            }
        }
    }

    /// managedFields: the same managers, operations and subresources, owning the same fields.
    mutating func compareManagedFields(_ recorded: [JSON], _ actual: [JSON], at path: String) {
        func identity(_ entry: JSON) -> String {
            "\(entry["manager"]?.stringValue ?? "")/\(entry["operation"]?.stringValue ?? "")/\(entry["subresource"]?.stringValue ?? "")"
        }
        let recordedByIdentity = Dictionary(recorded.map { (identity($0), $0) }, uniquingKeysWith: { a, _ in a })
        let actualByIdentity = Dictionary(actual.map { (identity($0), $0) }, uniquingKeysWith: { a, _ in a })
        if Set(recordedByIdentity.keys) != Set(actualByIdentity.keys) {
            note("\(path): managers recorded \(recordedByIdentity.keys.sorted()), ours \(actualByIdentity.keys.sorted())")
            return
        }
        for (name, entry) in recordedByIdentity.sorted(by: { $0.key < $1.key }) {
            compareFieldSets(entry["fieldsV1"] ?? [:], actualByIdentity[name]?["fieldsV1"] ?? [:], at: "\(path)[\(name)]")
        }
    }

    mutating func compareFieldSets(_ recorded: JSON, _ actual: JSON, at path: String) {
        let left = Self.normaliseKeys(JSON.string(substitute(recorded.serialized())))
        if left != actual.serialized() && (try? JSON(parsing: substitute(recorded.serialized()))) != actual {
            note("\(path): field set recorded \(substitute(recorded.serialized())), ours \(actual.serialized())")
        }
    }

    static func normaliseKeys(_ json: JSON) -> String { json.stringValue ?? json.serialized() }

    /// `0s`, `3m2s`: a table's Age cell.
    static func isAge(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isNumber || "smhdy".contains($0) } && text.last.map { "smhdy".contains($0) } == true
    }

    /// Numbers in messages (versions, lengths) are compared as placeholders.
    static func normalised(_ text: String) -> String {
        var output = ""
        var inNumber = false
        for character in text {
            if character.isNumber {
                if !inNumber { output.append("#") }
                inNumber = true
            } else {
                inNumber = false
                output.append(character)
            }
        }
        return output
    }
}
