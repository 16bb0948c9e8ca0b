import Foundation

/// The string formats kube-apiserver checks in CRD schemas (apiextensions' `supportedFormats`, as
/// implemented by kube-openapi's strfmt registry). Any other format (`int32`, `int64`,
/// `int-or-string`, ...) is stripped by the server before validation and so ignored here.
enum SchemaStringFormat {
    /// Names as the server compares them: go-openapi drops dashes (`date-time` is `datetime`).
    private static let checked: Set<String> = [
        "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid", "uuid3", "uuid4",
        "uuid5", "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor", "byte", "password",
        "date", "duration", "datetime",
    ]

    static func isChecked(_ format: String) -> Bool { checked.contains(normalized(format)) }

    private static func normalized(_ format: String) -> String { format.replacingOccurrences(of: "-", with: "") }

    static func isValid(_ string: String, format: String) -> Bool {
        switch normalized(format) {
        case "bsonobjectid": return matches(string, bsonObjectID)
        case "uri": return isRequestURI(string)
        case "email": return matches(string, email)
        case "hostname":
            return matches(string, hostname) && string.utf8.count <= 255
                && string.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { $0.utf8.count <= 63 }
        case "ipv4": return isIPv4(string)
        case "ipv6": return string.contains(":") && isIPv6(string)
        case "cidr": return isCIDR(string)
        case "mac": return matches(string, mac)
        case "uuid": return matches(string, uuid)
        case "uuid3": return matches(string, uuid3)
        case "uuid4": return matches(string, uuid4)
        case "uuid5": return matches(string, uuid5)
        case "isbn": return isISBN10(string) || isISBN13(string)
        case "isbn10": return isISBN10(string)
        case "isbn13": return isISBN13(string)
        case "creditcard": return isCreditCard(string)
        case "ssn": return string.utf8.count == 11 && matches(string, ssn)
        case "hexcolor": return matches(string, hexColor)
        case "rgbcolor": return matches(string, rgbColor)
        case "byte": return matches(string, base64)
        case "date": return isDate(string)
        case "duration": return matches(string, goDuration) || matches(string, unitDuration)
        case "datetime": return isDateTime(string)
        default: return true  // password, and anything not checked
        }
    }

    private static func regex(_ pattern: String) -> NSRegularExpression? { try? NSRegularExpression(pattern: pattern) }

    private static func matches(_ string: String, _ regex: NSRegularExpression?) -> Bool {
        guard let regex else { return true }
        let range = NSRange(string.startIndex..<string.endIndex, in: string)
        return regex.firstMatch(in: string, range: range) != nil
    }

