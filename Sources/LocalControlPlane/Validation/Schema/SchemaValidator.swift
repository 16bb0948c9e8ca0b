import Foundation
import KubeCore

/// Validates custom resources against a CRD schema with the causes kube-apiserver returns: the
/// kube-openapi checks in kube-openapi's order and wording, then the `x-kubernetes-validations`
/// rules, which the server skips (and says so) when the object already has a "blocking" error.
public struct SchemaValidator: Sendable {
    public let schema: StructuralSchema
    let celRule: (@Sendable (_ rule: String, _ value: JSON, _ oldValue: JSON?) -> Result<Bool, SchemaError>)?

    /// `celRule` evaluates one x-kubernetes-validations rule: (rule, self, oldSelf) -> .success(true/false) or .failure(message).
    /// nil means CEL rules are not checked.
    public init(
        schema: StructuralSchema,
        celRule: (@Sendable (_ rule: String, _ value: JSON, _ oldValue: JSON?) -> Result<Bool, SchemaError>)?
    ) {
        self.schema = schema
        self.celRule = celRule
    }

    /// Error types after which the server does not run CEL rules (apiextensions' `hasBlockingErr`):
    /// rules are written assuming the declared types, lengths and required fields hold.
    static let blockingReasons: Set<String> = [
        "FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany", "FieldValueTypeInvalid",
    ]

    /// Validates a whole custom resource object. `oldObject` is set on updates (for transition rules).
    /// Returns the causes in kube-apiserver's form; empty when valid.
    ///
    /// The root's `metadata` is left to ObjectMeta validation, as the server does. On updates the
    /// server ratchets (CRD validation ratcheting, on since 1.30): a value equal to its old value
    /// (fields by name, `list-type: map` items by key) is not reported, so an object stored under
    /// an older schema can still be updated elsewhere.
    public func validate(_ object: JSON, oldObject: JSON?) -> [APIStatus.Cause] {
        var causes: [APIStatus.Cause] = []
        check(object, schema.node, path: "", old: oldObject, isRoot: true, into: &causes)
        causes = Self.unique(causes)
        // List uniqueness is checked on update only if the old object had no duplicates.
        if oldObject.map({ SchemaListTypeValidation.causes($0, schema.node, path: "").isEmpty }) ?? true {
            causes += SchemaListTypeValidation.causes(object, schema.node, path: "")
        }
        // Like the server, decide on CEL only when the schema has rules at all: without them there
        // is no CEL validator and no "not checked" cause (recording 063).
        guard schema.hasRulesInSubtree else { return causes }
        if causes.contains(where: { Self.blockingReasons.contains($0.reason) }) {
            causes.append(APIStatus.Cause(
                reason: "FieldValueInvalid", message: "Invalid value: null: \(SchemaFieldErrors.notCheckedMessage)",
                field: "<nil>"))
        } else if let celRule {
            runRules(object, old: oldObject, schema, path: "", evaluate: celRule, into: &causes)
        }
        return causes
    }

    /// kube-openapi keeps one error per message; so do we, in first-seen order.
    private static func unique(_ causes: [APIStatus.Cause]) -> [APIStatus.Cause] {
        var seen = Set<APIStatus.Cause>()
        return causes.filter { seen.insert($0).inserted }
    }

    // MARK: - OpenAPI checks (kube-openapi's SchemaValidator)

    /// `path` is kube-openapi's: `spec.containers[0].name`, `""` for the root, and `.key` for an
    /// additionalProperties entry of the root (messages keep that dot; fields trim it).
    private func check(
        _ value: JSON, _ s: StructuralSchema.Node, path: String, old: JSON?, isRoot: Bool = false,
        into out: inout [APIStatus.Cause]
    ) {
        if let old, old == value { return }  // ratcheting: unchanged values are not re-judged
        if case .null = value {
            checkType(value, s, path, &out)
            checkEnum(value, s, path, &out)
            return
        }
        checkType(value, s, path, &out)
        checkComposition(value, s, path, old, &out)
        switch value {
        case .string(let string):
            checkString(string, s, path, &out)
            if let format = s.checkedFormat, !SchemaStringFormat.isValid(string, format: format) {
                out.append(SchemaFieldErrors.typeInvalid(path, expected: format, actual: string))
            }
        case .int(let number): checkInteger(number, s, path, &out)
        case .double(let number): checkDouble(number, s, path, &out)
        case .array(let elements): checkArray(elements, s, path, old, &out)
        default: break
        }
        checkEnum(value, s, path, &out)
        if case .object(let object) = value { checkObject(object, s, path, old, isRoot: isRoot, &out) }
    }

