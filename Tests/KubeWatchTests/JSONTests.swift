import Testing
import KubeCore

@Suite struct JSONTests {
    @Test func roundTripsEveryKindOfValue() throws {
        let text = #"{"a":[1,-2,3.5,1e3,true,false,null],"b":{"c":"d\n\"é\"\u0001"},"e":""}"#
        let value = try JSON(parsing: text)
        #expect(value["a"]?[0] == .int(1))
        #expect(value["a"]?[2] == .double(3.5))
        #expect(value["a"]?[3] == .double(1000))
        #expect(value[dotted: "b.c"]?.stringValue == "d\n\"é\"\u{1}")
        #expect(try JSON(parsing: value.serialized()).semanticallyEquals(value))
    }

    /// What a cache parses: an object's (or a watch event's object's) managedFields are left out,
    /// a member of that name anywhere else is kept, and what follows them is parsed as usual.
    @Test func dropsManagedFieldsOfMetadataOnlyWhenAsked() throws {
        let text = #"{"type":"MODIFIED","object":{"metadata":{"name":"a","managedFields":[{"manager":"m","fieldsV1":{"f:spec":{"f:x":{}}}}],"uid":"u"},"spec":{"managedFields":1,"metadata":{"managedFields":[]}}}}"#
        let dropped = try JSON(parsing: Array(text.utf8), droppingManagedFields: true)
        #expect(dropped[dotted: "object.metadata"] == ["name": "a", "uid": "u"])
        #expect(dropped[dotted: "object.spec.managedFields"] == .int(1))
        #expect(dropped[dotted: "object.spec.metadata"] == .object([:]), "a template's metadata is metadata too")
        let whole = try JSON(parsing: text)
        #expect(whole[dotted: "object.metadata.managedFields"]?.arrayValue?.count == 1)
        #expect(throws: JSONParseError.self) { try JSON(parsing: Array(#"{"metadata":{"managedFields":[1,"#.utf8), droppingManagedFields: true) }
        let list = try JSON(parsing: Array(#"{"metadata":[{"managedFields":1}]}"#.utf8), droppingManagedFields: true)
        #expect(list["metadata"]?[0]?["managedFields"] == .int(1), "a metadata member that is no object is not metadata")
    }

    @Test func decodesSurrogatePairs() throws {
        #expect(try JSON(parsing: #""\ud83d\ude00""#) == .string("😀"))
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01x", "\"\\x\"", "tru", "[1] 2", "\"\u{1}\""])
    func rejectsMalformedInput(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSON(parsing: text) }
    }

