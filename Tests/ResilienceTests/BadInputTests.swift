import Foundation
import Testing
import KubeCore
import LocalControlPlane
import Reconciler
import TestSupport

/// Hostile and malformed input, all at once, beside a healthy deployment: each case is refused
/// by the API server with a clear message (what the CRD schema catches) or gets a condition and
/// an Event from the operator; the operator does not crash, no key leaks, and the healthy
/// deployment is not touched.
extension Resilience {
    @Suite struct BadInput {
        enum Outcome: Sendable {
            /// The API server refuses it (422/400/413) with a message containing this.
            case refused(String)
            /// The operator reports this reason on a condition that is not True, and an Event.
            case condition(String)
            /// The operator copes: Ready.
            case ready
            /// Either the API server refuses it, or the operator reports this reason.
            case refusedOr(String)
        }

        struct Case: Sendable, CustomStringConvertible {
            var name: String
            var summary: String
            var spec: JSON
            /// The key Secret this case makes (name, type, data), if any.
            var secret: (name: String, type: String, data: [String: String])?
            var metadata: JSON = [:]
            var outcome: Outcome
            var description: String { summary }
        }

        static let model = "llama-3.1-8b-instruct"
        static func spec(_ secret: String, _ extra: [String: JSON] = [:]) -> JSON {
            var spec: [String: JSON] = ["model": .string(model), "apiKeySecretRef": ["name": .string(secret)]]
            for (key, value) in extra { spec[key] = value }
            return .object(spec)
        }
        static func keyed(_ name: String, _ key: String, type: String = "Opaque", dataKey: String = "NGC_API_KEY") -> (name: String, type: String, data: [String: String]) {
            (name, type, [dataKey: Data(key.utf8).base64EncodedString()])
        }
        static let goodKey = "nvapi-badinput-good-0123456789abcdef"
        static let hostileKeys = [
            "nvapi-has space-0123456789", "nvapi-has\nnewline-0123456789", String(repeating: "k", count: 1 << 20), "nvapi-" + String(repeating: "x", count: 700 << 10),
            "0123456789abcdefORGKEYlegacy", "nvapi-rejected-by-ngc-0123456789", "nvapi-not-entitled-0123456789",
        ]

