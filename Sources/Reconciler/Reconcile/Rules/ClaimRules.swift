import KubeCore

/// The claims a deployment mounts, and what its replicas can do with them.
enum ClaimRules {
    /// An existingClaim must exist; a claim under the deployment's claim name (kept from an
    /// earlier deployment, or its own) must fit the spec. Returns the size to request when the
    /// claim there is larger than the spec asks.
    static func check(_ deployment: NimDeployment, names: ChildNames, children: Observation.Children) throws(DeploymentProblem) -> JSON? {
        let storage = deployment.spec.storage
        if let claim = storage.existingClaim {
            guard children.existingClaim != nil else { throw .claimNotFound(claim: claim) }
            return nil
        }
        guard let live = children.claim else { return nil }
        switch ClaimFit.check(live, storage: storage) {
        case .fits(let keepSize): return keepSize
        case .mismatch(let differences): throw .claimMismatch(claim: names.claim, differences: differences, retained: isRetained(live, of: deployment))
        }
    }

    /// A claim no owner reference ties to this very deployment: kept from an earlier one.
    static func isRetained(_ claim: KubeObject?, of deployment: NimDeployment) -> Bool {
        guard let claim else { return false }
        return !claim.ownerReferences.contains { $0.uid == deployment.object.uid }
    }

    /// The API server refused the claim's change (a class without volume expansion).
    static func refused(_ claim: String, message: String, live: KubeObject?, of deployment: NimDeployment) -> DeploymentProblem {
        .claimMismatch(claim: claim, differences: ["the API server refused the change: \(message)"], retained: isRetained(live, of: deployment))
    }

    /// More than one replica on a claim only one node (or one pod) can mount: the replicas KServe
    /// places on other nodes stay Pending on the volume. Said before that happens.
    static func scaleWarning(_ deployment: NimDeployment, existingClaim: KubeObject?) -> String? {
        let spec = deployment.spec
        guard spec.maxReplicas > 1 else { return nil }
        let claimName = spec.storage.existingClaim ?? ChildNames(deployment: deployment.name).claim
        let modes = spec.storage.existingClaim == nil
            ? [spec.storage.accessMode]
            : (existingClaim?[path: ["spec", "accessModes"]]?.arrayValue ?? []).compactMap(\.stringValue)
        if modes.contains("ReadWriteMany") || modes.contains("ReadOnlyMany") { return nil }
        if modes.contains("ReadWriteOncePod") {
            return "replicas.max is \(spec.maxReplicas) but the cache claim \(claimName) is ReadWriteOncePod: only one pod can mount it, so every other replica stays Pending. Use a ReadWriteMany claim (a storage class that offers it), or replicas.max 1."
        }
        guard modes.contains("ReadWriteOnce") else { return nil }
        return "replicas.max is \(spec.maxReplicas) but the cache claim \(claimName) is ReadWriteOnce: replicas scheduled on another node than the first cannot mount it and stay Pending. Use a ReadWriteMany claim (spec.storage.accessMode, with a storage class that offers it), or replicas.max 1."
    }
}
