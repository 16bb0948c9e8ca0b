import Foundation
import Testing
@testable import LocalControlPlane
import KubeCore
import TestSupport

// MARK: - Fixtures: the recorded kube-apiserver exchanges and the KServe CRDs

/// Files shared between projects (`../shared`, found by `Paths.shared`).
private enum Shared {
    static var root: URL { Paths.shared }

    static func text(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// A recording by its number prefix (`"034"`).
    static func recording(_ number: String) throws -> JSON {
        let directory = root.appendingPathComponent("kube-wire")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let name = try #require(names.first { $0.hasPrefix(number + "-") && $0.hasSuffix(".json") })
        return try JSON(parsing: try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func recordedCauses(_ recording: JSON) -> [APIStatus.Cause] {
        guard let body = recording[path: ["response", "body"]] else { return [] }
        return APIStatus(json: body, httpCode: 422)?.causes ?? []
    }

    /// `openAPIV3Schema` of one version of a CRD given as JSON.
    static func schema(ofCRD crd: JSON, version: String) throws -> StructuralSchema {
        let versions = crd[path: ["spec", "versions"]]?.arrayValue ?? []
        let entry = try #require(versions.first { $0["name"]?.stringValue == version })
        return try StructuralSchema(json: try #require(entry[path: ["schema", "openAPIV3Schema"]]))
    }

    /// The Widget CRD created in recording 031, and the KServe CRDs, compiled once for all tests.
    static let widget: Result<StructuralSchema, any Error> = Result {
        try schema(ofCRD: try #require(try recording("031")[path: ["request", "body"]]), version: "v1alpha1")
    }
    static let inferenceService = Result { try kserve("serving.kserve.io_inferenceservices.yaml", "v1beta1") }
    static let servingRuntime = Result { try kserve("serving.kserve.io_servingruntimes.yaml", "v1alpha1") }
    static let clusterServingRuntime = Result { try kserve("serving.kserve.io_clusterservingruntimes.yaml", "v1alpha1") }

    static func kserveCRD(_ file: String) throws -> JSON { try YAML.parse(try text("crds/full/" + file)) }

    static func kserve(_ file: String, _ version: String) throws -> StructuralSchema {
        try schema(ofCRD: try kserveCRD(file), version: version)
    }
}

/// What the server does with a create: prune, default, validate.
private func admit(_ body: JSON, _ schema: StructuralSchema, cel: SchemaValidator? = nil) -> (JSON, [String], [APIStatus.Cause]) {
    let (pruned, unknown) = SchemaPruner.prune(body, schema: schema)
    let defaulted = SchemaDefaulter.applyDefaults(pruned, schema: schema)
    let validator = cel ?? SchemaValidator(schema: schema, celRule: widgetCEL)
    return (defaulted, unknown, validator.validate(defaulted, oldObject: nil))
}

/// Stands in for CEL: knows the Widget's one rule, and rules written as `false`/`error`/`oldSelf`.
private let widgetCEL: @Sendable (String, JSON, JSON?) -> Result<Bool, SchemaError> = { rule, value, oldValue in
    switch rule {
    case "self.size <= 10 || has(self.big)":
        return .success((value["size"]?.intValue ?? 0) <= 10 || value["big"] != nil)
    case "false": return .success(false)
    case "error": return .failure(SchemaError(message: "no such key: x"))
    case "self == oldSelf": return .success(value == oldValue)
    default: return .success(true)
    }
}

private func schema(_ json: JSON) throws -> StructuralSchema { try StructuralSchema(json: json) }

private func sorted(_ causes: [APIStatus.Cause]) -> [APIStatus.Cause] {
    causes.sorted { ($0.field, $0.reason, $0.message) < ($1.field, $1.reason, $1.message) }
}

private func cause(_ field: String, _ reason: String, _ message: String) -> APIStatus.Cause {
    APIStatus.Cause(reason: reason, message: message, field: field)
}

// MARK: - Recorded kube-apiserver answers

@Suite("Recorded kube-apiserver answers")
struct SchemaRecordedAnswerTests {
    @Test("the Widget's 422 causes are the recorded ones", arguments: ["034", "035", "036"])
    func widgetRejections(number: String) throws {
        let recording = try Shared.recording(number)
        let body = try #require(recording[path: ["request", "body"]])
        let expected = Shared.recordedCauses(recording)
        #expect(!expected.isEmpty)
        let (_, _, causes) = admit(body, try Shared.widget.get())
        #expect(sorted(causes) == sorted(expected))
    }

    @Test("an invalid InferenceService gets the recorded type error and no CEL cause")
    func inferenceServiceRejection() throws {
        let recording = try Shared.recording("063")
        let schema = try Shared.inferenceService.get()
        let (_, _, causes) = admit(try #require(recording[path: ["request", "body"]]), schema)
        #expect(sorted(causes) == sorted(Shared.recordedCauses(recording)))
        #expect(!schema.hasRulesInSubtree)
    }

    @Test("a created Widget is pruned to the stored spec and warns about the unknown field")
    func widgetCreate() throws {
        let recording = try Shared.recording("033")
        let (stored, unknown, causes) = admit(try #require(recording[path: ["request", "body"]]), try Shared.widget.get())
        #expect(causes.isEmpty)
        #expect(stored["spec"] == recording[path: ["response", "body", "spec"]])
        let header = try #require(recording[path: ["response", "headers", "Warning"]]?.stringValue)
        #expect(unknown.map { "299 - \"unknown field \\\"\($0)\\\"\"" } == [header])
    }

    @Test("KServe objects the real server accepted are accepted and stored identically", arguments: ["061", "062"])
    func kserveAccepts(number: String) throws {
        let recording = try Shared.recording(number)
        let body = try #require(recording[path: ["request", "body"]])
        let schema = try number == "061" ? Shared.servingRuntime.get() : Shared.inferenceService.get()
        let (stored, unknown, causes) = admit(body, schema)
        #expect(causes.isEmpty)
        #expect(unknown.isEmpty)
        #expect(stored["spec"] == recording[path: ["response", "body", "spec"]])
        // The cluster-scoped runtime has the same spec schema.
        if number == "061" {
            #expect(admit(body, try Shared.clusterServingRuntime.get()).2.isEmpty)
        }
    }

    /// Timing is the benchmark's business (speed targets are never asserted in tests): this
    /// checks that the full KServe schema compiles and admits a real InferenceService, repeatedly.
    @Test("the KServe InferenceService schema compiles and admits a recorded object every time")
    func kserveSchemaAdmitsTheRecordedObject() throws {
        let crd = try Shared.kserveCRD("serving.kserve.io_inferenceservices.yaml")
        let schema = try Shared.schema(ofCRD: crd, version: "v1beta1")
        let body = try #require(try Shared.recording("062")[path: ["request", "body"]])
        let validator = SchemaValidator(schema: schema, celRule: nil)
        var total = 0
        for _ in 0..<20 { total += validator.validate(body, oldObject: nil).count }
        #expect(total == 0)
    }
}

// MARK: - Validation

/// One synthetic schema exercising each keyword.
private let catalogSchema: JSON = [
    "type": "object",
    "properties": [
        "spec": [
            "type": "object",
            "properties": [
                "port": ["anyOf": [["type": "integer"], ["type": "string"]], "x-kubernetes-int-or-string": true],
                "target": ["x-kubernetes-int-or-string": true],
                "replicas": ["type": "integer", "minimum": 0, "maximum": 5, "format": "int32"],
                "ratio": ["type": "number", "exclusiveMaximum": true, "maximum": 1.5, "multipleOf": 0.25],
                "tier": ["type": "integer", "enum": [1, 2]],
                "note": ["type": "string", "nullable": true, "minLength": 2],
                "title": ["type": "string", "maxLength": 3],
                "when": ["type": "string", "format": "date-time"],
                "blob": ["type": "string", "format": "byte"],
                "labels": ["type": "object", "additionalProperties": ["type": "string", "pattern": "^[a-z]*$"]],
                "tags": ["type": "array", "minItems": 1, "maxItems": 2, "items": ["type": "string"]],
                "containers": [
                    "type": "array",
                    "items": [
                        "type": "object", "required": ["name"],
                        "properties": ["name": ["type": "string"], "ports": ["type": "array", "items": ["type": "integer"]]],
                    ],
                ],
                "limits": ["type": "object", "maxProperties": 1, "minProperties": 1, "additionalProperties": ["type": "integer"]],
                "choice": ["oneOf": [["required": ["a"]], ["required": ["b"]]], "type": "object",
                           "properties": ["a": ["type": "string"], "b": ["type": "string"]]],
                "free": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
            ],
        ],
    ],
]

@Suite("Validation causes")
struct SchemaValidationCauseTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var spec: JSON
        var causes: [APIStatus.Cause]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a valid object", spec: [
            "port": 8080, "target": "http", "replicas": 2, "ratio": 0.75, "tier": 2, "note": nil, "title": "abc",
            "when": "2026-11-22T13:52:41Z", "blob": "aGVsbG8=", "labels": ["app": "web"], "tags": ["x"],
            "containers": [["name": "a", "ports": [1, 2.0]]], "limits": ["cpu": 1], "choice": ["a": "x"],
            "free": ["anything": [1, "two", ["three": nil]]],
        ], causes: []),
        Case(name: "int-or-string with anyOf rejects a boolean three ways", spec: ["port": true], causes: [
            cause("spec.port", "FieldValueTypeInvalid",
                  #"Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#),
            cause("<nil>", "FieldValueInvalid", #"Invalid value: "": "spec.port" must validate at least one schema (anyOf)"#),
            cause("spec.port", "FieldValueTypeInvalid",
                  #"Invalid value: "boolean": spec.port in body must be of type integer: "boolean""#),
        ]),
        Case(name: "int-or-string without anyOf", spec: ["target": 1.5], causes: [
            cause("spec.target", "FieldValueTypeInvalid",
                  #"Invalid value: "number": spec.target in body must be of type integer,string: "number""#),
        ]),
        // Go converts 2.5 to the enum's int64 (2) before comparing, so only the type is wrong.
        Case(name: "integer bounds and a fractional integer", spec: ["replicas": 6, "tier": 2.5], causes: [
            cause("spec.replicas", "FieldValueInvalid", "Invalid value: 6: spec.replicas in body should be less than or equal to 5"),
            cause("spec.tier", "FieldValueTypeInvalid", #"Invalid value: "number": spec.tier in body must be of type integer: "number""#),
        ]),
        Case(name: "enum of integers", spec: ["tier": 3], causes: [
            cause("spec.tier", "FieldValueNotSupported", #"Unsupported value: 3: supported values: "1", "2""#),
        ]),
        Case(name: "number bounds, exclusive, multipleOf", spec: ["ratio": 1.6], causes: [
            cause("spec.ratio", "FieldValueInvalid", "Invalid value: 1.6: spec.ratio in body should be a multiple of 0.25"),
            cause("spec.ratio", "FieldValueInvalid", "Invalid value: 1.6: spec.ratio in body should be less than 1.5"),
        ]),
        Case(name: "an integer satisfies number", spec: ["ratio": 0], causes: []),
        // kube-openapi compares integer data with the bound truncated to an integer.
        Case(name: "integer data against a fractional bound", spec: ["ratio": 1], causes: [
            cause("spec.ratio", "FieldValueInvalid", "Invalid value: 1: spec.ratio in body should be less than 1"),
        ]),
        Case(name: "strings: lengths in characters, first failure only", spec: ["title": "ééé", "note": "x"], causes: [
            cause("spec.note", "FieldValueInvalid", #"Invalid value: "x": spec.note in body should be at least 2 chars long"#),
        ]),
        Case(name: "too long", spec: ["title": "abcd"], causes: [
            cause("spec.title", "FieldValueTooLong", "Too long: may not be more than 3 bytes"),
        ]),
        Case(name: "formats", spec: ["when": "yesterday", "blob": "not base64!"], causes: [
            cause("spec.when", "FieldValueTypeInvalid", #"Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday""#),
            cause("spec.blob", "FieldValueTypeInvalid", #"Invalid value: "not base64!": spec.blob in body must be of type byte: "not base64!""#),
        ]),
        Case(name: "additionalProperties values", spec: ["labels": ["ok": "a", "bad": "UP", "num": 1]], causes: [
            cause("spec.labels.bad", "FieldValueInvalid", #"Invalid value: "UP": spec.labels.bad in body should match '^[a-z]*$'"#),
            cause("spec.labels.num", "FieldValueTypeInvalid", #"Invalid value: "integer": spec.labels.num in body must be of type string: "integer""#),
        ]),
        Case(name: "min items", spec: ["tags": []], causes: [
            cause("spec.tags", "FieldValueInvalid", "Invalid value: 0: spec.tags in body should have at least 1 items"),
        ]),
        Case(name: "max items", spec: ["tags": ["a", "b", "c"]], causes: [
            cause("spec.tags", "FieldValueTooMany", "Too many: 3: must have at most 2 items"),
        ]),
        Case(name: "nested list item paths", spec: ["containers": [["name": "a"], ["ports": [1, "x"]]]], causes: [
            cause("spec.containers[1].ports[1]", "FieldValueTypeInvalid",
                  #"Invalid value: "string": spec.containers[1].ports[1] in body must be of type integer: "string""#),
            cause("spec.containers[1].name", "FieldValueRequired", "Required value"),
        ]),
        Case(name: "nullable accepts null; a null item is a type error", spec: ["note": nil, "tags": [nil]], causes: [
            cause("spec.tags[0]", "FieldValueTypeInvalid", #"Invalid value: "null": spec.tags[0] in body must be of type string: "null""#),
        ]),
        Case(name: "property counts", spec: ["limits": ["a": 1, "b": 2]], causes: [
            cause("spec.limits", "FieldValueTooMany", "Too many: 2: must have at most 1 item"),
        ]),
        Case(name: "oneOf with none matching", spec: ["choice": [:]], causes: [
            cause("<nil>", "FieldValueInvalid",
                  #"Invalid value: "": "spec.choice" must validate one and only one schema (oneOf). Found none valid"#),
            cause("spec.choice.a", "FieldValueRequired", "Required value"),
        ]),
        Case(name: "oneOf with two matching", spec: ["choice": ["a": "x", "b": "y"]], causes: [
            cause("<nil>", "FieldValueInvalid",
                  #"Invalid value: "": "spec.choice" must validate one and only one schema (oneOf). Found 2 valid alternatives"#),
        ]),
        Case(name: "wrong container types", spec: ["containers": "nope", "labels": [], "free": 3], causes: [
            cause("spec.containers", "FieldValueTypeInvalid", #"Invalid value: "string": spec.containers in body must be of type array: "string""#),
            cause("spec.labels", "FieldValueTypeInvalid", #"Invalid value: "array": spec.labels in body must be of type object: "array""#),
            cause("spec.free", "FieldValueTypeInvalid", #"Invalid value: "integer": spec.free in body must be of type object: "integer""#),
        ]),
    ]

    @Test("kube-openapi's causes", arguments: cases)
    func causes(_ testCase: Case) throws {
        let validator = SchemaValidator(schema: try schema(catalogSchema), celRule: nil)
        let causes = validator.validate(["apiVersion": "x/v1", "kind": "Catalog", "metadata": ["name": 5], "spec": testCase.spec], oldObject: nil)
        #expect(sorted(causes) == sorted(testCase.causes))
    }

    @Test("a root additionalProperties entry keeps kube-openapi's leading dot in the message only")
    func rootAdditionalProperties() throws {
        let schema = try schema(["type": "object", "additionalProperties": ["type": "integer"]])
        let causes = SchemaValidator(schema: schema, celRule: nil).validate(["a": "x"], oldObject: nil)
        #expect(causes == [cause("a", "FieldValueTypeInvalid", #"Invalid value: "string": .a in body must be of type integer: "string""#)])
    }
}

// MARK: - List types

@Suite("x-kubernetes-list-type uniqueness")
struct SchemaListTypeTests {
    @Test("sets, maps with one and several keys, missing keys, map values and non-objects")
    func duplicates() throws {
        let schema = try schema([
            "type": "object",
            "properties": [
                "names": ["type": "array", "x-kubernetes-list-type": "set", "items": ["type": "string"]],
                "ports": [
                    "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
                    "items": ["type": "object", "properties": ["port": ["type": "integer"], "protocol": ["type": "string"]]],
                ],
                "containers": [
                    "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": ["type": "object", "properties": ["name": ["type": "string"], "image": ["type": "string"]]],
                ],
                "env": [
                    "type": "object",
                    "additionalProperties": ["type": "array", "x-kubernetes-list-type": "set", "items": ["type": "integer"]],
                ],
                "odd": ["type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]],
            ],
        ])
        let object: JSON = [
            "names": ["a", "b", "a", "a"],
            "ports": [["port": 80, "protocol": "TCP"], ["port": 80, "protocol": "UDP"], ["port": 80, "protocol": "TCP"]],
            "containers": [["name": "a"], ["name": "a", "image": "x"], ["image": "y"], ["image": "z"]],
            "env": ["X": [1, 2, 1]],
            "odd": [1],
        ]
        let causes = SchemaValidator(schema: schema, celRule: nil).validate(object, oldObject: nil)
        #expect(sorted(causes) == sorted([
            cause("names[2]", "FieldValueDuplicate", #"Duplicate value: "a""#),
            cause("ports[2]", "FieldValueDuplicate", #"Duplicate value: {"port":80,"protocol":"TCP"}"#),
            cause("containers[1]", "FieldValueDuplicate", #"Duplicate value: {"name":"a"}"#),
            cause("containers[3]", "FieldValueDuplicate", "Duplicate value: {}"),
            cause("env[X][2]", "FieldValueDuplicate", "Duplicate value: 1"),
            cause("odd[0]", "FieldValueInvalid", "Invalid value: 1: must be an object for an array of list-type map"),
        ]))
    }

    @Test("a ServingRuntime repeating a container port (protocol defaulted) is refused")
    func kserveDuplicatePort() throws {
        var body = try #require(try Shared.recording("061")[path: ["request", "body"]])
        body[path: ["spec", "containers"]] = [["name": "c", "image": "i", "ports": [["containerPort": 8000], ["containerPort": 8000, "protocol": "TCP"]]]]
        let (_, _, causes) = admit(body, try Shared.servingRuntime.get())
        #expect(causes == [
            cause("spec.containers[0].ports[1]", "FieldValueDuplicate", #"Duplicate value: {"containerPort":8000,"protocol":"TCP"}"#),
        ])
    }
}

// MARK: - CEL rules

@Suite("x-kubernetes-validations")
struct SchemaRuleTests {
    static let ruleSchema: JSON = [
        "type": "object",
        "properties": [
            "spec": [
                "type": "object",
                "x-kubernetes-validations": [["rule": "false", "message": "  spec is never right "]],
                "properties": [
                    "count": ["type": "integer", "minimum": 1],
                    "name": ["type": "string", "x-kubernetes-validations": [["rule": "false"]], "enum": ["a", "b"]],
                    "frozen": ["type": "string", "x-kubernetes-validations": [["rule": "self == oldSelf", "message": "immutable"]]],
                    "broken": ["type": "integer", "x-kubernetes-validations": [["rule": "error"]]],
                    "env": [
                        "type": "object",
                        "additionalProperties": [
                            "type": "string",
                            "x-kubernetes-validations": [["rule": "false", "reason": "FieldValueForbidden", "message": "no"]],
                        ],
                    ],
                    "ports": [
                        "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
                        "items": [
                            "type": "object",
                            "x-kubernetes-validations": [["rule": "self == oldSelf", "message": "ports are immutable", "fieldPath": ".port"]],
                            "properties": ["port": ["type": "integer"], "label": ["type": "string"]],
                        ],
                    ],
                ],
            ],
        ],
    ]

    func validate(_ spec: JSON, old: JSON? = nil, cel: Bool = true) throws -> [APIStatus.Cause] {
        let validator = SchemaValidator(schema: try schema(Self.ruleSchema), celRule: cel ? widgetCEL : nil)
        return validator.validate(["spec": spec], oldObject: old.map { ["spec": $0] })
    }

    @Test("rule failures name the node, show scalar values, honour reason, fieldPath and default messages")
    func failures() throws {
        let causes = try validate(["name": "a", "env": ["HOME": "/"], "broken": 1])
        #expect(sorted(causes) == sorted([
            cause("spec", "FieldValueInvalid", "Invalid value: spec is never right"),
            cause("spec.name", "FieldValueInvalid", #"Invalid value: "a": failed rule: false"#),
            cause("spec.env[HOME]", "FieldValueForbidden", "Forbidden: no"),
            cause("spec.broken", "FieldValueInvalid", #"Invalid value: "integer": no such key: x evaluating rule: error"#),
        ]))
    }

    @Test("a non-blocking error (minimum) still runs the rules")
    func nonBlocking() throws {
        let causes = try validate(["count": 0])
        #expect(sorted(causes) == sorted([
            cause("spec.count", "FieldValueInvalid", "Invalid value: 0: spec.count in body should be greater than or equal to 1"),
            cause("spec", "FieldValueInvalid", "Invalid value: spec is never right"),
        ]))
    }

    @Test("a blocking error (enum) skips the rules and says so")
    func blocking() throws {
        let causes = try validate(["name": "z"])
        #expect(causes == [
            cause("spec.name", "FieldValueNotSupported", #"Unsupported value: "z": supported values: "a", "b""#),
            cause("<nil>", "FieldValueInvalid", "Invalid value: null: \(SchemaFieldErrors.notCheckedMessage)"),
        ])
    }

    @Test("transition rules run only on update, list-map items correlate by key")
    func transitions() throws {
        let spec: JSON = ["frozen": "x", "ports": [["port": 80, "label": "b"], ["port": 81]]]
        #expect(try validate(spec).count == 1)  // only the always-false spec rule
        let old: JSON = ["frozen": "y", "ports": [["port": 81], ["port": 80, "label": "a"]]]
        let causes = try validate(spec, old: old)
        #expect(sorted(causes) == sorted([
            cause("spec", "FieldValueInvalid", "Invalid value: spec is never right"),
            cause("spec.frozen", "FieldValueInvalid", #"Invalid value: "x": immutable"#),
            cause("spec.ports[0].port", "FieldValueInvalid", "Invalid value: ports are immutable"),
        ]))
    }

    @Test("without an evaluator rules are not checked")
    func noEvaluator() throws {
        #expect(try validate(["name": "a"], cel: false).isEmpty)
    }
}

// MARK: - Updates

@Suite("Updates: validation ratcheting")
struct SchemaRatchetingTests {
    func widget(_ spec: JSON, name: String = "w") -> JSON {
        ["apiVersion": "wire.example.com/v1alpha1", "kind": "Widget", "metadata": ["name": .string(name)], "spec": spec]
    }

    @Test("errors in values equal to the old object are not reported; changed values are")
    func ratchets() throws {
        let validator = SchemaValidator(schema: try Shared.widget.get(), celRule: widgetCEL)
        let old = widget(["size": 0, "name": "TOO-LONG-NAME"])
        #expect(validator.validate(widget(["size": 0, "name": "TOO-LONG-NAME"], name: "renamed"), oldObject: old).isEmpty)
        let causes = validator.validate(widget(["size": 0, "name": "TOO-LONG-NAME", "mode": "c"]), oldObject: old)
        #expect(causes == [
            cause("spec.mode", "FieldValueNotSupported", #"Unsupported value: "c": supported values: "a", "b""#),
            cause("<nil>", "FieldValueInvalid", "Invalid value: null: \(SchemaFieldErrors.notCheckedMessage)"),
        ])
    }

    @Test("CEL errors ratchet too unless the rule reads oldSelf")
    func celRatchets() throws {
        let validator = SchemaValidator(schema: try Shared.widget.get(), celRule: widgetCEL)
        let old = widget(["size": 11])
        #expect(validator.validate(widget(["size": 11], name: "renamed"), oldObject: old).isEmpty)
        #expect(validator.validate(widget(["size": 11, "mode": "a"]), oldObject: old) == [
            cause("spec", "FieldValueInvalid", "Invalid value: size over 10 needs big"),
        ])
    }

    @Test("list uniqueness is only enforced when the old object had none")
    func listTypes() throws {
        let schema = try schema([
            "type": "object",
            "properties": ["names": ["type": "array", "x-kubernetes-list-type": "set", "items": ["type": "string"]]],
        ])
        let validator = SchemaValidator(schema: schema, celRule: nil)
        #expect(validator.validate(["names": ["a", "a", "b"]], oldObject: ["names": ["a", "a"]]).isEmpty)
        #expect(validator.validate(["names": ["a", "a", "b"]], oldObject: ["names": ["a"]]).count == 1)
    }
}

// MARK: - Defaulting and pruning

@Suite("Defaulting and pruning")
struct SchemaDefaultingPruningTests {
    static let schemaJSON: JSON = [
        "type": "object",
        "properties": [
            "spec": [
                "type": "object",
                "properties": [
                    "replicas": ["type": "integer", "default": 1],
                    "mode": ["type": "string", "default": "fast"],
                    "optional": ["type": "string", "nullable": true],
                    "plain": ["type": "string"],
                    "resources": [
                        "type": "object", "default": [:],
                        "properties": ["cpu": ["type": "string", "default": "100m"]],
                    ],
                    "containers": [
                        "type": "array",
                        "items": [
                            "type": "object",
                            "properties": ["name": ["type": "string"], "protocol": ["type": "string", "default": "TCP"]],
                        ],
                    ],
                    "env": [
                        "type": "object",
                        "additionalProperties": [
                            "type": "object", "properties": ["value": ["type": "string", "default": "unset"]],
                        ],
                    ],
                    "raw": [
                        "type": "object", "x-kubernetes-preserve-unknown-fields": true,
                        "properties": ["known": ["type": "object", "properties": ["a": ["type": "integer"]]]],
                    ],
                    "template": [
                        "type": "object", "x-kubernetes-embedded-resource": true,
                        "x-kubernetes-preserve-unknown-fields": true,
                    ],
                ],
            ],
        ],
    ]

    @Test("defaults fill missing properties, non-nullable nulls, list items, map values and defaulted objects")
    func defaults() throws {
        let schema = try schema(Self.schemaJSON)
        let input: JSON = [
            "spec": ["mode": nil, "containers": [["name": "a"], ["name": "b", "protocol": "UDP"]], "env": ["A": [:]]],
        ]
        let output = SchemaDefaulter.applyDefaults(input, schema: schema)
        #expect(output == [
            "spec": [
                "replicas": 1, "mode": "fast", "resources": ["cpu": "100m"],
                "containers": [["name": "a", "protocol": "TCP"], ["name": "b", "protocol": "UDP"]],
                "env": ["A": ["value": "unset"]],
            ],
        ])
    }

    @Test("pruning drops unknown fields with their paths, keeps preserved subtrees and resource meta fields")
    func pruning() throws {
        let schema = try schema(Self.schemaJSON)
        let input: JSON = [
            "apiVersion": "x/v1", "kind": "K", "metadata": ["name": "n", "anything": ["goes": true]],
            "spec": [
                "extra": 1, "containers": [["name": "a", "bogus": true], ["zzz": [1]]],
                "env": ["A": ["value": "v", "other": 2]],
                "raw": ["deep": ["x": [1, ["y": 2]]], "known": ["a": 1, "b": 2]],
                "template": ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p"], "spec": ["x": 1]],
                "optional": nil, "plain": nil,
            ],
            "status": ["phase": "Ready"],
        ]
        let (output, unknown) = SchemaPruner.prune(input, schema: schema)
        #expect(unknown == [
            "spec.containers[0].bogus", "spec.containers[1].zzz", "spec.env.A.other", "spec.extra", "spec.raw.known.b", "status",
        ])
        #expect(output == [
            "apiVersion": "x/v1", "kind": "K", "metadata": ["name": "n", "anything": ["goes": true]],
            "spec": [
                "containers": [["name": "a"], [:]],
                "env": ["A": ["value": "v"]],
                "raw": ["deep": ["x": [1, ["y": 2]]], "known": ["a": 1]],
                "template": ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p"], "spec": ["x": 1]],
                "optional": nil,
            ],
        ])
    }

    @Test("a schema without preserve-unknown-fields prunes everything under an untyped array")
    func untypedArray() throws {
        let schema = try schema(["type": "object", "properties": ["list": ["type": "array"]]])
        let (output, unknown) = SchemaPruner.prune(["list": [["a": 1], 2]], schema: schema)
        #expect(output == ["list": [[:], 2]])
        #expect(unknown == ["list[0].a"])
    }
}

// MARK: - Schema compilation and robustness

@Suite("Schema compilation and robustness")
struct SchemaRobustnessTests {
    static let malformedSchemas: [(JSON, String)] = [
        (["type": 1], "openAPIV3Schema.type: must be a string"),
        (["properties": ["a": ["required": "x"]]], "openAPIV3Schema.properties.a.required: must be an array"),
        (["properties": ["a": ["pattern": "("]]], "openAPIV3Schema.properties.a.pattern: invalid regular expression ("),
        (["items": [["type": "string"]]], "openAPIV3Schema.items: must be a single schema"),
        ("string", "openAPIV3Schema: must be an object"),
    ]

    @Test("malformed schemas are refused with the offending path", arguments: malformedSchemas)
    func malformed(json: JSON, message: String) {
        #expect(throws: SchemaError.self) { try StructuralSchema(json: json) }
        do {
            _ = try StructuralSchema(json: json)
        } catch {
            #expect(error.message == message)
        }
    }

    @Test("Go renders numbers and strings this way")
    func goRendering() {
        #expect(SchemaFieldErrors.goFloat(1e6) == "1e+06")
        #expect(SchemaFieldErrors.goFloat(123456.5) == "123456.5")
        #expect(SchemaFieldErrors.goFloat(0.0001) == "0.0001")
        #expect(SchemaFieldErrors.goFloat(0.00001) == "1e-05")
        #expect(SchemaFieldErrors.goFloat(-2.5e300) == "-2.5e+300")
        #expect(SchemaFieldErrors.goFloat(1) == "1")
        #expect(SchemaFieldErrors.quote("a\"b\\\n\u{01}é\u{A0}") == #""a\"b\\\n\x01é\u00a0""#)
    }

    /// Values nested deeper than the JSON parser allows, under unknown, preserved and typed fields.
    @Test("deep nesting, huge strings and random shapes do not crash")
    func noCrash() throws {
        var deep: JSON = "leaf"
        for level in 0..<3000 { deep = level % 2 == 0 ? [deep] : ["k": deep] }
        let huge = JSON.string(String(repeating: "é", count: 2_000_000))
        let schemas = try [
            schema(catalogSchema), schema(SchemaDefaultingPruningTests.schemaJSON), schema(SchemaRuleTests.ruleSchema),
            Shared.widget.get(), Shared.inferenceService.get(),
        ]
        var random = SeededRandom(seed: 42)
        var shapes: [JSON] = [deep, huge, ["spec": deep], ["spec": ["raw": deep, "free": deep, "title": huge, "labels": ["a": huge]]]]
        for _ in 0..<300 { shapes.append(["spec": randomJSON(&random, depth: 0), "status": randomJSON(&random, depth: 0)]) }
        for schema in schemas {
            let validator = SchemaValidator(schema: schema, celRule: widgetCEL)
            for shape in shapes {
                let (pruned, _) = SchemaPruner.prune(shape, schema: schema)
                let defaulted = SchemaDefaulter.applyDefaults(shape, schema: schema)
                _ = validator.validate(shape, oldObject: defaulted)
                _ = validator.validate(pruned, oldObject: nil)
            }
        }
    }

    /// Keys the test schemas know, so random objects reach typed fields with wrong types.
    static let keys = ["spec", "predictor", "minReplicas", "model", "containers", "name", "size", "mode", "big", "port",
                       "tier", "labels", "tags", "raw", "free", "env", "resources", "limits", "x", "0"]

    fileprivate func randomJSON(_ random: inout SeededRandom, depth: Int) -> JSON {
        switch random.next() % (depth > 6 ? 6 : 8) {
        case 0: return nil
        case 1: return .bool(random.next() % 2 == 0)
        case 2: return .int(Int(truncatingIfNeeded: random.next()) % 20)
        case 3: return .double(Double(random.next() % 1000) / 7)
        case 4: return .string(["", "a", "UPPER", "2026-01-01T00:00:00Z", "1Gi", String(repeating: "x", count: 300)][Int(random.next() % 6)])
        case 5: return .string(Self.keys[Int(random.next() % UInt64(Self.keys.count))])
        case 6: return .array((0..<Int(random.next() % 4)).map { _ in randomJSON(&random, depth: depth + 1) })
        default:
            var object: [String: JSON] = [:]
            for _ in 0..<Int(random.next() % 5) {
                object[Self.keys[Int(random.next() % UInt64(Self.keys.count))]] = randomJSON(&random, depth: depth + 1)
            }
            return .object(object)
        }
    }
}