        static let cases: [Case] = {
            let long253 = String(repeating: "a", count: 253)
            var cases: [Case] = [
                // Refused at admission by the CRD schema or object-meta validation.
                Case(name: String(repeating: "b", count: 254), summary: "name of 254 characters", spec: spec("good-key"), outcome: .refused("must be no more than 253 characters")),
                Case(name: "llamä", summary: "unicode name", spec: spec("good-key"), outcome: .refused("metadata.name")),
                Case(name: "Llama", summary: "upper-case name", spec: spec("good-key"), outcome: .refused("metadata.name")),
                Case(name: "bad-model-unicode", summary: "unicode model", spec: ["model": "llama-ü", "apiKeySecretRef": ["name": "good-key"]], outcome: .refused("spec.model")),
                Case(name: "bad-model-long", summary: "model of 254 characters", spec: ["model": .string(String(repeating: "m", count: 254)), "apiKeySecretRef": ["name": "good-key"]], outcome: .refused("spec.model")),
                Case(name: "bad-model-type", summary: "model as a number", spec: ["model": 42, "apiKeySecretRef": ["name": "good-key"]], outcome: .refused("spec.model")),
                Case(name: "bad-tag", summary: "tag with a space", spec: spec("good-key", ["tag": "1.0 beta"]), outcome: .refused("spec.tag")),
                Case(name: "bad-image", summary: "image in upper case", spec: ["image": "NVCR.IO/nim/x:1", "apiKeySecretRef": ["name": "good-key"]], outcome: .refused("spec.image")),
                Case(name: "bad-replicas", summary: "replicas.min above max", spec: spec("good-key", ["replicas": ["min": 5, "max": 2]]), outcome: .refused("replicas.min must not exceed replicas.max")),
                Case(name: "bad-gpus", summary: "65 GPUs", spec: spec("good-key", ["resources": ["gpus": 65]]), outcome: .refused("spec.resources.gpus")),
                Case(name: "bad-subpath", summary: "subPath escaping with ..", spec: spec("good-key", ["storage": ["subPath": "../etc"]]), outcome: .refused("storage.subPath must be a relative path")),
                Case(name: "bad-claim-and-size", summary: "existingClaim with size", spec: spec("good-key", ["storage": ["existingClaim": "c", "size": "10Gi"]]), outcome: .refused("existingClaim")),
                Case(name: "bad-nothing", summary: "neither model nor image", spec: ["apiKeySecretRef": ["name": "good-key"]], outcome: .refused("spec.model (a model of the catalog) or spec.image")),
                Case(name: "bad-ref-slash", summary: "key reference naming another namespace with a slash", spec: spec("team-b/good-key"), outcome: .refused("spec.apiKeySecretRef.name")),
                Case(name: "bad-protocol", summary: "protocol ftp", spec: spec("good-key", ["protocol": "ftp"]), outcome: .refused("spec.protocol")),
                Case(name: "bad-huge-field", summary: "a 1 MiB storageClassName", spec: spec("good-key", ["storage": ["storageClassName": .string(String(repeating: "s", count: 1 << 20))]]), outcome: .refused("storageClassName")),
                Case(name: "bad-huge-annotation", summary: "a 300 KiB annotation", spec: spec("good-key"), metadata: ["annotations": ["junk": .string(String(repeating: "j", count: 300 << 10))]], outcome: .refused("annotations")),
                Case(name: "bad-size", summary: "storage size not a quantity", spec: spec("good-key", ["storage": ["size": "lots"]]), outcome: .refused("spec.storage.size")),
                // The operator copes with names at the limits.
                Case(name: long253, summary: "name of 253 characters", spec: spec("good-key"), outcome: .ready),
                Case(name: String(repeating: "c", count: 63), summary: "name of 63 characters", spec: spec("good-key"), outcome: .ready),
                Case(name: "dotted.name.v2", summary: "name with dots", spec: spec("good-key"), outcome: .ready),
                Case(name: "9-starts-with-digit", summary: "name starting with a digit", spec: spec("good-key"), outcome: .ready),
                Case(name: "key-trailing-newline", summary: "key with a trailing newline (echo > file)", spec: spec("trailing-key"), secret: keyed("trailing-key", goodKey + "\n"), outcome: .ready),
                // The operator reports.
                Case(name: "unknown-model", summary: "model not in the catalog", spec: ["model": "no-such-model", "apiKeySecretRef": ["name": "good-key"]], outcome: .condition("ModelNotFound")),
                Case(name: "unknown-tag", summary: "tag not in the catalog", spec: spec("good-key", ["tag": "9.9.9"]), outcome: .condition("TagNotFound")),
                Case(name: "no-secret", summary: "key Secret missing", spec: spec("missing-key"), outcome: .condition("KeySecretNotFound")),
                Case(name: "empty-key", summary: "key Secret with an empty key", spec: spec("empty-key"), secret: keyed("empty-key", ""), outcome: .condition("KeyEmpty")),
                Case(name: "blank-key", summary: "key of spaces and newlines", spec: spec("blank-key"), secret: keyed("blank-key", "  \n\t \n"), outcome: .condition("KeyEmpty")),
                Case(name: "space-key", summary: "key with a space inside", spec: spec("space-key"), secret: keyed("space-key", hostileKeys[0]), outcome: .condition("KeyMalformed")),
                Case(name: "newline-key", summary: "key with a newline inside", spec: spec("newline-key"), secret: keyed("newline-key", hostileKeys[1]), outcome: .condition("KeyMalformed")),
                Case(name: "huge-key", summary: "a 1 MiB key", spec: spec("huge-key"), secret: keyed("huge-key", hostileKeys[2]), outcome: .refusedOr("KeyMalformed")),
                Case(name: "big-key", summary: "a 700 KiB key", spec: spec("big-key"), secret: keyed("big-key", hostileKeys[3]), outcome: .condition("KeyMalformed")),
                Case(name: "binary-key", summary: "key that is not text", spec: spec("binary-key"), secret: ("binary-key", "Opaque", ["NGC_API_KEY": Data([0xff, 0xfe, 0x00, 0x80]).base64EncodedString()]), outcome: .condition("KeyMalformed")),
                Case(name: "legacy-key", summary: "an org key (not nvapi-)", spec: spec("legacy-key"), secret: keyed("legacy-key", hostileKeys[4]), outcome: .condition("LegacyKeyUnsupported")),
                Case(name: "rejected-key", summary: "a key NGC refuses", spec: spec("rejected-key"), secret: keyed("rejected-key", hostileKeys[5]), outcome: .condition("InvalidKey")),
                Case(name: "unentitled-key", summary: "a key not entitled to the model", spec: spec("unentitled-key"), secret: keyed("unentitled-key", hostileKeys[6]), outcome: .condition("KeyNotEntitled")),
                Case(name: "tls-secret", summary: "a Secret of type kubernetes.io/tls", spec: spec("tls-secret"),
                     secret: ("tls-secret", "kubernetes.io/tls", ["tls.crt": Data("cert".utf8).base64EncodedString(), "tls.key": Data("key".utf8).base64EncodedString()]), outcome: .condition("KeyNotInSecret")),
                Case(name: "docker-secret", summary: "a dockerconfigjson Secret", spec: spec("docker-secret"),
                     secret: ("docker-secret", "kubernetes.io/dockerconfigjson", [".dockerconfigjson": Data("{\"auths\":{}}".utf8).base64EncodedString()]), outcome: .condition("KeyNotInSecret")),
                Case(name: "wrong-data-key", summary: "apiKeySecretRef.key naming a missing data key", spec: ["model": .string(model), "apiKeySecretRef": ["name": "good-key", "key": "nope"]], outcome: .condition("KeyNotInSecret")),
                Case(name: "other-namespace-ref", summary: "a reference with a namespace field (pruned: looked up here)", spec: ["model": .string(model), "apiKeySecretRef": ["name": "only-in-team-b", "namespace": "team-b"]], outcome: .condition("KeySecretNotFound")),
                Case(name: "no-ref", summary: "no apiKeySecretRef", spec: ["model": .string(model)], outcome: .condition("KeyRequired")),
                Case(name: "missing-claim", summary: "existingClaim that does not exist", spec: spec("good-key", ["storage": ["existingClaim": "nope"]]), outcome: .condition("ClaimNotFound")),
                Case(name: "quantity-garbage", summary: "memory request that is not a quantity (int-or-string lets it through)", spec: spec("good-key", ["resources": ["requests": ["memory": "lots"]]]), outcome: .condition("InvalidSpec")),
                Case(name: "negative-memory", summary: "memory request -1Gi", spec: spec("good-key", ["resources": ["limits": ["memory": "-1Gi"]]]), outcome: .condition("InvalidSpec")),
            ]
            cases.sort { $0.name < $1.name }
            return cases
        }()

