import KubeCore

/// The Secret names of NIM deployments made before per-deployment keys (contract section 6 and
/// the migration notes): shared per namespace, or per deployment from the hand-migration script.
public enum LegacySecrets {
    public static let sharedKey = "nvidia-nim-secrets"
    /// `nvidia-nim-image-pull` is what releases 2.14 to 2.16 called `ngc-secret`.
    public static let sharedPull = ["ngc-secret", "nvidia-nim-image-pull"]

    public enum Kind: String, Sendable { case key, pull }

    /// What a name held for deployment `deployment`, if it is a legacy name.
    public static func kind(of name: String, deployment: String) -> Kind? {
        if name == sharedKey || name == "nim-api-key-\(deployment)" { return .key }
        if sharedPull.contains(name) || name == "nim-image-pull-\(deployment)" || name == "nim-pull-secret-\(deployment)" { return .pull }
        return nil
    }

    /// Names shared by several deployments: deleted only by an explicit cleanup.
    public static var shared: [String] { [sharedKey] + sharedPull }
}

/// Every place a pod spec (a ServingRuntime's, a Deployment's template, a Pod's) names a Secret.
public struct SecretReference: Sendable, Equatable, Hashable, CustomStringConvertible {
    public enum Place: Sendable, Equatable, Hashable {
        /// `env[].valueFrom.secretKeyRef` of a container.
        case env(container: String, variable: String, key: String)
        /// `envFrom[].secretRef` of a container.
        case envFrom(container: String)
        case imagePullSecrets
        /// A `secret` volume or a projected volume's `secret` source.
        case volume(String)
        /// A ServiceAccount's `secrets` or `imagePullSecrets`.
        case serviceAccount
    }

    public var secret: String
    public var place: Place

    public var description: String {
        switch place {
        case .env(let container, let variable, _): return "env \(variable) of container \(container)"
        case .envFrom(let container): return "envFrom of container \(container)"
        case .imagePullSecrets: return "imagePullSecrets"
        case .volume(let name): return "volume \(name)"
        case .serviceAccount: return "service account secrets"
        }
    }

    /// The references of a pod spec (`spec` of a Pod or ServingRuntime, `spec.template.spec`
    /// of a Deployment): all containers, init containers included.
    public static func inPodSpec(_ spec: JSON?) -> [SecretReference] {
        guard let spec else { return [] }
        var found: [SecretReference] = []
        for field in ["initContainers", "containers"] {
            for container in spec[field]?.arrayValue ?? [] {
                let name = container["name"]?.stringValue ?? ""
                for variable in container["env"]?.arrayValue ?? [] {
                    guard let reference = variable[path: ["valueFrom", "secretKeyRef"]], let secret = reference["name"]?.stringValue else { continue }
                    found.append(.init(secret: secret, place: .env(container: name, variable: variable["name"]?.stringValue ?? "", key: reference["key"]?.stringValue ?? "")))
                }
                for source in container["envFrom"]?.arrayValue ?? [] {
                    if let secret = source[path: ["secretRef", "name"]]?.stringValue { found.append(.init(secret: secret, place: .envFrom(container: name))) }
                }
            }
        }
        for entry in spec["imagePullSecrets"]?.arrayValue ?? [] {
            if let secret = entry["name"]?.stringValue { found.append(.init(secret: secret, place: .imagePullSecrets)) }
        }
        for volume in spec["volumes"]?.arrayValue ?? [] {
            let name = volume["name"]?.stringValue ?? ""
            if let secret = volume[path: ["secret", "secretName"]]?.stringValue { found.append(.init(secret: secret, place: .volume(name))) }
            for source in volume[path: ["projected", "sources"]]?.arrayValue ?? [] {
                if let secret = source[path: ["secret", "name"]]?.stringValue { found.append(.init(secret: secret, place: .volume(name))) }
            }
        }
        return found
    }
}

/// A ServingRuntime as migration sees it: is it NIM, what does it reference, how far along is
/// its move to per-deployment Secrets. Pure: read from the object alone.
public struct LegacyRuntime: Sendable {
    public enum State: String, Sendable, Equatable {
        /// Not a NIM runtime, or one a NimDeployment manages: not migration's business.
        case notApplicable
        /// References legacy Secrets: to be migrated.
        case legacy
        /// Neither a key nor a pull secret (air-gapped): nothing to move.
        case airGapped
        /// Repointed, the pods not yet restarted (a migration stopped between steps).
        case restartPending
        /// Done: annotated with when.
        case migrated
    }

    public static let migratedFromAnnotation = "nim.opendatahub.io/migrated-from"
    public static let migratedAtAnnotation = "nim.opendatahub.io/migrated-at"
    public static let nimAnnotation = "runtimes.opendatahub.io/nvidia-nim"

    public let object: KubeObject
    public var name: String { object.name }
    public var namespace: String { object.namespace ?? "" }
    public let isNIM: Bool
    public let references: [SecretReference]
    public let targets: ChildNames

    public init(_ object: KubeObject) {
        self.object = object
        let spec = object["spec"]
        let images = (spec?["containers"]?.arrayValue ?? []).compactMap { $0["image"]?.stringValue }
        isNIM = object.annotations[Self.nimAnnotation] == "true" || images.contains { $0.hasPrefix("nvcr.io/nim/") }
        references = SecretReference.inPodSpec(spec)
        targets = ChildNames(deployment: object.name)
    }

    /// References to legacy names, with what each held.
    public var legacyReferences: [(reference: SecretReference, kind: LegacySecrets.Kind)] {
        references.compactMap { reference in LegacySecrets.kind(of: reference.secret, deployment: name).map { (reference, $0) } }
    }

