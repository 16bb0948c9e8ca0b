import KubeWatch

extension NimReconciler {
    /// The claims the deployment mounts: an existingClaim must exist; a claim under the
    /// deployment's claim name (kept from an earlier deployment, or its own) must fit the spec.
    /// Returns the size to request when the claim there is larger than the spec asks.
    func checkClaim(_ deployment: NimDeployment, names: ChildNames) throws(DeploymentProblem) -> JSON? {
        let storage = deployment.spec.storage
        if let claim = storage.existingClaim {
            guard view.claims.get(namespace: deployment.namespace, name: claim) != nil else { throw .claimNotFound(claim: claim) }
            return nil
        }
        guard let live = view.claims.get(namespace: deployment.namespace, name: names.claim) else { return nil }
        switch ClaimFit.check(live, storage: storage) {
        case .fits(let keepSize): return keepSize
        case .mismatch(let differences): throw .claimMismatch(claim: names.claim, differences: differences, retained: isRetained(live, of: deployment))
        }
    }

    /// A claim no owner reference ties to this very deployment: kept from an earlier one.
    func isRetained(_ claim: KubeObject?, of deployment: NimDeployment) -> Bool {
        guard let claim else { return false }
        return !claim.ownerReferences.contains { $0.uid == deployment.object.uid }
    }

    /// The digest of the CA bundle the spec names, or nil without one.
    func caBundleDigest(_ deployment: NimDeployment) async throws(DeploymentProblem) -> String? {
        guard let bundle = deployment.spec.pod.proxy?.caBundle else { return nil }
        return try await caBundles.digest(of: bundle, namespace: deployment.namespace)
    }

    /// More than one replica on a claim only one node (or one pod) can mount: the replicas KServe
    /// places on other nodes stay Pending on the volume. Said before that happens.
    func scaleWarning(_ deployment: NimDeployment) -> String? {
        let spec = deployment.spec
        guard spec.maxReplicas > 1 else { return nil }
        let claimName = spec.storage.existingClaim ?? ChildNames(deployment: deployment.name).claim
        let modes = spec.storage.existingClaim == nil
            ? [spec.storage.accessMode]
            : (view.claims.get(namespace: deployment.namespace, name: claimName)?[path: ["spec", "accessModes"]]?.arrayValue ?? []).compactMap(\.stringValue)
        if modes.contains("ReadWriteMany") || modes.contains("ReadOnlyMany") { return nil }
        if modes.contains("ReadWriteOncePod") {
            return "replicas.max is \(spec.maxReplicas) but the cache claim \(claimName) is ReadWriteOncePod: only one pod can mount it, so every other replica stays Pending. Use a ReadWriteMany claim (a storage class that offers it), or replicas.max 1."
        }
        guard modes.contains("ReadWriteOnce") else { return nil }
        return "replicas.max is \(spec.maxReplicas) but the cache claim \(claimName) is ReadWriteOnce: replicas scheduled on another node than the first cannot mount it and stay Pending. Use a ReadWriteMany claim (spec.storage.accessMode, with a storage class that offers it), or replicas.max 1."
    }
}
