import KubeCore

/// Whether a cache claim that already exists under the deployment's claim name can serve the
/// spec's storage: a claim kept from an earlier deployment (Retain), or the deployment's own
/// after a spec change. Decided before anything is written, from the claim the cache holds, so
/// the user reads what differs instead of the API server's raw 422 on an immutable field.
enum ClaimFit: Equatable {
    /// The claim serves as it is, or after growing; `keepSize` when it is larger than the spec
    /// asks (a claim cannot shrink, and a larger cache does no harm).
    case fits(keepSize: JSON?)
    case mismatch([String])

    static func check(_ live: KubeObject, storage: NimDeployment.Storage) -> ClaimFit {
        var differences: [String] = []
        let liveClass = live[path: ["spec", "storageClassName"]]?.stringValue
        if let wanted = storage.storageClassName, wanted != liveClass {
            differences.append("its storageClassName is \(liveClass.map { "\"\($0)\"" } ?? "unset"), spec.storage.storageClassName asks for \"\(wanted)\"")
        }
        let modes = (live[path: ["spec", "accessModes"]]?.arrayValue ?? []).compactMap(\.stringValue)
        if !modes.isEmpty, modes != [storage.accessMode] {
            differences.append("its access modes are \(modes.joined(separator: ", ")), spec.storage.accessMode asks for \(storage.accessMode)")
        }
        guard differences.isEmpty else { return .mismatch(differences) }
        if let liveSize = live[path: ["spec", "resources", "requests", "storage"]], let have = QuantityText.amount(liveSize),
            let want = QuantityText.amount(storage.size), have > want
        {
            return .fits(keepSize: liveSize)
        }
        return .fits(keepSize: nil)
    }
}
