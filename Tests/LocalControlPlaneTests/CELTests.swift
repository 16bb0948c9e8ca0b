import KubeCore
import Testing

import LocalControlPlane

/// One expression, the values it runs with, and what it must produce.
struct CELCase: Sendable, CustomTestStringConvertible {
    enum Outcome: Sendable { case value(JSON), error(String) }

    var source: String
    var selfValue: JSON
    var oldSelf: JSON?
    var outcome: Outcome

    var testDescription: String { source }
}

/// `source` evaluates to `expected`.
private func ok(_ source: String, _ expected: JSON, self value: JSON = .null, old: JSON? = nil) -> CELCase {
    CELCase(source: source, selfValue: value, oldSelf: old, outcome: .value(expected))
}

/// `source` compiles but evaluation fails with a message containing `fragment`.
private func fails(_ source: String, _ fragment: String, self value: JSON = .null, old: JSON? = nil) -> CELCase {
    CELCase(source: source, selfValue: value, oldSelf: old, outcome: .error(fragment))
}

private func run(_ testCase: CELCase) {
    let result: Result<JSON, CELError>
    do throws(CELError) {
        let program = try CELProgram.compile(testCase.source)
        result = .success(try program.evaluate(self: testCase.selfValue, oldSelf: testCase.oldSelf))
    } catch {
        result = .failure(error)
    }
    switch (testCase.outcome, result) {
    case (.value(let expected), .success(let actual)):
        #expect(actual == expected, "\(testCase.source)")
    case (.error(let fragment), .failure(let error)):
        #expect(error.message.contains(fragment), "\(testCase.source): \(error.message)")
    case (_, .success(let actual)):
        Issue.record("\(testCase.source): expected an error, got \(actual)")
    case (_, .failure(let error)):
        Issue.record("\(testCase.source): unexpected error \(error.message)")
    }
}

// MARK: - Literals

private let literalCases: [CELCase] = [
    ok("42", 42), ok("0x1F", 31), ok("0XfF", 255), ok("7u", 7), ok("0x10u", 16),
    ok("-9223372036854775808", .int(Int.min)), ok("9223372036854775807", .int(Int.max)),
    ok("1.5", 1.5), ok("1e3", 1000.0), ok("2.5E-1", 0.25), ok(".5", 0.5), ok("-2.5", -2.5),
    ok("true", true), ok("false", false), ok("null", nil),
    ok("'single'", "single"), ok("\"double\"", "double"),
    ok("'a\\nb\\tc'", "a\nb\tc"), ok("'back\\\\slash'", "back\\slash"),
    ok("\"q\\\"q\"", "q\"q"), ok("'it\\'s'", "it's"), ok("'\\u00e9'", "é"), ok("'\\U0001F600'", "😀"),
    ok("'\\x41\\101'", "AA"), ok("'\\a\\b\\f\\v\\r\\?\\`'", "\u{07}\u{08}\u{0C}\u{0B}\r?`"),
    ok("r'a\\nb'", "a\\nb"), ok("R\"\\d+\"", "\\d+"),
    ok("'''multi\nline'''", "multi\nline"), ok("\"\"\"has \"quotes\" inside\"\"\"", "has \"quotes\" inside"),
    ok("'é😀'", "é😀"),
    ok("[1, 'a', true]", [1, "a", true]), ok("[]", []), ok("[1, 2,]", [1, 2]),
    ok("{'k': 1, 'n': {'x': [null]}}", ["k": 1, "n": ["x": [nil]]]), ok("{}", [:]),
    ok("1 // a comment\n + 1", 2),
]

// MARK: - Operators

