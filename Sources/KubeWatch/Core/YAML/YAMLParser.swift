import CYaml

/// Why a text is not YAML we accept, with the position libyaml reports.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var line: Int
    public var column: Int
    public var description: String { "YAML error at line \(line), column \(column): \(message)" }
}

/// YAML through libyaml, resolved to JSON values the way kubectl resolves them (go-yaml v2, YAML
/// 1.1): plain `yes`/`no`/`on`/`off`/`y`/`n` are booleans, a leading `0` means octal, `~` is null.
/// Quoted scalars are always strings. Mapping keys are taken as written (go-yaml would turn a key
/// `y:` into `true:`, which no manifest means). Duplicate keys are an error, as in kubectl, because silently
/// keeping one of two values hides a mistake in a manifest.
public enum YAML {
    /// Every document of a stream (`---` separated); empty documents are skipped.
    public static func parseAll(_ text: String) throws(YAMLError) -> [JSON] {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return [] }
        bytes.append(0)
        var outcome: Result<[JSON], YAMLError> = .success([])
        bytes.withUnsafeBufferPointer { buffer in
            var builder = YAMLTreeBuilder()
            outcome = Result { () throws(YAMLError) -> [JSON] in
                try builder.run(buffer.baseAddress!, count: buffer.count - 1)
            }
        }
        return try outcome.get()
    }

    /// Exactly one document; an empty text is an empty object.
    public static func parse(_ text: String) throws(YAMLError) -> JSON {
        let documents = try parseAll(text)
        guard documents.count <= 1 else {
            throw YAMLError(message: "expected one document, found \(documents.count)", line: 0, column: 0)
        }
        return documents.first ?? .object([:])
    }

    /// How go-yaml v2 resolves a plain (unquoted) scalar.
    public static func resolvePlain(_ text: String) -> JSON {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        guard let first = text.utf8.first,
            first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return .string(text) }
        if let integer = parseInteger(text) { return .int(integer) }
        if isFloatSyntax(text), let value = Double(text) { return .double(value) }
        return .string(text)
    }

    static func parseInteger(_ text: String) -> Int? {
        var body = Substring(text)
        var negative = false
        if body.hasPrefix("-") || body.hasPrefix("+") {
            negative = body.hasPrefix("-")
            body = body.dropFirst()
        }
        guard !body.isEmpty else { return nil }
        let magnitude: Int?
        if body.hasPrefix("0x") || body.hasPrefix("0X") {
            magnitude = Int(body.dropFirst(2), radix: 16)
        } else if body.hasPrefix("0o") || body.hasPrefix("0O") {
            magnitude = Int(body.dropFirst(2), radix: 8)
        } else if body.hasPrefix("0b") || body.hasPrefix("0B") {
            magnitude = Int(body.dropFirst(2), radix: 2)
        } else if body.count > 1, body.hasPrefix("0") {
            magnitude = Int(body.dropFirst(), radix: 8)
        } else {
            magnitude = body.allSatisfy(\.isASCIIDigitCharacter) ? Int(body) : nil
        }
        guard let magnitude else { return nil }
        return negative ? -magnitude : magnitude
    }

    static func isFloatSyntax(_ text: String) -> Bool {
        // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
        var chars = Substring(text)
        if chars.hasPrefix("-") || chars.hasPrefix("+") { chars = chars.dropFirst() }
        let mantissaEnd = chars.firstIndex(where: { $0 == "e" || $0 == "E" }) ?? chars.endIndex
        let mantissa = chars[..<mantissaEnd]
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !mantissa.isEmpty, parts.count <= 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigitCharacter) }),
            parts.contains(where: { !$0.isEmpty })
        else { return false }
        if parts.count == 2, parts[0].isEmpty, parts[1].isEmpty { return false }
        if mantissaEnd < chars.endIndex {
            var exponent = chars[chars.index(after: mantissaEnd)...]
            if exponent.hasPrefix("-") || exponent.hasPrefix("+") { exponent = exponent.dropFirst() }
            return !exponent.isEmpty && exponent.allSatisfy(\.isASCIIDigitCharacter)
        }
        return true
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}

/// Turns libyaml's event stream into JSON trees.
private struct YAMLTreeBuilder {
    enum Frame {
        case sequence(anchor: String?, items: [JSON])
        case mapping(anchor: String?, object: [String: JSON], pendingKey: String?, keyLine: Int, merges: [[String: JSON]])

        var awaitsKey: Bool {
            if case .mapping(_, _, nil, _, _) = self { return true }
            return false
        }
    }

    var stack: [Frame] = []

    var anchors: [String: JSON] = [:]
    var documents: [JSON] = []
    var documentRoot: JSON?