    private func checkType(_ value: JSON, _ s: StructuralSchema.Node, _ path: String, _ out: inout [APIStatus.Cause]) {
        let types = s.checkedTypes
        let format = s.checkedFormat ?? ""
        guard !types.isEmpty || !format.isEmpty else { return }
        let actual: String
        var dataFormat = ""
        switch value {
        case .null:
            if !types.isEmpty, !s.nullable {
                out.append(SchemaFieldErrors.typeInvalid(path, expected: types.joined(separator: ","), actual: "null"))
            }
            return
        case .bool: actual = "boolean"
        case .int: (actual, dataFormat) = ("integer", "int64")
        case .double: (actual, dataFormat) = ("number", "float64")
        case .string: actual = "string"
        case .array: actual = "array"
        case .object: actual = "object"
        }
        var accepted = types.contains(actual)
        if case .double(let number) = value, types.contains("integer"), Self.isJSONInteger(number) { accepted = true }
        if actual == "integer", types.contains("number") { accepted = true }
        let isStringOrArray = actual == "string" || actual == "array"
        if !isStringOrArray, !format.isEmpty, !(accepted || dataFormat == format) {
            out.append(SchemaFieldErrors.typeInvalid(path, expected: format, actual: dataFormat))
            return
        }
        // kube-openapi leaves a formatted string or array to the format check.
        if !types.contains("number"), !types.contains("integer"), !format.isEmpty, isStringOrArray { return }
        if !accepted {
            out.append(SchemaFieldErrors.typeInvalid(path, expected: types.joined(separator: ","), actual: actual))
        }
    }

    /// allOf/anyOf/oneOf/not: value validations at the same path. Where kube-openapi reports the
    /// errors of the branch with the most passing checks, this reports the first failing branch;
    /// for the usual shapes (int-or-string, alternative required sets) they are the same.
    private func checkComposition(
        _ value: JSON, _ s: StructuralSchema.Node, _ path: String, _ old: JSON?, _ out: inout [APIStatus.Cause]
    ) {
        var quotedPath: String { SchemaFieldErrors.quote(path) }  // only wanted for a failure
        if !s.anyOf.isEmpty {
            var firstFailure: [APIStatus.Cause]?
            var passed = false
            for branch in s.anyOf {
                var errors: [APIStatus.Cause] = []
                check(value, branch.node, path: path, old: old, into: &errors)
                if errors.isEmpty {
                    passed = true
                    break
                }
                if firstFailure == nil { firstFailure = errors }
            }
            if !passed {
                out.append(SchemaFieldErrors.composite("\(quotedPath) must validate at least one schema (anyOf)"))
                out += firstFailure ?? []
            }
        }
        if !s.oneOf.isEmpty {
            var firstFailure: [APIStatus.Cause]?
            var passed = 0
            for branch in s.oneOf {
                var errors: [APIStatus.Cause] = []
                check(value, branch.node, path: path, old: old, into: &errors)
                if errors.isEmpty {
                    passed += 1
                    firstFailure = nil
                } else if passed == 0, firstFailure == nil {
                    firstFailure = errors
                }
            }
            if passed != 1 {
                let found = passed == 0 ? "Found none valid" : "Found \(passed) valid alternatives"
                out.append(SchemaFieldErrors.composite("\(quotedPath) must validate one and only one schema (oneOf). \(found)"))
                out += firstFailure ?? []
            }
        }
        if !s.allOf.isEmpty {
            var passed = 0
            for branch in s.allOf {
                var errors: [APIStatus.Cause] = []
                check(value, branch.node, path: path, old: old, into: &errors)
                if errors.isEmpty { passed += 1 }
                out += errors
            }
            if passed != s.allOf.count {
                let none = passed == 0 ? ". None validated" : ""
                out.append(SchemaFieldErrors.composite("\(quotedPath) must validate all the schemas (allOf)\(none)"))
            }
        }
        if let not = s.not {
            var errors: [APIStatus.Cause] = []
            check(value, not.node, path: path, old: old, into: &errors)
            if errors.isEmpty { out.append(SchemaFieldErrors.composite("\(quotedPath) must not validate the schema (not)")) }
        }
    }

