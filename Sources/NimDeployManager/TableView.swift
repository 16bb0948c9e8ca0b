import KubeCore
import KubeAPI

/// Prints resources the way `kubectl get` does, from the server's own Table representation (so
/// the columns are the kind's printer columns).
public enum TableView {
    public static let tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

    public static func render(_ client: KubeClient, _ resource: ResourceType, namespace: String? = nil) async throws(KubeError) -> String {
        let response = try await client.call(verb: "list", method: "GET", path: resource.path(namespace: namespace), accept: tableAccept)
        let table: JSON
        do { table = try JSON(parsing: response.body) } catch { throw .decoding("\(error)") }
        let columns = (table["columnDefinitions"]?.arrayValue ?? []).enumerated().filter { $0.element["priority"]?.intValue ?? 0 == 0 }
        let showNamespace = resource.namespaced && namespace == nil
        var header = columns.map { ($0.element["name"]?.stringValue ?? "").uppercased() }
        if showNamespace { header.insert("NAMESPACE", at: 0) }
        var rows: [[String]] = []
        for row in table["rows"]?.arrayValue ?? [] {
            let cells = row["cells"]?.arrayValue ?? []
            var line = columns.map { index, _ -> String in
                guard index < cells.count else { return "" }
                switch cells[index] {
                case .string(let text): return text.isEmpty ? "" : text
                case .null: return "<none>"
                default: return cells[index].serialized()
                }
            }
            if showNamespace { line.insert(row[path: ["object", "metadata", "namespace"]]?.stringValue ?? "", at: 0) }
            rows.append(line)
        }
        guard !rows.isEmpty else { return "No \(resource.plural) found.\n" }
        return format([header] + rows)
    }

    public static func format(_ lines: [[String]]) -> String {
        var widths: [Int] = []
        for line in lines {
            for (index, cell) in line.enumerated() {
                if index >= widths.count { widths.append(0) }
                widths[index] = max(widths[index], cell.count)
            }
        }
        return lines.map { line in
            line.enumerated().map { index, cell in
                index == line.count - 1 ? cell : cell.padding(toLength: widths[index] + 3, withPad: " ", startingAt: 0)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}

import Foundation
