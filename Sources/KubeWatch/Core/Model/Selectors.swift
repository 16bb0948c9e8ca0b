/// A label selector: the string syntax of `?labelSelector=` and `kubectl -l`, parsed once and
/// matched many times. The client uses it to build queries and filter caches; the local control
/// plane uses the same code to answer them.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    public enum Operator: Sendable, Hashable {
        case equals, notEquals, `in`, notIn, exists, doesNotExist, greaterThan, lessThan
    }

    public struct Requirement: Sendable, Hashable {
        public var key: String
        public var op: Operator
        public var values: [String]

        public init(key: String, op: Operator, values: [String] = []) {
            self.key = key
            self.op = op
            self.values = values
        }

        public func matches(_ labels: [String: String]) -> Bool { matches(value: labels[key]) }

        /// The same, from the value of this requirement's key (nil: no such label).
        public func matches(value: String?) -> Bool {
            switch op {
            case .equals, .in: return value.map(values.contains) ?? false
            case .notEquals, .notIn: return value.map { !values.contains($0) } ?? true
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            case .greaterThan, .lessThan:
                guard let value, let number = Int(value), let bound = values.first.flatMap({ Int($0) }) else { return false }
                return op == .greaterThan ? number > bound : number < bound
            }
        }

        var rendered: String {
            switch op {
            case .equals: return "\(key)=\(values.first ?? "")"
            case .notEquals: return "\(key)!=\(values.first ?? "")"
            case .in: return "\(key) in (\(values.sorted().joined(separator: ",")))"
            case .notIn: return "\(key) notin (\(values.sorted().joined(separator: ",")))"
            case .exists: return key
            case .doesNotExist: return "!\(key)"
            case .greaterThan: return "\(key)>\(values.first ?? "")"
            case .lessThan: return "\(key)<\(values.first ?? "")"
            }
        }
    }

    public var requirements: [Requirement]

    public init(_ requirements: [Requirement] = []) { self.requirements = requirements }

    /// `key=value` for each entry: the usual "managed by me" selector.
    public init(matching labels: [String: String]) {
        self.requirements = labels.keys.sorted().map { Requirement(key: $0, op: .equals, values: [labels[$0] ?? ""]) }
    }

    public var isEverything: Bool { requirements.isEmpty }

    public func matches(_ labels: [String: String]) -> Bool { requirements.allSatisfy { $0.matches(labels) } }

    /// The same, looking each label up: no map is built for an object that is only matched.
    public func matches(label: (String) -> String?) -> Bool { requirements.allSatisfy { $0.matches(value: label($0.key)) } }

    public var description: String { requirements.map(\.rendered).joined(separator: ",") }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses the string form; errors word it as the API server does.
    public init(parsing text: String) throws(ParseError) {
        var lexer = SelectorLexer(Array(text))
        var requirements: [Requirement] = []
        while true {
            lexer.skipSpaces()
            if lexer.atEnd { break }
            requirements.append(try lexer.requirement())
            lexer.skipSpaces()
            if lexer.atEnd { break }
            guard lexer.consume(",") else {
                throw ParseError(message: "unable to parse requirement: found '\(lexer.rest)', expected: ','")
            }
        }
        for requirement in requirements {
            if let problem = LabelValidation.keyProblem(requirement.key) {
                throw ParseError(message: "unable to parse requirement: invalid label key \"\(requirement.key)\": \(problem)")
            }
            for value in requirement.values where [.equals, .notEquals, .in, .notIn].contains(requirement.op) {
                if let problem = LabelValidation.valueProblem(value) {
                    throw ParseError(message: "unable to parse requirement: invalid label value: \"\(value)\": \(problem)")
                }
            }
        }
        self.requirements = requirements
    }

    /// A `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`).
    public init(json: JSON) throws(ParseError) {
        var requirements: [Requirement] = []
        for (key, value) in (json["matchLabels"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            requirements.append(Requirement(key: key, op: .equals, values: [value.stringValue ?? ""]))
        }
        for expression in json["matchExpressions"]?.arrayValue ?? [] {
            let key = expression["key"]?.stringValue ?? ""
            let values = expression["values"]?.arrayValue?.compactMap(\.stringValue) ?? []
            switch expression["operator"]?.stringValue {
            case "In": requirements.append(Requirement(key: key, op: .in, values: values))
            case "NotIn": requirements.append(Requirement(key: key, op: .notIn, values: values))
            case "Exists": requirements.append(Requirement(key: key, op: .exists))
            case "DoesNotExist": requirements.append(Requirement(key: key, op: .doesNotExist))
            case let other: throw ParseError(message: "\"\(other ?? "")\" is not a valid label selector operator")
            }
        }
        self.requirements = requirements
    }
}

private struct SelectorLexer {
    let chars: [Character]
    var index = 0

    init(_ chars: [Character]) { self.chars = chars }

