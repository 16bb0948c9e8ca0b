import Foundation
import Testing
import KubeCore
import Reconciler
import TestSupport

/// The OpenShift Templates the Open Data Hub dashboard processes (nvidia-nim-http-template,
/// nvidia-nim-grpc-template): printed by the binary from the operator's runtime code, shipped in
/// config/openshift and the chart, and processed as `oc process` does they give the very
/// ServingRuntime the operator makes for the same NimDeployment.
@Suite struct DashboardTemplateTests {
    static func shipped(_ path: String) throws -> [JSON] {
        try YAML.parseAll(String(contentsOf: Paths.repository.appendingPathComponent(path), encoding: .utf8))
    }

    @Test func theShippedTemplatesAreWhatTheBinaryPrints() async throws {
        let printed = try await run([Paths.operatorBinary, "template"], timeout: 60)
        #expect(printed.status == 0, "\(printed)")
        let templates = try YAML.parseAll(printed.stdout)
        #expect(templates.compactMap { $0[path: ["metadata", "name"]]?.stringValue } == ["nvidia-nim-http-template", "nvidia-nim-grpc-template"])
        #expect(try Self.shipped("config/openshift/nvidia-nim-templates.yaml") == templates, "config/openshift: run nim-deploy-operator template")
        #expect(try Self.shipped("charts/nim-deploy-operator/files/nvidia-nim-templates.yaml") == templates, "the chart's files/")
        let rendered = try await run(
            ["python3", Paths.repository.appendingPathComponent("scripts/helm-render").path, Paths.repository.appendingPathComponent("charts/nim-deploy-operator").path,
             "--values", #"{"openshiftTemplates":{"enabled":true,"namespace":"opendatahub"}}"#], timeout: 120)
        let fromChart = try YAML.parseAll(rendered.stdout).filter { $0["kind"] == "Template" }
        #expect(fromChart.count == 2 && fromChart.allSatisfy { $0[path: ["metadata", "namespace"]] == "opendatahub" }, "\(rendered.stderr)")
        #expect(fromChart.map { var template = $0; template[path: ["metadata", "namespace"]] = nil; return template } == templates)
        let byDefault = try await run(
            ["python3", Paths.repository.appendingPathComponent("scripts/helm-render").path, Paths.repository.appendingPathComponent("charts/nim-deploy-operator").path], timeout: 120)
        #expect(!byDefault.stdout.contains("kind: Template"), "optional: off by default")
    }

    /// Processed with a deployment's values, each Template gives the operator's runtime for that
    /// deployment (the operator's own bookkeeping aside), and the API server takes it.
    @Test(arguments: [NimDeployment.ServingProtocol.http, .grpc])
    func aProcessedTemplateIsTheOperatorsRuntime(_ serving: NimDeployment.ServingProtocol) async throws {
        let env = try await NimEnvironment()
        try await env.startOperator()
        try await env.createKeySecret()
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "protocol": .string(serving.rawValue)])
        try await env.waitFor("Ready", "True")
        let deployment = try await env.deployment()
        let operatorRuntime = try await env.client.get(KServe.servingRuntimes, namespace: "team-a", name: "llama")

        let values = [
            "DEPLOYMENT_NAME": "llama", "CONTAINER_IMAGE": deployment[dotted: "status.image"]?.stringValue ?? "", "MODEL_NAME": "llama-3.1-8b-instruct",
            "MODEL_TAG": deployment[dotted: "status.tag"]?.stringValue ?? "", "DISPLAY_NAME": env.catalog["llama-3.1-8b-instruct"]?.displayName ?? "",
        ]
        var processed = try #require(DashboardTemplate.process(DashboardTemplate.template(serving), values).first)
        #expect(!processed.body.serialized().contains("${"), "every parameter given")
        // Made by the dashboard in another project: the API server takes it and defaults it alike.
        processed[path: ["metadata", "namespace"]] = "team-b"
        let dashboardRuntime = try await env.client.create(processed, KServe.servingRuntimes)
        #expect(dashboardRuntime["spec"] == operatorRuntime["spec"], "the same runtime")
        let bookkeeping: Set<String> = DashboardTemplate.operatorOnly.union([ChildLabels.deploymentNameAnnotation, "nim.opendatahub.io/applied-hash"])
        #expect(dashboardRuntime.labels == operatorRuntime.labels.filter { !bookkeeping.contains($0.key) })
        #expect(dashboardRuntime.annotations == operatorRuntime.annotations.filter { !bookkeeping.contains($0.key) })
    }
}
