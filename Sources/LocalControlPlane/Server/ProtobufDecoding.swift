import Foundation
import KubeCore

/// Decodes the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`) of the few
/// built-in kinds `kubectl create` sends that way (namespace, secret, configmap,
/// serviceaccount), into the JSON the rest of the server works with. Other kinds answer 415 with
/// the media types this server takes. Responses are always JSON, which kubectl also accepts.
enum ProtobufDecoding {
    static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]  // "k8s\0"

    indirect enum FieldType: Sendable {
        case string
        case bytes  // base64 in JSON
        case integer
        case bool
        case message(Schema)
        case stringMap(valueIsBytes: Bool)
    }

    struct Field: Sendable {
        var name: String
        var type: FieldType
        var repeated = false
    }

    typealias Schema = [Int: Field]

    static let ownerReference: Schema = [
        1: Field(name: "kind", type: .string), 3: Field(name: "name", type: .string), 4: Field(name: "uid", type: .string),
        5: Field(name: "apiVersion", type: .string), 6: Field(name: "controller", type: .bool), 7: Field(name: "blockOwnerDeletion", type: .bool),
    ]
    static let objectMeta: Schema = [
        1: Field(name: "name", type: .string), 2: Field(name: "generateName", type: .string), 3: Field(name: "namespace", type: .string),
        5: Field(name: "uid", type: .string), 6: Field(name: "resourceVersion", type: .string), 7: Field(name: "generation", type: .integer),
        11: Field(name: "labels", type: .stringMap(valueIsBytes: false)), 12: Field(name: "annotations", type: .stringMap(valueIsBytes: false)),
        13: Field(name: "ownerReferences", type: .message(ownerReference), repeated: true),
        14: Field(name: "finalizers", type: .string, repeated: true),
    ]
    static let objectReference: Schema = [
        1: Field(name: "kind", type: .string), 2: Field(name: "namespace", type: .string), 3: Field(name: "name", type: .string),
        4: Field(name: "uid", type: .string), 5: Field(name: "apiVersion", type: .string),
    ]
    static let kinds: [String: Schema] = [
        "Namespace": [
            1: Field(name: "metadata", type: .message(objectMeta)),
            2: Field(name: "spec", type: .message([1: Field(name: "finalizers", type: .string, repeated: true)])),
        ],
        "Secret": [
            1: Field(name: "metadata", type: .message(objectMeta)), 2: Field(name: "data", type: .stringMap(valueIsBytes: true)),
            3: Field(name: "type", type: .string), 4: Field(name: "stringData", type: .stringMap(valueIsBytes: false)),
            5: Field(name: "immutable", type: .bool),
        ],
        "ConfigMap": [
            1: Field(name: "metadata", type: .message(objectMeta)), 2: Field(name: "data", type: .stringMap(valueIsBytes: false)),
            3: Field(name: "binaryData", type: .stringMap(valueIsBytes: true)), 4: Field(name: "immutable", type: .bool),
        ],
        "ServiceAccount": [
            1: Field(name: "metadata", type: .message(objectMeta)),
            2: Field(name: "secrets", type: .message(objectReference), repeated: true),
            3: Field(name: "imagePullSecrets", type: .message([1: Field(name: "name", type: .string)]), repeated: true),
            4: Field(name: "automountServiceAccountToken", type: .bool),
        ],
    ]

    struct DecodingError: Error { var message: String }

    static func isProtobuf(_ contentType: String) -> Bool { contentType.hasPrefix("application/vnd.kubernetes.protobuf") }

    static func decode(_ bytes: [UInt8]) throws(DecodingError) -> JSON {
        guard bytes.starts(with: magic) else { throw DecodingError(message: "protobuf body without the k8s envelope") }
        var envelope = Reader(bytes: Array(bytes.dropFirst(4)))
        var apiVersion = ""
        var kind = ""
        var raw: [UInt8] = []
        while let (number, value) = try envelope.next() {
            switch (number, value) {
            case (1, .bytes(let typeMeta)):
                var reader = Reader(bytes: typeMeta)
                while let (field, inner) = try reader.next() {
                    if case .bytes(let text) = inner {
                        if field == 1 { apiVersion = String(decoding: text, as: UTF8.self) }
                        if field == 2 { kind = String(decoding: text, as: UTF8.self) }
                    }
                }
            case (2, .bytes(let payload)): raw = payload
            default: break
            }
        }
        guard let schema = kinds[kind] else {
            throw DecodingError(message: "protobuf is accepted for \(kinds.keys.sorted().joined(separator: ", ")) only; send \(kind) as application/json")
        }
        var object = try message(raw, schema: schema)
        object["apiVersion"] = .string(apiVersion)
        object["kind"] = .string(kind)
        return object
    }

    enum Value {
        case varint(UInt64)
        case bytes([UInt8])
        case fixed
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0

        mutating func varint() throws(DecodingError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
                if shift > 63 { throw DecodingError(message: "varint too long") }
            }
            throw DecodingError(message: "truncated varint")
        }

        mutating func next() throws(DecodingError) -> (Int, Value)? {
            guard index < bytes.count else { return nil }
            let key = try varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: return (number, .varint(try varint()))
            case 2:
                let length = Int(try varint())
                guard length >= 0, index + length <= bytes.count else { throw DecodingError(message: "truncated field \(number)") }
                defer { index += length }
                return (number, .bytes(Array(bytes[index..<index + length])))
            case 1:
                index += 8
                return (number, .fixed)
            case 5:
                index += 4
                return (number, .fixed)
            default:
                throw DecodingError(message: "unsupported wire type \(key & 7)")
            }
        }
    }

    static func message(_ bytes: [UInt8], schema: Schema) throws(DecodingError) -> JSON {
        var reader = Reader(bytes: bytes)
        var object: [String: JSON] = [:]
        while let (number, value) = try reader.next() {
            guard let field = schema[number] else { continue }
            let decoded: JSON
            switch (field.type, value) {
            case (.string, .bytes(let text)): decoded = .string(String(decoding: text, as: UTF8.self))
            case (.bytes, .bytes(let data)): decoded = .string(Data(data).base64EncodedString())
            case (.integer, .varint(let number)): decoded = .int(Int(Int64(bitPattern: number)))
            case (.bool, .varint(let number)): decoded = .bool(number != 0)
            case (.message(let inner), .bytes(let data)): decoded = try message(data, schema: inner)
            case (.stringMap(let valueIsBytes), .bytes(let entry)):
                var entryReader = Reader(bytes: entry)
                var key = ""
                var mapValue = ""
                while let (entryField, entryValue) = try entryReader.next() {
                    guard case .bytes(let data) = entryValue else { continue }
                    if entryField == 1 { key = String(decoding: data, as: UTF8.self) }
                    if entryField == 2 { mapValue = valueIsBytes ? Data(data).base64EncodedString() : String(decoding: data, as: UTF8.self) }
                }
                var map = object[field.name]?.objectValue ?? [:]
                map[key] = .string(mapValue)
                object[field.name] = .object(map)
                continue
            default:
                throw DecodingError(message: "field \(field.name) has an unexpected wire type")
            }
            if field.repeated {
                object[field.name] = .array((object[field.name]?.arrayValue ?? []) + [decoded])
            } else {
                object[field.name] = decoded
            }
        }
        return .object(object)
    }
}
