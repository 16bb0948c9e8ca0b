import KubeCore

/// The OpenAPI v3 index and per-group-version documents. kubectl reads them before `apply` to
/// learn that the server validates fields itself (`fieldValidation` on the PATCH operation of
/// the kind); custom kinds carry their CRD schema, built-ins a permissive one.
enum OpenAPIDocuments {
    /// `api/v1`, `apis/<group>/<version>` for everything served.
    static func groupVersionPaths(_ definitions: [ResourceDefinition]) -> [String] {
        var paths: [String] = []
        for definition in definitions {
            for version in definition.versions {
                let path = definition.group.isEmpty ? "api/\(version)" : "apis/\(definition.group)/\(version)"
                if !paths.contains(path) { paths.append(path) }
            }
        }
        return paths
    }

    static func index(_ definitions: [ResourceDefinition]) -> JSON {
        var paths: [String: JSON] = [:]
        for path in groupVersionPaths(definitions) {
            let hash = hexHash(document(for: path, definitions: definitions).serializedBytes())
            paths[path] = ["serverRelativeURL": .string("/openapi/v3/\(path)?hash=\(hash)")]
        }
        return ["paths": .object(paths)]
    }

    static func document(for path: String, definitions: [ResourceDefinition]) -> JSON {
        let parts = path.split(separator: "/").map(String.init)
        let (group, version): (String, String)
        if parts.first == "api", parts.count == 2 {
            (group, version) = ("", parts[1])
        } else if parts.first == "apis", parts.count == 3 {
            (group, version) = (parts[1], parts[2])
        } else {
            return [:]
        }
        var paths: [String: JSON] = [:]
        var schemas: [String: JSON] = [
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
        ]
        for definition in definitions where definition.group == group && definition.versions.contains(version) {
            let gvk: JSON = ["group": .string(group), "version": .string(version), "kind": .string(definition.kind)]
            let schemaName = self.schemaName(definition, version: version)
            schemas[schemaName] = kindSchema(definition, version: version, gvk: gvk)
            schemas[schemaName + "List"] = ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
            let reference: JSON = ["$ref": .string("#/components/schemas/\(schemaName)")]
            let type = definition.resourceType(version: version)
            let listParameters = ["allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
                "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"]
            let writeParameters = ["dryRun", "fieldManager", "fieldValidation"]
            let collection = type.path(namespace: definition.namespaced ? "{namespace}" : nil)
                .replacingOccurrences(of: "%7Bnamespace%7D", with: "{namespace}")
            let item = collection + "/{name}"
            paths[collection] = [
                "get": operation("list", gvk: gvk, parameters: listParameters, response: reference),
                "post": operation("post", gvk: gvk, parameters: writeParameters, response: reference),
                "delete": operation("deletecollection", gvk: gvk, parameters: listParameters, response: reference),
            ]
            paths[item] = [
                "get": operation("get", gvk: gvk, parameters: ["resourceVersion"], response: reference),
                "put": operation("put", gvk: gvk, parameters: writeParameters, response: reference),
                "patch": operation("patch", gvk: gvk, parameters: writeParameters + ["force"], response: reference),
                "delete": operation("delete", gvk: gvk, parameters: ["dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"], response: reference),
            ]
            if definition.namespaced {
                // The list and watch across all namespaces; its parameters sit on the path.
                paths[type.path()] = [
                    "get": operation("list", gvk: gvk, parameters: [], response: reference),
                    "parameters": .array(listParameters.map { ["name": .string($0), "in": "query", "schema": ["type": "string"]] }),
                ]
            }
            if definition.hasStatusSubresource {
                paths[item + "/status"] = [
                    "get": operation("get", gvk: gvk, parameters: ["resourceVersion"], response: reference),
                    "put": operation("put", gvk: gvk, parameters: writeParameters, response: reference),
                    "patch": operation("patch", gvk: gvk, parameters: writeParameters + ["force"], response: reference),
                ]
            }
        }
        return [
            "openapi": "3.0.0",
            "info": ["title": group.isEmpty ? "Kubernetes" : "Kubernetes CRD Swagger", "version": "v0.1.0"],
            "paths": .object(paths), "components": ["schemas": .object(schemas)],
        ]
    }

    static func schemaName(_ definition: ResourceDefinition, version: String) -> String {
        if definition.isCustom {
            let reversed = definition.group.split(separator: ".").reversed().joined(separator: ".")
            return "\(reversed).\(version).\(definition.kind)"
        }
        let package = definition.group.isEmpty ? "core" : String(definition.group.split(separator: ".").first ?? "")
        return "io.k8s.api.\(package).\(version).\(definition.kind)"
    }

    static func kindSchema(_ definition: ResourceDefinition, version: String, gvk: JSON) -> JSON {
        var schema: JSON = definition.schemas[version]?.raw ?? ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
        schema[path: ["properties", "apiVersion"]] = ["type": "string"]
        schema[path: ["properties", "kind"]] = ["type": "string"]
        schema[path: ["properties", "metadata"]] = ["allOf": [["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]]]
        schema["x-kubernetes-group-version-kind"] = [gvk]
        return schema
    }

    static func operation(_ action: String, gvk: JSON, parameters: [String], response: JSON) -> JSON {
        [
            "x-kubernetes-action": .string(action), "x-kubernetes-group-version-kind": gvk,
            "parameters": .array(parameters.map { ["name": .string($0), "in": "query", "schema": ["type": "string"]] }),
            "responses": ["200": ["description": "OK", "content": ["application/json": ["schema": response]]]],
        ]
    }

    /// FNV-1a, printed as kubectl's cache expects a hash: only stability matters.
    static func hexHash(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16, uppercase: true)
    }
}
