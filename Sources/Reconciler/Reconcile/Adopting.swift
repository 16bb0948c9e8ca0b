import KubeWatch

extension NimReconciler {
    /// What a deployment finds under its children's names that this operator did not make.
    struct Takeover {
        /// The cache claim, env and pull secrets to keep (a legacy runtime's, or as remembered since).
        var settings: AdoptedSettings?
        /// What is being taken over now, for the Event.
        var adopting: [String] = []
    }

    /// A ServingRuntime or InferenceService of the deployment's name that this operator did not
    /// make is taken over when it is a legacy NIM deployment's (migrated or not: the Secrets are
    /// repointed to the deployment's own, the cache claim is kept and never touched), and
    /// refused otherwise: an unrelated object is never overwritten.
    func takeover(_ deployment: NimDeployment, names: ChildNames) async throws(DeploymentProblem) -> Takeover {
        let namespace = deployment.namespace
        if let ours = view.runtimes.get(namespace: namespace, name: names.runtime) {
            return Takeover(settings: AdoptedSettings(annotations: ours.annotations))
        }
        var takeover = Takeover()
        if let foreign = view.foreignRuntimes.get(namespace: namespace, name: names.runtime) {
            let legacy = LegacyRuntime(foreign)
            guard legacy.isNIM else { throw .resourceConflict(kind: "ServingRuntime", name: names.runtime, why: "it is not a NIM runtime") }
            let containers = (foreign[path: ["spec", "containers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            guard containers.contains("kserve-container") else {
                throw .resourceConflict(kind: "ServingRuntime", name: names.runtime, why: "it has no kserve-container container")
            }
            takeover.settings = AdoptedSettings(takingOver: legacy)
            takeover.adopting.append("ServingRuntime \(names.runtime)")
        }
        // Not in the cache of this operator's InferenceServices: ask, once, before creating one.
        if view.inferenceServices.get(namespace: namespace, name: names.inferenceService) == nil {
            do {
                let service = try await client.get(KServe.inferenceServices, namespace: namespace, name: names.inferenceService)
                if service.labels[ChildLabels.managedBy] != ChildLabels.operatorName {
                    let runtime = service[path: ["spec", "predictor", "model", "runtime"]]?.stringValue
                    guard runtime == names.runtime || (runtime == nil && !takeover.adopting.isEmpty) else {
                        throw DeploymentProblem.resourceConflict(
                            kind: "InferenceService", name: names.inferenceService, why: "it serves runtime \(runtime ?? "chosen by KServe"), not \(names.runtime)")
                    }
                    takeover.adopting.append("InferenceService \(names.inferenceService)")
                }
            } catch let error as KubeError {
                if !error.isNotFound { throw ChildApplier.problem(error, object: "InferenceService \(names.inferenceService)") }
            } catch let problem as DeploymentProblem {
                throw problem
            } catch {
                throw .apiUnavailable("\(error)")
            }
        }
        return takeover
    }
}
