import Foundation
import KubeCore

/// The built-in functions: the CEL standard library subset CRD rules use, plus the Kubernetes
/// string and list extensions. Macros are expanded by the parser and run by the evaluator.
enum CELFunctions {
    /// Global functions and the argument counts they accept; checked at compile time.
    static let globalArities: [String: Set<Int>] = [
        "size": [1], "matches": [2], "int": [1], "uint": [1], "double": [1], "string": [1], "bool": [1], "dyn": [1],
    ]

    /// Receiver-style functions (`x.f(...)`) and the argument counts they accept.
    static let methodArities: [String: Set<Int>] = [
        "size": [0], "startsWith": [1], "endsWith": [1], "contains": [1], "matches": [1],
        "lowerAscii": [0], "upperAscii": [0], "trim": [0], "split": [1, 2], "indexOf": [1, 2],
        "lastIndexOf": [1, 2], "replace": [2, 3], "substring": [1, 2], "charAt": [1], "join": [0, 1],
        "isSorted": [0], "sum": [0], "min": [0], "max": [0],
    ]

    /// Compiles an RE2-style pattern with ICU (NSRegularExpression). The syntaxes agree on what
    /// rules use; RE2's `(?P<name>` group spelling is translated.
    static func compileRegex(_ pattern: String) throws(CELError) -> NSRegularExpression {
        do {
            return try NSRegularExpression(pattern: pattern.replacingOccurrences(of: "(?P<", with: "(?<"))
        } catch {
            throw CELError("invalid regular expression '\(pattern)'")
        }
    }

    /// A double as Go's `%g` prints it (cel-go's `string(double)`): shortest digits, exponent
    /// form below 1e-4 and from 1e6 (`1e+06`), no trailing `.0`.
    static func formatDouble(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        // Swift's description is also the shortest round-tripping form; only the layout differs.
        var text = "\(abs(value))"
        var exponent = 0
        if let e = text.firstIndex(of: "e") {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        var digits = parts.joined()
        var point = parts[0].count + exponent  // position of the decimal point within `digits`
        while digits.first == "0" { digits.removeFirst(); point -= 1 }
        while digits.last == "0" { digits.removeLast() }
        let sign = value < 0 ? "-" : ""
        let decimalExponent = point - 1
        if decimalExponent < -4 || decimalExponent >= 6 {
            let mantissa = digits.count > 1 ? "\(digits.prefix(1)).\(digits.dropFirst())" : digits
            let magnitude = abs(decimalExponent)
            return "\(sign)\(mantissa)e\(decimalExponent < 0 ? "-" : "+")\(magnitude < 10 ? "0" : "")\(magnitude)"
        }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) }
        return "\(sign)\(digits.prefix(point)).\(digits.dropFirst(point))"
    }
}

extension CELEvaluator {
    mutating func call(_ name: String, target: JSON?, args: [JSON]) throws(CELError) -> JSON {
        var arguments = args
        var receiver = target
        // `size(x)` and `matches(s, re)` are the global spellings of the methods.
        if receiver == nil, name == "size" || name == "matches", !arguments.isEmpty { receiver = arguments.removeFirst() }
        if let receiver { return try method(name, receiver, arguments) }
        guard let value = arguments.first else { throw CELError("no such overload: \(name)()") }
        return try convert(name, value)
    }

    /// Type conversions (`int`, `uint`, `double`, `string`, `bool`, `dyn`); uint is int here.
    private func convert(_ name: String, _ value: JSON) throws(CELError) -> JSON {
        switch (name, value) {
        case ("dyn", _), ("int", .int), ("double", .double), ("string", .string), ("bool", .bool):
            return value
        case ("uint", .int(let number)):
            guard number >= 0 else { throw CELError("uint conversion error: \(number) is negative") }
            return value
        case ("int", .double(let number)), ("uint", .double(let number)):
            // Truncates toward zero; out of range (and NaN) is an error, as in cel-go.
            guard number >= (name == "int" ? -9_223_372_036_854_775_808.0 : 0), number < 9_223_372_036_854_775_808.0 else {
                throw CELError("\(name) conversion error: \(number) is out of range")
            }
            return .int(Int(number))
        case ("int", .string(let text)), ("uint", .string(let text)):
            guard let number = Int(text), name == "int" || number >= 0 else {
                throw CELError("\(name) conversion error: '\(text)'")
            }
            return .int(number)
        case ("double", .int(let number)): return .double(Double(number))
        case ("double", .string(let text)):
            guard let number = Double(text) else { throw CELError("double conversion error: '\(text)'") }
            return .double(number)
        case ("string", .int(let number)): return .string(String(number))
        case ("string", .double(let number)): return .string(CELFunctions.formatDouble(number))
        case ("string", .bool(let flag)): return .string(flag ? "true" : "false")
        case ("bool", .string(let text)):
            // The spellings Go's strconv.ParseBool accepts.
            switch text {
            case "true", "True", "TRUE", "t", "T", "1": return .bool(true)
            case "false", "False", "FALSE", "f", "F", "0": return .bool(false)
            default: throw CELError("bool conversion error: '\(text)'")
            }
        default: throw celNoOverload(name, value)
        }
    }

