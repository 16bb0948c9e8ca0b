import Foundation
import Synchronization

/// Counters, gauges and histograms with labels, rendered in the Prometheus text format (0.0.4).
/// Families are registered once, named once, and keep every label set they have seen.
public final class MetricsRegistry: Sendable {
    private let families = Mutex<[MetricFamily]>([])
    private let collectors = Mutex<[@Sendable () -> Void]>([])

    public init() {}

    public func counter(_ name: String, help: String, labels: [String] = []) -> Counter {
        register(Counter(name: name, help: help, labelNames: labels))
    }

    public func gauge(_ name: String, help: String, labels: [String] = []) -> Gauge {
        register(Gauge(name: name, help: help, labelNames: labels))
    }

    public func histogram(_ name: String, help: String, labels: [String] = [], buckets: [Double] = Histogram.defaultBuckets) -> Histogram {
        register(Histogram(name: name, help: help, labelNames: labels, buckets: buckets))
    }

    private func register<F: MetricFamily>(_ family: F) -> F {
        families.withLock { families in
            if let existing = families.first(where: { $0.name == family.name }) as? F { return existing }
            families.append(family)
            return family
        }
    }

    /// Runs before every render: for values read rather than counted (the process's memory).
    public func collect(_ collector: @escaping @Sendable () -> Void) { collectors.withLock { $0.append(collector) } }

    /// The whole registry as `/metrics` serves it.
    public func render() -> String {
        for collector in collectors.withLock({ $0 }) { collector() }
        return families.withLock { $0 }.sorted { $0.name < $1.name }.map { $0.render() }.joined()
    }
}

protocol MetricFamily: AnyObject, Sendable {
    var name: String { get }
    func render() -> String
}

enum MetricText {
    static func labels(_ names: [String], _ values: [String], extra: [(String, String)] = []) -> String {
        let pairs = zip(names, values).map { ($0, $1) } + extra
        guard !pairs.isEmpty else { return "" }
        return "{" + pairs.map { "\($0)=\"\(escape($1))\"" }.joined(separator: ",") + "}"
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value.rounded() == value && abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }

    static func header(_ name: String, _ help: String, _ type: String) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }
}

/// One number per label set: what counters and gauges both are.
final class LabeledValues: Sendable {
    let name: String
    let help: String
    let type: String
    let labelNames: [String]
    let values = Mutex<[[String]: Double]>([:])

    init(name: String, help: String, type: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.type = type
        self.labelNames = labelNames
        // A family without labels is exported at zero from the start (controller-runtime's initMetrics).
        if labelNames.isEmpty { values.withLock { $0[[]] = 0 } }
    }

    func render() -> String {
        let snapshot = values.withLock { $0 }
        return MetricText.header(name, help, type)
            + snapshot.keys.sorted { $0.joined(separator: "\u{1}") < $1.joined(separator: "\u{1}") }.map {
                "\(name)\(MetricText.labels(labelNames, $0)) \(MetricText.number(snapshot[$0] ?? 0))\n"
            }.joined()
    }
}

public final class Counter: MetricFamily {
    private let storage: LabeledValues
    var name: String { storage.name }

    init(name: String, help: String, labelNames: [String]) {
        storage = LabeledValues(name: name, help: help, type: "counter", labelNames: labelNames)
    }

    public func inc(_ labels: [String] = [], by amount: Double = 1) {
        storage.values.withLock { $0[labels, default: 0] += amount }
    }

    /// Makes a label set visible at zero before it first counts.
    /// A total read from elsewhere (the kernel's CPU time): what a collector reports.
    public func set(_ total: Double, _ labels: [String] = []) { storage.values.withLock { $0[labels] = total } }

    public func touch(_ labels: [String]) {
        storage.values.withLock { if $0[labels] == nil { $0[labels] = 0 } }
    }

    public func value(_ labels: [String] = []) -> Double { storage.values.withLock { $0[labels] ?? 0 } }

    func render() -> String { storage.render() }
}

public final class Gauge: MetricFamily {
    private let storage: LabeledValues
    var name: String { storage.name }

    init(name: String, help: String, labelNames: [String]) {
        storage = LabeledValues(name: name, help: help, type: "gauge", labelNames: labelNames)
    }

    public func set(_ value: Double, _ labels: [String] = []) { storage.values.withLock { $0[labels] = value } }
    public func add(_ amount: Double, _ labels: [String] = []) { storage.values.withLock { $0[labels, default: 0] += amount } }
    public func value(_ labels: [String] = []) -> Double { storage.values.withLock { $0[labels] ?? 0 } }

    /// Replaces every label set at once (for gauges computed from a full count, like "deployments by state").
    public func replaceAll(_ newValues: [[String]: Double]) { storage.values.withLock { $0 = newValues } }

    func render() -> String { storage.render() }
}

public final class Histogram: MetricFamily {
    /// Prometheus client defaults: 5 ms to 10 s.
    public static let defaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Series {
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    let name: String
    let help: String
    let labelNames: [String]
    let buckets: [Double]
    private let series = Mutex<[[String]: Series]>([:])

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.buckets = buckets.sorted()
        // Without labels there is one series: shown from the start, as client libraries do.
        if labelNames.isEmpty { series.withLock { $0[[]] = Series(counts: Array(repeating: 0, count: self.buckets.count + 1)) } }
    }

    public func observe(_ value: Double, _ labels: [String] = []) {
        let index = buckets.firstIndex { value <= $0 } ?? buckets.count
        series.withLock { all in
            var entry = all[labels] ?? Series(counts: Array(repeating: 0, count: buckets.count + 1))
            entry.counts[index] += 1
            entry.sum += value
            entry.count += 1
            all[labels] = entry
        }
    }

    public func count(_ labels: [String] = []) -> UInt64 { series.withLock { $0[labels]?.count ?? 0 } }

    func render() -> String {
        let snapshot = series.withLock { $0 }
        var text = MetricText.header(name, help, "histogram")
        for labels in snapshot.keys.sorted(by: { $0.joined(separator: "\u{1}") < $1.joined(separator: "\u{1}") }) {
            guard let entry = snapshot[labels] else { continue }
            var cumulative: UInt64 = 0
            for (offset, bound) in buckets.enumerated() {
                cumulative += entry.counts[offset]
                text += "\(name)_bucket\(MetricText.labels(labelNames, labels, extra: [("le", MetricText.number(bound))])) \(cumulative)\n"
            }
            text += "\(name)_bucket\(MetricText.labels(labelNames, labels, extra: [("le", "+Inf")])) \(entry.count)\n"
            text += "\(name)_sum\(MetricText.labels(labelNames, labels)) \(MetricText.number(entry.sum))\n"
            text += "\(name)_count\(MetricText.labels(labelNames, labels)) \(entry.count)\n"
        }
        return text
    }
}
