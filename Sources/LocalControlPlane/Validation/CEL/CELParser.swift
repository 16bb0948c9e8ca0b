import KubeCore

/// A node of the checked CEL syntax tree. Macros (`has`, `all`, `exists`, ...) are already
/// expanded into their own node kinds, so the evaluator never sees them as calls.
struct CELNode: Sendable {
    indirect enum Kind: Sendable {
        case literal(JSON)
        case variable(String)
        case select(CELNode, field: String)
        /// `has(target.field)`: whether `field` is present, without failing when it is not.
        case presence(CELNode, field: String)
        case index(CELNode, CELNode)
        case call(String, target: CELNode?, args: [CELNode])
        case list([CELNode])
        case map([(key: CELNode, value: CELNode)])
        case not(CELNode)
        case negate(CELNode)
        case binary(CELBinaryOperator, CELNode, CELNode)
        case conditional(CELNode, then: CELNode, else: CELNode)
        case comprehension(CELMacro, range: CELNode, variable: String, args: [CELNode])
    }

    let kind: Kind
    /// Height of the tree below this node, kept so hostile input is refused before evaluation
    /// could recurse too deep.
    let depth: Int

    init(_ kind: Kind) {
        let children: [CELNode]
        switch kind {
        case .literal, .variable: children = []
        case .select(let t, _), .presence(let t, _), .not(let t), .negate(let t): children = [t]
        case .index(let a, let b), .binary(_, let a, let b): children = [a, b]
        case .call(_, let target, let args): children = (target.map { [$0] } ?? []) + args
        case .list(let items): children = items
        case .map(let entries): children = entries.flatMap { [$0.key, $0.value] }
        case .conditional(let a, let b, let c): children = [a, b, c]
        case .comprehension(_, let range, _, let args): children = [range] + args
        }
        self.kind = kind
        self.depth = 1 + (children.map(\.depth).max() ?? 0)
    }
}

enum CELBinaryOperator: String, Sendable {
    case or = "||", and = "&&"
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case `in` = "in"
    case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"

    /// CEL precedence, loosest first; all relations share one level and associate left.
    var precedence: Int {
        switch self {
        case .or: return 1
        case .and: return 2
        case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual, .in: return 3
        case .add, .subtract: return 4
        case .multiply, .divide, .remainder: return 5
        }
    }
}

/// Precedence-climbing parser from tokens to `CELNode`, resolving identifiers and checking
/// function names and arities so that mistakes surface at compile time, as with cel-go.
struct CELParser {
    static let maxDepth = 100

    private let source: [Unicode.Scalar]
    private let tokens: [CELToken]
    private var position = 0
    private var recursion = 0
    /// Comprehension variables in scope, innermost last.
    private var scope: [String] = []
    private(set) var usesOldSelf = false

    init(source: String, tokens: [CELToken]) {
        self.source = Array(source.unicodeScalars)
        self.tokens = tokens
    }

    mutating func parseProgram() throws(CELError) -> CELNode {
        let node = try parseExpression()
        guard case .end = current.kind else { throw error("unexpected \(describe(current))") }
        return node
    }

    // MARK: Token helpers

    private var current: CELToken { tokens[min(position, tokens.count - 1)] }
    private var next: CELToken { tokens[min(position + 1, tokens.count - 1)] }

    private func error(_ message: String, at token: CELToken? = nil) -> CELError {
        CELError("syntax error: \(message)", source: source, offset: (token ?? current).offset)
    }

    private func describe(_ token: CELToken) -> String {
        switch token.kind {
        case .end: return "end of input"
        case .symbol(let s): return "'\(s)'"
        case .identifier(let s): return "'\(s)'"
        case .int, .double: return "number"
        case .string: return "string"
        }
    }

    private func isSymbol(_ symbol: String) -> Bool { current.kind == .symbol(symbol) }

    private mutating func accept(_ symbol: String) -> Bool {
        guard isSymbol(symbol) else { return false }
        position += 1
        return true
    }

