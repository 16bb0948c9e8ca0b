import Synchronization
import KubeCore

/// Evaluates `x-kubernetes-validations` rules for the schema validator. Rules are compiled once
/// and cached: the same few rules run for every object of a kind.
enum CELRules {
    private static let cache = Mutex<[String: Result<CELProgram, CELError>]>([:])

    static let evaluate: @Sendable (String, JSON, JSON?) -> Result<Bool, SchemaError> = { rule, value, oldValue in
        let compiled = cache.withLock { cache in
            if let hit = cache[rule] { return hit }
            let result = Result { () throws(CELError) -> CELProgram in try CELProgram.compile(rule) }
            cache[rule] = result
            return result
        }
        switch compiled {
        case .failure(let error):
            return .failure(SchemaError(message: "compilation failed: \(error.message)"))
        case .success(let program):
            // A transition rule is only checked on updates that have an old value.
            if program.usesOldSelf && oldValue == nil { return .success(true) }
            do throws(CELError) {
                return .success(try program.evaluate(self: value, oldSelf: oldValue) == .bool(true))
            } catch {
                return .failure(SchemaError(message: error.message))
            }
        }
    }
}
