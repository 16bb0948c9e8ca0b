import Foundation
import KubeCore
import KubeAPI
import Reconciler

/// The flags of `run` (contract section 8), parsed and checked once.
public struct OperatorOptions: Sendable {
    public var kubeconfig: String?
    public var context: String?
    public var namespace: String?
    public var watchNamespaces: [String]?
    public var catalog: String?
    public var ngcAPIURL = "https://api.ngc.nvidia.com"
    public var ngcTimeout = NGCClient.defaultTimeout
    public var disableKeyValidation = false
    /// Make a PodMonitor per deployment where the Prometheus Operator is installed (`--no-pod-monitors`: never).
    public var podMonitors = true
    /// Labels the PodMonitors carry, for Prometheus' podMonitorSelector (`--pod-monitor-labels release=kube-prometheus-stack`).
    public var podMonitorLabels: [String: String] = [:]
    public var disconnected = false
    public var region: String?
    public var migrateLegacy = false
    public var leaderElect = false
    public var metricsBindAddress = ":8080"
    /// `--metrics-auth`: whether `/metrics` asks the API server about each caller's token.
    public var metricsAuth = MetricsAuth.token
    public var healthProbeBindAddress = ":8081"
    /// Reconcile workers: 16 keeps a 2-core API server busy (nim-bench: 1000 deployments written in
    /// 7.6 s against 13 s with 4); more add memory, not speed.
    public var concurrency = 16
    public var logLevel = Logger.Level.info
    public var syncPeriod: TimeInterval = 10 * 3600
    public var keyRotationSettle = ReconcilerOptions.defaultKeyRotationSettle
    /// The proxy for NGC calls; nil: the environment's (HTTPS_PROXY, NO_PROXY).
    public var ngcProxy: String?
    public var ngcNoProxy: [String]?
    /// Extra CAs (a PEM file) trusted for NGC calls beside the system's.
    public var ngcCABundle: String?
    public var nimFSGroup = FSGroupChoice.auto
    /// `--image-registry-mirror`, `--mirror-pull-secret`.
    public var registryMirrors: [RegistryMirror] = []
    public var mirrorPullSecret = MirrorPullSecret.ngcKey

    public enum MetricsAuth: String, Sendable {
        /// A bearer token the API server accepts (TokenReview) for a user who may `get /metrics`
        /// (SubjectAccessReview), as controller-runtime's secure metrics.
        case token
        /// Anyone who reaches the port.
        case none
    }

    /// `--nim-fs-group`: the predictor pods' fsGroup when a spec sets none.
    public enum FSGroupChoice: Sendable, Equatable {
        /// None on OpenShift (its SCC assigns one), 1000 elsewhere.
        case auto
        case none
        case group(Int)
    }

    public static let valueFlags: Set<String> = [
        "kubeconfig", "context", "namespace", "watch-namespaces", "catalog", "ngc-api-url", "region",
        "metrics-bind-address", "metrics-auth", "health-probe-bind-address", "concurrency", "log-level", "sync-period",
        "key-rotation-settle", "ngc-timeout", "ngc-proxy", "ngc-no-proxy", "ngc-ca-bundle", "nim-fs-group",
        "image-registry-mirror", "mirror-pull-secret", "pod-monitor-labels",
    ]
    public static let switchFlags: Set<String> = ["disable-key-validation", "disconnected", "migrate-legacy", "leader-elect", "no-pod-monitors", "help"]

    public init() {}