    var atEnd: Bool { index >= chars.count }
    var rest: String { String(chars[index...]) }

    mutating func skipSpaces() {
        while index < chars.count, chars[index] == " " { index += 1 }
    }

    mutating func consume(_ text: String) -> Bool {
        let needle = Array(text)
        guard index + needle.count <= chars.count, Array(chars[index..<index + needle.count]) == needle else { return false }
        index += needle.count
        return true
    }

    /// A key or value: everything up to an operator, separator or space.
    mutating func word() -> String {
        let start = index
        while index < chars.count, !" ,=!()<>".contains(chars[index]) { index += 1 }
        return String(chars[start..<index])
    }

    mutating func requirement() throws(LabelSelector.ParseError) -> LabelSelector.Requirement {
        if consume("!") {
            skipSpaces()
            let key = word()
            guard !key.isEmpty else { throw .init(message: "unable to parse requirement: found '', expected: identifier") }
            return .init(key: key, op: .doesNotExist)
        }
        let key = word()
        guard !key.isEmpty else {
            throw .init(message: "unable to parse requirement: found '\(rest)', expected: identifier")
        }
        skipSpaces()
        if atEnd || chars[index] == "," { return .init(key: key, op: .exists) }
        if consume("==") || consume("=") { return .init(key: key, op: .equals, values: [valueWord()]) }
        if consume("!=") { return .init(key: key, op: .notEquals, values: [valueWord()]) }
        if consume(">") { return .init(key: key, op: .greaterThan, values: [valueWord()]) }
        if consume("<") { return .init(key: key, op: .lessThan, values: [valueWord()]) }
        let keyword = word()
        switch keyword {
        case "in": return .init(key: key, op: .in, values: try valueSet())
        case "notin": return .init(key: key, op: .notIn, values: try valueSet())
        default:
            throw .init(message: "unable to parse requirement: found '\(keyword)', expected: in, notin, =, ==, !=, gt, lt")
        }
    }

    mutating func valueWord() -> String {
        skipSpaces()
        return word()
    }

    mutating func valueSet() throws(LabelSelector.ParseError) -> [String] {
        skipSpaces()
        guard consume("(") else { throw .init(message: "unable to parse requirement: found '\(rest)', expected: '('") }
        var values: [String] = []
        while true {
            skipSpaces()
            if consume(")") { return values }
            values.append(word())
            skipSpaces()
            if consume(")") { return values }
            guard consume(",") else { throw .init(message: "unable to parse requirement: found '\(rest)', expected: ',' or ')'") }
        }
    }
}

/// A field selector (`metadata.name=x,type!=Opaque`). Which fields a kind supports is the
/// server's business; this is only the syntax.
public struct FieldSelector: Sendable, Hashable, CustomStringConvertible {
    public struct Requirement: Sendable, Hashable {
        public var field: String
        public var value: String
        public var negated: Bool

        public init(field: String, value: String, negated: Bool = false) {
            self.field = field
            self.value = value
            self.negated = negated
        }
    }

    public var requirements: [Requirement]

    public init(_ requirements: [Requirement] = []) { self.requirements = requirements }

    public var description: String {
        requirements.map { "\($0.field)\($0.negated ? "!=" : "=")\(Self.escape($0.value))" }.joined(separator: ",")
    }

    public init(parsing text: String) throws(LabelSelector.ParseError) {
        var requirements: [Requirement] = []
        for term in Self.splitUnescaped(text, on: ",") where !term.isEmpty {
            if let range = Self.rangeUnescaped(term, of: "!=") {
                requirements.append(
                    Requirement(field: String(term[..<range.lowerBound]), value: Self.unescape(term[range.upperBound...]), negated: true))
            } else if let range = Self.rangeUnescaped(term, of: "==") ?? Self.rangeUnescaped(term, of: "=") {
                requirements.append(Requirement(field: String(term[..<range.lowerBound]), value: Self.unescape(term[range.upperBound...])))
            } else {
                throw .init(message: "invalid selector: '\(text)'; can't understand '\(term)'")
            }
        }
        self.requirements = requirements
    }

    /// Whether an object matches, given a way to read a field's value.
    public func matches(_ value: (String) -> String?) -> Bool {
        requirements.allSatisfy { requirement in
            let actual = value(requirement.field) ?? ""
            return requirement.negated ? actual != requirement.value : actual == requirement.value
        }
    }

    static func escape(_ value: String) -> String {
        var output = ""
        for char in value {
            if char == "\\" || char == "," || char == "=" || char == "!" { output.append("\\") }
            output.append(char)
        }
        return output
    }

    static func unescape(_ value: Substring) -> String {
        var output = ""
        var escaping = false
        for char in value {
            if escaping {
                output.append(char)
                escaping = false
            } else if char == "\\" {
                escaping = true
            } else {
                output.append(char)
            }
        }
        return output
    }