    /// A list body with its items left as byte ranges: each range parses to the item the whole
    /// document holds, whatever brackets and escaped quotes its strings carry.
    @Test func defersAnArrayMembersElementsToTheirOwnParse() throws {
        let text = #"{"kind":"List","items":[{"a":"]}\"[{\\","b":[1,[2],{}]}, "x" ,-1.5e3,null,[]],"metadata":{"continue":"t"}}"#
        let bytes = Array(text.utf8)
        let (object, ranges) = try JSON.parsing(bytes, deferring: "items")
        let whole = try JSON(parsing: text)
        #expect(object["items"] == nil)
        #expect(object[dotted: "metadata.continue"]?.stringValue == "t")
        #expect(object["kind"] == whole["kind"])
        let items = try ranges.map { range throws(JSONParseError) in try JSON(parsing: bytes[range]) }
        #expect(items == whole["items"]?.arrayValue)
        #expect(try JSON.parsing(Array(#"{"items":[]}"#.utf8), deferring: "items").elements.isEmpty)
        #expect(try JSON.parsing(Array(#"{"items":null}"#.utf8), deferring: "items").object["items"] == .null)
        let repeated = try JSON.parsing(Array(#"{"items":[1,2],"items":[3]}"#.utf8), deferring: "items")
        #expect(repeated.elements.count == 1, "the last of a repeated key wins, as in a whole parse")
    }

    @Test(arguments: [#"{"items":[1 2]}"#, #"{"items":["a]}"#, #"{"items":[{]"#, #"{"items":[]} x"#, #"["items"]"#, #"{"items":[,]}"#])
    func refusesMalformedListBodies(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSON.parsing(Array(text.utf8), deferring: "items") }
    }

    @Test func refusesHostileNesting() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSON(parsing: deep) }
    }

    @Test func serializesKeysSorted() {
        let value: JSON = ["b": 1, "a": ["y": true, "x": nil]]
        #expect(value.serialized() == #"{"a":{"x":null,"y":true},"b":1}"#)
    }

    @Test func escapesOnlyWhatJSONRequires() {
        // Runs between escapes are copied whole: the bytes around each escape must survive.
        let value: JSON = ["k": .string("a\"b\\c\nd\re\tf\u{1}g\u{1F}é😀/"), "": "", "x\"": [.string("\""), false]]
        #expect(value.serialized() == #"{"":"","k":"a\"b\\c\nd\re\tf\u0001g\u001fé😀/","x\"":["\"",false]}"#)
    }

    @Test func lastRepeatedKeyWinsAndContainersNest() throws {
        let value = try JSON(parsing: #"{"a":1,"b":{"c":[1,{"d":[]},[2,3]],"e":{}},"a":2}"#)
        #expect(value == ["a": 2, "b": ["c": [1, ["d": []], [2, 3]], "e": [:]]])
        #expect(value.serialized() == #"{"a":2,"b":{"c":[1,{"d":[]},[2,3]],"e":{}}}"#)
    }

    @Test func pathSubscriptCreatesAndPrunes() {
        var value: JSON = [:]
        value[path: ["metadata", "labels", "app"]] = "nim"
        #expect(value.serialized() == #"{"metadata":{"labels":{"app":"nim"}}}"#)
        value[path: ["metadata", "labels", "app"]] = nil
        #expect(value.serialized() == #"{}"#)
    }
}

@Suite struct YAMLTests {
    @Test func resolvesScalarsLikeKubectl() throws {
        let value = try YAML.parse("""
        a: yes
        b: "yes"
        c: 0755
        d: 1.5
        e: ~
        f: 0x1F
        g: 1.0.0
        h: -3
        i: .inf
        j: 'on'
        k: 12e3
        """)
        #expect(value["a"] == .bool(true))
        #expect(value["b"] == .string("yes"))
        #expect(value["c"] == .int(493))
        #expect(value["d"] == .double(1.5))
        #expect(value["e"] == .null)
        #expect(value["f"] == .int(31))
        #expect(value["g"] == .string("1.0.0"))
        #expect(value["h"] == .int(-3))
        #expect(value["i"] == .double(.infinity))
        #expect(value["j"] == .string("on"))
        #expect(value["k"] == .double(12000))
    }

    @Test func readsMultipleDocumentsAnchorsAndMerges() throws {
        let docs = try YAML.parseAll("""
        base: &b {x: 1, y: 2}
        child:
          <<: *b
          y: 3
        ---
        - a
        - !!str 12
        ---
        """)
        #expect(docs.count == 2)
        #expect(docs[0]["child"] == ["x": 1, "y": 3])
        #expect(docs[1] == ["a", "12"])
    }

    @Test func rejectsDuplicateKeysWithTheLine() throws {
        do {
            _ = try YAML.parse("a: 1\nb: 2\na: 3\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("\"a\" already defined"))
            #expect(error.line == 3)
        }
    }

    @Test func reportsSyntaxErrorsWithPosition() {
        #expect(throws: YAMLError.self) { try YAML.parse("a: [1, 2\nb: c") }
    }

    @Test func emitsWhatItReadsBack() throws {
        let value: JSON = [
            "s": "yes", "n": "1.0", "empty": "", "multi": "line1\nline2\n", "list": [1, 2.5, true, nil],
            "nested": ["k": "v: w", "u": "héllo"], "emptyList": [], "emptyMap": [:],
        ]
        let text = YAML.emit(value)
        #expect(try YAML.parse(text) == value)
        #expect(text.contains("s: \"yes\""))
        #expect(text.contains("multi: |"))
    }
}