private let arithmeticCases: [CELCase] = [
    ok("1 + 2 * 3", 7), ok("(1 + 2) * 3", 9), ok("10 - 4 - 3", 3), ok("7 / 2", 3), ok("-7 / 2", -3),
    ok("7 % 3", 1), ok("-7 % 3", -1), ok("2 * -3", -6), ok("-(3)", -3), ok("--3", 3),
    ok("1.5 + 1.5", 3.0), ok("7.0 / 2.0", 3.5), ok("1.0 / 0.0", .double(.infinity)), ok("2 * 1.5", 3.0),
    ok("'ab' + 'cd'", "abcd"), ok("[1] + [2, 3]", [1, 2, 3]),
    fails("1 / 0", "division by zero"), fails("1 % 0", "modulus by zero"),
    fails("9223372036854775807 + 1", "overflow"), fails("-9223372036854775808 - 1", "overflow"),
    fails("9223372036854775807 * 2", "overflow"), fails("-9223372036854775808 / -1", "overflow"),
    fails("-(-9223372036854775808)", "overflow"),
    fails("'a' + 1", "no such overload"), fails("1.5 % 1.0", "no such overload"), fails("-'a'", "no such overload"),
    fails("{'a': 1} + {'b': 2}", "no such overload"), fails("[1] - [1]", "no such overload"),
]

private let comparisonCases: [CELCase] = [
    ok("1 == 1", true), ok("1 != 2", true), ok("1 == 1.0", true), ok("1.0 == 1", true), ok("1 == 2.5", false),
    ok("'a' == 'a'", true), ok("'a' == 1", false), ok("null == null", true), ok("1 != null", true),
    ok("[1, [2]] == [1, [2]]", true), ok("[1, 2] == [2, 1]", false), ok("[1] == [1.0]", true),
    ok("{'a': 1, 'b': [2]} == {'b': [2], 'a': 1}", true), ok("{'a': 1} == {'a': 2}", false),
    ok("'e\\u0301' == '\\u00e9'", false),  // code points, not canonical equivalence
    ok("1 < 2", true), ok("2 <= 2", true), ok("3 > 2", true), ok("2 >= 3", false),
    ok("1 < 1.5", true), ok("2.5 >= 2", true), ok("'abc' < 'abd'", true), ok("'b' > 'abc'", true),
    ok("false < true", true), ok("1 + 1 == 2", true), ok("1 < 2 == true", true),
    fails("1 < 'a'", "no such overload"), fails("[1] < [2]", "no such overload"),
    ok("2 in [1, 2, 3]", true), ok("4 in [1, 2, 3]", false), ok("2.0 in [1, 2]", true),
    ok("'a' in {'a': 1}", true), ok("'b' in {'a': 1}", false), ok("'x' in self", true, self: ["x": nil]),
    fails("1 in 'abc'", "no such overload"),
]

private let logicCases: [CELCase] = [
    ok("true && true", true), ok("true && false", false), ok("false || true", true), ok("false || false", false),
    ok("!true", false), ok("!!true", true), ok("true || false && false", true), ok("(true || false) && false", false),
    // Short-circuit with error absorption, in both orders (CEL's && and || are commutative).
    ok("true || 1 / 0 == 1", true), ok("1 / 0 == 1 || true", true),
    ok("false && self.missing", false), ok("self.missing && false", false, self: [:]),
    fails("true && self.missing", "no such key: missing", self: [:]),
    fails("self.missing || false", "no such key: missing", self: [:]),
    fails("1 / 0 == 1 || 'a' == 'b'", "division by zero"),
    fails("1 && true", "no such overload"), ok("1 || true", true), fails("!1", "no such overload"),
    ok("true ? 1 : 2", 1), ok("false ? 1 : 2", 2), ok("1 < 2 ? 'yes' : 'no'", "yes"),
    ok("false ? 1 : true ? 2 : 3", 2), ok("true ? 1 : 1 / 0", 1), ok("false ? 1 / 0 : 'ok'", "ok"),
    fails("1 ? 2 : 3", "no such overload"),
]

// MARK: - Selection, indexing and has()

private let object: JSON = [
    "spec": ["size": 3, "name": "web", "tags": ["a", "b"], "x-forwarded": true, "namespace": "ns"],
    "items": [["name": "one"], ["name": "two"]],
]

