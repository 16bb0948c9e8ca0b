import Foundation

/// Why a byte sequence is not JSON, and where.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

extension JSON {
    /// Deep nesting is refused rather than recursed into: a hostile body must not overflow the stack.
    public static let maximumDepth = 512

    public init(parsing bytes: some Collection<UInt8>) throws(JSONParseError) {
        try self.init(parsing: bytes, droppingManagedFields: false)
    }

    /// `droppingManagedFields`: an object's `metadata.managedFields` is only stepped over, never
    /// built (and not in the value). What caches a cluster's objects never reads them, and
    /// server-side apply makes them as large as the object itself.
    public init(parsing bytes: some Collection<UInt8>, droppingManagedFields: Bool) throws(JSONParseError) {
        let parse = { (buffer: UnsafeBufferPointer<UInt8>) -> Result<JSON, JSONParseError> in
            var parser = JSONByteParser(buffer)
            parser.dropsManagedFields = droppingManagedFields
            return Result { () throws(JSONParseError) -> JSON in try parser.parseDocument() }
        }
        // An array or a slice of one is parsed where it lies; anything else is copied first.
        self = try (bytes.withContiguousStorageIfAvailable(parse) ?? Array(bytes).withUnsafeBufferPointer(parse)).get()
    }

    /// An object parsed but for one array member, whose elements are only delimited: their byte
    /// ranges in `bytes`, each to be parsed on its own when wanted (`JSON(parsing: bytes[range])`).
    /// A list response's items are read this way, so a page never exists as one whole tree.
    /// The elements are checked when they are parsed, the rest now.
    public static func parsing(_ bytes: [UInt8], deferring member: String) throws(JSONParseError) -> (object: JSON, elements: [Range<Int>]) {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in
            var parser = JSONByteParser(buffer)
            return try parser.parseDocument(deferring: member)
        }
    }

    public init(parsing text: String) throws(JSONParseError) {
        try self.init(parsing: Array(text.utf8))
    }

    public init(parsing data: Data) throws(JSONParseError) {
        try self.init(parsing: [UInt8](data))
    }
}