        @Test func eachCaseIsRefusedOrReportedAndNothingElseIsTouched() async throws {
            #expect(Self.cases.count >= 40)
            let env = try await NimEnvironment()
            env.ngc.reject(Self.hostileKeys[5])
            env.ngc.disentitle(Self.hostileKeys[6])
            var fleet = Fleet(env: env)
            let process = try OperatorProcess(env: env)
            try await fleet.create(2, prefix: "control")
            try await fleet.converge("the healthy deployments")
            try await env.createKeySecret("good-key", namespace: "team-a", key: Self.goodKey)
            try await env.createKeySecret("only-in-team-b", namespace: "team-b", key: Self.goodKey)
            let before = try await childVersions(env, fleet)
            let rolloutsBefore = fleet.members.map { env.rollouts(of: $0.name, namespace: $0.namespace) }

            var admitted: [Case] = []
            for item in Self.cases {
                var refusal: String?
                if let secret = item.secret {
                    var object = KubeObject(apiVersion: "v1", kind: "Secret", namespace: "team-a", name: secret.name)
                    object["type"] = .string(secret.type)
                    object["data"] = .object(secret.data.mapValues(JSON.string))
                    do { _ = try await env.client.apply(object, .secrets, fieldManager: "test-user") } catch { refusal = "\(error)" }
                }
                if refusal == nil {
                    var object = KubeObject(apiVersion: NimDeployment.resource.apiVersion, kind: NimDeployment.resource.kind, namespace: "team-a", name: item.name)
                    object["spec"] = item.spec
                    for (key, value) in item.metadata.objectValue ?? [:] { object[path: ["metadata", key]] = value }
                    do { _ = try await env.client.apply(object, NimDeployment.resource, fieldManager: "test-user") } catch { refusal = "\(error)" }
                }
                switch (item.outcome, refusal) {
                case (.refused(let message), let refusal?):
                    #expect(refusal.contains(message), "\(item): refused, but with \(refusal.prefix(300))")
                case (.refused, nil):
                    Issue.record("\(item): admitted; the schema should refuse it")
                case (.refusedOr, _?):
                    break
                case (_, let refusal?):
                    Issue.record("\(item): refused (\(refusal.prefix(300))); the operator should have handled it")
                default:
                    admitted.append(item)
                }
            }

            // Each admitted case: its condition and Event, or Ready.
            for item in admitted {
                do {
                try await eventually(timeout: 30, "\(item)") {
                    guard let object = try? await env.deployment(item.name) else { return false }
                    let conditions = object[dotted: "status.conditions"]?.arrayValue ?? []
                    guard object[dotted: "status.observedGeneration"]?.intValue == object.generation else { return false }
                    switch item.outcome {
                    case .ready:
                        return conditions.contains { $0["type"] == "Ready" && $0["status"] == "True" }
                    case .condition(let reason), .refusedOr(let reason):
                        let reported = conditions.contains { $0["reason"]?.stringValue == reason && $0["status"] != "True" }
                        let announced = try await !env.events(reason, of: item.name).isEmpty
                        return reported && announced
                    case .refused:
                        return false
                    }
                }
                } catch {
                    let status = try? await env.deployment(item.name)[dotted: "status.conditions"]?.serialized()
                    Issue.record("\(item): \(error); conditions: \(status?.prefix(600) ?? "none")")
                }
            }

            // Nothing else touched, nothing leaked, nothing crashed.
            #expect(try await childVersions(env, fleet) == before, "the healthy deployments' children were written")
            #expect(fleet.members.map { env.rollouts(of: $0.name, namespace: $0.namespace) } == rolloutsBefore)
            for member in fleet.members { try await env.waitFor("Ready", "True", of: member.name, namespace: member.namespace) }
            #expect(process.isRunning && process.troubles.isEmpty, "\(process.troubles)")
            let places = try await env.placesAKeyCouldLeak(deployment: "space-key")
            for key in Self.hostileKeys + [Self.goodKey] {
                let needle = String(key.prefix(40))
                #expect(!process.log.contains(needle), "a key in the operator's log")
                for (place, text) in places { #expect(!text.contains(needle), "a key in \(place)") }
            }
            let counted = Dictionary(grouping: Self.cases) { item -> String in
                switch item.outcome {
                case .refused: return "refused by the API server"
                case .ready: return "handled: Ready"
                case .condition, .refusedOr: return "handled: condition and Event"
                }
            }.mapValues(\.count)
            print("resilience: bad input: \(Self.cases.count) cases: \(counted.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")); healthy deployments untouched, no key leaked, operator running")
        }

