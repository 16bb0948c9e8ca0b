import Foundation

extension JSON {
    /// Compact JSON with object keys sorted, so equal values always serialize to equal bytes
    /// (what Go's encoding/json does for maps, and what makes hashes of objects stable).
    public func serializedBytes() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        JSONWriter.write(self, into: &output)
        return output
    }

    public func serialized() -> String { String(decoding: serializedBytes(), as: UTF8.self) }

    public func serializedData() -> Data { Data(serializedBytes()) }

    /// Indented output for people (logs of objects, `-o json`).
    public func prettyPrinted() -> String {
        var output: [UInt8] = []
        JSONWriter.writePretty(self, indent: 0, into: &output)
        return String(decoding: output, as: UTF8.self)
    }
}

enum JSONWriter {
    static func write(_ value: JSON, into output: inout [UInt8]) {
        switch value {
        case .null: output.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let flag): output.append(contentsOf: flag ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .int(let number): output.append(contentsOf: String(number).utf8)
        case .double(let number): writeDouble(number, into: &output)
        case .string(let string): writeString(string, into: &output)
        case .array(let array):
            output.append(UInt8(ascii: "["))
            for (offset, element) in array.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                write(element, into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            output.append(UInt8(ascii: "{"))
            // The dictionary's positions are sorted, not its keys or pairs: no key is hashed again
            // and no member copied to sort it.
            var order = Array(object.indices)
            if order.count > 1 { order.sort { object[$0].key < object[$1].key } }
            for (offset, position) in order.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                let (key, member) = object[position]
                writeString(key, into: &output)
                output.append(UInt8(ascii: ":"))
                write(member, into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    static func writePretty(_ value: JSON, indent: Int, into output: inout [UInt8]) {
        func newline(_ level: Int) {
            output.append(0x0A)
            output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: level * 2))
        }
        switch value {
        case .array(let array) where !array.isEmpty:
            output.append(UInt8(ascii: "["))
            for (offset, element) in array.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                writePretty(element, indent: indent + 1, into: &output)
            }
            newline(indent)
            output.append(UInt8(ascii: "]"))
        case .object(let object) where !object.isEmpty:
            output.append(UInt8(ascii: "{"))
            for (offset, key) in object.keys.sorted().enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                writeString(key, into: &output)
                output.append(contentsOf: Array(": ".utf8))
                writePretty(object[key] ?? .null, indent: indent + 1, into: &output)
            }
            newline(indent)
            output.append(UInt8(ascii: "}"))
        default:
            write(value, into: &output)
        }
    }

    static func writeDouble(_ number: Double, into output: inout [UInt8]) {
        guard number.isFinite else {
            // JSON has no NaN or infinity; null is what Go's encoder refuses with and what we emit.
            output.append(contentsOf: Array("null".utf8))
            return
        }
        if number.rounded() == number, abs(number) < 1e15 {
            output.append(contentsOf: String(Int(number)).utf8)
        } else {
            output.append(contentsOf: "\(number)".utf8)
        }
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    /// Runs of bytes that need no escape are copied whole: most strings in an object are
    /// names, labels and images, and a byte-at-a-time append was a fifth of the operator's
    /// serializing time.
    static func writeString(_ string: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var run = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run..<index]))
                run = index + 1
                switch byte {
                case UInt8(ascii: "\""): output.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): output.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    output.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    output.append(hexDigits[Int(byte >> 4)])
                    output.append(hexDigits[Int(byte & 0x0F)])
                }
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run...]))
        }
        output.append(UInt8(ascii: "\""))
    }
}