    /// Stops at the first failure, like kube-openapi: a too-long name is not also reported as
    /// not matching its pattern (recording 034). Lengths count Unicode scalars (Go runes).
    private func checkString(_ string: String, _ s: StructuralSchema.Node, _ path: String, _ out: inout [APIStatus.Cause]) {
        if let max = s.maxLength, string.utf8.count > max, string.unicodeScalars.count > max {
            out.append(SchemaFieldErrors.tooLong(path, max: max))
            return
        }
        if let min = s.minLength, string.unicodeScalars.count < min {
            out.append(SchemaFieldErrors.invalid(path, .string(string), "\(path) in body should be at least \(min) chars long"))
            return
        }
        if let regex = s.regex, let pattern = s.pattern,
            regex.firstMatch(in: string, range: NSRange(string.startIndex..<string.endIndex, in: string)) == nil
        {
            out.append(SchemaFieldErrors.invalid(path, .string(string), "\(path) in body should match '\(pattern)'"))
        }
    }

    /// Integers are compared with the bounds truncated to integers, as kube-openapi does for int64 data.
    private func checkInteger(_ number: Int, _ s: StructuralSchema.Node, _ path: String, _ out: inout [APIStatus.Cause]) {
        let value = JSON.int(number)
        if let factor = s.multipleOf {
            let integerFactor = Self.truncated(factor)
            if integerFactor == 0 {
                checkDouble(Double(number), multipleOfOnly: s, path, &out, shown: value)
            } else if number.remainderReportingOverflow(dividingBy: integerFactor).partialValue != 0 {
                out.append(SchemaFieldErrors.invalid(path, value, "\(path) in body should be a multiple of \(integerFactor)"))
            }
        }
        if let minimum = s.minimum {
            let bound = Self.truncated(minimum)
            if s.exclusiveMinimum ? number <= bound : number < bound {
                let relation = s.exclusiveMinimum ? "greater than" : "greater than or equal to"
                out.append(SchemaFieldErrors.invalid(path, value, "\(path) in body should be \(relation) \(bound)"))
            }
        }
        if let maximum = s.maximum {
            let bound = Self.truncated(maximum)
            if s.exclusiveMaximum ? number >= bound : number > bound {
                let relation = s.exclusiveMaximum ? "less than" : "less than or equal to"
                out.append(SchemaFieldErrors.invalid(path, value, "\(path) in body should be \(relation) \(bound)"))
            }
        }
    }

    private func checkDouble(_ number: Double, _ s: StructuralSchema.Node, _ path: String, _ out: inout [APIStatus.Cause]) {
        checkDouble(number, multipleOfOnly: s, path, &out, shown: .double(number))
        let value = JSON.double(number)
        if let minimum = s.minimum, s.exclusiveMinimum ? number <= minimum : number < minimum {
            let relation = s.exclusiveMinimum ? "greater than" : "greater than or equal to"
            out.append(SchemaFieldErrors.invalid(
                path, value, "\(path) in body should be \(relation) \(SchemaFieldErrors.goFloat(minimum))"))
        }
        if let maximum = s.maximum, s.exclusiveMaximum ? number >= maximum : number > maximum {
            let relation = s.exclusiveMaximum ? "less than" : "less than or equal to"
            out.append(SchemaFieldErrors.invalid(
                path, value, "\(path) in body should be \(relation) \(SchemaFieldErrors.goFloat(maximum))"))
        }
    }

    private func checkDouble(_ number: Double, multipleOfOnly s: StructuralSchema.Node, _ path: String, _ out: inout [APIStatus.Cause], shown: JSON) {
        guard let factor = s.multipleOf, factor > 0 else { return }
        let quotient = factor < 1 ? (1 / factor) * number : number / factor
        if !Self.isJSONInteger(quotient) {
            out.append(SchemaFieldErrors.invalid(
                path, shown, "\(path) in body should be a multiple of \(SchemaFieldErrors.goFloat(factor))"))
        }
    }

