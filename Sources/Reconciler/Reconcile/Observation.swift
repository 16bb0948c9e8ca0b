import Foundation
import KubeCore
import KubeAPI

/// Everything one reconcile decides from, as a value: the deployment, its children as the
/// caches hold them, what was read on purpose (the key, NGC's verdict on it, the CA bundle, an
/// InferenceService the caches do not list), and what this process last wrote that the caches
/// have not seen yet. `Decide.decision(_:)` turns it into what to do, without I/O.
public struct Observation: Sendable {
    /// The NimDeployment as cached.
    public var object: KubeObject
    /// Its status: the one this process wrote last while the cache does not show it yet.
    public var status: JSON?
    public var now: Date
    public var options: ReconcilerOptions
    public var catalog: CatalogStore.State
    /// Where the catalog comes from, for messages (`namespace/name`).
    public var catalogSource: String
    public var children = Children()
    /// The predictor pods, trimmed.
    public var pods: [KubeObject] = []
    /// The namespace's ResourceQuotas.
    public var quotas: [KubeObject] = []
    /// The key the user's Secret holds; nil until the decision asks for it.
    public var key: KeyReading?
    /// When the key Secret's versions were seen (the settle rule's input).
    public var keySighting: WriteLedger.KeySighting?
    /// NGC's verdict on the key, for the question the decision asked.
    public var verdict: KeyVerdict?
    /// The CA bundle's digest, or why there is none; nil until asked for.
    public var caBundle: Result<String, DeploymentProblem>?
    /// The restart token the InferenceService holds (this process's last write while the cache
    /// has not seen it).
    public var liveToken: RestartToken?
    /// The model's answer to the probe the decision asked for.
    public var modelVerdict: ModelVerdict?
    /// A canary's metrics, for a step's analysis.
    public var traffic: Result<TrafficReading, TransportError>?
    /// spec.idleShutdown: when the model's requests were last read and last moved.
    public var activity: WriteLedger.Activity?
    /// The read of them the decision asked for failed (a model that cannot be reached is not idle).
    public var activityUnreadable = false

    public init(object: KubeObject, status: JSON? = nil, now: Date, options: ReconcilerOptions, catalog: CatalogStore.State, catalogSource: String) {
        self.object = object
        self.status = status ?? object["status"]
        self.now = now
        self.options = options
        self.catalog = catalog
        self.catalogSource = catalogSource
    }

    public struct Children: Sendable {
        /// This operator's ServingRuntime and InferenceService of the deployment's names.
        public var runtime: KubeObject?
        public var inferenceService: KubeObject?
        /// A ServingRuntime of the deployment's runtime name this operator did not make.
        public var foreignRuntime: KubeObject?
        /// An InferenceService of the deployment's name the caches do not list (someone
        /// else's), once asked for: nil inside means there is none.
        public var unlistedService: Result<KubeObject?, DeploymentProblem>?
        /// The claim under the deployment's claim name, and the one spec.storage.existingClaim names.
        public var claim: KubeObject?
        public var existingClaim: KubeObject?
        /// The Jobs filling the cache claim (spec.storage.preload), trimmed.
        public var cacheJobs: [KubeObject] = []
        /// A progressive rollout's candidate InferenceService and runtime.
        public var candidateService: KubeObject?
        public var candidateRuntime: KubeObject?

        public init() {}
    }

    public enum KeyReading: Sendable, Equatable {
        case read(APIKey, version: String)
        case failed(DeploymentProblem)
    }

    /// What the decision needs read before it can be made.
    public enum Need: Sendable, Equatable, CustomStringConvertible {
        case key(NimDeployment.KeyReference)
        /// NGC's verdict: is the key good for this repository, answered no earlier than `since`.
        case verdict(APIKey, repository: ImageReference, answeredSince: Date?)
        case caBundle(PodSettings.CABundle)
        case unlistedInferenceService(String)
        /// Ask the model whether it answers.
        case verification(ModelProbe)
        /// Read a canary's metrics (its address).
        case traffic(String)
        /// Read the model's request counters (spec.idleShutdown), at its address.
        case activity(String)

