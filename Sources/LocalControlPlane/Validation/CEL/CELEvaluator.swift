import Foundation
import KubeCore

/// The CEL macros that iterate a list (or a map's keys), with how many arguments may follow
/// the iteration variable.
enum CELMacro: String, Sendable {
    case all, exists, existsOne = "exists_one", map, filter

    var arities: Set<Int> { self == .map ? [1, 2] : [1] }
}

/// Walks a `CELNode` tree. One evaluator serves one evaluation: it holds the variable bindings,
/// the cost spent so far and compiled regular expressions.
struct CELEvaluator {
    /// Bounds the work a rule can cause (nested comprehensions multiply): roughly one unit per
    /// node visited or element copied. Real rules stay far below it.
    static let costLimit = 1_000_000

    var variables: [String: JSON]
    private var cost = 0
    var regexCache: [String: NSRegularExpression] = [:]

    init(variables: [String: JSON]) { self.variables = variables }

    mutating func charge(_ amount: Int) throws(CELError) {
        cost += amount
        guard cost <= Self.costLimit else { throw CELError("evaluation cost limit of \(Self.costLimit) exceeded") }
    }

    mutating func evaluate(_ node: CELNode) throws(CELError) -> JSON {
        try charge(1)
        switch node.kind {
        case .literal(let value):
            return value
        case .variable(let name):
            guard let value = variables[name] else { throw CELError("undeclared reference to '\(name)'") }
            return value
        case .select(let target, let field):
            let object = try evaluate(target)
            guard case .object(let fields) = object else {
                throw CELError("cannot select field '\(field)' from \(celTypeName(object))")
            }
            guard let value = celField(field, in: fields) else { throw CELError("no such key: \(field)") }
            return value
        case .presence(let target, let field):
            let object = try evaluate(target)
            guard case .object(let fields) = object else {
                throw CELError("invalid type for has(): \(celTypeName(object))")
            }
            return .bool(celField(field, in: fields) != nil)
        case .index(let target, let index):
            return try Self.index(try evaluate(target), try evaluate(index))
        case .call(let name, let targetNode, let argNodes):
            var target: JSON?
            if let targetNode { target = try evaluate(targetNode) }
            var args: [JSON] = []
            for node in argNodes { args.append(try evaluate(node)) }
            return try call(name, target: target, args: args)
        case .list(let nodes):
            var items: [JSON] = []
            for node in nodes { items.append(try evaluate(node)) }
            return .array(items)
        case .map(let entries):
            var fields: [String: JSON] = [:]
            for entry in entries {
                // JSON objects only have string keys, so CEL's int and bool keys are not supported.
                let key = try evaluate(entry.key)
                guard case .string(let name) = key else { throw CELError("unsupported map key type: \(celTypeName(key))") }
                guard fields[name] == nil else { throw CELError("repeated map key: \(name)") }
                fields[name] = try evaluate(entry.value)
            }
            return .object(fields)
        case .not(let operand):
            let value = try evaluate(operand)
            guard case .bool(let flag) = value else { throw celNoOverload("!", value) }
            return .bool(!flag)
        case .negate(let operand):
            switch try evaluate(operand) {
            case .int(let number):
                guard number != .min else { throw CELError("integer overflow") }
                return .int(-number)
            case .double(let number): return .double(-number)
            case let value: throw celNoOverload("-", value)
            }
        case .binary(.and, let lhs, let rhs):
            return try logical(lhs, rhs, decidingValue: false, op: "&&")
        case .binary(.or, let lhs, let rhs):
            return try logical(lhs, rhs, decidingValue: true, op: "||")
        case .binary(let op, let lhs, let rhs):
            return try binary(op, try evaluate(lhs), try evaluate(rhs))
        case .conditional(let condition, let then, let otherwise):
            let value = try evaluate(condition)
            guard case .bool(let flag) = value else { throw celNoOverload("?:", value) }
            return try evaluate(flag ? then : otherwise)
        case .comprehension(let macro, let range, let variable, let args):
            return try comprehension(macro, range: range, variable: variable, args: args)
        }
    }

    /// Evaluates to a bool, capturing the error instead of throwing so callers can absorb it.
    private mutating func attemptBool(_ node: CELNode, op: String) -> Result<Bool, CELError> {
        do throws(CELError) {
            let value = try evaluate(node)
            guard case .bool(let flag) = value else { return .failure(celNoOverload(op, value)) }
            return .success(flag)
        } catch {
            return .failure(error)
        }
    }

