import KubeCore

/// A compile or evaluation failure. CEL treats errors as values, so everything a hostile or
/// mistaken rule can cause ends up here rather than in a crash.
public struct CELError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(_ message: String) { self.message = message }

    /// A compile error located at a scalar offset of the source, reported as `line:column`.
    init(_ message: String, source: [Unicode.Scalar], offset: Int) {
        var line = 1, column = 1
        for scalar in source.prefix(offset) {
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        self.message = "\(line):\(column): \(message)"
    }
}

/// A compiled CEL expression, as used by CustomResourceDefinition `x-kubernetes-validations`
/// rules and their `messageExpression`s. Compile once, evaluate for every object.
public struct CELProgram: Sendable {
    /// kube-apiserver refuses longer rules too; it also keeps hostile input cheap to reject.
    static let maxSourceLength = 10_000

    let root: CELNode
    /// Whether the expression mentions `oldSelf` (transition rule: only evaluated on update when an old value exists).
    public let usesOldSelf: Bool

    public static func compile(_ source: String) throws(CELError) -> CELProgram {
        guard source.unicodeScalars.count <= maxSourceLength else {
            throw CELError("expression is longer than \(maxSourceLength) characters")
        }
        var parser = CELParser(source: source, tokens: try CELLexer.tokenize(source))
        let root = try parser.parseProgram()
        return CELProgram(root: root, usesOldSelf: parser.usesOldSelf)
    }

    /// Evaluates with `self` bound to `value` and, for transition rules, `oldSelf` bound to `oldValue`.
    public func evaluate(self value: JSON, oldSelf oldValue: JSON?) throws(CELError) -> JSON {
        var variables = ["self": value]
        if let oldValue {
            variables["oldSelf"] = oldValue
        } else if usesOldSelf {
            throw CELError("oldSelf is not available: transition rules apply only to updates with an old value")
        }
        var evaluator = CELEvaluator(variables: variables)
        return try evaluator.evaluate(root)
    }
}
