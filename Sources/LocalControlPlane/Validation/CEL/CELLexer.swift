
/// One lexical token of a CEL expression, with the scalar offset it starts at (for error positions).
struct CELToken: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// Magnitude only: a leading `-` is folded in by the parser, so `-9223372036854775808` fits.
        case int(UInt64)
        case double(Double)
        case string(String)
        case identifier(String)
        /// Operators, punctuation and the keyword `in`.
        case symbol(String)
        case end
    }

    var kind: Kind
    var offset: Int
}

/// Splits CEL source into tokens. Works on Unicode scalars because CEL positions and string
/// semantics are code-point based.
struct CELLexer {
    private let scalars: [Unicode.Scalar]
    private var position = 0

    /// Words the CEL grammar reserves: not usable as variables or functions (the parser checks),
    /// though we accept them as field names after `.`.
    static let reserved: Set<String> = [
        "as", "break", "const", "continue", "else", "for", "function", "if", "import",
        "let", "loop", "package", "namespace", "return", "var", "void", "while",
    ]

    // Longest first, so `<=` wins over `<`.
    private static let symbols = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%",
                                  "?", ":", ".", ",", "(", ")", "[", "]", "{", "}"]

    init(_ source: String) { scalars = Array(source.unicodeScalars) }

    static func tokenize(_ source: String) throws(CELError) -> [CELToken] {
        var lexer = CELLexer(source)
        var tokens: [CELToken] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        position + ahead < scalars.count ? scalars[position + ahead] : nil
    }

    private func error(_ message: String, at offset: Int) -> CELError {
        CELError(message, source: scalars, offset: offset)
    }

    private mutating func next() throws(CELError) -> CELToken {
        skipWhitespaceAndComments()
        let start = position
        guard let c = peek() else { return CELToken(kind: .end, offset: start) }

        if c.celIsDigit || (c == "." && peek(1)?.celIsDigit == true) { return try number() }
        if c == "\"" || c == "'" { return CELToken(kind: .string(try string(raw: false)), offset: start) }
        if c.celIsIdentifierStart {
            // A string prefix (`r"..."`, `b"..."`) looks like an identifier until the quote.
            if let quote = peek(1), quote == "\"" || quote == "'" {
                if c == "r" || c == "R" {
                    position += 1
                    return CELToken(kind: .string(try string(raw: true)), offset: start)
                }
                if c == "b" || c == "B" { throw error("bytes literals are not supported", at: start) }
            }
            var name = ""
            while let s = peek(), s.celIsIdentifierStart || s.celIsDigit { name.unicodeScalars.append(s); position += 1 }
            if name == "in" { return CELToken(kind: .symbol("in"), offset: start) }
            return CELToken(kind: .identifier(name), offset: start)
        }
        for symbol in Self.symbols where matches(symbol) {
            position += symbol.unicodeScalars.count
            return CELToken(kind: .symbol(symbol), offset: start)
        }
        throw error("unexpected character '\(c)'", at: start)
    }

    private func matches(_ text: String) -> Bool {
        for (i, s) in text.unicodeScalars.enumerated() where peek(i) != s { return false }
        return true
    }

    private mutating func skipWhitespaceAndComments() {
        while let c = peek() {
            if c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}" {
                position += 1
            } else if c == "/" && peek(1) == "/" {
                while let s = peek(), s != "\n" { position += 1 }
            } else {
                return
            }
        }
    }

    private mutating func number() throws(CELError) -> CELToken {
        let start = position
        if peek() == "0", peek(1) == "x" || peek(1) == "X" {
            position += 2
            var digits = ""
            while let s = peek(), s.properties.isASCIIHexDigit { digits.unicodeScalars.append(s); position += 1 }
            guard let value = UInt64(digits, radix: 16) else { throw error("invalid hex literal", at: start) }
            if peek() == "u" || peek() == "U" { position += 1 }
            return CELToken(kind: .int(value), offset: start)
        }
        var text = digits()
        var isDouble = false
        if peek() == ".", peek(1)?.celIsDigit == true {
            isDouble = true
            position += 1
            text += "." + digits()
        }
        if peek() == "e" || peek() == "E" {
            let sign = peek(1) == "+" || peek(1) == "-"
            if peek(sign ? 2 : 1)?.celIsDigit == true {
                isDouble = true
                text += "e"
                if sign, let s = peek(1) { text.unicodeScalars.append(s) }
                position += sign ? 2 : 1
                text += digits()
            }
        }
        if isDouble {
            guard let value = Double(text.hasPrefix(".") ? "0" + text : text) else {
                throw error("invalid double literal", at: start)
            }
            return CELToken(kind: .double(value), offset: start)
        }
        guard let value = UInt64(text) else { throw error("integer literal out of range", at: start) }
        if peek() == "u" || peek() == "U" { position += 1 }  // uint literals are treated as int
        return CELToken(kind: .int(value), offset: start)
    }

    private mutating func digits() -> String {
        var text = ""
        while let s = peek(), s.celIsDigit { text.unicodeScalars.append(s); position += 1 }
        return text
    }

    /// Reads a quoted string (single, double or triple quoted) starting at the opening quote.
    private mutating func string(raw: Bool) throws(CELError) -> String {
        let start = position
        guard let quote = peek() else { throw error("unterminated string", at: start) }
        let triple = peek(1) == quote && peek(2) == quote
        position += triple ? 3 : 1
        var result = ""
        while true {
            guard let c = peek() else { throw error("unterminated string", at: start) }
            if c == quote && (!triple || (peek(1) == quote && peek(2) == quote)) {
                position += triple ? 3 : 1
                return result
            }
            if !triple && (c == "\n" || c == "\r") { throw error("unterminated string", at: start) }
            if c == "\\" && !raw {
                result.unicodeScalars.append(try escape())
            } else {
                result.unicodeScalars.append(c)
                position += 1
            }
        }
    }

    private mutating func escape() throws(CELError) -> Unicode.Scalar {
        let start = position
        position += 1  // the backslash
        guard let c = peek() else { throw error("unterminated string", at: start) }
        position += 1
        switch c {
        case "n": return "\n"
        case "t": return "\t"
        case "r": return "\r"
        case "a": return "\u{07}"
        case "b": return "\u{08}"
        case "f": return "\u{0C}"
        case "v": return "\u{0B}"
        case "\\", "'", "\"", "`", "?": return c
        case "x", "X": return try hexEscape(digits: 2, start: start)
        case "u": return try hexEscape(digits: 4, start: start)
        case "U": return try hexEscape(digits: 8, start: start)
        case "0"..."3":
            var value = c.value - 48
            for _ in 0..<2 {
                guard let d = peek(), ("0"..."7").contains(d) else { throw error("invalid octal escape", at: start) }
                value = value * 8 + d.value - 48
                position += 1
            }
            if let scalar = Unicode.Scalar(value) { return scalar }
            throw error("invalid octal escape", at: start)
        default: throw error("invalid escape sequence '\\\(c)'", at: start)
        }
    }

    private mutating func hexEscape(digits: Int, start: Int) throws(CELError) -> Unicode.Scalar {
        var text = ""
        for _ in 0..<digits {
            guard let d = peek(), d.properties.isASCIIHexDigit else { throw error("invalid hex escape", at: start) }
            text.unicodeScalars.append(d)
            position += 1
        }
        // Surrogate halves and values past U+10FFFF are not code points.
        guard let value = UInt32(text, radix: 16), let scalar = Unicode.Scalar(value) else {
            throw error("invalid code point in escape", at: start)
        }
        return scalar
    }
}

extension Unicode.Scalar {
    var celIsDigit: Bool { ("0"..."9").contains(self) }
    var celIsIdentifierStart: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) || self == "_" }
}
