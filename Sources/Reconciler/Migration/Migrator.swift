import Foundation
import KubeCore
import KubeAPI
import KubeRuntime

/// What became of one legacy deployment.
public struct MigrationOutcome: Sendable, Equatable {
    public enum State: String, Sendable {
        case migrated
        case alreadyMigrated = "already-migrated"
        case airGapped = "air-gapped"
        /// A dry run: the steps are what would be done.
        case wouldMigrate = "would-migrate"
        /// Needs a person: the key cannot be moved as it is.
        case blocked
        /// The API server failed a step; running again continues where it stopped.
        case failed
    }

    public var namespace: String
    public var deployment: String
    public var state: State
    /// For blocked and failed: a CamelCase word to search for.
    public var reason: String?
    public var message: String
    /// Done (or, in a dry run, planned), in order.
    public var steps: [String] = []
    public var keyFingerprint: String?
    public var migratedFrom: [String] = []

    /// Every legacy deployment is migrated or has nothing to move.
    public var isSettled: Bool { [.migrated, .alreadyMigrated, .airGapped].contains(state) }

    public var json: JSON {
        var object: JSON = [
            "namespace": .string(namespace), "deployment": .string(deployment), "state": .string(state.rawValue), "message": .string(message),
            "steps": .array(steps.map(JSON.string)), "migratedFrom": .array(migratedFrom.map(JSON.string)),
        ]
        if let reason { object["reason"] = .string(reason) }
        if let keyFingerprint { object["keyFingerprint"] = .string(keyFingerprint) }
        return object
    }
}

/// Moves a legacy NIM deployment from the shared Secrets to its own (contract section 6). Each
/// step looks at the cluster first and does only what is missing, so running it again after a
/// crash at any point continues: the runtime's references and annotations say how far it got.
/// A key is never lost (the shared Secrets are not touched here) and never silently replaced
/// (a per-deployment Secret holding another key stops the migration).
public final class Migrator: Sendable {
    public static let fieldManager = "nim-deploy-operator-migration"

    let client: KubeClient
    let events: EventRecorder?
    let time: any TimeSource

    public init(client: KubeClient, events: EventRecorder? = nil, time: any TimeSource = SystemTime()) {
        self.client = client
        self.events = events
        self.time = time
    }

    struct Stop: Error {
        var outcome: MigrationOutcome
    }

    /// The NIM runtimes of a namespace that are, or were, legacy.
    public func candidates(in namespace: String) async throws(KubeError) -> [KubeObject] {
        try await client.listAll(KServe.servingRuntimes, namespace: namespace).items.filter { LegacyRuntime($0).state != .notApplicable }
    }

    /// Migrates one runtime (or, with `dryRun`, says what it would do). `nil` when the runtime
    /// is not a legacy NIM runtime. Never throws: API errors are a `failed` outcome.
    public func migrate(_ runtime: KubeObject, dryRun: Bool = false) async -> MigrationOutcome? {
        var attempt = 0
        while true {
            attempt += 1
            do {
                // Fresh: the caller's copy may be from a cache.
                let current = try await client.get(KServe.servingRuntimes, namespace: runtime.namespace, name: runtime.name)
                return try await migrateOnce(LegacyRuntime(current), dryRun: dryRun)
            } catch let stop as Stop {
                return stop.outcome
            } catch let error as KubeError {
                if error.isNotFound { return nil }
                // Someone changed the runtime meanwhile: look again.
                if error.isConflict, attempt < 3 { continue }
                return MigrationOutcome(
                    namespace: runtime.namespace ?? "", deployment: runtime.name, state: .failed, reason: "APIServerError",
                    message: "The API server failed a step (\(error.description)); running the migration again continues where it stopped.")
            } catch {
                return MigrationOutcome(namespace: runtime.namespace ?? "", deployment: runtime.name, state: .failed, reason: "MigrationFailed", message: "\(error)")
            }
        }
    }

