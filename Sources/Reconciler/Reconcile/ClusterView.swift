import Foundation
import Synchronization
import KubeRuntime

/// The caches a reconcile reads: the cluster as the informers last saw it.
public struct ClusterView: Sendable {
    public var deployments: ObjectCache
    /// Metadata only.
    public var secrets: ObjectCache
    public var claims: ObjectCache
    public var runtimes: ObjectCache
    public var inferenceServices: ObjectCache
    /// ServingRuntimes this operator did not make: one of a deployment's name is adopted if it
    /// is a (migrated) legacy NIM runtime, and refused otherwise.
    public var foreignRuntimes: ObjectCache
    /// The predictor pods (trimmed to what their progress needs), indexed by deployment.
    public var pods: ObjectCache
    /// Metadata only: the CA bundles deployments name.
    public var configMaps: ObjectCache
    /// The Jobs filling cache claims (trimmed), indexed by deployment.
    public var jobs: ObjectCache
    /// ResourceQuotas: GPUs a deployment asks for must fit them.
    public var quotas: ObjectCache

    /// Index of pods (and cache Jobs) by the deployment they serve (`namespace/name`).
    public static let podsByDeployment = "deployment"

    public init(
        deployments: ObjectCache, secrets: ObjectCache, claims: ObjectCache, runtimes: ObjectCache, inferenceServices: ObjectCache,
        foreignRuntimes: ObjectCache = ObjectCache(), pods: ObjectCache = ObjectCache(), configMaps: ObjectCache = ObjectCache(), jobs: ObjectCache = ObjectCache(),
        quotas: ObjectCache = ObjectCache()
    ) {
        self.jobs = jobs
        self.quotas = quotas
        self.deployments = deployments
        self.secrets = secrets
        self.claims = claims
        self.runtimes = runtimes
        self.inferenceServices = inferenceServices
        self.foreignRuntimes = foreignRuntimes
        self.pods = pods
        self.configMaps = configMaps
    }
}