    private mutating func method(_ name: String, _ receiver: JSON, _ args: [JSON]) throws(CELError) -> JSON {
        func string(_ index: Int) throws(CELError) -> [Unicode.Scalar] {
            guard index < args.count, case .string(let text) = args[index] else {
                throw CELError("no such overload: \(name) expects a string argument")
            }
            return Array(text.unicodeScalars)
        }
        func int(_ index: Int) throws(CELError) -> Int {
            guard index < args.count, case .int(let number) = args[index] else {
                throw CELError("no such overload: \(name) expects an int argument")
            }
            return number
        }

        switch (name, receiver) {
        case ("size", .string(let text)): return .int(text.unicodeScalars.count)
        case ("size", .array(let items)): return .int(items.count)
        case ("size", .object(let fields)): return .int(fields.count)

        case ("matches", .string(let text)):
            let pattern = String(String.UnicodeScalarView(try string(0)))
            let regex: NSRegularExpression
            if let cached = regexCache[pattern] {
                regex = cached
            } else {
                regex = try CELFunctions.compileRegex(pattern)
                regexCache[pattern] = regex
            }
            // CEL's matches is a search: true if any substring matches.
            return .bool(regex.firstMatch(in: text, range: NSRange(location: 0, length: text.utf16.count)) != nil)

        case (_, .string(let text)):
            return try stringMethod(name, Array(text.unicodeScalars), argCount: args.count, string: string, int: int)

        case ("indexOf", .array(let items)):
            return .int(items.firstIndex { celEquals($0, args[0]) } ?? -1)
        case ("lastIndexOf", .array(let items)):
            return .int(items.lastIndex { celEquals($0, args[0]) } ?? -1)
        case ("join", .array(let items)):
            var parts: [String] = []
            for item in items {
                guard case .string(let part) = item else { throw CELError("join: list element is \(celTypeName(item)), not string") }
                parts.append(part)
            }
            let joined = parts.joined(separator: args.isEmpty ? "" : String(String.UnicodeScalarView(try string(0))))
            try charge(joined.utf8.count)
            return .string(joined)
        case ("isSorted", .array(let items)):
            for i in items.indices.dropFirst() {
                if try !celCompare(.lessOrEqual, items[i - 1], items[i]) { return .bool(false) }
            }
            return .bool(true)
        case ("sum", .array(let items)):
            var total = JSON.int(0)
            for item in items {
                if case .int(let a) = total, case .int(let b) = item {
                    let (sum, overflow) = a.addingReportingOverflow(b)
                    guard !overflow else { throw CELError("integer overflow") }
                    total = .int(sum)
                } else if let a = total.celDouble, let b = item.celDouble {
                    total = .double(a + b)
                } else {
                    throw celNoOverload("sum", item)
                }
            }
            return total
        case ("min", .array(let items)), ("max", .array(let items)):
            guard var best = items.first else { throw CELError("\(name)() called on an empty list") }
            for item in items.dropFirst() {
                if try celCompare(name == "min" ? .less : .greater, item, best) { best = item }
            }
            return best
        default:
            throw celNoOverload(name, receiver)
        }
    }

