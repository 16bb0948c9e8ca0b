import Foundation
import KubeCore
import KubeAPI
import KubeRuntime

/// One namespace's migration: observe (is it on, which runtimes are legacy, what the summary
/// said before), migrate each, report (the summary ConfigMap, Warning Events on transitions).
final class MigrationReconciler: Sendable {
    let client: KubeClient
    let runtimes: ObjectCache
    let namespaces: [ObjectCache]
    let everywhere: Bool
    let migrator: Migrator
    let events: EventRecorder
    /// `nim_legacy_migrations_total{result}`: deployments migrated, and deployments that became
    /// blocked or failed (counted when they become so, not on every retry).
    let migrations: Counter?
    let log = Logger(name: "migration")

    static let results = [MigrationOutcome.State.migrated, .blocked, .failed].map(\.rawValue)

    init(
        client: KubeClient, runtimes: ObjectCache, namespaces: [ObjectCache], everywhere: Bool, migrator: Migrator, events: EventRecorder,
        metrics: MetricsRegistry?
    ) {
        self.client = client
        self.runtimes = runtimes
        self.namespaces = namespaces
        self.everywhere = everywhere
        self.migrator = migrator
        self.events = events
        migrations = metrics?.counter("nim_legacy_migrations_total", help: "Legacy deployments migrated, or found blocked or failed.", labels: ["result"])
        for result in Self.results { migrations?.touch([result]) }
    }

    struct RetryLater: Error, CustomStringConvertible {
        var description: String
    }

    func isEnabled(_ namespace: String) -> Bool {
        if everywhere { return true }
        let object = namespaces.lazy.compactMap { $0.get(namespace: nil, name: namespace) }.first
        return object?.annotations[LegacyMigration.enableAnnotation] == "true"
    }

    func reconcile(_ key: ObjectKey) async throws -> ReconcileResult {
        // Observe.
        let namespace = key.name
        guard isEnabled(namespace) else { return .done }
        let candidates = runtimes.list(namespace: namespace).filter { LegacyRuntime($0).state != .notApplicable }.sorted { $0.name < $1.name }
        guard !candidates.isEmpty else { return .done }
        let previous = try await previousStates(namespace)

        // Migrate.
        var outcomes: [MigrationOutcome] = []
        for runtime in candidates {
            guard let outcome = await migrator.migrate(runtime) else { continue }
            outcomes.append(outcome)
            let before = previous[outcome.deployment]
            if outcome.state == .blocked || outcome.state == .failed, before?.state != outcome.state.rawValue || before?.reason != outcome.reason {
                events.record(runtime, type: .warning, reason: outcome.reason ?? "MigrationBlocked", message: outcome.message)
                migrations?.inc([outcome.state.rawValue])
                log.warn("legacy deployment not migrated", ["deployment": .string("\(namespace)/\(outcome.deployment)"), "reason": .string(outcome.reason ?? ""), "message": .string(outcome.message)])
            } else if outcome.state == .migrated {
                migrations?.inc([outcome.state.rawValue])
                log.info("legacy deployment migrated", ["deployment": .string("\(namespace)/\(outcome.deployment)"), "message": .string(outcome.message)])
            }
        }

        // Report.
        try await writeSummary(namespace, outcomes)
        if let failed = outcomes.first(where: { $0.state == .failed }) { throw RetryLater(description: failed.message) }
        return .done
    }

    /// What the summary said of each deployment last time: state and reason.
    func previousStates(_ namespace: String) async throws -> [String: (state: String, reason: String?)] {
        let summary: KubeObject
        do {
            summary = try await client.get(.configMaps, namespace: namespace, name: LegacyMigration.summaryName)
        } catch {
            if error.isNotFound { return [:] }
            throw error
        }
        let entries = (try? JSON(parsing: summary[path: ["data", "deployments.json"]]?.stringValue ?? "[]"))?.arrayValue ?? []
        var states: [String: (state: String, reason: String?)] = [:]
        for entry in entries {
            if let name = entry["deployment"]?.stringValue, let state = entry["state"]?.stringValue { states[name] = (state, entry["reason"]?.stringValue) }
        }
        return states
    }

    /// `kubectl get configmap nim-legacy-migration -o yaml`: a line per deployment, a summary
    /// line, and the same as JSON for scripts. Written only when it changes.
    func writeSummary(_ namespace: String, _ outcomes: [MigrationOutcome]) async throws {
        var data: [String: JSON] = [:]
        for outcome in outcomes {
            let state = outcome.reason.map { "\(outcome.state.rawValue) (\($0))" } ?? outcome.state.rawValue
            data[outcome.deployment] = .string("\(state): \(outcome.message)")
        }
        // Steps and times are left out: the summary changes only when a state does.
        data["deployments.json"] = .string(JSON.array(outcomes.map { outcome in
            var entry = outcome.json
            entry["steps"] = nil
            return entry
        }).serialized())
        data["summary"] = .string(Self.summaryLine(outcomes, namespace: namespace))
        var summary = KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: namespace, name: LegacyMigration.summaryName)
        summary.labels = [ChildLabels.managedBy: ChildLabels.operatorName, ChildLabels.partOf: "nim-integration"]
        summary["data"] = .object(data)
        let current = try? await client.get(.configMaps, namespace: namespace, name: LegacyMigration.summaryName)
        guard current?["data"] != summary["data"] else { return }
        _ = try await client.apply(summary, .configMaps, fieldManager: Migrator.fieldManager)
    }

    static func summaryLine(_ outcomes: [MigrationOutcome], namespace: String) -> String {
        let counts = Dictionary(grouping: outcomes, by: \.state).mapValues(\.count)
        let order: [MigrationOutcome.State] = [.migrated, .alreadyMigrated, .airGapped, .blocked, .failed]
        var line = order.compactMap { state in counts[state].map { "\($0) \(state.rawValue)" } }.joined(separator: ", ") + "."
        if outcomes.contains(where: { !$0.migratedFrom.isEmpty }) {
            line += " The shared Secrets stay until: nim-deploy-operator migrate --namespace \(namespace) --cleanup"
        }
        return line
    }
}