    private mutating func expect(_ symbol: String) throws(CELError) {
        guard accept(symbol) else { throw error("expected '\(symbol)' but found \(describe(current))") }
    }

    private mutating func identifier() throws(CELError) -> String {
        guard case .identifier(let name) = current.kind else {
            throw error("expected identifier but found \(describe(current))")
        }
        position += 1
        return name
    }

    /// Builds a node, refusing trees deeper than the limit.
    private func make(_ kind: CELNode.Kind) throws(CELError) -> CELNode {
        let node = CELNode(kind)
        guard node.depth <= Self.maxDepth else {
            throw error("expression nested more than \(Self.maxDepth) levels deep")
        }
        return node
    }

    // MARK: Grammar

    /// expr := or ('?' or ':' expr)?
    private mutating func parseExpression() throws(CELError) -> CELNode {
        recursion += 1
        defer { recursion -= 1 }
        guard recursion <= Self.maxDepth else { throw error("expression nested more than \(Self.maxDepth) levels deep") }
        let condition = try parseBinary(minimumPrecedence: 1)
        guard accept("?") else { return condition }
        let then = try parseBinary(minimumPrecedence: 1)
        try expect(":")
        let otherwise = try parseExpression()
        return try make(.conditional(condition, then: then, else: otherwise))
    }

    private mutating func parseBinary(minimumPrecedence: Int) throws(CELError) -> CELNode {
        var left = try parseUnary()
        while case .symbol(let s) = current.kind, let op = CELBinaryOperator(rawValue: s),
              op.precedence >= minimumPrecedence {
            position += 1
            let right = try parseBinary(minimumPrecedence: op.precedence + 1)
            left = try make(.binary(op, left, right))
        }
        return left
    }

    /// unary := ('!' | '-')* member, built iteratively so a long run of operators cannot
    /// recurse past the depth check.
    private mutating func parseUnary() throws(CELError) -> CELNode {
        var operators: [String] = []
        while isSymbol("!") || isSymbol("-") {
            // `-1` is an int literal in CEL (so the most negative int is writable), not a negation.
            if isSymbol("-"), case .int = next.kind { break }
            if isSymbol("-"), case .double = next.kind { break }
            operators.append(isSymbol("!") ? "!" : "-")
            position += 1
        }
        var node = try parseMember()
        for op in operators.reversed() {
            node = try make(op == "!" ? .not(node) : .negate(node))
        }
        return node
    }

    /// member := primary ('.' IDENT ('(' args ')')? | '[' expr ']')*
    private mutating func parseMember() throws(CELError) -> CELNode {
        var node = try parsePrimary()
        while true {
            if accept(".") {
                if isSymbol("?") { throw error("optional field selection '.?' is not supported") }
                let nameToken = current
                let name = try identifier()
                if accept("(") {
                    if let macro = CELMacro(rawValue: name), case .identifier(let variable) = current.kind,
                       next.kind == .symbol(",") {
                        node = try parseComprehension(macro, range: node, variable: variable, at: nameToken)
                        continue
                    }
                    let args = try parseArguments(closing: ")")
                    node = try makeCall(name, target: node, args: args, at: nameToken)
                } else {
                    node = try make(.select(node, field: name))
                }
            } else if accept("[") {
                let index = try parseExpression()
                try expect("]")
                node = try make(.index(node, index))
            } else {
                return node
            }
        }
    }