private struct JSONByteParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0
    /// The members and elements of the objects and arrays being parsed, as one stack: each
    /// container is built once at its exact size when it closes, instead of growing (and, for a
    /// dictionary, rehashing) as members arrive.
    var members: [(key: String, value: JSON)] = []
    var elements: [JSON] = []
    /// A member of the top-level object whose array is only delimited (`deferring`), and its
    /// elements' ranges.
    var deferredMember: String?
    var deferredElements: [Range<Int>] = []
    /// Whether `metadata.managedFields` is skipped, and whether the object about to be parsed
    /// is a member named `metadata`.
    var dropsManagedFields = false
    var nextIsMetadata = false

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func parseDocument() throws(JSONParseError) -> JSON {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if index != bytes.count { throw error("unexpected trailing characters") }
        return value
    }

    /// The document, which must be an object, with `member`'s array only delimited.
    mutating func parseDocument(deferring member: String) throws(JSONParseError) -> (object: JSON, elements: [Range<Int>]) {
        deferredMember = member
        let document = try parseDocument()
        guard document.objectValue != nil else { throw JSONParseError(message: "expected an object", offset: 0) }
        return (document, deferredElements)
    }

    /// Moves past one value without building it. Only its extent is found (brackets matched,
    /// strings skipped whole): the value is parsed, and so checked, when it is wanted.
    mutating func skipValue() throws(JSONParseError) {
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var nesting = 0
            repeat {
                guard index < bytes.count else { throw error("unexpected end of input") }
                switch bytes[index] {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    nesting += 1
                    if depth + nesting > JSON.maximumDepth { throw error("nesting deeper than \(JSON.maximumDepth)") }
                    index += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    nesting -= 1
                    index += 1
                case UInt8(ascii: "\""):
                    try skipString()
                default:
                    index += 1
                }
            } while nesting > 0
        case UInt8(ascii: "\""):
            try skipString()
        default:
            // A number or a literal: up to the next separator or whitespace.
            let start = index
            while index < bytes.count, !Self.endsScalar(bytes[index]) { index += 1 }
            if index == start { throw error("unexpected character '\(Character(Unicode.Scalar(bytes[index])))'") }
        }
    }

    static func endsScalar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), 0x20, 0x0A, 0x0D, 0x09: return true
        default: return false
        }
    }

    mutating func skipString() throws(JSONParseError) {
        index += 1  // opening quote
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 2
            default:
                index += 1
            }
        }
        throw error("unterminated string")
    }

    func error(_ message: String) -> JSONParseError { JSONParseError(message: message, offset: index) }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws(JSONParseError) -> JSON {
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character '\(Character(Unicode.Scalar(bytes[index])))'")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("unexpected end of input") }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for offset in 0..<count where bytes[index + offset] != expected[offset] {
            throw error("invalid literal")
        }
        index += count
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > JSON.maximumDepth { throw error("nesting deeper than \(JSON.maximumDepth)") }
    }

    mutating func parseObject() throws(JSONParseError) -> JSON {
        try enter()
        defer { depth -= 1 }
        let isMetadata = nextIsMetadata
        nextIsMetadata = false
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object([:])
        }
        let base = members.count
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            let deferred = depth == 1 && key == deferredMember
            // A repeated key: the last one wins here too.
            if deferred { deferredElements.removeAll() }
            if deferred, index < bytes.count, bytes[index] == UInt8(ascii: "[") {
                _ = try parseArray(delimiting: true)
            } else if isMetadata, key == "managedFields" {
                try skipValue()
            } else {
                // Only an object is metadata: the flag must not reach an array's first element.
                nextIsMetadata = dropsManagedFields && key == "metadata" && index < bytes.count && bytes[index] == UInt8(ascii: "{")
                members.append((key, try parseValue()))
                nextIsMetadata = false
            }
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "}") {
                index += 1
                var object = [String: JSON](minimumCapacity: members.count - base)
                // A repeated key: the last one wins, as in Go's decoder.
                for member in members[base...] { object[member.key] = member.value }
                members.removeSubrange(base...)
                return .object(object)
            } else {
                throw error("expected ',' or '}'")
            }
        }
    }

    /// An array; when `delimiting`, its elements are only delimited, their ranges put in
    /// `deferredElements`, and the array returned is empty.
    mutating func parseArray(delimiting: Bool = false) throws(JSONParseError) -> JSON {
        try enter()
        defer { depth -= 1 }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array([])
        }
        let base = elements.count
        while true {
            skipWhitespace()
            if delimiting {
                let start = index
                try skipValue()
                deferredElements.append(start..<index)
            } else {
                elements.append(try parseValue())
            }
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                let array = Array(elements[base...])
                elements.removeSubrange(base...)
                return .array(array)
            } else {
                throw error("expected ',' or ']'")
            }
        }
    }

    mutating func parseString() throws(JSONParseError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes, so the bytes are the string.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let string = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("control character in string") }
            index += 1
        }
        var scalars = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: scalars, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""): scalars.append(0x22)
                case UInt8(ascii: "\\"): scalars.append(0x5C)
                case UInt8(ascii: "/"): scalars.append(0x2F)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800...0xDBFF).contains(code) {
                        // A high surrogate must be followed by an escaped low surrogate.
                        if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                            index += 2
                            let low = try parseHex4()
                            if (0xDC00...0xDFFF).contains(low) {
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                code = 0xFFFD
                            }
                        } else {
                            code = 0xFFFD
                        }
                    } else if (0xDC00...0xDFFF).contains(code) {
                        code = 0xFFFD
                    }
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw error("invalid escape")
                }
            default:
                if byte < 0x20 { throw error("control character in string") }
                scalars.append(byte)
                index += 1
            }
        }
        throw error("unterminated string")
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    mutating func parseNumber() throws(JSONParseError) -> JSON {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else {
            throw error("invalid number")
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let digitsStart = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            if index == digitsStart { throw error("invalid number: no digits after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let digitsStart = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            if index == digitsStart { throw error("invalid number: no exponent digits") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger, let value = Int(text) { return .int(value) }
        guard let value = Double(text) else { throw error("invalid number") }
        return .double(value)
    }
}