    private func checkArray(
        _ elements: [JSON], _ s: StructuralSchema.Node, _ path: String, _ old: JSON?, _ out: inout [APIStatus.Cause]
    ) {
        if let items = s.items {
            for (index, element) in elements.enumerated() {
                let oldElement = correlatedListItem(element, in: old, schema: s)
                check(element, items.node, path: "\(path)[\(index)]", old: oldElement, into: &out)
            }
        }
        if let min = s.minItems, elements.count < min {
            out.append(SchemaFieldErrors.invalid(path, .int(elements.count), "\(path) in body should have at least \(min) items"))
        }
        if let max = s.maxItems, elements.count > max {
            out.append(SchemaFieldErrors.tooMany(path, actual: elements.count, max: max))
        }
        if s.uniqueItems, Set(elements).count != elements.count {
            out.append(SchemaFieldErrors.invalid(path, .string(""), "\(path) in body shouldn't contain duplicates"))
        }
    }

    private func checkEnum(_ value: JSON, _ s: StructuralSchema.Node, _ path: String, _ out: inout [APIStatus.Cause]) {
        guard !s.enumValues.isEmpty, !s.enumValues.contains(where: { Self.enumMatches(value, $0) }) else { return }
        out.append(SchemaFieldErrors.notSupported(path, value, allowed: s.enumValues))
    }

    /// kube-openapi converts the value to the enum entry's Go type before comparing (reflect's
    /// `Convert`): `2.5` matches an integer `2`, an integer matches the string of its code point,
    /// and `null` matches nothing, not even a listed null.
    static func enumMatches(_ value: JSON, _ entry: JSON) -> Bool {
        switch (value, entry) {
        case (.null, _): return false
        case (.double(let number), .int(let integer)): return truncated(number) == integer
        case (.int(let integer), .double(let number)): return Double(integer) == number
        case (.int(let integer), .string(let string)):
            return String(UInt32(exactly: integer).flatMap(Unicode.Scalar.init) ?? "\u{FFFD}") == string
        default: return value == entry
        }
    }

    private func checkObject(
        _ object: [String: JSON], _ s: StructuralSchema.Node, _ path: String, _ old: JSON?, isRoot: Bool,
        _ out: inout [APIStatus.Cause]
    ) {
        if let min = s.minProperties, object.count < min {
            out.append(SchemaFieldErrors.invalid(path, .int(object.count), "\(path) in body should have at least \(min) properties"))
            return
        }
        if let max = s.maxProperties, object.count > max {
            out.append(SchemaFieldErrors.tooMany(path, actual: object.count, max: max))
            return
        }
        for key in object.keys.sorted() {
            guard let value = object[key], !(isRoot && key == "metadata") else { continue }
            if let property = s.properties[key] {
                check(value, property.node, path: path.isEmpty ? key : "\(path).\(key)", old: old?[key], into: &out)
            } else if case .schema(let additional)? = s.additionalProperties {
                check(value, additional.node, path: "\(path).\(key)", old: old?[key], into: &out)
            } else if case .allowed(false)? = s.additionalProperties {
                out.append(SchemaFieldErrors.invalid(path, .string(key), "\(path).\(key) in body is a forbidden property"))
            }
        }
        for key in s.required where object[key] == nil {
            out.append(SchemaFieldErrors.required("\(path).\(key)"))
        }
    }

    /// go-openapi's `IsFloat64AJSONInteger`: integral and exactly representable.
    static func isJSONInteger(_ number: Double) -> Bool {
        number.isFinite && number.magnitude <= 9_007_199_254_740_992 && number.rounded(.towardZero) == number
    }

    /// Go's `int64(f)`, clamped instead of undefined outside the range.
    static func truncated(_ number: Double) -> Int {
        guard number.isFinite else { return number < 0 ? Int.min : Int.max }
        if number >= 9.2e18 { return Int.max }
        if number <= -9.2e18 { return Int.min }
        return Int(number.rounded(.towardZero))
    }