private let selectionCases: [CELCase] = [
    ok("self.spec.size", 3, self: object), ok("self['spec']['name']", "web", self: object),
    ok("self.spec.tags[1]", "b", self: object), ok("self.items[0].name", "one", self: object),
    ok("self.spec.tags[1.0]", "b", self: object), ok("{'a': {'b': 5}}.a.b", 5),
    ok("self.spec.x__dash__forwarded", true, self: object), ok("self.spec.__namespace__", "ns", self: object),
    ok("self.spec.namespace", "ns", self: object),
    fails("self.spec.missing", "no such key: missing", self: object),
    fails("self['nope']", "no such key: nope", self: object),
    fails("self.spec.tags[2]", "index out of bounds: 2", self: object),
    fails("self.spec.tags[-1]", "index out of bounds", self: object),
    fails("self.spec.size.x", "cannot select field 'x' from int", self: object),
    fails("self.spec['size'][0]", "no such overload", self: object),
    ok("has(self.spec)", true, self: object), ok("has(self.status)", false, self: object),
    ok("has(self.spec.size)", true, self: object), ok("has(self.spec.replicas)", false, self: object),
    ok("has(self.spec.x__dash__forwarded)", true, self: object),
    ok("has(self.a.b)", false, self: ["a": [:]]),
    fails("has(self.status.phase)", "no such key: status", self: object),
    fails("has(self.spec.size.x)", "invalid type for has()", self: object),
]

// MARK: - Functions

private let functionCases: [CELCase] = [
    ok("size('héllo')", 5), ok("'😀x'.size()", 2), ok("size([1, 2])", 2), ok("{'a': 1}.size()", 1),
    ok("size(self)", 2, self: ["a": 1, "b": 2]), fails("size(1)", "no such overload"),
    ok("'kubernetes'.startsWith('kube')", true), ok("'kubernetes'.endsWith('netes')", true),
    ok("'kubernetes'.endsWith('kube')", false), ok("'kubernetes'.contains('erne')", true),
    ok("'abc'.contains('')", true), ok("''.contains('a')", false),
    ok("'abc-123'.matches('^[a-z]+-[0-9]+$')", true), ok("'abc'.matches('b')", true),
    ok("'abc'.matches('^b')", false), ok("matches('abc', 'c$')", true),
    ok("'a1'.matches(r'\\d')", true), ok("'x'.matches('(?P<name>x)')", true),
    fails("'a'.matches(self)", "invalid regular expression", self: "("),
    ok("'MiXed 1'.lowerAscii()", "mixed 1"), ok("'MiXed é'.upperAscii()", "MIXED é"),
    ok("'  \\t pad \\n'.trim()", "pad"), ok("''.trim()", ""),
    ok("'a,b,,c'.split(',')", ["a", "b", "", "c"]), ok("'a,b,c'.split(',', 2)", ["a", "b,c"]),
    ok("'a,b'.split(',', 0)", []), ok("'abc'.split('')", ["a", "b", "c"]), ok("''.split(',')", [""]),
    ok("'hello'.indexOf('l')", 2), ok("'hello'.indexOf('z')", -1), ok("'hello'.indexOf('l', 3)", 3),
    ok("'héllo'.indexOf('l')", 2), ok("'hello'.indexOf('')", 0), fails("'hi'.indexOf('h', 5)", "index out of range"),
    ok("'hello'.lastIndexOf('l')", 3), ok("'hello'.lastIndexOf('z')", -1), ok("'hello'.lastIndexOf('l', 2)", 2),
    ok("'hi'.lastIndexOf('long')", -1),
    ok("'a-b-c'.replace('-', '+')", "a+b+c"), ok("'a-b-c'.replace('-', '', 1)", "ab-c"), ok("'ab'.replace('', '.')", ".a.b."),
    ok("'kubernetes'.substring(4)", "rnetes"), ok("'kubernetes'.substring(0, 4)", "kube"),
    fails("'abc'.substring(2, 1)", "after end"), fails("'abc'.substring(4)", "index out of range"),
    ok("'abc'.charAt(1)", "b"), ok("'abc'.charAt(3)", ""),
    ok("['a', 'b'].join()", "ab"), ok("['a', 'b'].join(', ')", "a, b"), fails("[1].join()", "not string"),
    ok("[1, 2, 2, 3].isSorted()", true), ok("['b', 'a'].isSorted()", false), ok("[].isSorted()", true),
    ok("[1, 2, 3].sum()", 6), ok("[1, 2.5].sum()", 3.5), ok("[].sum()", 0), fails("['a'].sum()", "no such overload"),
    ok("[3, 1, 2].min()", 1), ok("[3, 1, 2].max()", 3), ok("['b', 'a'].min()", "a"), fails("[].max()", "empty list"),
    ok("[1, 2, 3].indexOf(2)", 1), ok("[1, 2, 1].lastIndexOf(1)", 2),
    ok("int(3.9)", 3), ok("int(-3.9)", -3), ok("int('42')", 42), ok("int(7)", 7), fails("int('4x')", "conversion"),
    fails("int(1e19)", "out of range"), ok("uint(5)", 5), fails("uint(-1)", "negative"), fails("uint('-3')", "conversion"),
    ok("double(2)", 2.0), ok("double('1.25')", 1.25), fails("double('x')", "conversion"),
    ok("string(12)", "12"), ok("string(1.5)", "1.5"), ok("string(2.0)", "2"), ok("string(1e6)", "1e+06"),
    ok("string(123456.0)", "123456"), ok("string(0.0001)", "0.0001"), ok("string(0.00001)", "1e-05"),
    ok("string(-1.25e-7)", "-1.25e-07"), ok("string(true)", "true"), ok("string('s')", "s"),
    fails("string([1])", "no such overload"),
    ok("bool('true')", true), ok("bool('F')", false), ok("bool(true)", true), fails("bool('yes')", "conversion"),
    ok("dyn(5) + 1", 6), fails("int(true)", "no such overload"),
]

