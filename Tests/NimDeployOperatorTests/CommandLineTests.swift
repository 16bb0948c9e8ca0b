import Foundation
import Testing
import KubeCore
import KubeAPI
import LocalControlPlane
import TestSupport

/// The operator binary as users run it.
@Suite struct CommandLineTests {
    func operatorCommand(_ arguments: String..., environment: [String: String] = [:]) async throws -> CommandResult {
        try await run([Paths.operatorBinary] + arguments, environment: environment, timeout: 120)
    }

    @Test func helpExplainsEveryCommand() async throws {
        let help = try await operatorCommand("--help")
        #expect(help.status == 0)
        for command in ["run", "migrate", "catalog", "template", "version", "help"] { #expect(help.stdout.contains("  \(command) "), "\(command) in: \(help.stdout)") }
        let runHelp = try await operatorCommand("run", "--help")
        for flag in ["--kubeconfig", "--context", "--namespace", "--watch-namespaces", "--catalog", "--ngc-api-url", "--disable-key-validation",
                     "--disconnected", "--region", "--migrate-legacy", "--leader-elect", "--metrics-bind-address", "--health-probe-bind-address",
                     "--concurrency", "--log-level", "--sync-period", "--key-rotation-settle", "--ngc-timeout", "--ngc-proxy", "--ngc-no-proxy",
                     "--ngc-ca-bundle", "--nim-fs-group", "--image-registry-mirror", "--mirror-pull-secret"] {
            #expect(runHelp.stdout.contains(flag), "\(flag)")
        }
        let migrateHelp = try await operatorCommand("help", "migrate")
        for flag in ["--namespace", "--all-namespaces", "--dry-run", "--cleanup", "--adopt", "--output", "Exit status"] {
            #expect(migrateHelp.stdout.contains(flag), "\(flag)")
        }
    }

    @Test func versionNamesTheLibraries() async throws {
        let version = try await operatorCommand("version")
        #expect(version.status == 0)
        #expect(version.stdout.contains("nim-deploy-operator "))
        #expect(version.stdout.contains("(commit "), "the commit it is built from: \(version.stdout)")
        let flag = try await operatorCommand("--version")
        #expect(flag.status == 0 && flag.stdout == version.stdout, "\(flag)")
        #expect(version.stdout.contains("libcurl/"))
        #expect(version.stdout.contains("libyaml/"))
    }

    @Test(arguments: [
        (["run", "--bogus"], "unknown option --bogus"),
        (["run", "--concurrency", "zero"], "--concurrency must be a number"),
        (["run", "--catalog", "no-slash"], "--catalog must be NAMESPACE/NAME"),
        (["run", "--log-level", "loud"], "--log-level must be"),
        (["run", "--key-rotation-settle", "soon"], "--key-rotation-settle must be a duration"),
        (["run", "--key-rotation-settle", "5m"], "--key-rotation-settle must be a duration from 0 to 60s"),
        (["run", "--sync-period", "100ms"], "--sync-period must be a duration"),
        (["run", "--nim-fs-group", "sometimes"], "--nim-fs-group must be auto, none or a group id"),
        (["run", "--nim-fs-group", "-1"], "--nim-fs-group must be auto, none or a group id"),
        (["run", "--image-registry-mirror", "nvcr.io"], "--image-registry-mirror: \"nvcr.io\" is not SOURCE=MIRROR"),
        (["run", "--image-registry-mirror", "nvcr.io=not a host"], "has a mirror that is no registry host"),
        (["run", "--mirror-pull-secret", "Not_A_Secret"], "--mirror-pull-secret must be ngc-key, none or the name of a Secret"),
        (["run", "--ngc-proxy", "ftp://proxy"], "--ngc-proxy must be an http:// or https:// URL"),
        (["frobnicate"], "unknown command"),
        (["demo", "--once"], "the demo is its own program: nim-deploy-demo --once"),
        (["migrat"], #"unknown command "migrat"; did you mean migrate?"#),
        (["help", "bogus"], #"no help for "bogus""#),
        (["help", "migrat"], "did you mean migrate?"),
        (["run", "--concurency", "3"], "unknown option --concurency; did you mean --concurrency?"),
        (["run", "--leader-elec"], "did you mean --leader-elect?"),
    ])
    func usageErrorsExitTwo(_ arguments: [String], _ message: String) async throws {
        let result = try await run([Paths.operatorBinary] + arguments, timeout: 60)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
    }

    @Test func aMissingKubeconfigIsAClearFailure() async throws {
        let result = try await operatorCommand("run", "--kubeconfig", "/nonexistent/kubeconfig", "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot read kubeconfig /nonexistent/kubeconfig"), "\(result)")
    }

    @Test func demoOnceConvergesPrintsAndExitsZero() async throws {
        let kubeconfig = NSTemporaryDirectory() + "demo-\(UUID().uuidString).kubeconfig"
        let result = try await run([Paths.demoBinary, "--once", "--kubeconfig-out", kubeconfig], timeout: 120)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("Local control plane: http://127.0.0.1:"))
        #expect(result.stdout.contains("Model catalog:       config/catalog/nim-model-metadata.yaml (186 models)"), "the release's catalog, not a fallback: \(result.stdout.prefix(400))")
        let table = result.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(table.contains(["NAMESPACE", "NAME", "MODEL", "TAG", "READY", "REASON", "REVISION", "ROLLOUT", "AGE"]), "\(result.stdout)")
        #expect(table.contains { $0.starts(with: ["team-a", "llama", "llama-3.1-8b-instruct", "latest", "True", "Ready"]) }, "\(result.stdout)")
        #expect(table.contains { $0.starts(with: ["team-a", "embedder", "nv-embedqa-e5-v5", "1.6.0", "True", "Ready"]) }, "\(result.stdout)")
        for object in ["nvidia-nim-secrets-llama", "nvidia-nim-image-pull-llama", "nim-cache-llama", "nvidia-nim-secrets-embedder", "nim-cache-embedder"] {
            #expect(result.stdout.contains(object), "\(object) is listed")
        }
        #expect(!result.stdout.contains("nvapi-demo"), "the demo key is never printed")
        #expect(FileManager.default.fileExists(atPath: kubeconfig))
    }

    /// Ctrl-C took the 30 s grace period and exited 1 (the manager's task was never told), and
    /// the output came only at the end when piped. Now the lines arrive as they are written and
    /// Ctrl-C ends the demo at once with 0 (a deadline of 10 s, a third of the old wait).
    @Test func theDemoPrintsAsItGoesAndStopsOnCtrlC() async throws {
        let kubeconfig = NSTemporaryDirectory() + "demo-\(UUID().uuidString).kubeconfig"
        let demo = BackgroundCommand([Paths.demoBinary, "--kubeconfig-out", kubeconfig])
        try demo.start()
        defer { demo.kill() }
        try await eventually(timeout: 60, "the demo says it runs, through a pipe") { demo.stdout.contains("Running; Ctrl-C to stop") }
        #expect(demo.stdout.contains("team-a      llama"), "the table came before: \(demo.stdout)")
        kill(demo.processIdentifier, SIGINT)
        let result = await demo.wait(timeout: 10)
        #expect(result.status == 0 || result.status == 130, "\(result)")
        #expect(!result.stderr.contains("shutdown took longer"), "\(result.stderr)")
    }

    /// The kinds `run` needs: the NimDeployment CRD and (small copies of) KServe's.
    func installCRDs(_ cluster: TestCluster) throws {
        for file in ["config/crd/bases/nim.opendatahub.io_nimdeployments.yaml", "config/demo/kserve-crds.yaml"] {
            try cluster.controlPlane.apply(try YAML.parseAll(String(contentsOf: Paths.repository.appendingPathComponent(file), encoding: .utf8)))
        }
    }

    @Test func runWithoutTheCRDsSaysWhatIsMissingAndExits() async throws {
        let cluster = try TestCluster()
        let result = try await operatorCommand("run", "--kubeconfig", try cluster.writeKubeconfig(), "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("nimdeployments.nim.opendatahub.io") && result.stderr.contains("inferenceservices.serving.kserve.io"), "\(result)")
        #expect(result.stderr.contains("kubectl apply -k config/crd"))
    }

    /// A namespace named twice is watched once: an informer with a watch per entry would wait
    /// for the second forever and the operator would never be ready.
    @Test func aNamespaceNamedTwiceIsWatchedOnce() async throws {
        let cluster = try TestCluster()
        try installCRDs(cluster)
        try await cluster.createNamespace("team-a")
        let process = BackgroundCommand([
            Paths.operatorBinary, "run", "--kubeconfig", try cluster.writeKubeconfig(), "--namespace", "team-a", "--watch-namespaces", "team-a,team-a",
            "--health-probe-bind-address", "127.0.0.1:0", "--metrics-bind-address", "0",
        ])
        try process.start()
        defer { process.kill() }
        let health = try await process.servingLine()["health"]?.intValue ?? 0
        let probe = KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(health)"))
        try await eventually(timeout: 30, "ready once its caches sync") {
            (try? await probe.call(verb: "get", method: "GET", path: "/readyz", accept: "text/plain"))?.status == 200
        }
    }

    @Test func runServesProbesAndMetricsAndReleasesTheLeaseOnSIGTERM() async throws {
        let cluster = try TestCluster()
        try installCRDs(cluster)
        try await cluster.createNamespace("nim-deploy-operator-system")
        let kubeconfig = try cluster.writeKubeconfig()
        let process = BackgroundCommand([
            Paths.operatorBinary, "run", "--kubeconfig", kubeconfig, "--leader-elect", "--namespace", "nim-deploy-operator-system",
            "--health-probe-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0", "--metrics-auth", "none",
        ])
        try process.start()
        // Free ports, learnt from the operator's own log line.
        let ports = try await process.servingLine()
        let health = ports["health"]?.intValue ?? 0
        let metricsPort = ports["metrics"]?.intValue ?? 0
        let probe = KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(health)"))
        try await eventually(timeout: 30, "ready once caches sync") {
            (try? await probe.call(verb: "get", method: "GET", path: "/readyz", accept: "text/plain"))?.status == 200
        }
        try await eventually(timeout: 30, "the lease is held") {
            (try? await cluster.client.get(.leases, namespace: "nim-deploy-operator-system", name: "nim-deploy-operator"))?[path: ["spec", "holderIdentity"]] != nil
        }
        let metrics = try await KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(metricsPort)"))
            .call(verb: "get", method: "GET", path: "/metrics", accept: "text/plain")
        let text = String(decoding: metrics.body, as: UTF8.self)
        let samples = try PrometheusText.parse(text)
        #expect(samples.contains { $0.name == "rest_client_requests_total" && $0.labels["verb"] == "list" })
        for result in ["rotated", "secrets_only", "restarted", "rejected", "deferred"] {
            #expect(samples.contains { $0.name == "nim_key_rotations_total" && $0.labels["result"] == result && $0.value == 0 }, "\(result)")
        }
        #expect(samples.contains { $0.name == "nim_key_rotation_duration_seconds_count" })
        // Every family the README names, present from the start (nim_ngc_requests_total once NGC
        // is asked: ScenarioTests).
        for family in ["controller_runtime_reconcile_total", "controller_runtime_reconcile_time_seconds_bucket", "controller_runtime_reconcile_errors_total",
                       "workqueue_depth", "workqueue_adds_total", "workqueue_queue_duration_seconds_bucket", "workqueue_work_duration_seconds_bucket",
                       "workqueue_retries_total", "rest_client_requests_total", "nim_deployments",
                       "nim_legacy_migrations_total", "nim_key_rotations_total"] {
            #expect(samples.contains { $0.name == family }, "\(family) in /metrics")
        }
        #expect(samples.contains { $0.name == "rest_client_requests_total" && $0.labels["code"] != nil && $0.labels["verb"] != nil })
        // Body bytes each way: the Lease written, list pages read.
        func bytes(_ name: String, _ verb: String) -> Double { samples.first { $0.name == name && $0.labels == ["verb": verb] }?.value ?? 0 }
        #expect(bytes("rest_client_response_bytes_total", "list") > 1000, "list pages' bytes counted")
        #expect(bytes("rest_client_request_bytes_total", "create") + bytes("rest_client_request_bytes_total", "update") > 100, "the Lease's body counted")
        for result in ["migrated", "blocked", "failed"] {
            #expect(samples.contains { $0.name == "nim_legacy_migrations_total" && $0.labels["result"] == result }, "\(result)")
        }
        // What dashboards written for any Go operator read: the process collector, the leader, the build.
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? { samples.first { $0.name == name && $0.labels == labels }?.value }
        #expect((value("process_resident_memory_bytes") ?? 0) > 1_000_000 && (value("process_open_fds") ?? 0) > 3)
        #expect((value("process_max_fds") ?? 0) >= (value("process_open_fds") ?? 0) && (value("process_cpu_seconds_total") ?? 0) > 0)
        let started = value("process_start_time_seconds") ?? 0
        #expect(abs(started - Date().timeIntervalSince1970) < 600, "started moments ago: \(started)")
        #expect(value("leader_election_master_status", ["name": "nim-deploy-operator"]) == 1)
        #expect(samples.contains { $0.name == "nim_deploy_operator_build_info" && $0.labels["version"] != nil && $0.labels["commit"] != nil && $0.value == 1 })
        // Prometheus' own linter accepts the exposition.
        let lint = try await run(["promtool", "check", "metrics"], input: text)
        #expect(lint.status == 0, "\(lint)")
        // Optional APIs asked once at start: none here.
        #expect(process.stderr.contains("no Prometheus Operator: no PodMonitors") && process.stderr.contains("no Gateway API"))
        kill(process.processIdentifier, SIGTERM)
        let result = await process.wait(timeout: 40)
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("\"msg\":\"released lease\""), "\(result)")
        let lease = try await cluster.client.get(.leases, namespace: "nim-deploy-operator-system", name: "nim-deploy-operator")
        #expect(lease[path: ["spec", "holderIdentity"]] == nil)
        for line in result.stderr.split(separator: "\n") {
            #expect((try? JSON(parsing: String(line)))?["level"] != nil, "every log line is JSON: \(line)")
        }
    }

    /// `run ... 2>&1 | head` ended with SIGILL (FileHandle.write traps on EPIPE, and libcurl's
    /// set-up ignores SIGPIPE): a closed pipe now ends it quietly, as SIGPIPE would (141).
    @Test func aClosedPipeEndsTheOperatorQuietly() async throws {
        let env = try await NimEnvironment()
        let kubeconfig = try env.cluster.writeKubeconfig()
        let script = """
            set -o pipefail
            "$0" run --kubeconfig "$1" --namespace \(NimEnvironment.operatorNamespace) --log-level debug \\
                --metrics-bind-address 0 --health-probe-bind-address 0 2>&1 | head -n 1 > /dev/null
            echo "operator ${PIPESTATUS[0]}"
            """
        let result = try await run(["bash", "-c", script, Paths.operatorBinary, kubeconfig], timeout: 60)
        #expect(result.stdout.contains("operator 141"), "\(result)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Illegal instruction"), "\(result)")
    }

    /// migrate against an API server that does not answer printed "no legacy NIM deployments".
    @Test func migrateSaysItCannotReachTheAPIServer() async throws {
        let kubeconfig = NSTemporaryDirectory() + "unreachable-\(UUID().uuidString).kubeconfig"
        try """
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
            users: [{name: u, user: {token: t}}]
            contexts: [{name: c, context: {cluster: c, user: u}}]
            current-context: c
            """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        let result = try await operatorCommand("migrate", "--kubeconfig", kubeconfig, "--namespace", "team-a")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("cannot read from the API server at http://127.0.0.1:1"), "\(result)")
        #expect(!result.stdout.contains("summary"), "no summary of nothing: \(result)")
    }
}
