import Synchronization
import KubeCore
import KubeAPI

/// Writes a child by server-side apply, only when it differs from what this operator last
/// applied: a hash of the desired object rides along as an annotation, and (where the cache
/// holds the whole object) the live object must still carry every value the operator set.
/// Fields others own or defaulted are not looked at, so other controllers are never fought.
/// A child the cache holds trimmed (Secrets, with a digest for their data; Jobs) is compared
/// through the same trimming, so an edited key is still restored.
final class ChildApplier: Sendable {
    static let hashAnnotation = "nim.opendatahub.io/applied-hash"
    static let log = Logger(name: "applier")

    let client: KubeClient
    /// What this process applied: the cache may lag behind its own writes, and a stale cache
    /// must not cause a second, no-op write.
    let ledger: WriteLedger

    init(client: KubeClient, ledger: WriteLedger) {
        self.client = client
        self.ledger = ledger
    }

    /// What of a child the hash leaves out: the InferenceService's replica counts and canary
    /// share. KServe copies the InferenceService's annotations into the predictor's pod template,
    /// so a hash that changed with them would roll every pod for a change that scales or moves
    /// traffic; such a change is still applied, as the cached InferenceService is whole and the
    /// live values are compared.
    static func hashed(_ desired: KubeObject) -> JSON {
        guard desired.kind == "InferenceService" else { return desired.body }
        var body = desired.body
        for field in ["minReplicas", "maxReplicas", "canaryTrafficPercent"] { body[path: ["spec", "predictor", field]] = nil }
        return body
    }

    /// Whether `desired` needs writing, given the live object from the cache, which holds it
    /// as `view` trims it.
    static func needsApply(_ desired: KubeObject, live: KubeObject?, view: CacheView = nil) -> (Bool, KubeObject) {
        var stamped = desired
        stamped.annotations[hashAnnotation] = String(SHA256.hex(hashed(desired).serializedBytes()).prefix(16))
        guard let live, live.annotations[hashAnnotation] == stamped.annotations[hashAnnotation] else { return (true, stamped) }
        if !Self.contains(live.body, (view?(stamped) ?? stamped).body) { return (true, stamped) }
        return (false, stamped)
    }

    /// How a cache trims the objects it holds; nil for one that holds them whole.
    typealias CacheView = (@Sendable (KubeObject) -> KubeObject)?

    /// The first leaf of `wanted` that `actual` lacks or holds otherwise, as a path; nil when
    /// every leaf is there with the same value. Lists of keyed items (env and volumes by name,
    /// mounts by path) are matched by key, as server-side apply merges them and keeps the live
    /// order; other lists element by element.
    static func difference(_ actual: JSON?, _ wanted: JSON) -> String? {
        mismatch(actual, wanted).map { $0.reversed().joined() }
    }

    /// Every leaf of `wanted` is in `actual` with the same value.
    static func contains(_ actual: JSON, _ wanted: JSON) -> Bool { mismatch(actual, wanted) == nil }

    /// The walk behind both: every pass of every deployment makes it over each child that
    /// exists, so the path (its segments leaf first) is only built on the way back from a
    /// mismatch.
    private static func mismatch(_ actual: JSON?, _ wanted: JSON) -> [String]? {
        switch (actual, wanted) {
        case (.object(let a)?, .object(let w)):
            for (key, value) in w {
                if var found = mismatch(a[key], value) { found.append("." + key); return found }
            }
            return nil
        case (.array(let a)?, .array(let w)):
            if let key = itemKey(w) {
                for item in w {
                    let label = { "[\(key)=\(item[key]?.serialized() ?? "")]" }
                    guard let match = a.first(where: { $0[key] == item[key] }) else { return [label()] }
                    if var found = mismatch(match, item) { found.append(label()); return found }
                }
                return nil
            }
            if a.count < w.count { return [" (fewer items)"] }
            for (index, item) in w.enumerated() {
                if var found = mismatch(a[index], item) { found.append("[\(index)]"); return found }
            }
            return nil
        default:
            return actual?.semanticallyEquals(wanted) == true ? nil : []
        }
    }

    /// The key that tells the items of a list of objects apart, among the merge keys of the
    /// lists the operator writes (mounts by path before name: one volume may be mounted twice).
    static func itemKey(_ items: [JSON]) -> String? {
        guard !items.isEmpty, items.allSatisfy({ $0.objectValue != nil }) else { return nil }
        return ["mountPath", "name"].first { key in
            let values = items.compactMap { $0[key] }
            return values.count == items.count && Set(values).count == values.count
        }
    }

    /// Applies; returns the object as the server stored it when a write was sent.
    /// `view`: how the cache trims what it holds (`live` among them).
    func apply(_ desired: KubeObject, _ resource: ResourceType, live: KubeObject?, view: CacheView = nil) async throws(DeploymentProblem) -> KubeObject? {
        let identity = WriteLedger.identity(resource, namespace: desired.namespace, name: desired.name)
        let owner = NimOperator.owner(of: desired)
        let (needed, stamped) = Self.needsApply(desired, live: live, view: view)
        let hash = stamped.annotations[Self.hashAnnotation] ?? ""
        // Asked before knowing whether anything is written: the question is what forgets a
        // write once the cache shows it.
        let lastWrite = ledger.childWrite(identity, live: live)
        guard needed else { return nil }
        let body = desired.kind == "InferenceService" ? SHA256.hex(stamped.body.serializedBytes()) : hash
        // Only the cache's lag, not drift: it still shows the version from before this
        // process's last write of this very content (someone else's write is another version).
        let cacheIsBehind = lastWrite.map { $0.body == body && $0.before == live?.resourceVersion } ?? false
        guard !cacheIsBehind else { return nil }
        Self.log.debug("applying", ["child": .string(identity), "hash": .string(hash), "differs": .string(live.map { Self.difference($0.body, (view?(stamped) ?? stamped).body) ?? "the hash" } ?? "new"), "liveHash": .string(live?.annotations[Self.hashAnnotation] ?? "none"), "liveVersion": .string(live?.resourceVersion ?? "none")])
        do {
            let stored = try await client.apply(stamped, resource, fieldManager: ReconcilerOptions.fieldManager)
            let token = desired.kind == "InferenceService" ? RestartToken(service: desired) : nil
            ledger.recordChild(
                identity,
                .init(stamp: hash, body: body, before: live?.resourceVersion, after: stored.resourceVersion, generation: stored.generation, owner: owner, ownerUID: desired.controllerReference?.uid, token: token))
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
