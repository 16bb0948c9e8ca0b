
/// What a deployment finds under its children's names that this operator did not make.
struct Takeover: Sendable, Equatable {
    /// The cache claim, env and pull secrets to keep (a legacy runtime's, or as remembered since).
    var settings: AdoptedSettings?
    /// What is being taken over now, for the Event.
    var adopting: [String] = []

    /// The Event's message once the runtime is written.
    var announcement: String? {
        guard !adopting.isEmpty else { return nil }
        return "Took over \(adopting.joined(separator: " and ")) as they run"
            + (settings?.claim.map { "; the model cache stays on claim \($0), which is never modified or deleted" } ?? "")
            + (settings.map { $0.env.isEmpty && $0.pullSecrets.isEmpty ? "" : "; its other env vars and pull secrets are kept" } ?? "") + "."
    }
}

enum TakeoverRules {
    /// A ServingRuntime or InferenceService of the deployment's name that this operator did not
    /// make is taken over when it is a legacy NIM deployment's (migrated or not: the Secrets are
    /// repointed to the deployment's own, the cache claim is kept and never touched), and
    /// refused otherwise: an unrelated object is never overwritten. Nil when the InferenceService
    /// the caches do not list must be read first.
    static func takeover(names: ChildNames, children: Observation.Children) throws(DeploymentProblem) -> Takeover? {
        if let ours = children.runtime { return Takeover(settings: AdoptedSettings(annotations: ours.annotations)) }
        var takeover = Takeover()
        if let foreign = children.foreignRuntime {
            let legacy = LegacyRuntime(foreign)
            guard legacy.isNIM else { throw .resourceConflict(kind: "ServingRuntime", name: names.runtime, why: "it is not a NIM runtime") }
            let containers = (foreign[path: ["spec", "containers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            guard containers.contains("kserve-container") else {
                throw .resourceConflict(kind: "ServingRuntime", name: names.runtime, why: "it has no kserve-container container")
            }
            takeover.settings = AdoptedSettings(takingOver: legacy)
            takeover.adopting.append("ServingRuntime \(names.runtime)")
        }
        // Not in the cache of this operator's InferenceServices: it must be asked for, once,
        // before one is created.
        guard children.inferenceService == nil else { return takeover }
        guard let lookup = children.unlistedService else { return nil }
        guard let service = try lookup.get(), service.labels[ChildLabels.managedBy] != ChildLabels.operatorName else { return takeover }
        let runtime = service[path: ["spec", "predictor", "model", "runtime"]]?.stringValue
        guard runtime == names.runtime || (runtime == nil && !takeover.adopting.isEmpty) else {
            throw .resourceConflict(kind: "InferenceService", name: names.inferenceService, why: "it serves runtime \(runtime ?? "chosen by KServe"), not \(names.runtime)")
        }
        takeover.adopting.append("InferenceService \(names.inferenceService)")
        return takeover
    }
}
