import Foundation
import KubeCore
import KubeAPI
import LocalControlPlane
import Reconciler

/// Two projects as the Open Data Hub NIM flow left them before per-deployment keys
/// (Fixtures/legacy-namespaces.yaml): in `legacy`, deployments `llama` and `mistral` on the
/// shared `nvidia-nim-secrets`/`ngc-secret`, `handmoved` on the script's `nim-api-key-handmoved`,
/// `airgapped` with neither, and `other-app` and the stopped StatefulSet `notebook`, not NIM,
/// pulling with `ngc-secret`; in
/// `legacy-org`, `orgkey` on an organization key that is not a personal one.
public enum LegacyFixture {
    public static let key = "nvapi-legacy-shared-key-00000000000001"
    public static let handMovedKey = "nvapi-legacy-hand-moved-key-000000002"
    public static let orgKey = "legacy-org-key-0123456789abcdef0123"
    public static let migratable = ["handmoved", "llama", "mistral"]
    public static let namespaces = ["legacy", "legacy-org"]

    public static func documents() throws -> [JSON] {
        var text = try String(contentsOf: Paths.repository.appendingPathComponent("Tests/TestSupport/Fixtures/legacy-namespaces.yaml"), encoding: .utf8)
        func base64(_ value: String) -> String { Data(value.utf8).base64EncodedString() }
        func pull(_ key: String) -> String {
            let auth = base64("$oauthtoken:\(key)")
            return base64(#"{"auths":{"nvcr.io":{"username":"$oauthtoken","password":"\#(key)","auth":"\#(auth)"}}}"#)
        }
        for (placeholder, value) in [
            ("HAND_MOVED_PULL_B64", pull(handMovedKey)), ("KEY_PULL_B64", pull(key)), ("ORG_PULL_B64", pull(orgKey)),
            ("HAND_MOVED_KEY_B64", base64(handMovedKey)), ("ORG_KEY_B64", base64(orgKey)), ("KEY_B64", base64(key)),
        ] {
            text = text.replacingOccurrences(of: placeholder, with: value)
        }
        return try YAML.parseAll(text)
    }

    /// Creates it all as the dashboard would have (a user's writes, not the operator's).
    public static func install(_ client: KubeClient) async throws {
        for document in try documents() {
            let object = KubeObject(document)
            let resource: ResourceType
            switch object.kind {
            case "Namespace": resource = .namespaces
            case "Secret": resource = .secrets
            case "PersistentVolumeClaim": resource = .persistentVolumeClaims
            case "Deployment": resource = .deployments
            case "StatefulSet": resource = ResourceType(group: "apps", version: "v1", plural: "statefulsets", kind: "StatefulSet", namespaced: true)
            case "ServingRuntime": resource = KServe.servingRuntimes
            default: resource = KServe.inferenceServices
            }
            _ = try await client.create(object, resource, fieldManager: "odh-dashboard")
        }
    }
}

extension NimEnvironment {
    /// An environment holding the fixture, with KServe's predictors rendered and every
    /// InferenceService's status written, so that what follows starts from a still picture.
    public static func legacy(gatewayAPI: Bool = false, prometheusOperator: Bool = false) async throws -> NimEnvironment {
        // The legacy deployments ran: their cluster's GPU nodes took pods without tolerations.
        let env = try await NimEnvironment(rendersPredictors: true, taintsGPUNodes: false, gatewayAPI: gatewayAPI, prometheusOperator: prometheusOperator)
        try await LegacyFixture.install(env.client)
        for namespace in LegacyFixture.namespaces {
            let services = try await env.client.list(KServe.inferenceServices, namespace: namespace).items.map(\.name)
            try await env.settleKServe(services, namespace: namespace)
            try await eventually("the predictors of \(namespace) are rendered") {
                try await env.client.list(.pods, namespace: namespace).items.count == services.count
            }
        }
        return env
    }
}
