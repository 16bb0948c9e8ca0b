import Foundation
import Testing
import KubeWatch
import Reconciler
import TestSupport

/// config/argocd/health.lua run by a real Lua 5.4 on NimDeployments the operator has written
/// status to, in each state Argo CD tells apart.
@Suite struct ArgoCDHealthTests {
    static let script = Paths.repository.appendingPathComponent("config/argocd/health.lua")

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
    static func health(_ object: KubeObject) async throws -> (status: String, message: String) {
        let program = NSTemporaryDirectory() + "health-\(UUID().uuidString).lua"
        try """
            obj = \(lua(object.body))
            local hs = assert(loadfile(arg[1]))()
            io.write(hs.status, "\\n", hs.message or "")
            """.write(toFile: program, atomically: true, encoding: .utf8)
        let result = try await run(["lua5.4", program, script.path], timeout: 30)
        guard result.status == 0 else { throw DeadlineExceeded(description: "lua5.4: \(result)") }
        let lines = result.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        return (lines.first ?? "", lines.count > 1 ? lines[1] : "")
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
    }

    @Test func theChartReadmeAndTheArgoConfigMapCarryTheSameScript() async throws {
        let script = try String(contentsOf: Self.script, encoding: .utf8)
        let readme = try String(contentsOf: Paths.repository.appendingPathComponent("charts/nim-deploy-operator/README.md"), encoding: .utf8)
        let block = readme.components(separatedBy: "```lua\n").dropFirst().first?.components(separatedBy: "```").first
        #expect(block == script, "charts/nim-deploy-operator/README.md has config/argocd/health.lua as it is")
        let generated = try await RBACTests.kustomize("config/argocd")
        #expect(generated.first?[path: ["data", "resource.customizations.health.nim.opendatahub.io_NimDeployment"]]?.stringValue == script)
    }
}
