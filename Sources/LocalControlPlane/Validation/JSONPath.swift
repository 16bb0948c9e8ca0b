import KubeCore

/// The JSONPath subset CRD printer columns use: `.spec.size`, `.a['dotted.key']`, `[0]`, `[*]`,
/// and filters `[?(@.type=="Ready")]` (also `!=`, and bare `[?(@.field)]` for presence).
struct JSONPath: Sendable {
    enum Step: Sendable {
        case field(String)
        case index(Int)
        case wildcard
        case filter(path: [String], op: String?, value: JSON?)
    }

    let steps: [Step]

    struct ParseError: Error, Sendable { var message: String }

    init(_ text: String) throws(ParseError) {
        var source = text.trimmingCharacters(in: .whitespaces)
        if source.hasPrefix("{") && source.hasSuffix("}") { source = String(source.dropFirst().dropLast()) }
        if source.hasPrefix("$") { source = String(source.dropFirst()) }
        var chars = Array(source)[...]
        var steps: [Step] = []
        while let first = chars.first {
            if first == "." {
                chars = chars.dropFirst()
                let name = chars.prefix { $0 != "." && $0 != "[" }
                guard !name.isEmpty else { throw ParseError(message: "empty field name in \(text)") }
                steps.append(String(name) == "*" ? .wildcard : .field(String(name)))
                chars = chars.dropFirst(name.count)
            } else if first == "[" {
                guard let close = Self.matchingBracket(chars) else { throw ParseError(message: "unterminated [ in \(text)") }
                let inner = String(chars[chars.index(after: chars.startIndex)..<close]).trimmingCharacters(in: .whitespaces)
                chars = chars[chars.index(after: close)...]
                steps.append(try Self.bracketStep(inner, in: text))
            } else {
                let name = chars.prefix { $0 != "." && $0 != "[" }
                steps.append(.field(String(name)))
                chars = chars.dropFirst(name.count)
            }
        }
        self.steps = steps
    }

    private static func matchingBracket(_ chars: ArraySlice<Character>) -> ArraySlice<Character>.Index? {
        var depth = 0
        var quote: Character?
        for index in chars.indices {
            let char = chars[index]
            if let open = quote {
                if char == open { quote = nil }
                continue
            }
            switch char {
            case "\"", "'": quote = char
            case "[": depth += 1
            case "]":
                depth -= 1
                if depth == 0 { return index }
            default: break
            }
        }
        return nil
    }

    private static func bracketStep(_ inner: String, in text: String) throws(ParseError) -> Step {
        if inner == "*" { return .wildcard }
        if let index = Int(inner) { return .index(index) }
        if (inner.hasPrefix("'") && inner.hasSuffix("'")) || (inner.hasPrefix("\"") && inner.hasSuffix("\"")), inner.count >= 2 {
            return .field(String(inner.dropFirst().dropLast()))
        }
        guard inner.hasPrefix("?(") && inner.hasSuffix(")") else { throw ParseError(message: "unsupported [\(inner)] in \(text)") }
        let expression = inner.dropFirst(2).dropLast().trimmingCharacters(in: .whitespaces)
        for op in ["==", "!="] {
            if let range = expression.range(of: op) {
                let lhs = expression[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                let rhs = expression[range.upperBound...].trimmingCharacters(in: .whitespaces)
                return .filter(path: try filterPath(lhs, in: text), op: op, value: literal(rhs))
            }
        }
        return .filter(path: try filterPath(expression, in: text), op: nil, value: nil)
    }

    private static func filterPath(_ text: String, in source: String) throws(ParseError) -> [String] {
        guard text.hasPrefix("@") else { throw ParseError(message: "filter must start with @ in \(source)") }
        return text.dropFirst().split(separator: ".").map(String.init)
    }

    private static func literal(_ text: String) -> JSON {
        if (text.hasPrefix("\"") && text.hasSuffix("\"")) || (text.hasPrefix("'") && text.hasSuffix("'")), text.count >= 2 {
            return .string(String(text.dropFirst().dropLast()))
        }
        if let number = Int(text) { return .int(number) }
        if let number = Double(text) { return .double(number) }
        if text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }

    /// Every value the path selects, in document order.
    func evaluate(_ root: JSON) -> [JSON] {
        var current = [root]
        for step in steps {
            var next: [JSON] = []
            for value in current {
                switch step {
                case .field(let name):
                    if let child = value[name] { next.append(child) }
                case .index(let index):
                    if let array = value.arrayValue {
                        let resolved = index < 0 ? array.count + index : index
                        if array.indices.contains(resolved) { next.append(array[resolved]) }
                    }
                case .wildcard:
                    if let array = value.arrayValue { next.append(contentsOf: array) }
                    if let object = value.objectValue { next.append(contentsOf: object.keys.sorted().compactMap { object[$0] }) }
                case .filter(let path, let op, let expected):
                    for element in value.arrayValue ?? [] {
                        let actual = element[path: path]
                        switch op {
                        case "==": if let actual, let expected, actual.semanticallyEquals(expected) { next.append(element) }
                        case "!=": if let actual, let expected, !actual.semanticallyEquals(expected) { next.append(element) }
                        default: if actual != nil { next.append(element) }
                        }
                    }
                }
            }
            current = next
        }
        return current
    }
}