    private func migrateOnce(_ legacy: LegacyRuntime, dryRun: Bool) async throws -> MigrationOutcome? {
        var outcome = MigrationOutcome(namespace: legacy.namespace, deployment: legacy.name, state: dryRun ? .wouldMigrate : .migrated, message: "")
        outcome.migratedFrom = legacy.migratedFrom
        switch legacy.state {
        case .notApplicable:
            return nil
        case .airGapped:
            outcome.state = .airGapped
            outcome.message = "No key or pull secret to move (air-gapped): nothing to migrate."
            return outcome
        case .migrated:
            outcome.state = .alreadyMigrated
            outcome.message = "Migrated at \(legacy.object.annotations[LegacyRuntime.migratedAtAnnotation] ?? "?") from \(legacy.migratedFrom.joined(separator: ", "))."
            return outcome
        case .restartPending:
            // Repointed by a run that stopped before the restart: the key is in the new Secret.
            let key = try await readKey(secret: legacy.targets.apiKeySecret, dataKey: nil, kind: .key, registry: registry(of: legacy), outcome: outcome)
            outcome.keyFingerprint = key.fingerprint
            outcome.steps.append("1-3. done before: ServingRuntime \(legacy.name) uses \(legacy.targets.apiKeySecret) and \(legacy.targets.pullSecret)")
            try await restart(legacy, key: key, dryRun: dryRun, outcome: &outcome)
            try await record(legacy, key: key, dryRun: dryRun, outcome: &outcome)
            return outcome
        case .legacy:
            break
        }

        // 1. The key, from where the runtime takes it.
        guard let source = legacy.keySource else { return nil }
        let registry = registry(of: legacy)
        let key = try await readKey(secret: source.secret, dataKey: source.dataKey, kind: source.kind, registry: registry, outcome: outcome)
        outcome.keyFingerprint = key.fingerprint
        outcome.steps.append("1. read the key from Secret \(source.secret)\(source.dataKey.map { " (\($0))" } ?? ""): personal key \(key.fingerprint)")
        try await checkMovable(legacy, outcome: outcome)

        // 2. The per-deployment Secrets: created, or already holding this very key.
        for (name, type, data) in [
            (legacy.targets.apiKeySecret, "Opaque", DesiredState.apiKeyData(key)),
            (legacy.targets.pullSecret, "kubernetes.io/dockerconfigjson", DesiredState.pullSecretData(registry: registry, key: key)),
        ] {
            try await ensureSecret(name, type: type, data: data, key: key, registry: registry, for: legacy, dryRun: dryRun, outcome: &outcome)
        }

        // Said once the move cannot be blocked any more (a blocked one gets its Warning instead).
        if !dryRun { events?.record(legacy.object, type: .normal, reason: "Migrating", message: "Moving to Secrets \(legacy.targets.apiKeySecret) and \(legacy.targets.pullSecret) (key \(key.fingerprint)).") }

        // 3. The runtime's references, by name; nothing else changes.
        guard let repointed = legacy.repointed() else { return nil }
        let moves = legacy.legacyReferences.map { "\($0.reference): \($0.reference.secret) -> \($0.kind == .key ? legacy.targets.apiKeySecret : legacy.targets.pullSecret)" }
        outcome.steps.append("3. repoint ServingRuntime \(legacy.name): " + moves.joined(separator: "; "))
        outcome.migratedFrom = LegacyRuntime(repointed).migratedFrom
        let stored = dryRun ? repointed : try await client.update(repointed, KServe.servingRuntimes, fieldManager: Self.fieldManager)
        let moved = LegacyRuntime(stored)

        // 4 and 5.
        try await restart(moved, key: key, dryRun: dryRun, outcome: &outcome)
        try await record(moved, key: key, dryRun: dryRun, outcome: &outcome)
        return outcome
    }