    /// `&&` and `||` are commutative in CEL: the deciding value on either side wins over an
    /// error on the other (`false && error` is false, `error || true` is true).
    private mutating func logical(_ lhs: CELNode, _ rhs: CELNode, decidingValue: Bool, op: String) throws(CELError) -> JSON {
        let left = attemptBool(lhs, op: op)
        if case .success(decidingValue) = left { return .bool(decidingValue) }
        let right = attemptBool(rhs, op: op)
        if case .success(decidingValue) = right { return .bool(decidingValue) }
        if case .failure(let error) = left { throw error }
        if case .failure(let error) = right { throw error }
        return .bool(!decidingValue)
    }

    private mutating func predicate(_ node: CELNode, _ macro: CELMacro) throws(CELError) -> Bool {
        try attemptBool(node, op: macro.rawValue).get()
    }

    /// `all` and `exists` absorb errors like `&&` and `||` (they are defined as folds of them);
    /// the other macros are strict.
    private mutating func comprehension(_ macro: CELMacro, range: CELNode, variable: String, args: [CELNode]) throws(CELError) -> JSON {
        let elements: [JSON]
        switch try evaluate(range) {
        case .array(let items): elements = items
        case .object(let fields): elements = fields.keys.sorted().map(JSON.string)  // sorted: results must not depend on hashing
        case let other: throw CELError("\(macro.rawValue)() cannot iterate over \(celTypeName(other))")
        }
        let shadowed = variables[variable]
        defer { variables[variable] = shadowed }
        var firstError: CELError?
        var results: [JSON] = []
        var matches = 0
        for element in elements {
            variables[variable] = element
            switch macro {
            case .all, .exists:
                switch attemptBool(args[0], op: macro.rawValue) {
                case .success(let flag) where flag == (macro == .exists): return .bool(flag)
                case .success: break
                case .failure(let error): firstError = firstError ?? error
                }
            case .existsOne:
                if try predicate(args[0], macro) { matches += 1 }
            case .filter:
                if try predicate(args[0], macro) { results.append(element) }
            case .map:
                if args.count == 2, !(try predicate(args[0], macro)) { continue }
                results.append(try evaluate(args[args.count - 1]))
            }
        }
        switch macro {
        case .all, .exists:
            if let firstError { throw firstError }
            return .bool(macro == .all)
        case .existsOne: return .bool(matches == 1)
        case .map, .filter: return .array(results)
        }
    }

    // MARK: Operators

    static func index(_ target: JSON, _ index: JSON) throws(CELError) -> JSON {
        switch (target, index) {
        case (.array(let items), .int), (.array(let items), .double):
            guard let position = index.intValue else { throw CELError("invalid list index: \(index)") }
            guard items.indices.contains(position) else {
                throw CELError("index out of bounds: \(position) (list size \(items.count))")
            }
            return items[position]
        case (.object(let fields), .string(let key)):
            guard let value = fields[key] else { throw CELError("no such key: \(key)") }
            return value
        default:
            throw CELError("no such overload: \(celTypeName(target))[\(celTypeName(index))]")
        }
    }

    private mutating func binary(_ op: CELBinaryOperator, _ lhs: JSON, _ rhs: JSON) throws(CELError) -> JSON {
        switch (op, lhs, rhs) {
        case (.equal, _, _): return .bool(celEquals(lhs, rhs))
        case (.notEqual, _, _): return .bool(!celEquals(lhs, rhs))
        case (.less, _, _), (.lessOrEqual, _, _), (.greater, _, _), (.greaterOrEqual, _, _):
            return .bool(try celCompare(op, lhs, rhs))
        case (.in, _, .array(let items)):
            try charge(items.count)
            return .bool(items.contains { celEquals(lhs, $0) })
        case (.in, .string(let key), .object(let fields)):
            return .bool(fields[key] != nil)
        case (.in, _, .object):
            return .bool(false)  // JSON maps only have string keys
        case (.add, .string(let a), .string(let b)):
            try charge(a.utf8.count + b.utf8.count)
            return .string(a + b)
        case (.add, .array(let a), .array(let b)):
            try charge(a.count + b.count)
            return .array(a + b)
        case (_, .int(let a), .int(let b)):
            return try Self.integerArithmetic(op, a, b)
        case (.add, _, _), (.subtract, _, _), (.multiply, _, _), (.divide, _, _):
            // Mixed int and double is promoted: without a schema, a `number` field holding `2`
            // arrives as an int, where kube-apiserver would have typed it double.
            guard let a = lhs.celDouble, let b = rhs.celDouble else { throw celNoOverload(op.rawValue, lhs, rhs) }
            switch op {
            case .add: return .double(a + b)
            case .subtract: return .double(a - b)
            case .multiply: return .double(a * b)
            default: return .double(a / b)
            }
        default:
            throw celNoOverload(op.rawValue, lhs, rhs)
        }
    }

