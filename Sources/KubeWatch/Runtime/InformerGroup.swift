/// Runs a set of informers the way a manager starts its caches: all of them at once, except
/// `late`, which are listed only once the others have synced. A cache no controller waits for
/// (a large one, read only now and then) then does not compete with the lists that gate the
/// first reconciles. The early ones list abreast, namespace by namespace (`ListPace`).
public enum InformerGroup {
    /// `patience`: the longest an early informer waits for the others at a namespace's end.
    public static func run(_ informers: [Informer], late: [Informer], patience: Duration = ListPace.defaultPatience) async {
        let early = informers.filter { informer in !late.contains { $0 === informer } }
        let pace = ListPace(early, patience: patience)
        await withTaskGroup(of: Void.self) { group in
            for informer in early { group.addTask { await informer.run(pacedBy: pace) } }
            group.addTask {
                for informer in early { await informer.waitForSync() }
                if Task.isCancelled { return }
                await withTaskGroup(of: Void.self) { group in
                    for informer in late { group.addTask { await informer.run() } }
                }
            }
        }
    }
}

extension Duration {
    /// Whole milliseconds, for log fields.
    var milliseconds: Int { Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000) }
}