// MARK: - Macros

private let macroCases: [CELCase] = [
    ok("[1, 2, 3].all(x, x > 0)", true), ok("[1, 2, 3].all(x, x > 1)", false), ok("[].all(x, false)", true),
    ok("[1, 2, 3].exists(x, x == 2)", true), ok("[1, 2, 3].exists(x, x == 5)", false), ok("[].exists(x, true)", false),
    ok("[1, 2, 3].exists_one(x, x > 2)", true), ok("[1, 2, 3].exists_one(x, x > 1)", false),
    ok("[1, 2, 3].map(x, x * 2)", [2, 4, 6]), ok("[1, 2, 3].map(x, x > 1, x * 10)", [20, 30]),
    ok("[1, 2, 3, 4].filter(x, x % 2 == 0)", [2, 4]), ok("[[1, 2], [3]].map(l, l.map(x, x + 1))", [[2, 3], [4]]),
    ok("{'b': 1, 'a': 2}.map(k, k)", ["a", "b"]), ok("{'a': 1, 'b': 2}.filter(k, k == 'b')", ["b"]),
    ok("{'ab': 1, 'ac': 2}.all(k, k.startsWith('a'))", true),
    // all/exists absorb errors like && and ||; the others are strict.
    ok("[0, 1].exists(x, 1 / x == 1)", true), ok("[0, 1].all(x, 1 / x == 5)", false),
    fails("[0, 1].all(x, 1 / x == 1)", "division by zero"), fails("[0, 1].exists(x, 1 / x == 5)", "division by zero"),
    fails("[0].map(x, 1 / x)", "division by zero"), fails("[1].filter(x, x)", "no such overload"),
    fails("1.all(x, true)", "cannot iterate"),
    // The iteration variable shadows only inside the macro.
    ok("self.all(self, self > 0) && size(self) == 2", true, self: [1, 2]),
]

// MARK: - Kubernetes rules

private let conditions: JSON = [
    ["type": "Ready", "status": "True"], ["type": "Progressing", "status": "False"],
]