        public var description: String {
            switch self {
            case .key(let reference): return "the key in Secret \(reference.name)"
            case .verdict(let key, _, _): return "NGC's verdict on key \(key.fingerprint)"
            case .caBundle(let bundle): return "CA bundle \(bundle.configMapName)"
            case .unlistedInferenceService(let name): return "InferenceService \(name)"
            case .verification(let probe): return "the model at \(probe.address)"
            case .traffic(let address): return "the metrics at \(address)"
            case .activity(let address): return "the request counters at \(address)"
            }
        }
    }
}

extension NimReconciler {
    /// Reads what the deployment's decision rests on: the caches first, then, one at a time,
    /// what the rules ask for (each read only when an earlier rule did not already stop).
    /// Returns the observation and what the rules found from it, for the decision.
    func observe(_ object: KubeObject) async -> (Observation, Decide.Facts) {
        var observation = Observation(
            object: object, status: ledger.status(of: object), now: time.now, options: options, catalog: catalog.current,
            catalogSource: catalog.source.description)
        let namespace = object.namespace ?? ""
        let names = ChildNames(deployment: object.name)
        observation.children.runtime = view.runtimes.get(namespace: namespace, name: names.runtime)
        observation.children.inferenceService = view.inferenceServices.get(namespace: namespace, name: names.inferenceService)
        observation.children.foreignRuntime = view.foreignRuntimes.get(namespace: namespace, name: names.runtime)
        observation.children.claim = view.claims.get(namespace: namespace, name: names.claim)
        if let existing = object[path: ["spec", "storage", "existingClaim"]]?.stringValue {
            observation.children.existingClaim = view.claims.get(namespace: namespace, name: existing)
        }
        observation.children.candidateService = view.inferenceServices.get(namespace: namespace, name: names.candidate.inferenceService)
        observation.children.candidateRuntime = view.runtimes.get(namespace: namespace, name: names.candidate.runtime)
        observation.pods = view.pods.byIndex(ClusterView.podsByDeployment, object.key.description)
        observation.quotas = view.quotas.list(namespace: namespace)
        observation.activity = ledger.activity(object.key)
        observation.children.cacheJobs = view.jobs.byIndex(ClusterView.podsByDeployment, object.key.description)
        observation.liveToken = ledger.restartToken(observation.children.inferenceService, namespace: namespace, name: names.inferenceService, ownerUID: object.uid)
        // Each need is asked once: a rule that asks again would otherwise loop.
        var asked: [Observation.Need] = []
        var facts = Decide.facts(observation)
        while let need = facts.need, !asked.contains(need) {
            asked.append(need)
            await read(need, into: &observation)
            facts = Decide.facts(observation)
        }
        return (observation, facts)
    }

    private func read(_ need: Observation.Need, into observation: inout Observation) async {
        let namespace = observation.object.namespace ?? ""
        switch need {
        case .key(let reference):
            do {
                let (key, version) = try await keys.key(for: reference, namespace: namespace)
                let secret = ObjectKey(namespace: namespace, name: reference.name)
                ledger.sawKeySecret(secret, version: version, at: time.now)
                observation.keySighting = ledger.keySighting(secret)
                observation.key = .read(key, version: version)
            } catch {
                observation.key = .failed(error)
            }
        case .verdict(let key, let repository, let since):
            observation.verdict = await ngc.verify(key, repository: KeyRules.ngcRepository(repository), answeredSince: since)
        case .caBundle(let bundle):
            do {
                observation.caBundle = .success(try await caBundles.digest(of: bundle, namespace: namespace))
            } catch {
                observation.caBundle = .failure(error)
            }
        case .verification(let probe):
            observation.modelVerdict = await verifier.verify(probe)
        case .traffic(let address):
            observation.traffic = await verifier.traffic(at: address).mapError { error in
                var scrubbed = error
                scrubbed.message = Redactor.current.scrub(error.message)
                return scrubbed
            }
        case .activity(let address):
            switch await verifier.traffic(at: address) {
            case .success(let reading):
                ledger.sawRequests(observation.object.key, finished: reading.finished, at: time.now)
                observation.activity = ledger.activity(observation.object.key)
            case .failure:
                observation.activityUnreadable = true
            }
        case .unlistedInferenceService(let name):
            do {
                observation.children.unlistedService = .success(try await client.get(KServe.inferenceServices, namespace: namespace, name: name))
            } catch {
                observation.children.unlistedService = error.isNotFound ? .success(nil) : .failure(ChildApplier.problem(error, object: "InferenceService \(name)"))
            }
        }
    }
}
