import Foundation
import KubeCore

/// One HTTP request as the server parsed it.
public struct HTTPServerRequest: Sendable {
    public var method: String
    /// The request target as sent: path plus query.
    public var target: String
    /// The path, percent-decoded.
    public var path: String
    /// Query parameters in order, percent-decoded (`+` is a space, as in Go's `url.ParseQuery`).
    public var query: [(name: String, value: String)]
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The target came in the absolute form (`GET http://host/path`): sent as to a proxy.
    public var absoluteForm = false

    public func queryValue(_ name: String) -> String? {
        query.first(where: { $0.name == name })?.value
    }

    public func queryFlag(_ name: String) -> Bool {
        guard let value = queryValue(name) else { return false }
        return value == "1" || value.lowercased() == "true"
    }
}

/// Percent-decoding of a request target's path and query.
enum PercentDecoding {
    static func decode(_ text: Substring, plusIsSpace: Bool) -> String {
        guard text.contains("%") || (plusIsSpace && text.contains("+")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let high = hexValue(iterator[iterator.startIndex]),
                let low = hexValue(iterator[iterator.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else if plusIsSpace, byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func parseQuery(_ query: Substring) -> [(name: String, value: String)] {
        query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0], plusIsSpace: true)
            let value = parts.count > 1 ? decode(parts[1], plusIsSpace: true) : ""
            return (name: name, value: value)
        }
    }
}
