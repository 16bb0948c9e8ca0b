import Synchronization

/// A JSON value in a binary form for keeping, not for the wire: about 40 % of its compact JSON
/// text for Kubernetes objects, and read back with no number or escape to parse.
///
/// Most of an object's text is its keys (`"metadata"`, `"app.kubernetes.io/managed-by"`): the
/// same few hundred in every object of a kind. They are numbered once in a `JSONKeyTable` that
/// the objects of one cache share, and a key costs a byte or two. A string that comes again in
/// the same object (its name, its namespace, a timestamp) is written once and referred back to.
///
/// Layout: a value is a tag byte and its payload; counts, lengths and numbers are LEB128.
/// - null, false, true: the tag alone; int: zigzag; double: its 8 bytes, little-endian;
/// - string: length and UTF-8, or the number of an earlier string of this value;
/// - array: count, then elements; object: count, then per member a key number (0: the key
///   follows as length and UTF-8, once the table is full) and the member's value.
public struct PackedJSON: Sendable {
    public let bytes: [UInt8]

    public init(_ value: JSON, keys: JSONKeyTable) {
        var writer = PackedWriter()
        keys.numbering { numbers in writer.write(value, keys: &numbers) }
        // Copied to an exact-size buffer: the writer grew by doubling, and a cache keeps this
        // for as long as the object lives.
        let written = writer.output
        bytes = [UInt8](unsafeUninitializedCapacity: written.count) { buffer, count in
            count = buffer.initialize(from: written).1
        }
    }

    /// The value again; nil only for bytes that `init` did not write.
    public func unpacked(keys: JSONKeyTable) -> JSON? {
        let names = keys.names
        return bytes.withUnsafeBufferPointer { buffer in
            var reader = PackedReader(bytes: buffer, keys: names)
            guard let value = reader.value(), reader.index == buffer.count else { return nil }
            return value
        }
    }
}

/// The object keys of the values packed with it, numbered in the order they were first seen.
/// Append-only and bounded: keys past `capacity` (a cluster whose users label every object
/// with a new key) are written out in full rather than growing the table without end.
public final class JSONKeyTable: Sendable {
    public static let capacity = 4096

    struct Numbers {
        var byKey: [String: Int] = [:]
        var names: [String] = []

        /// The key's number, from 1; 0 when the table is full and the key is new.
        mutating func number(of key: String) -> Int {
            if let number = byKey[key] { return number }
            guard names.count < JSONKeyTable.capacity else { return 0 }
            names.append(key)
            byKey[key] = names.count
            return names.count
        }
    }

    private let state = Mutex(Numbers())

    public init() {}

    /// How many keys are numbered.
    public var count: Int { state.withLock { $0.names.count } }

    /// The keys by number less one. A reader holds this copy (a reference to the array's
    /// storage until a new key comes): its numbers never change.
    var names: [String] { state.withLock { $0.names } }

    func numbering<Result>(_ body: (inout Numbers) -> Result) -> Result { state.withLock { body(&$0) } }
}

private enum PackedTag: UInt8 {
    case null, `false`, `true`, int, double, string, earlierString, array, object
}

private struct PackedWriter {
    var output: [UInt8] = []
    /// Strings already written whole, by their number: a reference is shorter than a string
    /// of three bytes or more.
    var strings: [String: Int] = [:]

    init() { output.reserveCapacity(512) }

    mutating func write(_ value: JSON, keys: inout JSONKeyTable.Numbers) {
        switch value {
        case .null: tag(.null)
        case .bool(let flag): tag(flag ? .true : .false)
        case .int(let number):
            tag(.int)
            varint(UInt64(bitPattern: Int64((number << 1) ^ (number >> (Int.bitWidth - 1)))))
        case .double(let number):
            tag(.double)
            withUnsafeBytes(of: number.bitPattern.littleEndian) { output.append(contentsOf: $0) }
        case .string(let string): write(string)
        case .array(let elements):
            tag(.array)
            varint(UInt64(elements.count))
            for element in elements { write(element, keys: &keys) }
        case .object(let members):
            tag(.object)
            varint(UInt64(members.count))
            for (key, member) in members {
                let number = keys.number(of: key)
                varint(UInt64(number))
                if number == 0 { utf8(key) }
                write(member, keys: &keys)
            }
        }
    }

    private mutating func write(_ string: String) {
        if let earlier = strings[string] {
            tag(.earlierString)
            varint(UInt64(earlier))
            return
        }
        tag(.string)
        utf8(string)
        if string.utf8.count >= 3 { strings[string] = strings.count }
    }

    private mutating func utf8(_ string: String) {
        var string = string
        string.withUTF8 { bytes in
            varint(UInt64(bytes.count))
            output.append(contentsOf: bytes)
        }
    }

    private mutating func tag(_ tag: PackedTag) { output.append(tag.rawValue) }

    private mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            output.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        output.append(UInt8(value))
    }
}

private struct PackedReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let keys: [String]
    var index = 0
    /// The strings read whole, in order, for the references to them; sharing their storage.
    var strings: [String] = []

    init(bytes: UnsafeBufferPointer<UInt8>, keys: [String]) {
        self.bytes = bytes
        self.keys = keys
    }

    mutating func value() -> JSON? {
        guard let raw = byte(), let tag = PackedTag(rawValue: raw) else { return nil }
        switch tag {
        case .null: return .null
        case .false: return .bool(false)
        case .true: return .bool(true)
        case .int:
            guard let zigzag = varint() else { return nil }
            return .int(Int(truncatingIfNeeded: Int64(bitPattern: (zigzag >> 1) ^ (0 &- (zigzag & 1)))))
        case .double:
            guard bytes.count - index >= 8 else { return nil }
            var bits: UInt64 = 0
            for shift in 0..<8 { bits |= UInt64(bytes[index + shift]) << (8 * shift) }
            index += 8
            return .double(Double(bitPattern: bits))
        case .string:
            guard let string = utf8() else { return nil }
            if string.utf8.count >= 3 { strings.append(string) }
            return .string(string)
        case .earlierString:
            guard let number = count(), number < strings.count else { return nil }
            return .string(strings[number])
        case .array:
            guard let count = count() else { return nil }
            var elements: [JSON] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                guard let element = value() else { return nil }
                elements.append(element)
            }
            return .array(elements)
        case .object:
            guard let count = count() else { return nil }
            var members = [String: JSON](minimumCapacity: count)
            for _ in 0..<count {
                guard let number = self.count() else { return nil }
                let key: String
                if number == 0 {
                    guard let written = utf8() else { return nil }
                    key = written
                } else {
                    guard number <= keys.count else { return nil }
                    key = keys[number - 1]
                }
                guard let member = value() else { return nil }
                members[key] = member
            }
            return .object(members)
        }
    }

    private mutating func byte() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = byte() {
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    /// A count or length: never more than the bytes left, so garbage cannot reserve gigabytes.
    private mutating func count() -> Int? {
        guard let value = varint(), value <= UInt64(bytes.count) else { return nil }
        return Int(value)
    }

    private mutating func utf8() -> String? {
        guard let length = count(), length <= bytes.count - index else { return nil }
        defer { index += length }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<index + length]), as: UTF8.self)
    }
}
