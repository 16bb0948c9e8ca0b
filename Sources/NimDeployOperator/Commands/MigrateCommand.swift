import Foundation
import KubeCore
import KubeAPI
import KubeRuntime
import NimDeployManager
import Reconciler

/// `migrate`: moves legacy NIM deployments to per-deployment Secrets from the command line, as
/// the controller does for annotated namespaces (contract section 6).
///
/// Output a script can rely on: a line per deployment `NAMESPACE/NAME: STATE[ (REASON)]: message`
/// with its steps indented below, a line per cleaned Secret, a summary line; or the same as
/// one JSON document with `--output json`. With `--adopt` the NimDeployments go to stdout as
/// YAML and the report to stderr. Exit status: 0 all done (or nothing to do), 3 something needs
/// a person (a blocked deployment, a Secret kept because it is in use), 1 failed, 2 usage.
enum MigrateCommand {
    struct Options {
        var kubeconfig: String?
        var context: String?
        var namespace: String?
        var allNamespaces = false
        var dryRun = false
        var cleanup = false
        var adopt = false
        var json = false
    }

    static let valueFlags: Set<String> = ["kubeconfig", "context", "namespace", "output"]
    static let switchFlags: Set<String> = ["all-namespaces", "dry-run", "cleanup", "adopt", "help"]
    static let needsAttention: Int32 = 3

    static func options(_ arguments: Arguments) throws(Arguments.UsageError) -> Options {
        var options = Options()
        options.kubeconfig = arguments.value("kubeconfig")
        options.context = arguments.value("context")
        options.namespace = arguments.value("namespace")
        options.allNamespaces = arguments.flag("all-namespaces")
        options.dryRun = arguments.flag("dry-run")
        options.cleanup = arguments.flag("cleanup")
        options.adopt = arguments.flag("adopt")
        switch arguments.value("output") ?? "text" {
        case "text": options.json = false
        case "json": options.json = true
        case let other: throw Arguments.UsageError(message: "--output must be text or json, not \"\(other)\"")
        }
        if options.namespace != nil && options.allNamespaces { throw Arguments.UsageError(message: "give --namespace NS or --all-namespaces, not both") }
        if options.namespace == nil && !options.allNamespaces { throw Arguments.UsageError(message: "give --namespace NS or --all-namespaces") }
        if let namespace = options.namespace, NameValidation.dns1123LabelProblem(namespace) != nil {
            throw Arguments.UsageError(message: "--namespace: \"\(namespace)\" is not a namespace name")
        }
        return options
    }

