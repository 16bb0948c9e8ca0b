import Foundation
import KubeCore

/// kube-apiserver's field errors, worded byte for byte: apimachinery's `field.Error.ErrorBody`
/// rendering of kube-openapi's messages (`spec.size in body should be greater than or equal to 1`).
/// Values are printed as Go prints them (`%q` strings, `%v` numbers, JSON for the rest), because
/// clients and tests compare these strings.
enum SchemaFieldErrors {
    static let notCheckedMessage =
        "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"

    /// The field of a cause: kube-openapi's dotted path with the root's leading dot trimmed; the
    /// root itself is a nil `field.Path`, which Go prints as `<nil>`.
    static func field(_ path: String) -> String {
        let trimmed = path.hasPrefix(".") ? String(path.dropFirst()) : path
        return trimmed.isEmpty ? "<nil>" : trimmed
    }

    static func required(_ path: String, detail: String = "") -> APIStatus.Cause {
        APIStatus.Cause(
            reason: "FieldValueRequired", message: detail.isEmpty ? "Required value" : "Required value: \(detail)",
            field: field(path))
    }

    static func invalid(_ path: String, _ value: JSON, _ detail: String) -> APIStatus.Cause {
        APIStatus.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(render(value)): \(detail)", field: field(path))
    }

    /// apimachinery's `field.OmitValueType`: the value is not shown at all.
    static func invalidOmittingValue(_ path: String, _ detail: String) -> APIStatus.Cause {
        APIStatus.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(detail)", field: field(path))
    }

    /// Type errors carry the offending JSON type (or format) name as the value.
    static func typeInvalid(_ path: String, expected: String, actual: String) -> APIStatus.Cause {
        let detail = "\(path) in body must be of type \(expected): \(quote(actual))"
        return APIStatus.Cause(
            reason: "FieldValueTypeInvalid", message: "Invalid value: \(quote(actual)): \(detail)", field: field(path))
    }

    static func notSupported(_ path: String, _ value: JSON, allowed: [JSON]) -> APIStatus.Cause {
        let list = allowed.map { element -> String in
            if case .string(let string) = element { return quote(string) }
            return quote(element.serialized())
        }
        return APIStatus.Cause(
            reason: "FieldValueNotSupported",
            message: "Unsupported value: \(render(value)): supported values: \(list.joined(separator: ", "))",
            field: field(path))
    }

    static func tooLong(_ path: String, max: Int) -> APIStatus.Cause {
        APIStatus.Cause(
            reason: "FieldValueTooLong", message: "Too long: may not be more than \(max) \(max == 1 ? "byte" : "bytes")",
            field: field(path))
    }

    static func tooMany(_ path: String, actual: Int, max: Int) -> APIStatus.Cause {
        APIStatus.Cause(
            reason: "FieldValueTooMany",
            message: "Too many: \(actual): must have at most \(max) \(max == 1 ? "item" : "items")", field: field(path))
    }

    /// anyOf/oneOf/allOf/not failures are plain errors in kube-openapi, which apiextensions turns
    /// into an Invalid error on the nil path with an empty value.
    static func composite(_ detail: String) -> APIStatus.Cause {
        APIStatus.Cause(reason: "FieldValueInvalid", message: "Invalid value: \"\": \(detail)", field: "<nil>")
    }

    /// Go's `%v` for scalars, `%q` for strings, `json.Marshal` for objects and arrays.
    static func render(_ value: JSON) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .double(let number): return goFloat(number)
        case .string(let string): return quote(string)
        case .array, .object: return value.serialized()
        }
    }

    /// Go's `strconv.Quote`: printable characters as they are, the rest escaped.
    static func quote(_ string: String) -> String {
        var output = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\u{07}": output += "\\a"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{0B}": output += "\\v"
            default:
                if isGoPrintable(scalar) {
                    output.unicodeScalars.append(scalar)
                } else if scalar.value < 0x80 {
                    output += "\\x" + hex(scalar.value, width: 2)
                } else if scalar.value < 0x10000 {
                    output += "\\u" + hex(scalar.value, width: 4)
                } else {
                    output += "\\U" + hex(scalar.value, width: 8)
                }
            }
        }
        return output + "\""
    }

    /// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
    private static func isGoPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .spaceSeparator, .lineSeparator,
            .paragraphSeparator:
            return false
        default: return true
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Go's `%v` for a float64: the shortest digits that round-trip (Swift finds the same ones),
    /// in `%e` form when the exponent is below -4 or at least 6 (`1e+06`), `%f` form otherwise.
    static func goFloat(_ number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number < 0 ? "-Inf" : "+Inf" }
        if number == 0 { return number.sign == .minus ? "-0" : "0" }
        let sign = number < 0 ? "-" : ""
        let text = "\(number.magnitude)"  // "1234.5", "1e-05", "1.5e+300"
        let parts = text.split(separator: "e", maxSplits: 1)
        let mantissa = parts.first.map(String.init) ?? text
        let exponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        var digits = Array(mantissa.replacingOccurrences(of: ".", with: ""))
        var point = (mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) }
            ?? mantissa.count) + exponent
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        let decimalExponent = point - 1
        if decimalExponent < -4 || decimalExponent >= 6 {
            var result = sign + String(digits[0])
            if digits.count > 1 { result += "." + String(digits[1...]) }
            let magnitude = abs(decimalExponent)
            return result + (decimalExponent < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") + String(magnitude)
        }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + String(digits) }
        if digits.count <= point { return sign + String(digits) + String(repeating: "0", count: point - digits.count) }
        return sign + String(digits[..<point]) + "." + String(digits[point...])
    }
}