    /// The legacy Secrets this runtime was moved from (recorded when it was repointed).
    public var migratedFrom: [String] {
        (object.annotations[Self.migratedFromAnnotation] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public var isManaged: Bool { object.labels[ChildLabels.managedBy] == ChildLabels.operatorName }

    public var state: State {
        guard isNIM, !isManaged else { return .notApplicable }
        if !legacyReferences.isEmpty { return .legacy }
        if object.annotations[Self.migratedFromAnnotation] != nil {
            return object.annotations[Self.migratedAtAnnotation] == nil ? .restartPending : .migrated
        }
        // A key or pull secret of its own (the per-deployment ones, or any other): not legacy.
        let hasKeyOrPull = references.contains { reference in
            if case .env(_, "NGC_API_KEY", _) = reference.place { return true }
            return reference.place == .imagePullSecrets
        }
        return hasKeyOrPull ? .notApplicable : .airGapped
    }

    /// The key's source: the Secret and data key the API key comes from (`env NGC_API_KEY`
    /// first, then an envFrom of a legacy key Secret), or, failing that, a legacy pull secret.
    public var keySource: (secret: String, dataKey: String?, kind: LegacySecrets.Kind)? {
        let legacy = legacyReferences
        for (reference, kind) in legacy where kind == .key {
            if case .env(_, let variable, let key) = reference.place, variable == "NGC_API_KEY" { return (reference.secret, key, .key) }
        }
        for (reference, kind) in legacy where kind == .key { return (reference.secret, nil, .key) }
        for (reference, kind) in legacy where kind == .pull { return (reference.secret, nil, .pull) }
        return nil
    }

    /// The runtime with every legacy reference renamed to its per-deployment Secret, found by
    /// name wherever it is; everything else kept as it was, duplicates in `imagePullSecrets`
    /// folded, and the old names recorded in an annotation. `nil` when nothing changes.
    public func repointed() -> KubeObject? {
        let names = Dictionary(legacyReferences.map { ($0.reference.secret, $0.kind == .key ? targets.apiKeySecret : targets.pullSecret) }) { first, _ in first }
        guard !names.isEmpty, var spec = object["spec"] else { return nil }
        func rename(_ value: JSON?) -> JSON? { value?.stringValue.flatMap { names[$0] }.map(JSON.string) }
        for field in ["initContainers", "containers"] {
            guard var containers = spec[field]?.arrayValue else { continue }
            for index in containers.indices {
                if var env = containers[index]["env"]?.arrayValue {
                    for item in env.indices {
                        if let renamed = rename(env[item][path: ["valueFrom", "secretKeyRef", "name"]]) {
                            env[item][path: ["valueFrom", "secretKeyRef", "name"]] = renamed
                        }
                    }
                    containers[index]["env"] = .array(env)
                }
                if var sources = containers[index]["envFrom"]?.arrayValue {
                    for item in sources.indices {
                        if let renamed = rename(sources[item][path: ["secretRef", "name"]]) { sources[item][path: ["secretRef", "name"]] = renamed }
                    }
                    containers[index]["envFrom"] = .array(sources)
                }
            }
            spec[field] = .array(containers)
        }
        if let pulls = spec["imagePullSecrets"]?.arrayValue {
            var seen: Set<String> = []
            var kept: [JSON] = []
            for var entry in pulls {
                if let renamed = rename(entry["name"]) { entry["name"] = renamed }
                if let name = entry["name"]?.stringValue, !seen.insert(name).inserted { continue }
                kept.append(entry)
            }
            spec["imagePullSecrets"] = .array(kept)
        }
        if var volumes = spec["volumes"]?.arrayValue {
            for index in volumes.indices {
                if let renamed = rename(volumes[index][path: ["secret", "secretName"]]) { volumes[index][path: ["secret", "secretName"]] = renamed }
                if var sources = volumes[index][path: ["projected", "sources"]]?.arrayValue {
                    for item in sources.indices {
                        if let renamed = rename(sources[item][path: ["secret", "name"]]) { sources[item][path: ["secret", "name"]] = renamed }
                    }
                    volumes[index][path: ["projected", "sources"]] = .array(sources)
                }
            }
            spec["volumes"] = .array(volumes)
        }
        var result = object
        result["spec"] = spec
        result.annotations[Self.migratedFromAnnotation] = (Set(migratedFrom).union(names.keys)).sorted().joined(separator: ",")
        return result
    }

    /// The claim the model cache lives on, and its subPath: the volume mounted at the NIM cache
    /// path, else the runtime's only claim.
    public var cacheClaim: (claim: String, subPath: String?)? {
        let spec = object["spec"]
        let volumes = spec?["volumes"]?.arrayValue ?? []
        func claim(ofVolume name: String) -> String? {
            volumes.first { $0["name"]?.stringValue == name }?[path: ["persistentVolumeClaim", "claimName"]]?.stringValue
        }
        for container in spec?["containers"]?.arrayValue ?? [] {
            for mount in container["volumeMounts"]?.arrayValue ?? [] where mount["mountPath"]?.stringValue == DesiredState.cacheMountPath {
                if let volume = mount["name"]?.stringValue, let claim = claim(ofVolume: volume) {
                    return (claim, mount["subPath"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
                }
            }
        }
        let claims = volumes.compactMap { $0[path: ["persistentVolumeClaim", "claimName"]]?.stringValue }
        return claims.count == 1 ? (claims[0], nil) : nil
    }
}
