import Synchronization

/// Informers making their first lists side by side (an `InformerGroup`'s early ones), kept
/// abreast namespace by namespace. A controller reconciles a namespace once every cache it reads
/// has listed it; left alone, the caches that list fast fetch page after page of later
/// namespaces, and the API server serves those before the pages the first reconciles wait for.
/// So an informer entering a namespace waits, for a moment at most, until the others have
/// listed the one it leaves. The pause is bounded, and a peer that let it run out is not waited
/// for again until its list moves: one that cannot list (forbidden, failing, a kind not served)
/// costs the others one pause, not one per namespace.
public final class ListPace: Sendable {
    private let members: [Informer]
    /// Peers a pause ran out on, with how far their lists had come then.
    private let stalled = Mutex<[ObjectIdentifier: String]>([:])
    /// The longest an informer waits at a namespace's end.
    let patience: Duration
    public static let defaultPatience: Duration = .milliseconds(100)

    init(_ members: [Informer], patience: Duration = ListPace.defaultPatience) {
        self.members = members
        self.patience = patience
    }

    /// `informer` has listed everything up to `namespace`'s end and gone on to the next.
    func left(_ namespace: String, by informer: Informer) async {
        let behind = members.filter { other in
            other !== informer && other.isListingInOrder && !other.hasListed(namespace: namespace) && !isStalled(other)
        }
        guard !behind.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for other in behind { await other.waitUntilListed(namespace: namespace) } }
            group.addTask { [patience] in try? await Task.sleep(for: patience) }
            await group.next()
            group.cancelAll()
        }
        let late = behind.filter { !$0.hasListed(namespace: namespace) }
        stalled.withLock { stalled in
            for other in late { stalled[ObjectIdentifier(other)] = other.listProgress }
        }
    }

    /// Ran a pause out, and has listed nothing more since.
    private func isStalled(_ informer: Informer) -> Bool {
        stalled.withLock { stalled in
            guard let at = stalled[ObjectIdentifier(informer)] else { return false }
            if informer.listProgress == at { return true }
            stalled[ObjectIdentifier(informer)] = nil
            return false
        }
    }
}
