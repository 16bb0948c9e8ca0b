import KubeCore
import KubeAPI

/// What a cleanup did (or, dry, would do) in one namespace.
public struct CleanupOutcome: Sendable, Equatable {
    public struct Kept: Sendable, Equatable {
        public var secret: String
        /// `Kind/name (where)`, one per reference.
        public var users: [String]
    }

    public var namespace: String
    /// Deleted, or in a dry run to be deleted.
    public var deleted: [String] = []
    public var kept: [Kept] = []

    public var json: JSON {
        [
            "namespace": .string(namespace), "deleted": .array(deleted.map(JSON.string)),
            "kept": .array(kept.map { ["secret": .string($0.secret), "users": .array($0.users.map(JSON.string))] }),
        ]
    }
}

extension Migrator {
    /// Deletes the Secrets migration moved deployments away from (contract section 6, step 5),
    /// each only if nothing in the namespace still names it: a ServingRuntime, an
    /// InferenceService's predictor, a pod template (Deployment, StatefulSet, DaemonSet,
    /// ReplicaSet, Job, CronJob), a Pod, a ServiceAccount, a NimDeployment. `ngc-secret` in particular is a
    /// generic name other workloads use. Secrets no migration recorded are never candidates.
    public func cleanup(namespace: String, dryRun: Bool) async throws(KubeError) -> CleanupOutcome {
        var outcome = CleanupOutcome(namespace: namespace)
        let runtimes = try await client.listAll(KServe.servingRuntimes, namespace: namespace).items
        // Only legacy names, whatever an annotation says: a copied or edited one never gets an
        // unrelated Secret deleted.
        let sources = Set(runtimes.flatMap { runtime in
            LegacyRuntime(runtime).migratedFrom.filter { LegacySecrets.kind(of: $0, deployment: runtime.name) != nil }
        })
        guard !sources.isEmpty else { return outcome }
        let users = try await references(in: namespace, runtimes: runtimes)
        for name in sources.sorted() {
            let secret: KubeObject
            do {
                secret = try await client.getMetadata(.secrets, namespace: namespace, name: name)
            } catch {
                if error.isNotFound { continue }
                throw error
            }
            if let using = users[name], !using.isEmpty {
                outcome.kept.append(.init(secret: name, users: using))
                continue
            }
            if !dryRun {
                do {
                    // The one we looked at: not a namesake made since.
                    _ = try await client.delete(.secrets, namespace: namespace, name: name, options: DeleteOptions(preconditionUID: secret.uid))
                } catch {
                    if !error.isNotFound { throw error }
                }
            }
            outcome.deleted.append(name)
        }
        return outcome
    }

    static let podTemplates: [(ResourceType, [String])] = [
        (.deployments, ["spec", "template", "spec"]),
        (ResourceType(group: "apps", version: "v1", plural: "statefulsets", kind: "StatefulSet", namespaced: true), ["spec", "template", "spec"]),
        (ResourceType(group: "apps", version: "v1", plural: "daemonsets", kind: "DaemonSet", namespaced: true), ["spec", "template", "spec"]),
        (ResourceType(group: "apps", version: "v1", plural: "replicasets", kind: "ReplicaSet", namespaced: true), ["spec", "template", "spec"]),
        (ResourceType(group: "batch", version: "v1", plural: "jobs", kind: "Job", namespaced: true), ["spec", "template", "spec"]),
        (ResourceType(group: "batch", version: "v1", plural: "cronjobs", kind: "CronJob", namespaced: true), ["spec", "jobTemplate", "spec", "template", "spec"]),
    ]

    /// Who names which Secret in a namespace.
    func references(in namespace: String, runtimes: [KubeObject]) async throws(KubeError) -> [String: [String]] {
        var users: [String: [String]] = [:]
        func add(_ found: [SecretReference], _ owner: String) {
            for reference in found { users[reference.secret, default: []].append("\(owner) (\(reference))") }
        }
        for runtime in runtimes { add(SecretReference.inPodSpec(runtime["spec"]), "ServingRuntime/\(runtime.name)") }
        // Workloads with pod templates, idle ones too (a StatefulSet scaled to 0 has no Pod).
        // A kind the cluster does not serve has nothing to say.
        for (resource, path) in Self.podTemplates {
            let items: [KubeObject]
            do {
                items = try await client.listAll(resource, namespace: namespace).items
            } catch {
                if error.isNotFound { continue }
                throw error
            }
            for item in items { add(SecretReference.inPodSpec(item[path: path]), "\(resource.kind)/\(item.name)") }
        }
        for service in try await client.listAll(KServe.inferenceServices, namespace: namespace).items {
            add(SecretReference.inPodSpec(service[path: ["spec", "predictor"]]), "InferenceService/\(service.name)")
        }
        for pod in try await client.listAll(.pods, namespace: namespace).items { add(SecretReference.inPodSpec(pod["spec"]), "Pod/\(pod.name)") }
        for account in try await client.listAll(.serviceAccounts, namespace: namespace).items {
            let names = (account["secrets"]?.arrayValue ?? []) + (account["imagePullSecrets"]?.arrayValue ?? [])
            add(names.compactMap { $0["name"]?.stringValue }.map { SecretReference(secret: $0, place: .serviceAccount) }, "ServiceAccount/\(account.name)")
        }
        for deployment in try await client.listAll(NimDeployment.resource, namespace: namespace).items {
            if let name = deployment[path: ["spec", "apiKeySecretRef", "name"]]?.stringValue {
                users[name, default: []].append("NimDeployment/\(deployment.name) (apiKeySecretRef)")
            }
        }
        return users
    }
}
