// TEMPORARY: stands in for the helpers' schema and CEL code until it lands.
import KubeWatch
public struct SchemaError: Error, Sendable, CustomStringConvertible { public var message: String; public var description: String { message } }
public struct StructuralSchema: Sendable { public init(json: JSON) throws(SchemaError) {} }
public struct SchemaValidator: Sendable {
    public init(schema: StructuralSchema, celRule: (@Sendable (_ rule: String, _ value: JSON, _ oldValue: JSON?) -> Result<Bool, SchemaError>)?) {}
    public func validate(_ object: JSON, oldObject: JSON?) -> [APIStatus.Cause] { [] }
}
public enum SchemaDefaulter { public static func applyDefaults(_ value: JSON, schema: StructuralSchema) -> JSON { value } }
public enum SchemaPruner { public static func prune(_ value: JSON, schema: StructuralSchema) -> (JSON, [String]) { (value, []) } }
