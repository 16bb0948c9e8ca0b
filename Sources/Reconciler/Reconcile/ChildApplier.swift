import Synchronization
import KubeWatch

/// Writes a child by server-side apply, only when it differs from what this operator last
/// applied: a hash of the desired object rides along as an annotation, and (where the cache
/// holds the whole object) the live object must still carry every value the operator set.
/// Fields others own or defaulted are not looked at, so other controllers are never fought.
/// Secrets are cached as metadata only; one written by someone else is read whole before the
/// decision, so an edited key is restored.
final class ChildApplier: Sendable {
    static let hashAnnotation = "nim.opendatahub.io/applied-hash"
    static let log = Logger(name: "applier")

    let client: KubeClient
    /// What this process last applied, by child: the cache may lag behind our own writes, and a
    /// stale cache must not cause a second (no-op) write.
    private let lastApplied = Mutex<[String: String]>([:])
    /// The resourceVersion each partly cached child (a Secret: metadata only) had when this
    /// process last saw its whole content match: any other version means someone else wrote it.
    private let verifiedVersions = Mutex<[String: String]>([:])

    init(client: KubeClient) { self.client = client }

    static func identity(_ resource: ResourceType, _ object: KubeObject) -> String {
        "\(resource.groupResource)/\(object.namespace ?? "")/\(object.name)"
    }

    /// The hash this process last applied for a child, if it applied one.
    func lastAppliedHash(_ resource: ResourceType, namespace: String, name: String) -> String? {
        lastApplied.withLock { $0["\(resource.groupResource)/\(namespace)/\(name)"] }
    }

    /// Forgets what was applied for a deployment's children (it is gone).
    func forget(deployment: ObjectKey) {
        let keep: (String) -> Bool = { !$0.contains("/\(deployment.namespace)/") || !$0.hasSuffix(deployment.name) }
        lastApplied.withLock { applied in applied = applied.filter { keep($0.key) } }
        verifiedVersions.withLock { versions in versions = versions.filter { keep($0.key) } }
    }

    /// Whether `desired` needs writing, given the live object from the cache.
    static func needsApply(_ desired: KubeObject, live: KubeObject?, liveIsComplete: Bool) -> (Bool, KubeObject) {
        var stamped = desired
        stamped.annotations[hashAnnotation] = String(SHA256.hex(desired.body.serializedBytes()).prefix(16))
        guard let live, live.annotations[hashAnnotation] == stamped.annotations[hashAnnotation] else { return (true, stamped) }
        if liveIsComplete, !Self.contains(live.body, stamped.body) { return (true, stamped) }
        return (false, stamped)
    }

    /// Every leaf of `wanted` is in `actual` with the same value; lists element by element.
    static func contains(_ actual: JSON, _ wanted: JSON) -> Bool {
        switch (actual, wanted) {
        case (.object(let a), .object(let w)):
            return w.allSatisfy { key, value in a[key].map { contains($0, value) } ?? false }
        case (.array(let a), .array(let w)):
            return a.count >= w.count && zip(a, w).allSatisfy { contains($0, $1) }
        default:
            return actual.semanticallyEquals(wanted)
        }
    }

    /// Applies; returns the object as the server stored it when a write was sent.
    func apply(_ desired: KubeObject, _ resource: ResourceType, live cached: KubeObject?, liveIsComplete cachedIsComplete: Bool) async throws(DeploymentProblem) -> KubeObject? {
        let identity = Self.identity(resource, desired)
        var live = cached
        var liveIsComplete = cachedIsComplete
        // A Secret's metadata cannot show whether someone edited its data (a key replaced by
        // hand, a wrong one pasted): when another version than the one last checked is seen,
        // read it whole once, so drift is put right rather than trusted.
        if !cachedIsComplete, let partial = cached, verifiedVersions.withLock({ $0[identity] }) != partial.resourceVersion {
            do {
                live = try await client.get(resource, namespace: partial.namespace, name: partial.name)
                liveIsComplete = true
            } catch {
                if !error.isNotFound { throw Self.problem(error, object: "\(resource.kind) \(desired.name)") }
                live = nil
            }
        }
        let (needed, stamped) = Self.needsApply(desired, live: live, liveIsComplete: liveIsComplete)
        let hash = stamped.annotations[Self.hashAnnotation]
        // Only the cache's lag, not drift: the live object carries an older hash than the one
        // this process just wrote.
        let cacheIsBehind = live?.annotations[Self.hashAnnotation] != hash && lastApplied.withLock { $0[identity] } == hash
        guard needed, !cacheIsBehind else {
            if liveIsComplete, !cachedIsComplete, let live { verifiedVersions.withLock { $0[identity] = live.resourceVersion } }
            return nil
        }
        Self.log.debug("applying", ["child": .string(identity), "hash": .string(hash ?? ""), "liveHash": .string(live?.annotations[Self.hashAnnotation] ?? "none"), "liveVersion": .string(live?.resourceVersion ?? "none")])
        do {
            let stored = try await client.apply(stamped, resource, fieldManager: ReconcilerOptions.fieldManager)
            lastApplied.withLock { $0[identity] = hash }
            if !cachedIsComplete { verifiedVersions.withLock { $0[identity] = stored.resourceVersion } }
            return stored
        } catch {
            throw Self.problem(error, object: "\(resource.kind) \(desired.name)")
        }
    }

    static func problem(_ error: KubeError, object: String) -> DeploymentProblem {
        switch error {
        case .api(let status): return .applyFailed(object: object, status: status.code, message: status.message)
        default: return .apiUnavailable(error.description)
        }
    }
}
