import Foundation
import Testing
import KubeCore
import Reconciler
import TestSupport

/// What a new user met in the first hour, and what a real API server showed (issue 16): each a
/// test that failed before its fix.
@Suite struct FirstHourTests {
    /// A catalog in the `models.json` shape of the design documents, naming models by id.
    static func installModelsJSONCatalog(_ env: NimEnvironment) async throws {
        let document: JSON = [
            "schemaVersion": "1.0.0",
            "models": [
                ["id": "nvidia/llama-3.1-8b-instruct", "name": "Llama 3.1 8B Instruct", "containerImage": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2",
                 "tags": ["1.1.2", "1.1.1"], "latestTag": "1.1.2", "euRestricted": false],
            ],
        ]
        var map = KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: NimEnvironment.operatorNamespace, name: "nim-model-metadata")
        map["data"] = ["models.json": .string(document.serialized())]
        _ = try await env.client.apply(map, .configMaps, fieldManager: "admin")
    }

    @Test func aModelIsNamedByItsCatalogIdOrItsLastPathPart() async throws {
        let env = try await NimEnvironment(installCatalog: false)
        try await Self.installModelsJSONCatalog(env)
        try await env.startOperator()
        try await env.createKeySecret()
        for (name, model) in [("by-id", "nvidia/llama-3.1-8b-instruct"), ("by-name", "llama-3.1-8b-instruct")] {
            // The CRD's pattern takes both (a real API server refused the id with 422).
            try await env.deploy(name, spec: ["model": .string(model), "apiKeySecretRef": ["name": "my-ngc-key"]])
            try await env.waitFor("Ready", "True", of: name)
            #expect(try await env.status("catalogEntry", of: name) == "nvidia/llama-3.1-8b-instruct", "\(model)")
            #expect(try await env.status("image", of: name) == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2")
        }
        // Another id with the same last part is not this entry.
        try await env.deploy("other", spec: ["model": "acme/llama-3.1-8b-instruct", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await env.waitFor("ResourcesReady", "False", reason: "ModelNotFound", of: "other")
        // spec.image bypasses the catalog: no entry chosen.
        try await env.deploy("by-id", spec: ["model": "nvidia/llama-3.1-8b-instruct", "image": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.1", "apiKeySecretRef": ["name": "my-ngc-key"]])
        try await eventually("no catalog entry with spec.image") {
            let status = try await env.deployment("by-id")["status"]
            return status?["observedGeneration"]?.intValue == 2 && status?["catalogEntry"] == nil && status?["image"] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.1"
        }
    }
}