    private static let bsonObjectID = regex("^[0-9a-fA-F]{24}$")
    private static let email = regex(#"^[^\s@<>]+@[^\s@<>]+$"#)
    private static let hostname = regex(
        #"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z0-9\p{S}\p{L}])(-?[a-zA-Z0-9\p{S}\p{L}]){1,62})$"#)
    private static let mac = regex(
        #"^(([0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5,7}|[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){19})|([0-9a-fA-F]{2}(-[0-9a-fA-F]{2}){5,7}|[0-9a-fA-F]{2}(-[0-9a-fA-F]{2}){19})|([0-9a-fA-F]{4}(\.[0-9a-fA-F]{4}){2,3}|[0-9a-fA-F]{4}(\.[0-9a-fA-F]{4}){9}))$"#)
    private static let uuid = regex("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
    private static let uuid3 = regex("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
    private static let uuid4 = regex("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
    private static let uuid5 = regex("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
    private static let ssn = regex(#"^\d{3}[- ]?\d{2}[- ]?\d{4}$"#)
    private static let hexColor = regex("^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
    private static let rgbColor = regex(
        #"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$"#)
    private static let base64 = regex(
        #"^(?:[A-Za-z0-9+\/]{4})*(?:[A-Za-z0-9+\/]{2}==|[A-Za-z0-9+\/]{3}=|[A-Za-z0-9+\/]{4})$"#)
    private static let goDuration = regex(#"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$"#)
    private static let unitDuration = regex(
        #"^\d+\s*(ns|nanoseconds?|us|µs|microseconds?|ms|milliseconds?|s|sec|seconds?|m|min|minutes?|h|hr|hours?|d|days?|w|wk|weeks?)$"#)
    private static let clock = regex(#"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$"#)

    /// Go's `net.ParseIP` for dotted quads: four decimal octets, no leading zeros.
    private static func isIPv4(_ string: String) -> Bool {
        let parts = string.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), let octet = Int(part) else { return false }
            return octet <= 255 && (part.count == 1 || part.first != "0")
        }
    }

    private static func isIPv6(_ string: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, string, &address) == 1
    }

    private static func isCIDR(_ string: String) -> Bool {
        let parts = string.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), parts[1].allSatisfy(\.isASCII), prefix >= 0 else {
            return false
        }
        let address = String(parts[0])
        return isIPv4(address) ? prefix <= 32 : (isIPv6(address) && prefix <= 128)
    }

    /// `url.ParseRequestURI`: an absolute URI or an absolute path, without spaces or control characters.
    private static func isRequestURI(_ string: String) -> Bool {
        guard !string.isEmpty, !string.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            return false
        }
        if string.hasPrefix("/") { return true }
        guard let colon = string.firstIndex(of: ":"), colon != string.startIndex else { return false }
        let scheme = string[..<colon]
        return scheme.first?.isLetter == true
            && scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
    }

    private static func isDate(_ string: String) -> Bool {
        let parts = string.split(separator: "-", omittingEmptySubsequences: false)
        guard string.utf8.count == 10, parts.count == 3, parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            parts[0].count == 4, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), day >= 1
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= days[month - 1]
    }

    /// go-openapi's `IsDateTime`: a valid date, `t`, then a clock time with a zone.
    private static func isDateTime(_ string: String) -> Bool {
        let parts = string.lowercased().split(separator: "t", omittingEmptySubsequences: false)
        guard parts.count >= 2, isDate(String(parts[0])), let clock,
            let match = clock.firstMatch(in: String(parts[1]), range: NSRange(parts[1].startIndex..., in: parts[1]))
        else { return false }
        let text = String(parts[1])
        func field(_ index: Int) -> String {
            Range(match.range(at: index), in: text).map { String(text[$0]) } ?? "99"
        }
        return field(1) <= "23" && field(2) <= "59" && field(3) <= "59"
    }

    private static func isISBN10(_ string: String) -> Bool {
        let characters = Array(string.filter { $0 != "-" && $0 != " " })
        guard characters.count == 10 else { return false }
        var sum = 0
        for (index, character) in characters.enumerated() {
            if let digit = character.wholeNumberValue, character.isASCII {
                sum += (10 - index) * digit
            } else if index == 9, character == "X" {
                sum += 10
            } else {
                return false
            }
        }
        return sum % 11 == 0
    }

    private static func isISBN13(_ string: String) -> Bool {
        let digits = string.filter { $0 != "-" && $0 != " " }.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
        guard digits.count == 13, string.filter({ $0 != "-" && $0 != " " }).count == 13 else { return false }
        let sum = digits.enumerated().reduce(0) { $0 + $1.element * ($1.offset % 2 == 0 ? 1 : 3) }
        return sum % 10 == 0
    }

    /// govalidator: the digits (other characters ignored) pass the Luhn check and look like a card number.
    private static func isCreditCard(_ string: String) -> Bool {
        let digits = string.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
        guard (12...19).contains(digits.count) else { return false }
        var sum = 0
        for (offset, digit) in digits.reversed().enumerated() {
            let doubled = offset % 2 == 1 ? digit * 2 : digit
            sum += doubled > 9 ? doubled - 9 : doubled
        }
        return sum % 10 == 0
    }
}