    /// The Kubernetes strings extension; indexes and lengths count code points.
    private mutating func stringMethod(
        _ name: String, _ text: [Unicode.Scalar], argCount: Int,
        string: (Int) throws(CELError) -> [Unicode.Scalar], int: (Int) throws(CELError) -> Int
    ) throws(CELError) -> JSON {
        func make<S: Sequence<Unicode.Scalar>>(_ scalars: S) -> JSON { .string(String(String.UnicodeScalarView(scalars))) }
        func checkIndex(_ index: Int) throws(CELError) {
            guard (0...text.count).contains(index) else { throw CELError("index out of range: \(index)") }
        }
        switch name {
        case "startsWith": return .bool(text.starts(with: try string(0)))
        case "endsWith": return .bool(text.reversed().starts(with: try string(0).reversed()))
        case "contains": return .bool(celFind(try string(0), in: text, from: 0) != nil)
        case "lowerAscii", "upperAscii":
            let range: ClosedRange<Unicode.Scalar> = name == "lowerAscii" ? "A"..."Z" : "a"..."z"
            let shift: Int32 = name == "lowerAscii" ? 32 : -32
            return make(text.map { range.contains($0) ? Unicode.Scalar(UInt8(Int32($0.value) + shift)) : $0 })
        case "trim":
            let isSpace: (Unicode.Scalar) -> Bool = { $0.properties.isWhitespace }
            return make(text.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        case "indexOf":
            let start = argCount == 2 ? try int(1) : 0
            try checkIndex(start)
            return .int(celFind(try string(0), in: text, from: start) ?? -1)
        case "lastIndexOf":
            let needle = try string(0)
            let start = argCount == 2 ? try int(1) : text.count
            try checkIndex(start)
            var position = min(start, text.count - needle.count)
            while position >= 0, !text[position...].starts(with: needle) { position -= 1 }
            return .int(max(position, -1))
        case "charAt":
            let index = try int(0)
            try checkIndex(index)
            return make(text[index...].prefix(1))
        case "substring":
            let start = try int(0)
            let end = argCount == 2 ? try int(1) : text.count
            try checkIndex(start)
            try checkIndex(end)
            guard start <= end else { throw CELError("substring: start \(start) is after end \(end)") }
            return make(text[start..<end])
        case "split":
            let limit = argCount == 2 ? try int(1) : -1
            return .array(celSplit(text, by: try string(0), limit: limit).map { make($0) })
        case "replace":
            let old = try string(0), new = try string(1)
            let limit = argCount == 3 ? try int(2) : -1
            var result: [Unicode.Scalar] = []
            if old.isEmpty {
                // Go semantics: an empty pattern matches before every code point and at the end.
                for position in 0...text.count {
                    if limit < 0 || position < limit { result += new }
                    if position < text.count { result.append(text[position]) }
                }
            } else {
                let pieces = celSplit(text, by: old, limit: limit < 0 ? -1 : limit + 1)
                for (i, piece) in pieces.enumerated() {
                    if i > 0 { result += new }
                    result += piece
                }
            }
            try charge(result.count)
            return make(result)
        default:
            throw CELError("no such overload: \(name) applied to (string)")
        }
    }
}

/// First position at or after `start` where `needle` occurs in `text`.
func celFind(_ needle: [Unicode.Scalar], in text: [Unicode.Scalar], from start: Int) -> Int? {
    guard start >= 0, needle.count <= text.count, start <= text.count - needle.count else { return nil }
    for position in start...(text.count - needle.count) where text[position...].starts(with: needle) {
        return position
    }
    return nil
}

/// Go's strings.SplitN on code points: `limit` < 0 splits everywhere, 0 gives no pieces, n gives
/// at most n pieces; an empty separator splits into code points.
func celSplit(_ text: [Unicode.Scalar], by separator: [Unicode.Scalar], limit: Int) -> [ArraySlice<Unicode.Scalar>] {
    if limit == 0 { return [] }
    var pieces: [ArraySlice<Unicode.Scalar>] = []
    var start = 0
    while limit < 0 || pieces.count < limit - 1 {
        if separator.isEmpty {
            guard start < text.count - 1 else { break }
            pieces.append(text[start...start])
            start += 1
        } else {
            guard let found = celFind(separator, in: text, from: start) else { break }
            pieces.append(text[start..<found])
            start = found + separator.count
        }
    }
    if !(separator.isEmpty && text.isEmpty) { pieces.append(text[start...]) }
    return pieces
}
