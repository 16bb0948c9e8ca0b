import Foundation
import KubeCore

/// The operator's settings that shape what a deployment becomes (flags of `run`).
public struct ReconcilerOptions: Sendable {
    /// `namespace/name` of the catalog ConfigMap.
    public var catalog: ObjectKey
    public var disconnected = false
    public var disableKeyValidation = false
    /// `EU` refuses EU-restricted models.
    public var region: String?
    /// A changed key is acted on at once; one that follows within this long of a change acted on
    /// waits until its Secret has been quiet this long, so a burst of writes rolls the pods twice
    /// at most, onto its first key and its last (`--key-rotation-settle`; 0: every change at once).
    public var keyRotationSettle: TimeInterval = ReconcilerOptions.defaultKeyRotationSettle
    /// Two seconds: longer than the pause between a script's or a secret store's retried writes
    /// (150 ms to a second), short enough that a corrected key follows soon.
    public static let defaultKeyRotationSettle: TimeInterval = 2
    /// Migrate legacy deployments in every watched namespace, not only annotated ones.
    public var migrateLegacy = false
    /// The predictor pods' fsGroup when the spec sets none: makes the cache claim writable on
    /// plain Kubernetes (`--nim-fs-group`); nil on OpenShift, whose SCC assigns one.
    public var defaultFSGroup: Int?
    /// NIM images run as user 1000 and the nim-llm chart gives them fsGroup 1000.
    public static let plainKubernetesFSGroup = 1000
    public static let fieldManager = "nim-deploy-operator"
    /// Registries whose images are pulled from a mirror (`--image-registry-mirror`), and the pull
    /// secret mirrored images use (`--mirror-pull-secret`).
    public var registryMirrors: [RegistryMirror] = []
    public var mirrorPullSecret: MirrorPullSecret = .ngcKey
    /// The cluster serves the Gateway API (`gateway.networking.k8s.io/v1`): progressive
    /// rollouts in RawDeployment mode split traffic with a weighted HTTPRoute.
    public var gatewayAPI = false
    /// The cluster serves the Prometheus Operator's `monitoring.coreos.com/v1`: each deployment
    /// gets a PodMonitor for its NIM's metrics.
    public var podMonitors = false
    /// Labels the PodMonitors carry, for Prometheus' podMonitorSelector.
    public var podMonitorLabels: [String: String] = [:]
    /// Where the operator runs: its pods ask the models (a deployment's NetworkPolicy lets them
    /// in). Nil: the catalog's namespace.
    public var operatorNamespace: String?

    public init(
        catalog: ObjectKey, disconnected: Bool = false, disableKeyValidation: Bool = false, region: String? = nil,
        keyRotationSettle: TimeInterval = ReconcilerOptions.defaultKeyRotationSettle, migrateLegacy: Bool = false, defaultFSGroup: Int? = nil,
        registryMirrors: [RegistryMirror] = [], mirrorPullSecret: MirrorPullSecret = .ngcKey
    ) {
        self.registryMirrors = registryMirrors
        self.mirrorPullSecret = mirrorPullSecret
        self.defaultFSGroup = defaultFSGroup
        self.catalog = catalog
        self.disconnected = disconnected
        self.disableKeyValidation = disableKeyValidation
        self.region = region
        self.keyRotationSettle = keyRotationSettle
        self.migrateLegacy = migrateLegacy
    }

    var refusesEURestricted: Bool { region?.uppercased() == "EU" }
}
