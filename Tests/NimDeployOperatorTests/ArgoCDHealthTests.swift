import Foundation
import Testing
import KubeCore
import Reconciler
import TestSupport

/// The Argo CD health check, in Argo CD's resource-customization layout (health.lua,
/// health_test.yaml, testdata/), run by a real Lua 5.1 (what Argo CD's gopher-lua is) and 5.4 on
/// NimDeployments the operator has written status to, in each state Argo CD tells apart; and the
/// way it is installed, which leaves every other key of argocd-cm alone.
@Suite struct ArgoCDHealthTests {
    static let customization = Paths.repository.appendingPathComponent("config/argocd/resource_customizations/nim.opendatahub.io/NimDeployment")
    static let script = customization.appendingPathComponent("health.lua")
    static let key = "resource.customizations.health.nim.opendatahub.io_NimDeployment"

    /// A JSON value as a Lua table constructor; `null` becomes nil, as Argo CD's conversion does.
    static func lua(_ value: JSON) -> String {
        switch value {
        case .null: return "nil"
        case .bool(let flag): return flag ? "true" : "false"
        case .string(let text):
            var escaped = ""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                case "\r": escaped += "\\r"
                default: escaped.unicodeScalars.append(scalar)
                }
            }
            return "\"\(escaped)\""
        case .array(let items): return "{" + items.map(lua).joined(separator: ", ") + "}"
        case .object(let fields): return "{" + fields.sorted { $0.key < $1.key }.map { "[\(lua(.string($0.key)))] = \(lua($0.value))" }.joined(separator: ", ") + "}"
        default: return value.serialized()
        }
    }

    /// What Argo CD would show for the object: (status, message).
    /// What Argo CD would show for the object: (status, message), the same under Lua 5.1 and 5.4.
    static func health(_ object: KubeObject) async throws -> (status: String, message: String) {
        let program = NSTemporaryDirectory() + "health-\(UUID().uuidString).lua"
        try """
            obj = \(lua(object.body))
            local hs = assert(loadfile(arg[1]))()
            io.write(hs.status, "\\n", hs.message or "")
            """.write(toFile: program, atomically: true, encoding: .utf8)
        var answers: [String: (status: String, message: String)] = [:]
        for interpreter in ["lua5.1", "lua5.4"] {
            let result = try await run([interpreter, program, script.path], timeout: 30)
            guard result.status == 0 else { throw DeadlineExceeded(description: "\(interpreter): \(result)") }
            let lines = result.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            answers[interpreter] = (lines.first ?? "", lines.count > 1 ? lines[1] : "")
        }
        let answer = answers["lua5.1"] ?? ("", "")
        guard answers["lua5.4"]?.status == answer.status, answers["lua5.4"]?.message == answer.message else {
            throw DeadlineExceeded(description: "Lua 5.1 and 5.4 disagree: \(answers)")
        }
        return answer
    }

    @Test func eachStateOfADeploymentAsArgoCDSeesIt() async throws {
        let env = try await NimEnvironment()
        try await env.createKeySecret()
        try await env.deploy()
        // Applied, no operator yet: no status.
        #expect(try await Self.health(env.deployment()).status == "Progressing")

        try await env.startOperator()
        try await env.waitFor("Ready", "True")
        let healthy = try await Self.health(env.deployment())
        #expect(healthy.status == "Healthy" && healthy.message.hasPrefix("Serving nvcr.io/nim/meta/llama-3.1-8b-instruct"), "\(healthy)")

        // A spec change the operator has not seen yet.
        await env.stopOperator()
        _ = try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "replicas": ["min": 1, "max": 2]])
        let pending = try await Self.health(env.deployment())
        #expect(pending.status == "Progressing" && pending.message.contains("observe generation 2"), "\(pending)")

        // A model that is not in the catalog: Degraded, with the operator's message.
        try await env.startOperator()
        try await env.deploy("typo", spec: ["model": "llama-3.1-8b-instrukt", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("Degraded", "True", reason: "ModelNotFound", of: "typo")
        let degraded = try await Self.health(env.deployment("typo"))
        #expect(degraded.status == "Degraded" && degraded.message.contains("is not in the catalog"), "\(degraded)")

        // Suspended on purpose.
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"], "suspend": true])
        try await env.waitFor("Ready", "False", reason: "Suspended")
        let suspended = try await Self.health(env.deployment())
        #expect(suspended.status == "Suspended" && suspended.message.hasPrefix("Suspended: scaled to zero"), "\(suspended)")

        // A pod that cannot start: Degraded, with what the kubelet says.
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("Ready", "True")
        try await env.kserve.setPredictor(ObjectKey(namespace: "team-a", name: "llama"), .crashLooping(reason: "OOMKilled", exitCode: 137, message: ""))
        try await env.waitFor("Degraded", "True", reason: "CrashLoopBackOff")
        let crashing = try await Self.health(env.deployment())
        #expect(crashing.status == "Degraded" && crashing.message.contains("OOMKilled"), "\(crashing)")

        // A new revision whose model answers wrong: rolled back, and Degraded while the spec asks for it.
        try await env.kserve.setPredictor(ObjectKey(namespace: "team-a", name: "llama"), nil)
        try await env.waitFor("Degraded", "False")
        env.models.behave(.wrongAnswer("Lyon."), whenServing: ":1.15.4")
        try await env.deploy(spec: ["model": "llama-3.1-8b-instruct", "tag": "1.15.4", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("RolledBack", "True", reason: "WrongAnswer", timeout: 30)
        let rolledBack = try await Self.health(env.deployment())
        #expect(rolledBack.status == "Degraded" && rolledBack.message.contains("Rolled back to revision"), "\(rolledBack)")
    }

    /// health_test.yaml as Argo CD's own test of resource customizations reads it.
    @Test func theCustomizationsOwnTestsPass() async throws {
        let tests = try YAML.parse(String(contentsOf: Self.customization.appendingPathComponent("health_test.yaml"), encoding: .utf8))
        let cases = tests["tests"]?.arrayValue ?? []
        #expect(cases.count >= 6)
        for test in cases {
            let input = try #require(test["inputPath"]?.stringValue)
            let object = KubeObject(try YAML.parse(String(contentsOf: Self.customization.appendingPathComponent(input), encoding: .utf8)))
            let health = try await Self.health(object)
            #expect(health.status == test[path: ["healthStatus", "status"]]?.stringValue && health.message == test[path: ["healthStatus", "message"]]?.stringValue, "\(input): \(health)")
        }
    }

    @Test func theChartReadmeAndThePatchCarryTheSameScript() async throws {
        let script = try String(contentsOf: Self.script, encoding: .utf8)
        let readme = try String(contentsOf: Paths.repository.appendingPathComponent("charts/nim-deploy-operator/README.md"), encoding: .utf8)
        let block = readme.components(separatedBy: "```lua\n").dropFirst().first?.components(separatedBy: "```").first
        #expect(block == script, "charts/nim-deploy-operator/README.md has health.lua as it is")
        let patch = try YAML.parse(String(contentsOf: Paths.repository.appendingPathComponent("config/argocd/argocd-cm-patch.yaml"), encoding: .utf8))
        #expect(patch[path: ["data", Self.key]]?.stringValue == script)
    }

    /// The documented install, `kubectl patch --type merge --patch-file`, against an argocd-cm
    /// holding other settings however it was made: Argo CD's install (applied empty, settings
    /// added later), an admin's client-side apply, a server-side apply. Every other key stays.
    /// (`kubectl apply -k` of a ConfigMap replaced what a client-side apply had set, and
    /// `--server-side` does not save it: kubectl hands the old manager's fields to the new one.)
    @Test(arguments: ["install", "client-side", "server-side"])
    func installingTheCheckLeavesEveryOtherKeyAlone(_ madeBy: String) async throws {
        let cluster = try TestCluster()
        try await cluster.createNamespace("argocd")
        let kubeconfig = try cluster.writeKubeconfig(namespace: "argocd")
        func kubectl(_ arguments: [String], input: String? = nil) async throws -> CommandResult {
            try await run(["kubectl", "--kubeconfig", kubeconfig, "-n", "argocd"] + arguments, input: input, timeout: 60)
        }
        let settings = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: argocd-cm, labels: {app.kubernetes.io/name: argocd-cm, app.kubernetes.io/part-of: argocd}}
            data:
              url: https://argocd.example.com
              resource.customizations.health.apps_Deployment: |
                hs = {status = "Healthy"}
                return hs
            """
        switch madeBy {
        case "install":
            let empty = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, labels: {app.kubernetes.io/part-of: argocd}}\n"
            #expect(try await kubectl(["apply", "-f", "-"], input: empty).status == 0)
            #expect(try await kubectl(["patch", "configmap", "argocd-cm", "--type", "merge", "-p", #"{"data":{"url":"https://argocd.example.com","resource.customizations.health.apps_Deployment":"hs = {status = \"Healthy\"}\nreturn hs\n"}}"#]).status == 0)
        case "client-side":
            #expect(try await kubectl(["apply", "-f", "-"], input: settings).status == 0)
        default:
            #expect(try await kubectl(["apply", "--server-side", "-f", "-"], input: settings).status == 0)
        }
        let patch = Paths.repository.appendingPathComponent("config/argocd/argocd-cm-patch.yaml").path
        for _ in 0..<2 {
            let installed = try await kubectl(["patch", "configmap", "argocd-cm", "--type", "merge", "--patch-file", patch])
            #expect(installed.status == 0, "\(installed)")
        }
        let data = try await cluster.client.get(.configMaps, namespace: "argocd", name: "argocd-cm")["data"]
        #expect(data?["url"] == "https://argocd.example.com", "\(madeBy): \(data?.serialized() ?? "")")
        #expect(data?["resource.customizations.health.apps_Deployment"] != nil, "\(madeBy)")
        #expect(data?[Self.key]?.stringValue == (try String(contentsOf: Self.script, encoding: .utf8)))
    }
}