    static func splitUnescaped(_ text: String, on separator: Character) -> [Substring] {
        var parts: [Substring] = []
        var start = text.startIndex
        var escaping = false
        var index = text.startIndex
        while index < text.endIndex {
            let char = text[index]
            if escaping {
                escaping = false
            } else if char == "\\" {
                escaping = true
            } else if char == separator {
                parts.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        parts.append(text[start...])
        return parts
    }

    static func rangeUnescaped(_ text: Substring, of needle: String) -> Range<Substring.Index>? {
        var searchStart = text.startIndex
        while let range = text[searchStart...].range(of: needle) {
            var backslashes = 0
            var cursor = range.lowerBound
            while cursor > text.startIndex {
                cursor = text.index(before: cursor)
                if text[cursor] == "\\" { backslashes += 1 } else { break }
            }
            if backslashes % 2 == 0 { return range }
            searchStart = range.upperBound
        }
        return nil
    }
}

/// Label key and value syntax (`k8s.io/apimachinery/pkg/util/validation`), with its wording.
public enum LabelValidation {
    static let qualifiedNameMessage =
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

    public static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 characters.
    static func isQualifiedNamePart(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 63 else { return false }
        guard isAlphanumeric(first), isAlphanumeric(last) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// Why a label or annotation key is invalid, or `nil`.
    public static func keyProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            if key.isEmpty { return "name part must be non-empty" }
            if key.utf8.count > 63 { return "name part must be no more than 63 characters" }
            return isQualifiedNamePart(parts[0]) ? nil : qualifiedNameMessage
        case 2:
            if parts[0].isEmpty { return "prefix part must be non-empty" }
            if NameValidation.dns1123SubdomainProblem(String(parts[0])) != nil {
                return "prefix part " + (NameValidation.dns1123SubdomainProblem(String(parts[0])) ?? "")
            }
            if parts[1].isEmpty { return "name part must be non-empty" }
            if parts[1].utf8.count > 63 { return "name part must be no more than 63 characters" }
            return isQualifiedNamePart(parts[1]) ? nil : qualifiedNameMessage
        default:
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
    }

    /// Why a label value is invalid, or `nil`. Empty is valid.
    public static func valueProblem(_ value: String) -> String? {
        if value.isEmpty { return nil }
        if value.utf8.count > 63 { return "must be no more than 63 characters" }
        if isQualifiedNamePart(Substring(value)) { return nil }
        return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    }
}

/// Object name syntax, with the API server's wording.
public enum NameValidation {
    static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    static func isDNS1123Label(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 63 else { return false }
        return isLowerAlphanumeric(first) && isLowerAlphanumeric(last)
            && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// Most object names: a DNS-1123 subdomain, at most 253 characters.
    public static func dns1123SubdomainProblem(_ name: String) -> String? {
        if name.utf8.count > 253 { return "must be no more than 253 characters" }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if !name.isEmpty, labels.allSatisfy({ !$0.isEmpty && isDNS1123LabelLoose($0) }) { return nil }
        return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    }

    /// Labels inside a subdomain have no 63-character limit of their own (only the total).
    static func isDNS1123LabelLoose(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        return isLowerAlphanumeric(first) && isLowerAlphanumeric(last)
            && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// A label or annotation key: an optional DNS subdomain prefix and `/`, then a name of at
    /// most 63 alphanumerics, `-`, `_` or `.`, starting and ending with an alphanumeric.
    public static func qualifiedNameProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return "a qualified name must consist of an optional DNS subdomain prefix and '/', then a name" }
        if parts.count == 2 {
            if parts[0].isEmpty { return "prefix part must be non-empty" }
            if let problem = dns1123SubdomainProblem(String(parts[0])) { return "prefix part " + problem }
        }
        guard let name = parts.last, !name.isEmpty else { return "name part must be non-empty" }
        if name.utf8.count > 63 { return "name part must be no more than 63 characters" }
        return isQualifiedNamePart(name) ? nil : "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
    }

    /// A label value: empty, or at most 63 alphanumerics, `-`, `_` or `.`, starting and ending
    /// with an alphanumeric.
    public static func labelValueProblem(_ value: String) -> String? {
        if value.isEmpty { return nil }
        if value.utf8.count > 63 { return "must be no more than 63 characters" }
        return isQualifiedNamePart(Substring(value)) ? nil : "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
    }

    static func isQualifiedNamePart(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        func alphanumeric(_ byte: UInt8) -> Bool { isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) }
        guard let first = bytes.first, let last = bytes.last else { return false }
        return alphanumeric(first) && alphanumeric(last) && bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// Namespace names and a few others: a DNS-1123 label, at most 63 characters.
    public static func dns1123LabelProblem(_ name: String) -> String? {
        if name.utf8.count > 63 { return "must be no more than 63 characters" }
        if isDNS1123Label(Substring(name)) { return nil }
        return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    }
}