    static func execute(_ options: Options) async -> Int32 {
        Logger.sink.level = .warn
        let report: StandardStreams.Stream = options.adopt ? .error : .output
        func say(_ line: String) { StandardStreams.write(line + "\n", to: report) }
        let client: KubeClient
        do {
            var configuration = try ClientConfiguration.resolve(kubeconfig: options.kubeconfig, context: options.context)
            configuration.userAgent = "nim-deploy-operator-migrate"
            client = KubeClient(configuration: configuration)
        } catch {
            StandardStreams.write("nim-deploy-operator migrate: cannot load the Kubernetes configuration: \(error.message)\n", to: .error)
            return 1
        }
        let events = options.dryRun ? nil : EventRecorder(client: client, component: "nim-deploy-operator-migrate")
        let sending = Task { await events?.run() }
        let migrator = Migrator(client: client, events: events)

        var outcomes: [MigrationOutcome] = []
        var cleanups: [CleanupOutcome] = []
        var adoptions: [JSON] = []
        var failure: String?
        do {
            var namespaces = options.namespace.map { [$0] } ?? []
            if options.allNamespaces { namespaces = try await client.listAll(.namespaces).items.map(\.name).sorted() }
            for namespace in namespaces {
                for runtime in try await migrator.candidates(in: namespace).sorted(by: { $0.name < $1.name }) {
                    guard var outcome = await migrator.migrate(runtime, dryRun: options.dryRun) else { continue }
                    if options.adopt, [.migrated, .alreadyMigrated, .wouldMigrate].contains(outcome.state),
                       let keySecret = await migrator.ensureAdoptionKeySecret(&outcome, dryRun: options.dryRun) {
                        adoptions.append(try await adoption(client, runtime: runtime, keySecret: keySecret))
                    }
                    outcomes.append(outcome)
                    if !options.json { say(Self.line(outcome)) }
                    if outcome.state == .blocked || outcome.state == .failed {
                        events?.record(runtime, type: .warning, reason: outcome.reason ?? "MigrationBlocked", message: outcome.message)
                    }
                }
                if options.cleanup {
                    let cleanup = try await migrator.cleanup(namespace: namespace, dryRun: options.dryRun)
                    cleanups.append(cleanup)
                    if !options.json { for line in Self.lines(cleanup, dryRun: options.dryRun) { say(line) } }
                }
            }
        } catch {
            failure = "\(error)"
        }
        events?.finish()
        await sending.value

        if options.json {
            var document: JSON = ["deployments": .array(outcomes.map(\.json)), "dryRun": .bool(options.dryRun)]
            if options.cleanup { document["cleanup"] = .array(cleanups.map(\.json)) }
            if let failure { document["error"] = .string(failure) }
            say(document.serialized())
        } else if let failure, outcomes.isEmpty, cleanups.isEmpty {
            // Nothing was looked at: no summary of nothing, but what went wrong and where.
            StandardStreams.complain("nim-deploy-operator migrate: cannot read from the API server at \(client.configuration.server): \(failure)")
        } else {
            if let failure { say("error: \(failure)") }
            say(Self.summary(outcomes, cleanups, dryRun: options.dryRun))
        }
        if options.adopt, !adoptions.isEmpty { StandardStreams.write(YAML.emitAll(adoptions), to: .output) }
        if failure != nil || outcomes.contains(where: { $0.state == .failed }) { return 1 }
        if outcomes.contains(where: { $0.state == .blocked }) || cleanups.contains(where: { !$0.kept.isEmpty }) { return needsAttention }
        return 0
    }

    /// The NimDeployment that adopts a migrated deployment.
    static func adoption(_ client: KubeClient, runtime: KubeObject, keySecret: String) async throws -> JSON {
        let services = try await client.listAll(KServe.inferenceServices, namespace: runtime.namespace).items
        let service = services.first { $0.name == runtime.name } ?? services.first { $0[path: ["spec", "predictor", "model", "runtime"]]?.stringValue == runtime.name }
        return Adoption.nimDeployment(runtime: runtime, service: service, keySecret: keySecret)
    }

    static func line(_ outcome: MigrationOutcome) -> String {
        let state = outcome.reason.map { "\(outcome.state.rawValue) (\($0))" } ?? outcome.state.rawValue
        return (["\(outcome.namespace)/\(outcome.deployment): \(state): \(outcome.message)"] + outcome.steps.map { "  " + $0 }).joined(separator: "\n")
    }

    static func lines(_ cleanup: CleanupOutcome, dryRun: Bool) -> [String] {
        cleanup.deleted.map { "\(cleanup.namespace): cleanup: \(dryRun ? "would delete" : "deleted") secret/\($0)" }
            + cleanup.kept.map { "\(cleanup.namespace): cleanup: kept secret/\($0.secret): still used by \($0.users.joined(separator: ", "))" }
    }

    static func summary(_ outcomes: [MigrationOutcome], _ cleanups: [CleanupOutcome], dryRun: Bool) -> String {
        let counts = Dictionary(grouping: outcomes, by: \.state).mapValues(\.count)
        let order: [MigrationOutcome.State] = [.wouldMigrate, .migrated, .alreadyMigrated, .airGapped, .blocked, .failed]
        var parts = order.compactMap { state in counts[state].map { "\($0) \(state.rawValue)" } }
        if parts.isEmpty { parts = ["no legacy NIM deployments"] }
        var line = "summary: " + parts.joined(separator: ", ")
        if !cleanups.isEmpty {
            let deleted = cleanups.map(\.deleted.count).reduce(0, +)
            let kept = cleanups.map(\.kept.count).reduce(0, +)
            line += "; cleanup: \(deleted) \(dryRun ? "to delete" : "deleted"), \(kept) kept"
        }
        return line + (dryRun ? " (dry run: nothing written)" : "")
    }
}