    // MARK: - x-kubernetes-validations

    /// Walks the object with the schema, evaluating each node's rules. Paths here are CEL's:
    /// `spec.containers[0]`, map entries as `spec.labels[key]`, the root as `<nil>`.
    private func runRules(
        _ value: JSON, old: JSON?, _ schema: StructuralSchema, path: String,
        evaluate: @Sendable (String, JSON, JSON?) -> Result<Bool, SchemaError>, into out: inout [APIStatus.Cause]
    ) {
        let s = schema.node
        guard s.hasRulesInSubtree, !value.isNull else { return }
        let unchanged = old == value
        for rule in s.validationRules {
            // A transition rule has nothing to compare on create (or for an uncorrelated value);
            // other rules are ratcheted like the OpenAPI checks.
            let isTransition = rule.rule.contains("oldSelf")
            if isTransition ? (old == nil && !rule.optionalOldSelf) : unchanged { continue }
            switch evaluate(rule.rule, value, old) {
            case .success(true): continue
            case .success(false): out.append(ruleFailure(rule, value: value, path: path))
            case .failure(let error):
                let ruleText = rule.rule.trimmingCharacters(in: .whitespacesAndNewlines)
                out.append(SchemaFieldErrors.invalid(
                    path, .string(s.type ?? ""), "\(error.message) evaluating rule: \(ruleText)"))
            }
        }
        switch value {
        case .object(let object):
            for key in object.keys.sorted() {
                guard let child = object[key] else { continue }
                if let property = s.properties[key] {
                    runRules(child, old: old?[key], property, path: path.isEmpty ? key : "\(path).\(key)", evaluate: evaluate, into: &out)
                } else if let additional = s.additionalProperties?.schema {
                    runRules(child, old: old?[key], additional, path: "\(path)[\(key)]", evaluate: evaluate, into: &out)
                }
            }
        case .array(let elements):
            guard let items = s.items else { return }
            for (index, element) in elements.enumerated() {
                let oldElement = correlatedListItem(element, in: old, schema: s)
                runRules(element, old: oldElement, items, path: "\(path)[\(index)]", evaluate: evaluate, into: &out)
            }
        default: break
        }
    }

    /// Only `x-kubernetes-list-type: map` items have an identity across updates (their keys); it
    /// decides which old item ratcheting and transition rules compare with.
    private func correlatedListItem(_ element: JSON, in old: JSON?, schema s: StructuralSchema.Node) -> JSON? {
        guard s.listType == "map", !s.listMapKeys.isEmpty, case .array(let oldElements)? = old else { return nil }
        return oldElements.first { candidate in s.listMapKeys.allSatisfy { candidate[$0] == element[$0] } }
    }

    /// The error for a rule that returned false. Like kube-apiserver 1.36, the value is shown only
    /// when it is a scalar (recording 035: `spec: Invalid value: size over 10 needs big`).
    private func ruleFailure(_ rule: StructuralSchema.ValidationRule, value: JSON, path: String) -> APIStatus.Cause {
        let message = rule.message?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let detail = message.isEmpty ? "failed rule: \(rule.rule.trimmingCharacters(in: .whitespacesAndNewlines))" : message
        var fieldPath = rule.fieldPath ?? ""
        if fieldPath.hasPrefix(".") { fieldPath.removeFirst() }
        let full = fieldPath.isEmpty ? path : (path.isEmpty ? fieldPath : "\(path).\(fieldPath)")
        let field = SchemaFieldErrors.field(full)
        switch rule.reason {
        case "FieldValueForbidden":
            return APIStatus.Cause(reason: "FieldValueForbidden", message: "Forbidden: \(detail)", field: field)
        case "FieldValueRequired":
            return SchemaFieldErrors.required(full, detail: detail)
        case "FieldValueDuplicate":
            return APIStatus.Cause(
                reason: "FieldValueDuplicate", message: "Duplicate value: \(SchemaFieldErrors.render(value))", field: field)
        default:
            let isComposite = value.arrayValue != nil || value.objectValue != nil
            return isComposite
                ? SchemaFieldErrors.invalidOmittingValue(full, detail) : SchemaFieldErrors.invalid(full, value, detail)
        }
    }
}
