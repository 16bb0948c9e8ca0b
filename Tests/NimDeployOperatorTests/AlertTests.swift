import Foundation
import Testing
import KubeCore
import LocalControlPlane
import TestSupport

/// The alerts as Prometheus' own tools see them: the rules parse (`promtool check rules`), every
/// alert fires when its unit test says and not before (`promtool test rules`), each has a runbook
/// that docs/alerts.md carries, and the PrometheusRule of kustomize and of the chart are the same
/// rules and are accepted by the Prometheus Operator's CRD schema.
@Suite struct AlertTests {
    static let source = Paths.repository.appendingPathComponent("charts/nim-deploy-operator/files/prometheus-rules.yaml")

    static func rules() throws -> JSON { try YAML.parse(String(contentsOf: source, encoding: .utf8)) }

    static func alerts() throws -> [JSON] {
        try (rules()["groups"]?.arrayValue ?? []).flatMap { $0["rules"]?.arrayValue ?? [] }
    }

    @Test func promtoolChecksTheRulesAndEveryAlertsUnitTestPasses() async throws {
        let check = try await run(["promtool", "check", "rules", Self.source.path])
        let count = try Self.alerts().count
        #expect(check.status == 0 && check.stdout.contains("SUCCESS: \(count) rules found"), "\(check)")
        // The unit tests compare annotations whole: they see the summary (templated), not the fixed text.
        var summaries = try Self.rules()
        summaries["groups"] = .array((summaries["groups"]?.arrayValue ?? []).map { group in
            var group = group
            group["rules"] = .array((group["rules"]?.arrayValue ?? []).map { rule in
                var rule = rule
                rule["annotations"] = ["summary": rule[path: ["annotations", "summary"]] ?? ""]
                return rule
            })
            return group
        })
        let directory = NSTemporaryDirectory() + "alerts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try summaries.serialized().write(toFile: directory + "/rules.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Paths.repository.appendingPathComponent("config/prometheus/tests/alerts_test.yaml").path, toPath: directory + "/alerts_test.yaml")
        let tests = try await run(["promtool", "test", "rules", directory + "/alerts_test.yaml"])
        #expect(tests.status == 0 && tests.stdout.contains("SUCCESS"), "\(tests)")
        // Every alert is tested, firing.
        let tested = try String(contentsOfFile: directory + "/alerts_test.yaml", encoding: .utf8)
        for alert in try Self.alerts().compactMap({ $0["alert"]?.stringValue }) {
            #expect(tested.contains("alertname: \(alert)\n        exp_alerts:\n          - exp_labels"), "\(alert) has a unit test in which it fires")
        }
    }

    @Test func everyAlertHasASeverityASummaryAndARunbookInTheDocs() throws {
        let guide = try String(contentsOf: Paths.repository.appendingPathComponent("docs/alerts.md"), encoding: .utf8)
        let alerts = try Self.alerts()
        #expect(alerts.count >= 15)
        for alert in alerts {
            let name = alert["alert"]?.stringValue ?? ""
            #expect(["warning", "critical"].contains(alert[path: ["labels", "severity"]]?.stringValue ?? ""), "\(name)")
            for field in ["summary", "description", "runbook"] { #expect(alert[path: ["annotations", field]]?.stringValue?.isEmpty == false, "\(name) \(field)") }
            #expect(alert[path: ["annotations", "runbook_url"]]?.stringValue?.hasSuffix("docs/alerts.md#\(name.lowercased())") == true, "\(name)")
            #expect(guide.contains("\n### \(name)\n"), "\(name) has its section in docs/alerts.md")
        }
    }

    @Test func kustomizeAndTheChartInstallTheSameRulesWhichTheCRDAccepts() async throws {
        let generated = try await run([Paths.repository.appendingPathComponent("scripts/generate-alerts").path, "--check"])
        #expect(generated.status == 0, "\(generated)")
        let kustomized = try YAML.parse(String(contentsOf: Paths.repository.appendingPathComponent("config/prometheus/prometheusrule.yaml"), encoding: .utf8))
        let chart = try await ChartTests.documents(["metrics": ["prometheusRule": ["enabled": true, "labels": ["release": "kube-prometheus-stack"]]]])
        let rendered = try #require(chart.first { $0["kind"] == "PrometheusRule" })
        let groups = try Self.rules()["groups"] ?? nil
        #expect(rendered[path: ["spec", "groups"]]?.semanticallyEquals(groups) == true)
        #expect(kustomized[path: ["spec", "groups"]]?.semanticallyEquals(groups) == true)
        #expect(rendered[path: ["metadata", "labels", "release"]] == "kube-prometheus-stack")
        let plain = try await ChartTests.documents()
        #expect(!plain.contains { $0["kind"] == "PrometheusRule" }, "off unless asked")
        // The Prometheus Operator's schema, as a real API server checks it.
        let cluster = try TestCluster()
        try cluster.controlPlane.apply(try YAML.parseAll(String(contentsOf: Paths.shared.appendingPathComponent("crds/prometheus-operator/monitoring.coreos.com_prometheusrules.yaml"), encoding: .utf8)))
        try cluster.controlPlane.apply([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "nim-deploy-operator-system"]]])
        let resource = ResourceType(group: "monitoring.coreos.com", version: "v1", plural: "prometheusrules", kind: "PrometheusRule", namespaced: true)
        for rule in [kustomized, rendered] {
            var object = KubeObject(rule)
            object.namespace = "nim-deploy-operator-system"
            let stored = try await cluster.client.apply(object, resource, fieldManager: "kubectl")
            #expect(stored[path: ["spec", "groups"]]?.arrayValue?.count == 2)
        }
    }
}
