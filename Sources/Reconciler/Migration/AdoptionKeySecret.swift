import KubeCore
import KubeAPI

extension Migrator {
    /// The Secret an adopting NimDeployment names in `apiKeySecretRef`: the user's own copy of
    /// the key, with no owner. Not the shared Secret (cleanup deletes it once nothing uses it,
    /// and the NimDeployment is not applied yet when cleanup looks) and not the deployment's own
    /// `nvidia-nim-secrets-<d>` (garbage collected with the NimDeployment, key and all).
    public static func adoptionKeySecret(_ deployment: String) -> String { "ngc-api-key-\(deployment)" }

    /// Makes that Secret (or finds it holding the same key) for a migrated deployment, copying
    /// the key from the deployment's own Secret. The step is added to `outcome`; a Secret of that
    /// name holding another key is never overwritten: the outcome is then blocked.
    public func ensureAdoptionKeySecret(_ outcome: inout MigrationOutcome, dryRun: Bool) async -> String? {
        let name = Self.adoptionKeySecret(outcome.deployment)
        let source = ChildNames(deployment: outcome.deployment).apiKeySecret
        do {
            if dryRun {
                outcome.steps.append("6. adopt: create Secret \(name) with the key (no owner), named by the NimDeployment's apiKeySecretRef")
                return name
            }
            let key = try await readKey(secret: source, dataKey: nil, kind: .key, registry: "nvcr.io", outcome: outcome)
            do {
                let existing = try await client.get(.secrets, namespace: outcome.namespace, name: name)
                guard (try? APIKey.read(fromSecretData: KubeObject.stringMap(existing["data"])).get())?.key == key else {
                    throw blocked(
                        outcome, "SecretConflict",
                        "Secret \(name) exists and does not hold the key \(key.fingerprint) of this deployment; it is not overwritten, and the NimDeployment is not printed. Put that key in it, or delete it, and run again.")
                }
                outcome.steps.append("6. adopt: Secret \(name) holds the key: kept")
            } catch let error as KubeError where error.isNotFound {
                var secret = KubeObject(apiVersion: "v1", kind: "Secret", namespace: outcome.namespace, name: name)
                secret["type"] = "Opaque"
                secret["data"] = DesiredState.apiKeyData(key)
                secret.labels = [ChildLabels.partOf: "nim-integration"]
                secret.annotations = [Self.adoptedForAnnotation: outcome.deployment]
                _ = try await client.create(secret, .secrets, fieldManager: Self.fieldManager)
                outcome.steps.append("6. adopt: created Secret \(name) with the key (no owner), named by the NimDeployment's apiKeySecretRef")
            }
            return name
        } catch let stop as Stop {
            outcome = stop.outcome
        } catch {
            outcome.state = .failed
            outcome.reason = "APIServerError"
            outcome.message = "The API server failed while making Secret \(name) (\(error)); running again continues where it stopped."
        }
        return nil
    }

    public static let adoptedForAnnotation = "nim.opendatahub.io/adopted-for"
}