    /// Go's durations as flags take them: `100ms`, `90s`, `30m`, `10h`, `1h30m`, `0`.
    public static func duration(_ text: String) -> TimeInterval? {
        if text == "0" { return 0 }
        let units: [(String, TimeInterval)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(text)
        var total: TimeInterval = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return text.isEmpty ? nil : total
    }

    public init(_ arguments: Arguments) throws(Arguments.UsageError) {
        kubeconfig = arguments.value("kubeconfig")
        context = arguments.value("context")
        namespace = arguments.value("namespace")
        if let list = arguments.value("watch-namespaces") {
            let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for name in names where NameValidation.dns1123LabelProblem(name) != nil {
                throw Arguments.UsageError(message: "--watch-namespaces: \"\(name)\" is not a namespace name")
            }
            // Each once, in the order given: an informer runs one watch per entry and is synced
            // when every distinct one is, so a repeat would never sync.
            var seen: Set<String> = []
            let distinct = names.filter { seen.insert($0).inserted }
            watchNamespaces = distinct.isEmpty ? nil : distinct
        }
        catalog = arguments.value("catalog")
        if let catalog, catalog.split(separator: "/").count != 2 {
            throw Arguments.UsageError(message: "--catalog must be NAMESPACE/NAME, not \"\(catalog)\"")
        }
        if let url = arguments.value("ngc-api-url") {
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw Arguments.UsageError(message: "--ngc-api-url must be an http(s) URL, not \"\(url)\"")
            }
            ngcAPIURL = url
        }
        disableKeyValidation = arguments.flag("disable-key-validation")
        podMonitors = !arguments.flag("no-pod-monitors")
        if let list = arguments.value("pod-monitor-labels") {
            for pair in list.split(separator: ",") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, NameValidation.qualifiedNameProblem(parts[0]) == nil, NameValidation.labelValueProblem(parts[1]) == nil else {
                    throw Arguments.UsageError(message: "--pod-monitor-labels takes KEY=VALUE,... label pairs, not \"\(pair)\"")
                }
                podMonitorLabels[parts[0]] = parts[1]
            }
        }
        disconnected = arguments.flag("disconnected")
        region = arguments.value("region")
        migrateLegacy = arguments.flag("migrate-legacy")
        leaderElect = arguments.flag("leader-elect")
        metricsBindAddress = arguments.value("metrics-bind-address") ?? metricsBindAddress
        if let choice = arguments.value("metrics-auth") {
            guard let parsed = MetricsAuth(rawValue: choice) else {
                throw Arguments.UsageError(message: "--metrics-auth must be token or none, not \"\(choice)\"")
            }
            metricsAuth = parsed
        }
        healthProbeBindAddress = arguments.value("health-probe-bind-address") ?? healthProbeBindAddress
        concurrency = try arguments.integer("concurrency", default: 16, range: 1...256)
        if let period = arguments.value("sync-period") {
            guard let seconds = Self.duration(period), seconds >= 1 else {
                throw Arguments.UsageError(message: "--sync-period must be a duration such as 10h, 30m or 90s, not \"\(period)\"")
            }
            syncPeriod = seconds
        }
        if let settle = arguments.value("key-rotation-settle") {
            guard let seconds = Self.duration(settle), seconds <= 60 else {
                throw Arguments.UsageError(message: "--key-rotation-settle must be a duration from 0 to 60s such as 100ms or 2s, not \"\(settle)\"")
            }
            keyRotationSettle = seconds
        }
        if let timeout = arguments.value("ngc-timeout") {
            guard let seconds = Self.duration(timeout), seconds > 0, seconds <= 300 else {
                throw Arguments.UsageError(message: "--ngc-timeout must be a duration above 0 and up to 5m such as 10s, not \"\(timeout)\"")
            }
            ngcTimeout = seconds
        }
        if let proxy = arguments.value("ngc-proxy"), !proxy.isEmpty {
            guard proxy.hasPrefix("http://") || proxy.hasPrefix("https://"), !proxy.contains(where: \.isWhitespace) else {
                throw Arguments.UsageError(message: "--ngc-proxy must be an http:// or https:// URL, not \"\(proxy)\"")
            }
            ngcProxy = proxy
        }
        if let list = arguments.value("ngc-no-proxy") { ngcNoProxy = ProxySettings.list(list) }
        if let path = arguments.value("ngc-ca-bundle"), !path.isEmpty { ngcCABundle = path }
        if let choice = arguments.value("nim-fs-group") {
            switch choice {
            case "auto": nimFSGroup = .auto
            case "none": nimFSGroup = .none
            default:
                guard let group = Int(choice), (0...Int(Int32.max)).contains(group) else {
                    throw Arguments.UsageError(message: "--nim-fs-group must be auto, none or a group id from 0 to 2147483647, not \"\(choice)\"")
                }
                nimFSGroup = .group(group)
            }
        }
        if let list = arguments.value("image-registry-mirror") {
            registryMirrors = []
            for entry in list.split(separator: ",").map(String.init) where !entry.trimmingCharacters(in: .whitespaces).isEmpty {
                switch RegistryMirror.parse(entry) {
                case .success(let mirror): registryMirrors.append(mirror)
                case .failure(let error): throw Arguments.UsageError(message: "--image-registry-mirror: \(error)")
                }
            }
        }
        if let choice = arguments.value("mirror-pull-secret") {
            guard let parsed = MirrorPullSecret.parse(choice) else {
                throw Arguments.UsageError(message: "--mirror-pull-secret must be ngc-key, none or the name of a Secret, not \"\(choice)\"")
            }
            mirrorPullSecret = parsed
        }
        if let level = arguments.value("log-level") {
            guard let parsed = Logger.Level(name: level) else {
                throw Arguments.UsageError(message: "--log-level must be debug, info, warn or error, not \"\(level)\"")
            }
            logLevel = parsed
        }
    }
}
