import Testing
import KubeCore
import TestSupport

@Suite struct PackedJSONTests {
    /// Every case and edge a parsed object can hold comes back equal, cases kept apart (an int
    /// stays an int, `1.0` a double), strings met again (references) and not.
    @Test func unpacksToTheValuePacked() throws {
        let value: JSON = [
            "ints": [0, 1, -1, 63, -64, 64, 300, .int(Int.max), .int(Int.min)],
            "doubles": [1.0, -0.5, 1e300, .double(-.zero)],
            "flags": [true, false, nil],
            "strings": ["", "a", "ab", "abc", "abc", "é😀\u{0}\"\\\n", "é😀\u{0}\"\\\n", .string(String(repeating: "x", count: 300))],
            "empty": ["array": [], "object": [:]],
            "deep": [[["a": [["b": "abc"]]]]],
            "metadata": ["name": "abc", "labels": ["abc": "abc"]],
        ]
        let keys = JSONKeyTable()
        #expect(PackedJSON(value, keys: keys).unpacked(keys: keys) == value)
        for scalar: JSON in [nil, true, 7, 2.5, "abc", [], [:]] {
            #expect(PackedJSON(scalar, keys: keys).unpacked(keys: keys) == scalar)
        }
    }

    /// What a real API server sends, round trip and size: keys numbered once per table leave
    /// well under half of the JSON text.
    @Test func packsRecordedObjectsToUnderHalfTheirText() throws {
        let items = try WireRecording.loadAll().compactMap(\.responseBody).flatMap { $0["items"]?.arrayValue ?? [] }
        try #require(items.count >= 10)
        let keys = JSONKeyTable()
        var text = 0
        var packed = 0
        for item in items {
            let bytes = PackedJSON(item, keys: keys)
            #expect(bytes.unpacked(keys: keys) == item)
            text += item.serializedBytes().count
            packed += bytes.bytes.count
        }
        #expect(packed * 2 < text, "packed \(packed) bytes of \(text)")
    }

    /// Keys past the table's capacity are written out whole; the table stops growing.
    @Test func aFullTableWritesNewKeysInFull() {
        let keys = JSONKeyTable()
        var many: [String: JSON] = [:]
        for index in 0..<(JSONKeyTable.capacity + 10) { many["key-\(index)"] = .int(index) }
        let value = JSON.object(many)
        let packed = PackedJSON(value, keys: keys)
        #expect(keys.count == JSONKeyTable.capacity)
        #expect(packed.unpacked(keys: keys) == value)
        #expect(PackedJSON(["another": 1], keys: keys).unpacked(keys: keys) == ["another": 1])
    }

    /// Bytes read with a table that does not number their keys are refused, not misread.
    @Test func anotherTablesKeysAreRefused() {
        let packed = PackedJSON(["metadata": ["name": "a"]], keys: JSONKeyTable())
        #expect(packed.unpacked(keys: JSONKeyTable()) == nil)
    }
}