    mutating func run(_ input: UnsafePointer<UInt8>, count: Int) throws(YAMLError) -> [JSON] {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLError(message: "cannot initialise the YAML parser", line: 0, column: 0)
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, input, count)
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
                let context = parser.context.map { String(cString: $0) + ": " } ?? ""
                throw YAMLError(
                    message: context + problem, line: Int(parser.problem_mark.line) + 1,
                    column: Int(parser.problem_mark.column) + 1)
            }
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1
            let column = Int(event.start_mark.column) + 1
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return documents
            case YAML_DOCUMENT_START_EVENT:
                documentRoot = nil
                anchors = [:]
            case YAML_DOCUMENT_END_EVENT:
                if let root = documentRoot, !root.isNull { documents.append(root) }
                documentRoot = nil
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = string(scalar.value, length: scalar.length)
                let tag = scalar.tag.map { String(cString: $0) }
                let value: JSON
                if stack.last?.awaitsKey == true {
                    value = .string(text)
                } else if let tag, tag != "!" {
                    value = try resolveTagged(text, tag: tag, line: line, column: column)
                } else if scalar.style == YAML_PLAIN_SCALAR_STYLE && tag == nil {
                    value = YAML.resolvePlain(text)
                } else {
                    value = .string(text)
                }
                let isMergeKey = scalar.style == YAML_PLAIN_SCALAR_STYLE && text == "<<"
                try add(value, anchor: anchorName(scalar.anchor), line: line, column: column, isMergeKey: isMergeKey)
            case YAML_ALIAS_EVENT:
                let name = anchorName(event.data.alias.anchor) ?? ""
                guard let value = anchors[name] else {
                    throw YAMLError(message: "unknown anchor '\(name)'", line: line, column: column)
                }
                try add(value, anchor: nil, line: line, column: column)
            case YAML_SEQUENCE_START_EVENT:
                try checkDepth(line: line, column: column)
                stack.append(.sequence(anchor: anchorName(event.data.sequence_start.anchor), items: []))
            case YAML_SEQUENCE_END_EVENT:
                guard case .sequence(let anchor, let items) = stack.popLast() else { break }
                try add(.array(items), anchor: anchor, line: line, column: column)
            case YAML_MAPPING_START_EVENT:
                try checkDepth(line: line, column: column)
                stack.append(
                    .mapping(
                        anchor: anchorName(event.data.mapping_start.anchor), object: [:], pendingKey: nil, keyLine: line,
                        merges: []))
            case YAML_MAPPING_END_EVENT:
                guard case .mapping(let anchor, var object, _, _, let merges) = stack.popLast() else { break }
                // Explicit keys win over merged ones (YAML merge key semantics).
                for merged in merges {
                    for (key, value) in merged where object[key] == nil { object[key] = value }
                }
                try add(.object(object), anchor: anchor, line: line, column: column)
            default:
                break
            }
        }
    }

    func checkDepth(line: Int, column: Int) throws(YAMLError) {
        if stack.count >= JSON.maximumDepth {
            throw YAMLError(message: "nesting deeper than \(JSON.maximumDepth)", line: line, column: column)
        }
    }

    func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, length: Int) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    func anchorName(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    func resolveTagged(_ text: String, tag: String, line: Int, column: Int) throws(YAMLError) -> JSON {
        switch tag {
        case "tag:yaml.org,2002:str", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:timestamp": return .string(text)
        case "tag:yaml.org,2002:null": return .null
        case "tag:yaml.org,2002:bool":
            if case .bool(let flag) = YAML.resolvePlain(text) { return .bool(flag) }
        case "tag:yaml.org,2002:int":
            if let integer = YAML.parseInteger(text) { return .int(integer) }
        case "tag:yaml.org,2002:float":
            if let number = YAML.resolvePlain(text).doubleValue { return .double(number) }
        default:
            return YAML.resolvePlain(text)
        }
        throw YAMLError(message: "cannot decode '\(text)' as \(tag)", line: line, column: column)
    }

    mutating func add(
        _ value: JSON, anchor: String?, line: Int, column: Int, isMergeKey: Bool = false
    ) throws(YAMLError) {
        if let anchor { anchors[anchor] = value }
        guard let top = stack.popLast() else {
            documentRoot = value
            return
        }
        switch top {
        case .sequence(let anchor, var items):
            items.append(value)
            stack.append(.sequence(anchor: anchor, items: items))
        case .mapping(let anchor, var object, let pendingKey, let keyLine, var merges):
            guard let key = pendingKey else {
                let key: String
                switch value {
                case .string(let text): key = isMergeKey ? "\u{0}<<" : text
                case .null: key = "null"
                case .bool(let flag): key = flag ? "true" : "false"
                case .int(let number): key = String(number)
                case .double(let number): key = String(number)
                case .array, .object:
                    throw YAMLError(message: "a mapping key must be a scalar", line: line, column: column)
                }
                stack.append(.mapping(anchor: anchor, object: object, pendingKey: key, keyLine: line, merges: merges))
                return
            }
            if key == "\u{0}<<" {
                switch value {
                case .object(let merged): merges.append(merged)
                case .array(let list): merges.append(contentsOf: list.compactMap(\.objectValue))
                default: throw YAMLError(message: "a merge key needs a mapping", line: line, column: column)
                }
            } else {
                if object[key] != nil {
                    throw YAMLError(message: "mapping key \"\(key)\" already defined", line: keyLine, column: column)
                }
                object[key] = value
            }
            stack.append(.mapping(anchor: anchor, object: object, pendingKey: nil, keyLine: keyLine, merges: merges))
        }
    }
}
