import Foundation
import KubeWatch

/// The flags of `run` (contract section 8), parsed and checked once.
struct OperatorOptions: Sendable {
    var kubeconfig: String?
    var context: String?
    var namespace: String?
    var watchNamespaces: [String]?
    var catalog: String?
    var ngcAPIURL = "https://api.ngc.nvidia.com"
    var disableKeyValidation = false
    var disconnected = false
    var region: String?
    var migrateLegacy = false
    var leaderElect = false
    var metricsBindAddress = ":8080"
    var healthProbeBindAddress = ":8081"
    var concurrency = 4
    var logLevel = Logger.Level.info
    var syncPeriod: TimeInterval = 10 * 3600

    static let valueFlags: Set<String> = [
        "kubeconfig", "context", "namespace", "watch-namespaces", "catalog", "ngc-api-url", "region",
        "metrics-bind-address", "health-probe-bind-address", "concurrency", "log-level", "sync-period",
    ]
    static let switchFlags: Set<String> = ["disable-key-validation", "disconnected", "migrate-legacy", "leader-elect", "help"]

    init() {}

    /// `90s`, `30m`, `10h`, `1h30m`.
    static func duration(_ text: String) -> TimeInterval? {
        var total: TimeInterval = 0
        var number = ""
        for character in text {
            if character.isNumber || character == "." {
                number.append(character)
                continue
            }
            guard let value = Double(number) else { return nil }
            switch character {
            case "s": total += value
            case "m": total += value * 60
            case "h": total += value * 3600
            default: return nil
            }
            number = ""
        }
        return number.isEmpty && total > 0 ? total : nil
    }

    init(_ arguments: Arguments) throws(Arguments.UsageError) {
        kubeconfig = arguments.value("kubeconfig")
        context = arguments.value("context")
        namespace = arguments.value("namespace")
        if let list = arguments.value("watch-namespaces") {
            let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for name in names where NameValidation.dns1123LabelProblem(name) != nil {
                throw Arguments.UsageError(message: "--watch-namespaces: \"\(name)\" is not a namespace name")
            }
            watchNamespaces = names.isEmpty ? nil : names
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
        disconnected = arguments.flag("disconnected")
        region = arguments.value("region")
        migrateLegacy = arguments.flag("migrate-legacy")
        leaderElect = arguments.flag("leader-elect")
        metricsBindAddress = arguments.value("metrics-bind-address") ?? metricsBindAddress
        healthProbeBindAddress = arguments.value("health-probe-bind-address") ?? healthProbeBindAddress
        concurrency = try arguments.integer("concurrency", default: 4, range: 1...256)
        if let period = arguments.value("sync-period") {
            guard let seconds = Self.duration(period), seconds >= 1 else {
                throw Arguments.UsageError(message: "--sync-period must be a duration such as 10h, 30m or 90s, not \"\(period)\"")
            }
            syncPeriod = seconds
        }
        if let level = arguments.value("log-level") {
            guard let parsed = Logger.Level(name: level) else {
                throw Arguments.UsageError(message: "--log-level must be debug, info, warn or error, not \"\(level)\"")
            }
            logLevel = parsed
        }
    }
}
