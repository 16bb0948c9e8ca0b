import Foundation
import KubeCore

/// What kube-controller-manager does on a real cluster and an API server alone does not: the
/// garbage collector (owner references, background/foreground/orphan), the namespace lifecycle,
/// pvc-protection and CRD cleanup. Envtest has none of this; demos and tests of deletion here
/// rely on it, so it is implemented deliberately, on the same commit path as every other write.
extension StoreState {
    /// Finalizers this collector is responsible for removing.
    static let collectorFinalizers: Set<String> = [
        "foregroundDeletion", "orphan", "kubernetes.io/pvc-protection", "customresourcecleanup.apiextensions.k8s.io",
    ]

    /// Runs until the queue is empty; returns whether some objects are still waiting on others
    /// (a foreground owner on its dependents, a namespace on its contents) and need another pass.
    mutating func runCollector(now: Date) -> Bool {
        var waiting: Set<CollectorWork> = []
        var budget = 100_000
        while !pendingCollection.isEmpty && budget > 0 {
            let batch = pendingCollection
            pendingCollection = []
            for work in batch {
                budget -= 1
                switch work {
                case .ownerGone(let uid):
                    for dependent in dependents[uid] ?? [] { resolveOwners(of: dependent, now: now) }
                case .checkOwners(let location):
                    resolveOwners(of: location, now: now)
                case .finalize(let location):
                    if !finalize(location, now: now) { waiting.insert(work) }
                }
            }
        }
        pendingCollection.append(contentsOf: waiting)
        return !waiting.isEmpty
    }

    /// An object whose owners are all gone is garbage; references to gone owners are dropped
    /// when some owner remains.
    private mutating func resolveOwners(of location: ObjectLocation, now: Date) {
        guard var object = object(at: location) else { return }
        let references = object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []
        guard !references.isEmpty else { return }
        let present = references.filter { reference in
            guard let uid = reference["uid"]?.stringValue, let owner = uidIndex[uid] else { return false }
            // A namespaced dependent's owner is in its namespace or cluster-scoped.
            return owner.key.namespace.isEmpty || owner.key.namespace == location.key.namespace
        }
        if present.isEmpty {
            collectorDelete(location, now: now)
        } else if present.count < references.count {
            let before = object
            object[path: ["metadata", "ownerReferences"]] = .array(present)
            _ = commitPut(object, at: location, previous: before)
        }
    }

    /// Deletes as a background deletion would: marked if it has finalizers, removed otherwise.
    mutating func collectorDelete(_ location: ObjectLocation, now: Date) {
        guard var object = object(at: location), object[path: ["metadata", "deletionTimestamp"]] == nil else { return }
        if (object[path: ["metadata", "finalizers"]]?.arrayValue ?? []).isEmpty && location.resource != BuiltinResources.namespaces.groupResource {
            commitDelete(at: location)
            return
        }
        let before = object
        object[path: ["metadata", "deletionTimestamp"]] = .string(KubeTime.format(now))
        object[path: ["metadata", "deletionGracePeriodSeconds"]] = 0
        if definitions[location.resource]?.hasGeneration == true {
            object[path: ["metadata", "generation"]] = .int((object[path: ["metadata", "generation"]]?.intValue ?? 1) + 1)
        }
        _ = commitPut(object, at: location, previous: before)
        pendingCollection.append(.finalize(location))
    }

