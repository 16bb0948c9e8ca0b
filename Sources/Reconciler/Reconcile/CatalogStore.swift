import Synchronization
import KubeCore

/// The catalog as last read from its ConfigMap. A missing or unreadable catalog is a state to
/// report, not a reason to stop: deployments that set `spec.image` still work.
public final class CatalogStore: Sendable {
    public enum State: Sendable, Equatable {
        case notLoaded
        case missing
        case loaded(ModelCatalog, problems: [ModelCatalog.Problem])
    }

    private let state = Mutex(State.notLoaded)
    public let source: ObjectKey

    public init(source: ObjectKey) { self.source = source }

    public var current: State { state.withLock { $0 } }

    /// Takes in the ConfigMap's new content; returns the models whose entries changed (all of
    /// them when the catalog appears or disappears), so only their deployments are reconciled.
    @discardableResult
    public func update(_ configMap: KubeObject?) -> Set<String>? {
        let next: State
        if let configMap {
            let (catalog, problems) = ModelCatalog.parse(configMap: configMap)
            next = .loaded(catalog, problems: problems)
        } else {
            next = .missing
        }
        return state.withLock { state -> Set<String>? in
            defer { state = next }
            guard case .loaded(let old, _) = state, case .loaded(let new, _) = next else { return nil }
            return CatalogDiff(from: old, to: new).modelsChanged
        }
    }
}