        /// Every child of the healthy deployments, with its resourceVersion.
        func childVersions(_ env: NimEnvironment, _ fleet: Fleet) async throws -> [String: String] {
            var versions: [String: String] = [:]
            for member in fleet.members {
                let names = ChildNames(deployment: member.name)
                for (resource, name) in [(ResourceType.secrets, names.apiKeySecret), (.secrets, names.pullSecret), (.persistentVolumeClaims, names.claim),
                                         (KServe.servingRuntimes, names.runtime), (KServe.inferenceServices, names.inferenceService)] {
                    versions["\(member.namespace)/\(resource.plural)/\(name)"] = try await env.client.get(resource, namespace: member.namespace, name: name)[path: ["metadata", "resourceVersion"]]?.stringValue
                }
            }
            return versions
        }
    }
}

extension Resilience.BadInput {
    /// The catalog ConfigMap made empty, garbled or huge under running deployments: they are
    /// left as they run and say why; a new one is not half-built; the real catalog back,
    /// everything converges.
    @Test(arguments: ["empty", "garbled", "1 MiB"])
    func aBrokenCatalogStopsNothingThatRuns(_ damage: String) async throws {
        let env = try await NimEnvironment()
        var fleet = Fleet(env: env)
        let process = try OperatorProcess(env: env)
        try await fleet.create(2, prefix: "running")
        try await fleet.converge("before the catalog breaks")
        let before = try await childVersions(env, fleet)
        let original = try await env.client.get(.configMaps, namespace: NimEnvironment.operatorNamespace, name: "nim-model-metadata")

        var broken = original
        switch damage {
        case "empty": broken["data"] = [:]
        case "garbled": broken["data"] = .object(Dictionary(uniqueKeysWithValues: (KubeObject.stringMap(original["data"]).keys).map { ($0, JSON.string("{\"name\": ")) }))
        default: broken["data"] = ["llama-3.1-8b-instruct": .string(String(repeating: "x", count: 1 << 20))]
        }
        var refused = false
        do { _ = try await env.client.update(broken, .configMaps) } catch { refused = true }
        if !refused {
            // The running ones say so first (the operator has seen the broken catalog), then a newcomer arrives.
            let running = fleet.members[0]
            try await eventually(timeout: 30, "a running deployment reports the catalog") {
                let conditions = try await env.deployment(running.name, namespace: running.namespace)[dotted: "status.conditions"]?.arrayValue ?? []
                return conditions.contains { $0["reason"] == "CatalogUnavailable" || $0["reason"] == "ModelNotFound" }
            }
            try await eventually(timeout: 10, "an Event says why") {
                let unavailable = try await env.events("CatalogUnavailable", of: running.name, namespace: running.namespace)
                let notFound = try await env.events("ModelNotFound", of: running.name, namespace: running.namespace)
                return !(unavailable + notFound).isEmpty
            }
            try await fleet.create(1, prefix: "newcomer")
            let newcomer = try #require(fleet.members.last)
            try await eventually(timeout: 30, "the newcomer reports the catalog") {
                let conditions = try await env.deployment(newcomer.name, namespace: newcomer.namespace)[dotted: "status.conditions"]?.arrayValue ?? []
                return conditions.contains { $0["reason"] == "CatalogUnavailable" || $0["reason"] == "ModelNotFound" }
            }
            let built = try await env.children(namespace: newcomer.namespace).values.joined().filter { $0.hasSuffix("newcomer-0") }
            #expect(built.isEmpty, "nothing built: \(built)")
            #expect(try await childVersions(env, fleet, only: "running") == before, "running deployments left as they run")
        }
        var restored = try await env.client.get(.configMaps, namespace: NimEnvironment.operatorNamespace, name: "nim-model-metadata")
        restored["data"] = original["data"]
        _ = try await env.client.update(restored, .configMaps)
        let seconds = try await fleet.converge("after the catalog is back")
        report("catalog ConfigMap \(damage)\(refused ? " (refused by the API server)" : "")", converged: seconds, "running deployments untouched, a new one not built, all Ready once restored")
        #expect(process.isRunning && process.troubles.isEmpty)
    }

    func childVersions(_ env: NimEnvironment, _ fleet: Fleet, only prefix: String) async throws -> [String: String] {
        var only = fleet
        only.keep { $0.name.hasPrefix(prefix) }
        return try await childVersions(env, only)
    }
}