    /// Every legacy reference must find what it reads in the Secret it is renamed to, which holds
    /// the key alone (`NGC_API_KEY`, `api_key`) or the pull credentials alone
    /// (`.dockerconfigjson`): another value read from a shared Secret (an `HF_TOKEN`, a whole
    /// Secret as envFrom or a volume) would be gone at the next restart. Checked before anything
    /// is written.
    func checkMovable(_ legacy: LegacyRuntime, outcome: MigrationOutcome) async throws {
        var problems: [String] = []
        var held: [String: Set<String>] = [:]
        for (reference, kind) in legacy.legacyReferences {
            let target = kind == .key ? legacy.targets.apiKeySecret : legacy.targets.pullSecret
            let offered: Set<String> = kind == .key ? ["NGC_API_KEY", "api_key"] : [".dockerconfigjson"]
            switch reference.place {
            case .env(_, _, let dataKey) where !offered.contains(dataKey):
                problems.append("\(reference) reads \(dataKey) from Secret \(reference.secret), which \(target) will not hold")
            case .envFrom, .volume:
                if held[reference.secret] == nil {
                    do {
                        let secret = try await client.get(.secrets, namespace: legacy.namespace, name: reference.secret)
                        held[reference.secret] = Set((secret["data"]?.objectValue ?? [:]).keys)
                    } catch {
                        guard error.isNotFound else { throw error }
                        held[reference.secret] = []
                    }
                }
                let extra = (held[reference.secret] ?? []).subtracting(offered)
                if !extra.isEmpty {
                    problems.append("\(reference) takes all of Secret \(reference.secret), which also holds \(extra.sorted().joined(separator: ", ")) that \(target) will not hold")
                }
            default:
                continue
            }
        }
        guard problems.isEmpty else {
            throw blocked(
                outcome, "UnmovableReference",
                "Not moved, to lose nothing: " + problems.joined(separator: "; ")
                    + ". Put those values in a Secret of their own, point the runtime at it, and run again.")
        }
    }

    /// The registry the runtime pulls from (the pull secret is for it).
    func registry(of legacy: LegacyRuntime) -> String {
        let image = legacy.object[path: ["spec", "containers"]]?.arrayValue?.first?["image"]?.stringValue
        return image.flatMap(ImageReference.init(parsing:))?.registry ?? "nvcr.io"
    }

    func blocked(_ outcome: MigrationOutcome, _ reason: String, _ message: String) -> Stop {
        var stopped = outcome
        stopped.state = .blocked
        stopped.reason = reason
        stopped.message = message
        return Stop(outcome: stopped)
    }

    func readKey(secret: String, dataKey: String?, kind: LegacySecrets.Kind, registry: String, outcome: MigrationOutcome) async throws -> APIKey {
        let object: KubeObject
        do {
            object = try await client.get(.secrets, namespace: outcome.namespace, name: secret)
        } catch {
            if error.isNotFound {
                throw blocked(outcome, "KeySecretNotFound", "Secret \(secret), where the runtime takes its key from, does not exist: there is no key to move. Put the key in a Secret \(secret) and run again.")
            }
            throw error
        }
        let data = KubeObject.stringMap(object["data"])
        if kind == .pull {
            guard let key = APIKey.read(fromPullSecretData: data, registry: registry) else {
                throw blocked(outcome, "KeyNotInSecret", "Pull secret \(secret) has no password for \(registry): there is no key to move.")
            }
            return try personal(key, secret: secret, outcome: outcome)
        }
        switch APIKey.read(fromSecretData: data, dataKey: dataKey) {
        case .success(let found): return try personal(found.key, secret: secret, outcome: outcome)
        case .failure(.missing(let tried, _)):
            throw blocked(outcome, "KeyNotInSecret", "Secret \(secret) has no \(tried.joined(separator: " or ")): there is no key to move.")
        case .failure(.empty(let dataKey)):
            throw blocked(outcome, "KeyEmpty", "The key in Secret \(secret) under \(dataKey) is empty: there is no key to move.")
        case .failure(.notText(let dataKey)), .failure(.malformed(let dataKey, _)):
            throw blocked(outcome, "KeyMalformed", "Secret \(secret) under \(dataKey) does not hold a key.")
        }
    }

    func personal(_ key: APIKey, secret: String, outcome: MigrationOutcome) throws -> APIKey {
        guard key.isPersonal else {
            throw blocked(
                outcome, "LegacyKeyUnsupported",
                "The key in Secret \(secret) (\(key.fingerprint)) is not a personal API key (nvapi-...), and only personal keys are supported. Generate a personal key at ngc.nvidia.com, put it in Secret \(secret), and run the migration again.")
        }
        return key
    }