private let kubernetesCases: [CELCase] = [
    // The kube-apiserver recorded example.
    ok("self.size <= 10 || has(self.big)", false, self: ["size": 11]),
    ok("self.size <= 10 || has(self.big)", true, self: ["size": 11, "big": true]),
    ok("self.size <= 10 || has(self.big)", true, self: ["size": 3]),
    ok("has(self.model) || has(self.image)", true, self: ["image": "nim:1"]),
    ok("has(self.model) || has(self.image)", false, self: [:]),
    ok("!has(self.image) || self.image != ''", true, self: [:]),
    ok("!has(self.image) || self.image != ''", false, self: ["image": ""]),
    ok("self.min <= self.max", true, self: ["min": 1, "max": 3]),
    ok("self.min <= self.max", false, self: ["min": 4, "max": 3]),
    ok("self.all(k, k.startsWith('a'))", true, self: ["alpha": 1, "apex": 2]),
    ok("self.all(k, k.startsWith('a'))", false, self: ["alpha": 1, "beta": 2]),
    ok("self.exists(c, c.type == 'Ready' && c.status == 'True')", true, self: conditions),
    ok("self.exists(c, c.type == 'Progressing' && c.status == 'True')", false, self: conditions),
    ok("self.name.matches('^[a-z]+$')", true, self: ["name": "web"]),
    ok("self.name.matches('^[a-z]+$')", false, self: ["name": "Web-1"]),
    ok("size(self.tags) <= 10", true, self: ["tags": ["a"]]),
    ok("self.replicas >= 0 ? 'ok' : 'negative'", "ok", self: ["replicas": 2]),
    ok("'must be at most ' + string(self.max) + ' items'", "must be at most 5 items", self: ["max": 5]),
    ok("self.ports.map(p, p.port).all(p, p > 0 && p < 65536)", true, self: ["ports": [["port": 80], ["port": 443]]]),
    ok("self.x == 2.0", true, self: ["x": 2]),  // a JSON number without a schema may arrive as int
    // Transition rules.
    ok("self == oldSelf", true, self: ["a": [1]], old: ["a": [1]]),
    ok("self == oldSelf", false, self: ["a": [1]], old: ["a": [2]]),
    ok("self >= oldSelf", true, self: 5, old: 3),
    ok("!has(oldSelf.mode) || has(self.mode)", false, self: [:], old: ["mode": "x"]),
    fails("self == oldSelf", "oldSelf is not available", self: 1),
]

// MARK: - Compile errors and limits

private let compileErrors: [(source: String, fragment: String)] = [
    ("self.", "expected identifier"), ("(1 + ", "unexpected end of input"), ("1 +", "unexpected end of input"),
    ("foo(1)", "undeclared reference to 'foo'"), ("self.bogus()", "undeclared reference to 'bogus'"),
    ("size(1, 2)", "no matching overload"), ("'a'.startsWith()", "no matching overload"),
    ("unknownVar == 1", "undeclared reference to 'unknownVar'"), ("x", "undeclared reference"),
    ("has(self)", "invalid argument to has()"), ("has(1)", "invalid argument"),
    ("[1].all(1, true)", "must be an identifier"), ("[1].all(x, true, false)", "wrong number of arguments"),
    ("[1].all(x, y)", "undeclared reference to 'y'"),
    ("1 2", "unexpected number"), ("'unterminated", "unterminated string"), ("'line\nbreak'", "unterminated string"),
    ("'bad \\q'", "invalid escape"), ("'\\uD800'", "invalid code point"), ("b'bytes'", "bytes literals"),
    ("9223372036854775808", "out of range"), ("-9223372036854775809", "out of range"),
    ("1 ? 2", "expected ':'"), ("[1, 2", "expected ']'"), ("{'a' 1}", "expected ':'"), ("#", "unexpected character"),
    ("self.?x", "not supported"), ("if", "reserved"), ("self.matches('(')", "invalid regular expression"),
    ("", "unexpected end of input"),
]

