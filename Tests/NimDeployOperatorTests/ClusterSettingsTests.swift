import Foundation
import Testing
import KubeCore
import LocalControlPlane
import Reconciler
import TestSupport

/// The operator binary's settings for the cluster it runs in: the NIM pods' fsGroup, which it
/// tells from the platform, and the proxy and CA of its own calls to NGC. One test at a time:
/// each runs operator processes, and on two cores they would starve the timing tests beside them.
@Suite(.serialized) struct ClusterSettingsTests {
    /// What OpenShift serves and plain Kubernetes does not: the SecurityContextConstraints API.
    static let openShiftSCC: JSON = [
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": ["name": "securitycontextconstraints.security.openshift.io"],
        "spec": [
            "group": "security.openshift.io", "scope": "Cluster",
            "names": ["plural": "securitycontextconstraints", "singular": "securitycontextconstraints", "kind": "SecurityContextConstraints", "listKind": "SecurityContextConstraintsList"],
            "versions": [["name": "v1", "served": true, "storage": true, "schema": ["openAPIV3Schema": ["type": "object", "x-kubernetes-preserve-unknown-fields": true]]]],
        ],
    ]

    static func fsGroup(_ env: NimEnvironment) async throws -> JSON? {
        try await env.predictor()[path: ["securityContext", "fsGroup"]]
    }

    @Test func theNIMPodsGetAnFSGroupOnPlainKubernetesAndNoneOnOpenShift() async throws {
        let env = try await NimEnvironment()
        try await env.createKeySecret()
        try await env.deploy()
        var process = try OperatorProcess(env: env)
        try await env.waitFor("Ready", "True", timeout: 30)
        #expect(try await Self.fsGroup(env) == 1000, "plain Kubernetes: the cache claim is writable by NIM's user")
        #expect(try await env.predictor()[path: ["securityContext", "fsGroupChangePolicy"]] == "OnRootMismatch")
        #expect(await process.stop().status == 0)

        // The same cluster, now serving OpenShift's SCC API: restricted-v2 assigns the fsGroup.
        try env.controlPlane.apply([Self.openShiftSCC])
        try await eventually("the SCC API is served") { try await env.client.serves(groupVersion: "security.openshift.io/v1") }
        process = try OperatorProcess(env: env)
        try await eventually(timeout: 30, "no fixed fsGroup") { try await Self.fsGroup(env) == nil }
        #expect(process.log.contains("OpenShift: the predictor pods get no fixed fsGroup"), "\(process.log.suffix(2000))")
        #expect(await process.stop().status == 0)

        // Told, it sets what it is told.
        process = try OperatorProcess(env: env, ["--nim-fs-group", "2000"])
        try await eventually(timeout: 30, "fsGroup 2000") { try await Self.fsGroup(env) == 2000 }
        #expect(await process.stop().status == 0)
    }

    /// NGC behind a proxy: the stand-in answers as a proxy would for a host only the proxy
    /// reaches, so a key is validated only when the calls go through it.
    @Test func ngcCallsGoThroughTheProxyTheFlagsName() async throws {
        let env = try await NimEnvironment()
        try await env.createKeySecret()
        try await env.deploy()
        let unreachable = "http://ngc.nimdeploy.invalid"
        var process = try OperatorProcess(env: env, ["--ngc-proxy", env.ngc.baseURL, "--ngc-timeout", "3s"], ngcAPIURL: unreachable)
        try await env.waitFor("KeyValid", "True", timeout: 30)
        #expect(env.ngc.proxiedRequests > 0)
        #expect(process.log.contains("\"proxy\":\"\(env.ngc.baseURL)\""), "the proxy in use is logged")
        #expect(await process.stop().status == 0)

        // The host listed as reached directly: no proxy, no answer, nothing changed.
        let proxied = env.ngc.proxiedRequests
        process = try OperatorProcess(env: env, ["--ngc-proxy", env.ngc.baseURL, "--ngc-no-proxy", ".invalid", "--ngc-timeout", "3s"], ngcAPIURL: unreachable)
        try await env.createKeySecret("other-key", key: "nvapi-direct-0123456789abcdef0123")
        try await env.deploy("direct", spec: ["model": "llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "other-key"]])
        try await env.waitFor("KeyValid", "Unknown", reason: "NGCUnreachable", of: "direct", timeout: 30)
        #expect(env.ngc.proxiedRequests == proxied)
        #expect(try await env.children().values.allSatisfy { !$0.contains { $0.hasSuffix("direct") } })
        #expect(await process.stop().status == 0)
    }

    @Test func aCABundleThatIsNotPEMStopsTheStart() async throws {
        let env = try await NimEnvironment()
        let file = NSTemporaryDirectory() + "not-pem-\(UUID().uuidString).crt"
        try "just text".write(toFile: file, atomically: true, encoding: .utf8)
        for path in [file, "/nonexistent/ca.crt"] {
            let process = try OperatorProcess(env: env, ["--ngc-ca-bundle", path])
            let result = await process.command.wait(timeout: 30)
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("--ngc-ca-bundle: not a readable PEM file"), "\(result.stderr.suffix(1000))")
        }
    }
}