    func ensureSecret(
        _ name: String, type: String, data: JSON, key: APIKey, registry: String, for legacy: LegacyRuntime, dryRun: Bool, outcome: inout MigrationOutcome
    ) async throws {
        let existing: KubeObject?
        do {
            existing = try await client.get(.secrets, namespace: legacy.namespace, name: name)
        } catch {
            guard error.isNotFound else { throw error }
            existing = nil
        }
        if let existing {
            let held = KubeObject.stringMap(existing["data"])
            let found = type == "Opaque" ? (try? APIKey.read(fromSecretData: held).get())?.key : APIKey.read(fromPullSecretData: held, registry: registry)
            guard let found, found == key else {
                throw blocked(
                    outcome, "SecretConflict",
                    "Secret \(name) exists and holds \(found.map { "another key (\($0.fingerprint))" } ?? "no key") where the key \(key.fingerprint) belongs; it is not overwritten. Put that key in it, or delete it, and run again.")
            }
            outcome.steps.append("2. Secret \(name) exists and holds the key: kept")
            return
        }
        outcome.steps.append("2. create Secret \(name)")
        guard !dryRun else { return }
        var secret = KubeObject(apiVersion: "v1", kind: "Secret", namespace: legacy.namespace, name: name)
        secret["type"] = .string(type)
        secret["data"] = data
        secret.labels = [ChildLabels.partOf: "nim-integration"]
        secret.annotations = [LegacyRuntime.migratedFromAnnotation: (legacy.legacyReferences.map(\.reference.secret)).sorted().joined(separator: ",")]
        // Goes with the runtime; adoption by a NimDeployment adds that owner.
        secret.ownerReferences = [OwnerReference(apiVersion: KServe.servingRuntimes.apiVersion, kind: KServe.servingRuntimes.kind, name: legacy.name, uid: legacy.object.uid)]
        do {
            _ = try await client.create(secret, .secrets, fieldManager: Self.fieldManager)
        } catch {
            // Made meanwhile (another run): it must hold the key like any existing one.
            guard error.isAlreadyExists else { throw error }
            outcome.steps.removeLast()
            try await ensureSecret(name, type: type, data: data, key: key, registry: registry, for: legacy, dryRun: dryRun, outcome: &outcome)
        }
    }

    /// 4. Rolls the pods once: the restart token on every InferenceService using the runtime.
    func restart(_ legacy: LegacyRuntime, key: APIKey, dryRun: Bool, outcome: inout MigrationOutcome) async throws {
        let services = try await client.listAll(KServe.inferenceServices, namespace: legacy.namespace).items.filter {
            ($0[path: ["spec", "predictor", "model", "runtime"]]?.stringValue ?? $0.name) == legacy.name
        }
        if services.isEmpty { outcome.steps.append("4. no InferenceService uses ServingRuntime \(legacy.name): nothing to restart") }
        for service in services {
            let token = RestartToken(fingerprint: key.fingerprint).description
            if RestartToken(service: service)?.fingerprint == key.fingerprint {
                outcome.steps.append("4. InferenceService \(service.name) already has restart token \(token)")
                continue
            }
            outcome.steps.append("4. restart the pods once: InferenceService \(service.name) gets restart token \(token)")
            guard !dryRun else { continue }
            _ = try await client.patch(
                KServe.inferenceServices, namespace: legacy.namespace, name: service.name,
                .merge(["spec": ["predictor": ["annotations": [.init(stringLiteral: DesiredState.restartTokenAnnotation): .string(token)]]]]),
                fieldManager: Self.fieldManager)
        }
    }

    /// 5. Says what was done, on the runtime (annotation) and as an Event.
    func record(_ legacy: LegacyRuntime, key: APIKey, dryRun: Bool, outcome: inout MigrationOutcome) async throws {
        let now = KubeTime.format(time.now)
        outcome.steps.append("5. annotate ServingRuntime \(legacy.name) \(LegacyRuntime.migratedAtAnnotation)=\(dryRun ? "<time>" : now) and record an Event")
        outcome.message = "\(dryRun ? "Would move" : "Moved") from \(outcome.migratedFrom.joined(separator: ", ")) to \(legacy.targets.apiKeySecret) and \(legacy.targets.pullSecret) (key \(key.fingerprint)); the pods restart once."
        guard !dryRun else { return }
        _ = try await client.patch(
            KServe.servingRuntimes, namespace: legacy.namespace, name: legacy.name,
            .merge(["metadata": ["annotations": [.init(stringLiteral: LegacyRuntime.migratedAtAnnotation): .string(now)]]]), fieldManager: Self.fieldManager)
        events?.record(legacy.object, type: .normal, reason: "Migrated", message: outcome.message)
    }
}