    private mutating func parsePrimary() throws(CELError) -> CELNode {
        let token = current
        switch token.kind {
        case .int(let magnitude):
            position += 1
            guard let value = Int(exactly: magnitude) else { throw error("integer literal out of range", at: token) }
            return try make(.literal(.int(value)))
        case .double(let value):
            position += 1
            return try make(.literal(.double(value)))
        case .string(let value):
            position += 1
            return try make(.literal(.string(value)))
        case .symbol("-"):
            // Only reached before a number literal (see parseUnary).
            position += 1
            let number = current
            position += 1
            if case .int(let magnitude) = number.kind {
                guard magnitude <= UInt64(Int.max) + 1 else { throw error("integer literal out of range", at: number) }
                return try make(.literal(.int(magnitude == UInt64(Int.max) + 1 ? Int.min : -Int(magnitude))))
            }
            if case .double(let value) = number.kind { return try make(.literal(.double(-value))) }
            throw error("expected number", at: number)
        case .symbol("("):
            position += 1
            let inner = try parseExpression()
            try expect(")")
            return inner
        case .symbol("["):
            position += 1
            return try make(.list(try parseArguments(closing: "]")))
        case .symbol("{"):
            position += 1
            return try parseMapLiteral()
        case .identifier(let name):
            position += 1
            switch name {
            case "true": return try make(.literal(.bool(true)))
            case "false": return try make(.literal(.bool(false)))
            case "null": return try make(.literal(.null))
            default: break
            }
            if CELLexer.reserved.contains(name) { throw error("reserved identifier '\(name)'", at: token) }
            if accept("(") {
                let args = try parseArguments(closing: ")")
                return try makeCall(name, target: nil, args: args, at: token)
            }
            return try makeVariable(name, at: token)
        default:
            throw error("unexpected \(describe(token))", at: token)
        }
    }

    /// Comma-separated expressions up to `closing`; a trailing comma is allowed, as in CEL.
    private mutating func parseArguments(closing: String) throws(CELError) -> [CELNode] {
        var items: [CELNode] = []
        while !accept(closing) {
            items.append(try parseExpression())
            if !accept(",") {
                try expect(closing)
                break
            }
        }
        return items
    }

    private mutating func parseMapLiteral() throws(CELError) -> CELNode {
        var entries: [(key: CELNode, value: CELNode)] = []
        while !accept("}") {
            let key = try parseExpression()
            try expect(":")
            entries.append((key, try parseExpression()))
            if !accept(",") {
                try expect("}")
                break
            }
        }
        return try make(.map(entries))
    }

    // MARK: Resolution

    private mutating func makeVariable(_ name: String, at token: CELToken) throws(CELError) -> CELNode {
        if !scope.contains(name) {
            guard name == "self" || name == "oldSelf" else {
                throw CELError("undeclared reference to '\(name)'", source: source, offset: token.offset)
            }
            if name == "oldSelf" { usesOldSelf = true }
        }
        return try make(.variable(name))
    }

    /// Parses the rest of `range.macro(variable, ...)` with the variable in scope for its body.
    private mutating func parseComprehension(_ macro: CELMacro, range: CELNode, variable: String, at token: CELToken) throws(CELError) -> CELNode {
        position += 2  // the variable and the comma
        scope.append(variable)
        let args = try parseArguments(closing: ")")
        scope.removeLast()
        guard macro.arities.contains(args.count) else {
            throw error("wrong number of arguments to \(macro.rawValue)() macro", at: token)
        }
        return try make(.comprehension(macro, range: range, variable: variable, args: args))
    }

    /// Expands `has()` and checks that a function exists with this arity.
    private func makeCall(_ name: String, target: CELNode?, args: [CELNode], at token: CELToken) throws(CELError) -> CELNode {
        if target == nil, name == "has" {
            guard args.count == 1, case .select(let object, let field) = args[0].kind else {
                throw error("invalid argument to has() macro", at: token)
            }
            return try make(.presence(object, field: field))
        }
        if target != nil, CELMacro(rawValue: name) != nil {
            throw error("first argument of \(name)() must be an identifier", at: token)
        }
        let known = target == nil ? CELFunctions.globalArities[name] : CELFunctions.methodArities[name]
        guard let arities = known else {
            throw CELError("undeclared reference to '\(name)'", source: source, offset: token.offset)
        }
        guard arities.contains(args.count) else {
            throw CELError("found no matching overload for '\(name)' with \(args.count) argument(s)",
                           source: source, offset: token.offset)
        }
        // A literal pattern is compiled now, so a bad regex fails the rule at compile time.
        if name == "matches", case .literal(.string(let pattern)) = args[args.count - 1].kind {
            _ = try CELFunctions.compileRegex(pattern)
        }
        return try make(.call(name, target: target, args: args))
    }
}
