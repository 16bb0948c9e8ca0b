import Foundation
import Testing
import KubeCore
import KubeAPI
import Reconciler
import TestSupport

/// A set of NimDeployments with the key each must end up holding, and the check that the world
/// is whole again after a fault: every deployment Ready for its current generation, exactly its
/// five children, owned by it, no strays, and both Secrets holding the right key.
struct Fleet {
    struct Member: Hashable {
        var namespace: String
        var name: String
        var keySecret: String
    }

    let env: NimEnvironment
    private(set) var members: [Member] = []
    /// The key in each user Secret, by namespace/name.
    private(set) var keys: [String: String] = [:]

    init(env: NimEnvironment) { self.env = env }

    static func key(_ n: Int) -> String { "nvapi-resilience-\(String(n, radix: 16))-0123456789abcdef" }

    /// `count` deployments spread over team-a and team-b, each pair sharing a key Secret.
    mutating func create(_ count: Int, prefix: String = "m", models: [String] = ["llama-3.1-8b-instruct"]) async throws {
        for index in 0..<count {
            let namespace = index % 2 == 0 ? "team-a" : "team-b"
            let secret = "\(prefix)-key-\(index / 4)"
            if keys["\(namespace)/\(secret)"] == nil {
                let key = Self.key(keys.count + members.count * 7 + 1)
                try await retrying { try await env.createKeySecret(secret, namespace: namespace, key: key) }
                keys["\(namespace)/\(secret)"] = key
            }
            let name = "\(prefix)-\(index)"
            let spec: JSON = ["model": .string(models[index % models.count]), "apiKeySecretRef": ["name": .string(secret)]]
            _ = try await retrying { try await env.deploy(name, namespace: namespace, spec: spec) }
            members.append(Member(namespace: namespace, name: name, keySecret: secret))
        }
    }

    /// Rotates the key of one user Secret; returns its new value.
    @discardableResult
    mutating func rotate(_ member: Member, to key: String) async throws -> String {
        try await retrying { try await env.setKey(key, secret: member.keySecret, namespace: member.namespace) }
        keys["\(member.namespace)/\(member.keySecret)"] = key
        return key
    }

    func expectedKey(_ member: Member) -> String? { keys["\(member.namespace)/\(member.keySecret)"] }

    /// Only the members that pass (for checks about some of them).
    mutating func keep(_ wanted: (Member) -> Bool) { members.removeAll { !wanted($0) } }

    /// Waits until everything holds; afterwards reports what does not (as test issues).
    /// Returns the seconds it took.
    @discardableResult
    func converge(timeout: TimeInterval = 60, _ what: String) async throws -> TimeInterval {
        let started = Date()
        var last: [String] = []
        while true {
            last = (try? await problems()) ?? ["the API server does not answer"]
            if last.isEmpty { return Date().timeIntervalSince(started) }
            if Date().timeIntervalSince(started) > timeout {
                Issue.record("\(what): not converged within \(Int(timeout)) s: \(last.prefix(8).joined(separator: "; "))")
                return timeout
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }

    /// Everything wrong with the world right now; empty when whole.
    func problems() async throws -> [String] {
        var problems: [String] = []
        let selector = LabelSelector(matching: [ChildLabels.managedBy: "nim-deploy-operator"])
        for namespace in Set(members.map(\.namespace)).sorted() {
            let deployments = Dictionary(
                try await env.client.list(NimDeployment.resource, namespace: namespace).items.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            var children: [String: [KubeObject]] = [:]
            for resource in [ResourceType.secrets, .persistentVolumeClaims, KServe.servingRuntimes, KServe.inferenceServices] {
                for child in try await env.client.list(resource, namespace: namespace, options: ListOptions(labelSelector: selector)).items {
                    let owner = child.annotations[ChildLabels.deploymentNameAnnotation] ?? "?"
                    children[owner, default: []].append(child)
                }
            }
            // No stray: every labelled child belongs to a deployment that exists, by uid.
            for (owner, objects) in children {
                guard let deployment = deployments[owner] else {
                    problems.append("\(namespace): \(objects.count) children of \(owner), which does not exist")
                    continue
                }
                for object in objects {
                    let controllers = object.ownerReferences.filter { $0.controller == true }
                    // The cache claim is kept when its deployment goes (storage.whenDeleted: Retain,
                    // the default), so it carries no owner; anything owned must be owned right.
                    if object.kind == "PersistentVolumeClaim" && controllers.isEmpty { continue }
                    if controllers.count != 1 || controllers.first?.uid != deployment.uid {
                        problems.append("\(namespace)/\(object.name) (\(object.kind)) is not owned by \(owner)'s current uid")
                    }
                }
            }
            for member in members where member.namespace == namespace {
                let label = "\(namespace)/\(member.name)"
                guard let deployment = deployments[member.name] else {
                    problems.append("\(label) is gone")
                    continue
                }
                let ready = deployment[dotted: "status.conditions"]?.arrayValue?.first { $0["type"] == "Ready" }
                if ready?["status"] != "True" || deployment[dotted: "status.observedGeneration"]?.intValue != deployment.generation {
                    problems.append("\(label) not Ready: \(ready?["reason"]?.stringValue ?? "no condition") \(ready?["message"]?.stringValue ?? "")")
                    continue
                }
                let names = ChildNames(deployment: member.name)
                let kinds = (children[member.name] ?? []).map { "\($0.kind)/\($0.name)" }.sorted()
                let expected = [
                    "InferenceService/\(names.inferenceService)", "PersistentVolumeClaim/\(names.claim)", "Secret/\(names.apiKeySecret)",
                    "Secret/\(names.pullSecret)", "ServingRuntime/\(names.runtime)",
                ].sorted()
                if kinds != expected { problems.append("\(label) has children \(kinds)") }
                let held = try await env.keysInSecrets(of: member.name, namespace: namespace)
                if held.apiKey != expectedKey(member) || held.pull != expectedKey(member) {
                    problems.append("\(label) Secrets hold the wrong key (\(fingerprint(held.apiKey)), \(fingerprint(held.pull)); want \(fingerprint(expectedKey(member))))")
                }
            }
            // No duplicate serving objects, labelled or not.
            let runtimes = try await env.client.list(KServe.servingRuntimes, namespace: namespace).items.count
            let services = try await env.client.list(KServe.inferenceServices, namespace: namespace).items.count
            let wanted = members.filter { $0.namespace == namespace }.count
            if runtimes != wanted || services != wanted { problems.append("\(namespace): \(runtimes) runtimes and \(services) InferenceServices for \(wanted) deployments") }
        }
        return problems
    }

    private func fingerprint(_ key: String?) -> String { key.map { APIKey($0).fingerprint } ?? "none" }
}

/// Retries an action through API faults: the test's own writes must land even while the
/// server misbehaves (a person would retry too).
func retrying<T>(timeout: TimeInterval = 30, _ action: () async throws -> T) async throws -> T {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        do { return try await action() } catch {
            if Date() > deadline { throw error }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }
}
