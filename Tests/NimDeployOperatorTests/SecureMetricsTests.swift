import Foundation
import Testing
import KubeCore
import KubeAPI
import LocalControlPlane
import TestSupport

/// `/metrics` as the manifests ship it: the operator binary with its default `--metrics-auth
/// token`, behind the metrics-proxy (the real nginx, with config/manager/metrics-proxy.conf), and a
/// real Prometheus scraping it over HTTPS. The local control plane answers the TokenReviews and
/// SubjectAccessReviews: Prometheus' token, bound to the metrics-reader ClusterRole, is let in; no
/// token gets 401 and another account's token 403.
@Suite struct SecureMetricsTests {
    static let proxyConfig = Paths.repository.appendingPathComponent("config/manager/metrics-proxy.conf")

    @Test func theChartAndKustomizeShipOneProxyConfig() throws {
        let chart = Paths.repository.appendingPathComponent("charts/nim-deploy-operator/files/metrics-proxy.conf")
        #expect(try Data(contentsOf: chart) == Data(contentsOf: Self.proxyConfig), "charts/.../files/metrics-proxy.conf is a copy of config/manager/metrics-proxy.conf")
    }

    /// The ServiceMonitors of kustomize and the chart, and the scraper account they name, as the
    /// Prometheus Operator's CRD schema and the API server take them.
    @Test func theServiceMonitorsScrapeAsTheScraperAccountAndAreAccepted() async throws {
        let cluster = try TestCluster()
        try cluster.controlPlane.apply(try YAML.parseAll(String(
            contentsOf: Paths.shared.appendingPathComponent("crds/prometheus-operator/monitoring.coreos.com_servicemonitors.yaml"), encoding: .utf8)))
        try await cluster.createNamespace("nim-deploy-operator-system")
        let kustomized = try await RBACTests.kustomize("config/prometheus").filter { $0["kind"] != "PrometheusRule" }
        let charted = try await ChartTests.documents(["metrics": ["serviceMonitor": ["enabled": true]]])
            .filter { $0["kind"] == "ServiceMonitor" || (["ServiceAccount", "Secret", "ClusterRoleBinding"].contains($0["kind"]?.stringValue ?? "") && $0[dotted: "metadata.name"]?.stringValue?.contains("metrics-scraper") == true) }
        for documents in [kustomized, charted] {
            let monitor = try #require(documents.first { $0["kind"] == "ServiceMonitor" })
            let endpoint = monitor[path: ["spec", "endpoints"]]?[0]
            #expect(endpoint?["scheme"] == "https" && endpoint?["bearerTokenFile"] == nil)
            let secretName = try #require(endpoint?[path: ["authorization", "credentials", "name"]]?.stringValue)
            let secret = try #require(documents.first { $0["kind"] == "Secret" && $0[dotted: "metadata.name"]?.stringValue == secretName })
            #expect(secret["type"] == "kubernetes.io/service-account-token")
            let account = try #require(secret[path: ["metadata", "annotations", "kubernetes.io/service-account.name"]]?.stringValue)
            let binding = try #require(documents.first { $0["kind"] == "ClusterRoleBinding" && $0[dotted: "metadata.name"]?.stringValue?.hasSuffix("-metrics-scraper") == true })
            #expect(binding[path: ["subjects"]]?[0]?["name"]?.stringValue == account && binding[dotted: "roleRef.name"]?.stringValue?.hasSuffix("-metrics-reader") == true)
            // Through the API, schema-checked against the Prometheus Operator's CRD.
            for document in documents {
                let object = KubeObject(document)
                let resource = object.kind == "ServiceMonitor"
                    ? ResourceType(group: "monitoring.coreos.com", version: "v1", plural: "servicemonitors", kind: "ServiceMonitor", namespaced: true)
                    : try #require(InstallTests.resources[object.kind], "\(object.kind)")
                let stored = try await cluster.client.apply(object, resource, fieldManager: "kubectl")
                if object.kind == "ServiceMonitor" {
                    #expect(stored[path: ["spec", "endpoints"]]?[0]?[path: ["authorization", "credentials", "name"]]?.stringValue == secretName, "kept by the schema")
                }
            }
        }
    }

