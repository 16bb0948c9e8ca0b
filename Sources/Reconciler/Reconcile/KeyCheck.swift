import Foundation
import KubeWatch

extension NimReconciler {
    /// The key the deployment names, read but not yet validated; `nil` when disconnected. Each
    /// new version of the Secret seen here counts as a change for the settle window.
    func readKey(_ deployment: NimDeployment, report: inout StatusReport) async throws(DeploymentProblem) -> APIKey? {
        if options.disconnected {
            report.set(
                ConditionType.keyValid, .true, "KeyNotRequired",
                "Disconnected: no key is collected; the cluster's global pull secret and mirror settings serve.")
            return nil
        }
        guard let reference = deployment.spec.apiKeySecretRef else { throw .keyRequired }
        let (key, version) = try await keys.key(for: reference, namespace: deployment.namespace)
        log.debug("key read", ["deployment": .string("\(deployment.namespace)/\(deployment.name)"), "secret": .string(reference.name), "version": .string(version), "fingerprint": .string(key.fingerprint)])
        keyChanges.observe(ObjectKey(namespace: deployment.namespace, name: reference.name), version: version, at: time.now)
        report.candidateFingerprint = key.fingerprint
        guard key.isPersonal else { throw .legacyKeyUnsupported(secret: reference.name, fingerprint: key.fingerprint) }
        return key
    }

    /// Asks NGC whether the key is good for the image. With `answeredSince`, only an answer
    /// given after that moment counts: a new key, or pods about to restart with it, must be
    /// good now (and one such answer serves every deployment sharing the key).
    func validate(_ key: APIKey, for deployment: NimDeployment, image: ResolvedImage, answeredSince: Date?, report: inout StatusReport) async throws(DeploymentProblem) {
        let secret = deployment.spec.apiKeySecretRef?.name ?? ""
        if options.disableKeyValidation {
            report.set(ConditionType.keyValid, .true, "ValidationDisabled", "The key (\(key.fingerprint)) is not checked with NGC: key validation is disabled.")
            return
        }
        switch await ngc.verify(key, repository: Self.ngcRepository(image.image), answeredSince: answeredSince) {
        case .valid:
            report.set(ConditionType.keyValid, .true, "KeyValid", "NGC accepts the key (\(key.fingerprint)).")
        case .invalid(let code):
            throw .invalidKey(secret: secret, code: code, fingerprint: key.fingerprint)
        case .notEntitled:
            throw .keyNotEntitled(repository: image.image.repository)
        case .regionRestricted:
            throw .regionRestricted(model: image.model)
        case .unreachable(let why):
            // A key NGC accepted before is trusted while NGC is down: an outage must not stop
            // spec changes to a working deployment. Restarting pods waits for an answer.
            let previous = report.previousCondition(ConditionType.keyValid)
            guard answeredSince == nil, report.fields["keyFingerprint"]?.stringValue == key.fingerprint, previous?.status == .true else { throw .ngcUnreachable(why) }
            report.set(ConditionType.keyValid, .true, "KeyValid", "NGC cannot be asked now; it accepted the key (\(key.fingerprint)) before.")
        }
    }

    /// NGC's org/team/name for images on nvcr.io; other registries are not NGC's to judge.
    static func ngcRepository(_ image: ImageReference) -> (org: String, team: String, name: String)? {
        guard image.registry == "nvcr.io" else { return nil }
        let parts = image.path.split(separator: "/").map(String.init)
        guard parts.count == 3 else { return nil }
        return (parts[0], parts[1], parts[2])
    }
}
