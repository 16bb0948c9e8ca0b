import Foundation
import Testing
import KubeCore
import StandIns
import TestSupport

/// The Grafana dashboards: every panel's query parses as PromQL (promtool, after Grafana's
/// variables are put in) and names only metrics that exist: the operator's (its registry, as a
/// scrape shows it), the NIM's (the model stand-in's scrape, which exports what NIM for LLMs
/// does), DCGM's documented ones, kube-state-metrics' we name. The chart ships them as the
/// sidecar's ConfigMaps, byte for byte.
@Suite struct DashboardTests {
    static let directory = Paths.repository.appendingPathComponent("charts/nim-deploy-operator/files/dashboards")

    static func dashboards() throws -> [(name: String, json: JSON)] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted().map { name in
            (name, try JSON(parsing: Array(try Data(contentsOf: directory.appendingPathComponent(name)))))
        }
    }

    static func queries(_ dashboard: JSON) -> [String] {
        (dashboard["panels"]?.arrayValue ?? []).flatMap { $0["targets"]?.arrayValue ?? [] }.compactMap { $0["expr"]?.stringValue }
    }

    /// Grafana's variables as a query sees them once chosen.
    static func substituted(_ query: String) -> String {
        query.replacingOccurrences(of: "$__rate_interval", with: "5m").replacingOccurrences(of: "$namespace", with: "team-a")
            .replacingOccurrences(of: "$nimdeployment", with: "llama")
    }

    /// Metric names: identifiers a selector follows.
    static func metricNames(_ query: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: #"([a-zA-Z_:][a-zA-Z0-9_:]*)\{"#)
        return Set(pattern.matches(in: query, range: NSRange(query.startIndex..., in: query)).compactMap { Range($0.range(at: 1), in: query).map { String(query[$0]) } })
    }

    @Test func everyQueryParsesAndNamesOnlyMetricsThatExist() async throws {
        let dashboards = try Self.dashboards()
        #expect(dashboards.map(\.name) == ["nim-fleet.json", "nim-model.json"])
        // Parsed by Prometheus' own parser: each query as a recording rule.
        var rules: [JSON] = []
        for (name, dashboard) in dashboards {
            #expect(dashboard["uid"]?.stringValue?.isEmpty == false && dashboard["title"]?.stringValue?.isEmpty == false, "\(name)")
            for (index, query) in Self.queries(dashboard).enumerated() {
                rules.append(["record": .string("dashboard:\(name.replacingOccurrences(of: ".json", with: "").replacingOccurrences(of: "-", with: "_")):\(index)"), "expr": .string(Self.substituted(query))])
            }
        }
        #expect(rules.count >= 30)
        let file = NSTemporaryDirectory() + "dashboards-\(UUID().uuidString).yaml"
        try JSON.object(["groups": [["name": "dashboards", "rules": .array(rules)]]]).serialized().write(toFile: file, atomically: true, encoding: .utf8)
        let check = try await run(["promtool", "check", "rules", file])
        #expect(check.status == 0, "\(check)")

        // What exists: the operator's families (a reconciling operator, plus what the binary adds:
        // the process collector, the leader, the build, tested by CommandLineTests), the NIM's.
        let env = try await NimEnvironment.serving()
        let models = ModelStandIn.metrics(model: "meta/llama-3.1-8b-instruct", traffic: .init(successes: 1, failures: 0))
        var exist = Set(try PrometheusText.parse(env.metrics.render() + models).map(\.name))
        exist.formUnion(["process_resident_memory_bytes", "process_cpu_seconds_total", "leader_election_master_status", "nim_deploy_operator_build_info"])
        // DCGM's, as ../shared/design/nim-observability.md documents them; kube-state-metrics' two.
        let facts = try String(contentsOf: Paths.shared.appendingPathComponent("design/nim-observability.md"), encoding: .utf8)
        let dcgm = try NSRegularExpression(pattern: #"DCGM_FI_[A-Z_]+"#)
        exist.formUnion(dcgm.matches(in: facts, range: NSRange(facts.startIndex..., in: facts)).compactMap { Range($0.range, in: facts).map { String(facts[$0]) } })
        exist.formUnion(["kube_pod_container_status_restarts_total"])
        for (name, dashboard) in dashboards {
            for query in Self.queries(dashboard) {
                for metric in Self.metricNames(query) {
                    #expect(exist.contains(metric), "\(name): \(metric) is not a metric anything exports (\(query))")
                }
            }
        }
    }

    @Test func theChartShipsThemForTheGrafanaSidecar() async throws {
        let chart = try await ChartTests.documents(["dashboards": ["enabled": true, "annotations": ["grafana_folder": "NVIDIA NIM"]]])
        let maps = chart.filter { $0["kind"] == "ConfigMap" && $0[path: ["metadata", "labels", "grafana_dashboard"]] == "1" }
        #expect(maps.count == 2)
        for (name, dashboard) in try Self.dashboards() {
            let shipped = maps.compactMap { $0[path: ["data", name]]?.stringValue }.first
            let parsed = try shipped.map { try JSON(parsing: Array($0.utf8)) }
            #expect(parsed?.semanticallyEquals(dashboard) == true, "\(name) as in files/dashboards")
        }
        #expect(maps.allSatisfy { $0[path: ["metadata", "annotations", "grafana_folder"]] == "NVIDIA NIM" })
        let plain = try await ChartTests.documents()
        #expect(!plain.contains { $0[path: ["metadata", "labels", "grafana_dashboard"]] != nil }, "off unless asked")
    }
}