@Suite struct CELTests {
    @Test(arguments: literalCases) func literals(_ testCase: CELCase) { run(testCase) }
    @Test(arguments: arithmeticCases) func arithmetic(_ testCase: CELCase) { run(testCase) }
    @Test(arguments: comparisonCases) func comparisons(_ testCase: CELCase) { run(testCase) }
    @Test(arguments: logicCases) func logic(_ testCase: CELCase) { run(testCase) }
    @Test(arguments: selectionCases) func selection(_ testCase: CELCase) { run(testCase) }
    @Test(arguments: functionCases) func functions(_ testCase: CELCase) { run(testCase) }
    @Test(arguments: macroCases) func macros(_ testCase: CELCase) { run(testCase) }
    @Test(arguments: kubernetesCases) func kubernetesRules(_ testCase: CELCase) { run(testCase) }

    @Test(arguments: compileErrors) func compileErrorsAreReported(_ source: String, _ fragment: String) {
        #expect(throws: CELError.self) { try CELProgram.compile(source) }
        do throws(CELError) {
            _ = try CELProgram.compile(source)
        } catch {
            #expect(error.message.contains(fragment), "\(source): \(error.message)")
        }
    }

    @Test func compileErrorsCarryPositions() {
        #expect(throws: CELError("1:6: syntax error: expected identifier but found end of input")) {
            try CELProgram.compile("self.")
        }
        #expect(throws: CELError("2:3: undeclared reference to 'nope'")) { try CELProgram.compile("1 +\n  nope") }
    }

    @Test func hostileInputIsRefused() throws {
        let deep = [
            String(repeating: "(", count: 150) + "1" + String(repeating: ")", count: 150),
            String(repeating: "[", count: 150) + String(repeating: "]", count: 150),
            String(repeating: "!", count: 150) + "true",
            Array(repeating: "1", count: 150).joined(separator: " + "),
            "self" + String(repeating: ".a", count: 150),
            String(repeating: "(", count: 5_000) + "1" + String(repeating: ")", count: 5_000),
            String(repeating: "-", count: 9_000) + "1",
            String(repeating: "[1].all(x, ", count: 600) + "true" + String(repeating: ")", count: 600),
        ]
        for source in deep {
            #expect(throws: CELError.self, "\(source.prefix(20))") { try CELProgram.compile(source) }
        }
        let long = "'" + String(repeating: "a", count: 10_000) + "'"
        #expect(throws: CELError("expression is longer than 10000 characters")) { try CELProgram.compile(long) }
        // Just within the limits, nesting still works.
        let nested = String(repeating: "(", count: 95) + "self" + String(repeating: ")", count: 95)
        #expect(try CELProgram.compile(nested).evaluate(self: 7, oldSelf: nil) == 7)
        let chain = "self" + String(repeating: ".a", count: 95)
        #expect(throws: CELError("no such key: a")) { try CELProgram.compile(chain).evaluate(self: [:], oldSelf: nil) }
    }

    @Test func runawayEvaluationHitsTheCostLimit() throws {
        let program = try CELProgram.compile("self.map(a, self.map(b, self.map(c, self.map(d, a + b + c + d)))).size()")
        let list = JSON.array((0..<50).map { JSON.int($0) })
        #expect(throws: CELError("evaluation cost limit of 1000000 exceeded")) {
            try program.evaluate(self: list, oldSelf: nil)
        }
    }

    @Test func transitionRulesAreDetected() throws {
        #expect(try CELProgram.compile("self == oldSelf").usesOldSelf)
        #expect(try CELProgram.compile("has(oldSelf.x)").usesOldSelf)
        #expect(try !CELProgram.compile("self.x > 0").usesOldSelf)
        // A macro variable named oldSelf is not a reference to the old object.
        #expect(try !CELProgram.compile("self.all(oldSelf, oldSelf > 0)").usesOldSelf)
    }

    @Test func programsAreReusableAcrossValues() throws {
        let program = try CELProgram.compile("self.replicas * 2")
        #expect(try program.evaluate(self: ["replicas": 2], oldSelf: nil) == 4)
        #expect(try program.evaluate(self: ["replicas": 5], oldSelf: nil) == 10)
        #expect(throws: CELError("no such key: replicas")) { try program.evaluate(self: [:], oldSelf: nil) }
    }
}