    private static func integerArithmetic(_ op: CELBinaryOperator, _ a: Int, _ b: Int) throws(CELError) -> JSON {
        let result: (partialValue: Int, overflow: Bool)
        switch op {
        case .add: result = a.addingReportingOverflow(b)
        case .subtract: result = a.subtractingReportingOverflow(b)
        case .multiply: result = a.multipliedReportingOverflow(by: b)
        case .divide:
            guard b != 0 else { throw CELError("division by zero") }
            result = a.dividedReportingOverflow(by: b)
        case .remainder:
            guard b != 0 else { throw CELError("modulus by zero") }
            result = a.remainderReportingOverflow(dividingBy: b)
        default: throw celNoOverload(op.rawValue, .int(a), .int(b))
        }
        guard !result.overflow else { throw CELError("integer overflow") }
        return .int(result.partialValue)
    }
}

// MARK: - Value helpers

extension JSON {
    /// A number as double, for int/double promotion; nil for other types.
    var celDouble: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }
}

/// CEL type names, used in error messages.
func celTypeName(_ value: JSON) -> String {
    switch value {
    case .null: return "null_type"
    case .bool: return "bool"
    case .int: return "int"
    case .double: return "double"
    case .string: return "string"
    case .array: return "list"
    case .object: return "map"
    }
}

func celNoOverload(_ op: String, _ operands: JSON...) -> CELError {
    CELError("no such overload: \(op) applied to (\(operands.map(celTypeName).joined(separator: ", ")))")
}

/// Heterogeneous equality: numbers compare by value across int and double, strings by code
/// points (not Swift's canonical equivalence), lists and maps element-wise; other mixes are unequal.
func celEquals(_ lhs: JSON, _ rhs: JSON) -> Bool {
    switch (lhs, rhs) {
    case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
    case (.int(let a), .int(let b)): return a == b
    case (.int, .double), (.double, .int), (.double, .double): return lhs.celDouble == rhs.celDouble
    case (.array(let a), .array(let b)):
        return a.count == b.count && zip(a, b).allSatisfy { celEquals($0, $1) }
    case (.object(let a), .object(let b)):
        return a.count == b.count && a.allSatisfy { key, value in b[key].map { celEquals(value, $0) } ?? false }
    default: return lhs == rhs
    }
}

/// Ordering for ints, doubles (also mixed), strings (by code point) and bools.
func celCompare(_ op: CELBinaryOperator, _ lhs: JSON, _ rhs: JSON) throws(CELError) -> Bool {
    func ordered<T: Comparable>(_ a: T, _ b: T) -> Bool {
        switch op {
        case .less: return a < b
        case .lessOrEqual: return a <= b
        case .greater: return a > b
        default: return a >= b
        }
    }
    switch (lhs, rhs) {
    case (.int(let a), .int(let b)): return ordered(a, b)
    case (.string(let a), .string(let b)):
        let order = a.unicodeScalars.elementsEqual(b.unicodeScalars) ? 0
            : a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) ? -1 : 1
        return ordered(order, 0)
    case (.bool(let a), .bool(let b)): return ordered(a ? 1 : 0, b ? 1 : 0)
    default:
        guard let a = lhs.celDouble, let b = rhs.celDouble else { throw celNoOverload(op.rawValue, lhs, rhs) }
        return ordered(a, b)
    }
}

/// Looks a field up by name. Kubernetes escapes property names that are not CEL identifiers
/// (`x-y` is written `x__dash__y`, `namespace` is `__namespace__`), so the unescaped name is
/// tried when the literal one is absent.
func celField(_ name: String, in fields: [String: JSON]) -> JSON? {
    if let value = fields[name] { return value }
    guard name.contains("__") else { return nil }
    if name.hasPrefix("__"), name.hasSuffix("__"), name.count > 4 {
        let word = String(name.dropFirst(2).dropLast(2))
        if CELLexer.reserved.contains(word) || ["true", "false", "null", "in"].contains(word) { return fields[word] }
    }
    let escapes = [("__underscores__", "__"), ("__dot__", "."), ("__dash__", "-"), ("__slash__", "/")]
    var unescaped = ""
    var rest = Substring(name)
    scan: while !rest.isEmpty {
        for (escape, replacement) in escapes where rest.hasPrefix(escape) {
            unescaped += replacement
            rest = rest.dropFirst(escape.count)
            continue scan
        }
        unescaped.append(rest.removeFirst())
    }
    return fields[unescaped]
}