    @Test func prometheusScrapesOverHTTPSWithAnAllowedTokenAndIsRefusedOtherwise() async throws {
        let cluster = try TestCluster()
        for file in ["config/crd/bases/nim.opendatahub.io_nimdeployments.yaml", "config/demo/kserve-crds.yaml", "config/rbac/metrics_reader_role.yaml"] {
            try cluster.controlPlane.apply(try YAML.parseAll(String(contentsOf: Paths.repository.appendingPathComponent(file), encoding: .utf8)))
        }
        try await cluster.createNamespace("nim-deploy-operator-system")
        try cluster.controlPlane.apply([MetricsRBAC.binding("prometheus-nim-metrics", role: "nim-deploy-operator-metrics-reader", namespace: "monitoring", account: "prometheus")])
        let allowed = cluster.controlPlane.serviceAccountToken(namespace: "monitoring", name: "prometheus")
        let other = cluster.controlPlane.serviceAccountToken(namespace: "team-a", name: "default")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("secure-metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

        // The operator, its /metrics on loopback with the default --metrics-auth.
        let operatorProcess = BackgroundCommand([
            Paths.operatorBinary, "run", "--kubeconfig", try cluster.writeKubeconfig(), "--namespace", "nim-deploy-operator-system",
            "--health-probe-bind-address", "0", "--metrics-bind-address", "127.0.0.1:0",
        ])
        try operatorProcess.start()
        defer { operatorProcess.kill() }
        let serving = try await operatorProcess.servingLine()
        #expect(serving["metricsAuth"] == "token")
        let metricsPort = serving["metrics"]?.intValue ?? 0

        // The metrics-proxy: the shipped config, its pod paths and ports pointed here.
        let tls = try await run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=nim-deploy-operator-metrics", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", file("tls.key"), "-out", file("tls.crt"),
        ])
        #expect(tls.status == 0, "\(tls)")
        let proxyPort = try LocalRegistry.freePort()
        let shipped = try String(contentsOf: Self.proxyConfig, encoding: .utf8)
        #expect(shipped.contains("listen 8443 ssl;") && shipped.contains("proxy_pass http://127.0.0.1:8080;"))
        let config = shipped
            .replacingOccurrences(of: " /tmp/", with: " \(directory.path)/")
            .replacingOccurrences(of: "/etc/nim-deploy/metrics-tls/", with: directory.path + "/")
            .replacingOccurrences(of: "listen 8443 ssl;", with: "listen 127.0.0.1:\(proxyPort) ssl;")
            .replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(metricsPort)")
        try config.write(toFile: file("nginx.conf"), atomically: true, encoding: .utf8)
        let proxy = BackgroundCommand(["nginx", "-p", directory.path + "/", "-e", "stderr", "-c", file("nginx.conf"), "-g", "daemon off;"])
        try proxy.start()
        defer { proxy.kill() }

        // Prometheus, three jobs at the same target: Prometheus' token, none, another account's.
        try allowed.write(toFile: file("allowed.token"), atomically: true, encoding: .utf8)
        try other.write(toFile: file("other.token"), atomically: true, encoding: .utf8)
        func job(_ name: String, token: String?) -> String {
            """
              - job_name: \(name)
                scheme: https
                tls_config: {ca_file: \(file("tls.crt"))}
            \(token.map { "    authorization: {credentials_file: \(file($0))}\n" } ?? "")    static_configs: [{targets: ["127.0.0.1:\(proxyPort)"]}]

            """
        }
        let prometheusConfig = "global: {scrape_interval: 1s, scrape_timeout: 900ms}\nscrape_configs:\n"
            + job("allowed", token: "allowed.token") + job("anonymous", token: nil) + job("forbidden", token: "other.token")
        try prometheusConfig.write(toFile: file("prometheus.yml"), atomically: true, encoding: .utf8)
        let webPort = try LocalRegistry.freePort()
        let prometheus = BackgroundCommand([
            "prometheus", "--config.file", file("prometheus.yml"), "--storage.tsdb.path", file("data"),
            "--web.listen-address", "127.0.0.1:\(webPort)", "--log.level", "warn",
        ])
        try prometheus.start()
        defer { prometheus.kill() }

        let api = KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(webPort)"))
        func targets() async -> [String: JSON] {
            guard let response = try? await api.call(verb: "get", method: "GET", path: "/api/v1/targets", accept: "application/json"),
                let body = try? JSON(parsing: response.body)
            else { return [:] }
            var byJob: [String: JSON] = [:]
            for target in body[path: ["data", "activeTargets"]]?.arrayValue ?? [] {
                if let job = target[path: ["labels", "job"]]?.stringValue, target["health"] != "unknown" { byJob[job] = target }
            }
            return byJob
        }
        var seen: [String: JSON] = [:]
        do {
            try await eventually(timeout: 60, "each job scraped") {
                guard proxy.isRunning, prometheus.isRunning else { throw DeadlineExceeded(description: "nginx or Prometheus exited") }
                seen = await targets()
                return seen["allowed"]?["health"] == "up" && seen["anonymous"]?["health"] == "down" && seen["forbidden"]?["health"] == "down"
            }
        } catch {
            Issue.record("targets: \(seen)\nprometheus: \(prometheus.stderr.suffix(2000))\nproxy: \(proxy.stderr.suffix(2000))")
            throw error
        }
        #expect(seen["anonymous"]?["lastError"]?.stringValue?.contains("401") == true, "\(seen["anonymous"] ?? nil)")
        #expect(seen["forbidden"]?["lastError"]?.stringValue?.contains("403") == true, "\(seen["forbidden"] ?? nil)")

        // What came through is the operator's, and the operator counted each verdict.
        func query(_ expression: String) async -> [JSON] {
            guard let response = try? await api.call(verb: "get", method: "GET", path: "/api/v1/query", query: [("query", expression)], accept: "application/json"),
                let body = try? JSON(parsing: response.body)
            else { return [] }
            return body[path: ["data", "result"]]?.arrayValue ?? []
        }
        try await eventually(timeout: 30, "the build info scraped with the allowed token, and every verdict counted") {
            let build = await query("nim_deploy_operator_build_info{job=\"allowed\"}")
            let verdicts = await query("nim_deploy_metrics_authorizations_total{job=\"allowed\"} > 0")
            let results = Set(verdicts.compactMap { $0[path: ["metric", "result"]]?.stringValue })
            return build.count == 1 && results.isSuperset(of: ["allowed", "unauthenticated", "forbidden"])
        }
        for output in [operatorProcess.stderr, proxy.stderr, prometheus.stderr] {
            #expect(!output.contains(allowed) && !output.contains(other), "no token in any log")
        }
        #expect(operatorProcess.stderr.contains("refused: the user may not get /metrics") && operatorProcess.stderr.contains("system:serviceaccount:team-a:default"))
    }
}
