import Foundation
import KubeCore

/// What the client asked for in `Accept`: the object, its metadata only, a Table, or (for
/// discovery) the aggregated document.
enum Representation: Equatable {
    case object
    case metadataOnly
    case table
    case aggregatedDiscovery(version: String)

    /// The first media type in `Accept` this server can produce. Protobuf is skipped (kubectl
    /// lists it first for events, with JSON as the fallback).
    static func negotiate(_ accept: String?) -> Representation {
        guard let accept, !accept.isEmpty else { return .object }
        for clause in accept.split(separator: ",") {
            let parts = clause.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let mediaType = parts.first, mediaType == "application/json" || mediaType == "*/*" || mediaType == "application/*" else {
                continue
            }
            var parameters: [String: String] = [:]
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
                if pair.count == 2 { parameters[pair[0]] = pair[1] }
            }
            switch (parameters["as"], parameters["g"]) {
            case (nil, _): return .object
            case ("Table", "meta.k8s.io"): return .table
            case ("PartialObjectMetadata", "meta.k8s.io"), ("PartialObjectMetadataList", "meta.k8s.io"): return .metadataOnly
            case ("APIGroupDiscoveryList", "apidiscovery.k8s.io"):
                return .aggregatedDiscovery(version: parameters["v"] ?? "v2")
            default: continue
            }
        }
        return .object
    }

    /// One object as asked for: whole, its metadata, or a one-row Table.
    func render(_ object: JSON, definition: ResourceDefinition, includeObject: String?) -> JSON {
        switch self {
        case .metadataOnly: return Self.partialObjectMetadata(object)
        case .table:
            return Self.table([object], definition: definition, resourceVersion: object[path: ["metadata", "resourceVersion"]]?.stringValue, includeObject: includeObject)
        default: return object
        }
    }

    static func partialObjectMetadata(_ object: JSON) -> JSON {
        ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"] ?? [:]]
    }

    static func table(_ objects: [JSON], definition: ResourceDefinition, resourceVersion: String?, includeObject: String?) -> JSON {
        let columns = definition.columns
        let rows: [JSON] = objects.map { object in
            var row: JSON = ["cells": .array(columns.map { $0.cell(object) })]
            switch includeObject {
            case "None": break
            case "Object": row["object"] = object
            default: row["object"] = partialObjectMetadata(object)
            }
            return row
        }
        var metadata: JSON = [:]
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        return [
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": .array(columns.map { column in
                [
                    "name": .string(column.name), "type": .string(column.type), "format": .string(column.format),
                    "description": .string(column.description), "priority": .int(column.priority),
                ]
            }),
            "rows": .array(rows),
        ]
    }
}