    /// Does the collector's part for a terminating object; `true` when nothing is left for it.
    private mutating func finalize(_ location: ObjectLocation, now: Date) -> Bool {
        guard var object = object(at: location), object[path: ["metadata", "deletionTimestamp"]] != nil else { return true }
        let before = object
        var finalizers = object[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? []
        let uid = object[path: ["metadata", "uid"]]?.stringValue ?? ""
        var done = true

        if finalizers.contains("foregroundDeletion") {
            var blocked = false
            for dependent in dependents[uid] ?? [] {
                collectorDelete(dependent, now: now)
                if let remaining = self.object(at: dependent),
                    (remaining[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains(where: {
                        $0["uid"]?.stringValue == uid && $0["blockOwnerDeletion"]?.boolValue == true
                    })
                {
                    blocked = true
                }
            }
            if blocked { done = false } else { finalizers.removeAll { $0 == "foregroundDeletion" } }
        }
        if finalizers.contains("orphan") {
            for dependent in dependents[uid] ?? [] {
                guard var child = self.object(at: dependent) else { continue }
                let previous = child
                let kept = (child[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != uid }
                child[path: ["metadata", "ownerReferences"]] = kept.isEmpty ? nil : .array(kept)
                _ = commitPut(child, at: dependent, previous: previous)
            }
            finalizers.removeAll { $0 == "orphan" }
        }
        if finalizers.contains("kubernetes.io/pvc-protection") {
            if claimInUse(location) { done = false } else { finalizers.removeAll { $0 == "kubernetes.io/pvc-protection" } }
        }
        if finalizers.contains("customresourcecleanup.apiextensions.k8s.io") {
            if removeAllCustomResources(of: object, now: now) {
                finalizers.removeAll { $0 == "customresourcecleanup.apiextensions.k8s.io" }
            } else {
                done = false
            }
        }
        if location.resource == BuiltinResources.namespaces.groupResource,
            (object[dotted: "spec.finalizers"]?.arrayValue ?? []).contains("kubernetes")
        {
            if emptyNamespace(location.key.name, now: now) {
                object[dotted: "spec.finalizers"] = nil
            } else {
                done = false
            }
        }
        object[path: ["metadata", "finalizers"]] = finalizers.isEmpty ? nil : .array(finalizers.map(JSON.string))
        let namespaceHeld = (object[dotted: "spec.finalizers"]?.arrayValue ?? []).isEmpty == false
        if finalizers.isEmpty && !namespaceHeld {
            // Removing the last finalizer deletes at once: one DELETED event carrying the last
            // stored state, no intermediate MODIFIED (what the real collector's update does).
            if location.resource == BuiltinResources.customResourceDefinitions.groupResource, let gr = Self.servedResource(of: object) {
                definitions[gr] = nil
                tables[gr] = nil
            }
            commitDelete(at: location)
        } else if object != before {
            _ = commitPut(object, at: location, previous: before)
        }
        return done
    }

    private func claimInUse(_ location: ObjectLocation) -> Bool {
        let pods = tables[GroupResource(group: "", plural: "pods")]?.objects ?? [:]
        return pods.contains { key, pod in
            key.namespace == location.key.namespace && pod[path: ["metadata", "deletionTimestamp"]] == nil
                && (pod[dotted: "spec.volumes"]?.arrayValue ?? []).contains {
                    $0[path: ["persistentVolumeClaim", "claimName"]]?.stringValue == location.key.name
                }
        }
    }

    /// Deletes everything in a namespace; `true` once nothing is left.
    private mutating func emptyNamespace(_ namespace: String, now: Date) -> Bool {
        var empty = true
        for (resource, table) in tables where definitions[resource]?.namespaced == true {
            for key in table.objects.keys where key.namespace == namespace {
                collectorDelete(ObjectLocation(resource: resource, key: key), now: now)
                if tables[resource]?.objects[key] != nil { empty = false }
            }
        }
        return empty
    }

    private mutating func removeAllCustomResources(of crd: JSON, now: Date) -> Bool {
        guard let resource = Self.servedResource(of: crd) else { return true }
        for key in tables[resource]?.objects.keys.map({ $0 }) ?? [] {
            collectorDelete(ObjectLocation(resource: resource, key: key), now: now)
        }
        return tables[resource]?.objects.isEmpty ?? true
    }

    static func servedResource(of crd: JSON) -> GroupResource? {
        guard let group = crd[dotted: "spec.group"]?.stringValue, let plural = crd[path: ["spec", "names", "plural"]]?.stringValue else { return nil }
        return GroupResource(group: group, plural: plural)
    }
}
