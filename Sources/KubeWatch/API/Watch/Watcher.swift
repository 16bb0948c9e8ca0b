import Foundation
import KubeCore

/// What a watcher reports. A relist is bracketed: `initStart`, the listed objects as
/// `initApply`, then `initDone` — anything applied before and not listed again is gone.
public enum WatcherEvent: Sendable {
    case initStart
    case initApply(KubeObject)
    case initDone
    case apply(KubeObject)
    case delete(KubeObject)
}

/// List-then-watch, forever, as a state machine (kube-rs's `watcher`, client-go's numbers):
/// list in pages → watch from the list's resourceVersion → when the stream ends, watch again from
/// the last resourceVersion seen (bookmarks included) → on 410 Expired, list again. Errors back
/// off exponentially with jitter and the backoff resets once things work again.
public struct Watcher: Sendable {
    public let client: KubeClient
    public let resource: ResourceType
    public let namespace: String?
    public var labelSelector: LabelSelector?
    public var fieldSelector: FieldSelector?
    public var metadataOnly = false
    /// Objects' `metadata.managedFields` are skipped while parsing: for a cache, which drops them.
    public var dropsManagedFields = false
    /// Objects per list page; nil: 100 for whole objects, 500 for metadata. A page is held as its
    /// bytes until its last item is taken, and its first item is taken only once all of it has
    /// arrived: small pages of whole objects let a cache show its first namespace sooner (a
    /// controller reconciles a namespace once every cache has listed it). Metadata is a tenth of
    /// the size, and the caches of it are the big ones (every Secret in the cluster): 500
    /// (client-go's page) makes their relist 5 times fewer round trips for the same bytes a page.
    public var pageSize: Int?
    static func defaultPageSize(metadataOnly: Bool) -> Int { metadataOnly ? 500 : 100 }
    public var timeoutSeconds = 290
    public var backoff = Backoff()
    public var time: any TimeSource = SystemTime()
    /// Called with each error before backing off (for logs and metrics).
    public var onError: (@Sendable (KubeError) -> Void)?

    public init(client: KubeClient, resource: ResourceType, namespace: String? = nil) {
        self.client = client
        self.resource = resource
        self.namespace = namespace
    }

    /// The events, read as they are asked for, until the reader stops or its task is cancelled.
    public func events() -> WatcherEvents { WatcherEvents(watcher: self) }
}

/// A watcher's events as a pull-based sequence, the way kube-rs's watcher is a stream: each
/// `next()` advances the state machine only as far as the next event. Nothing is listed or
/// decoded ahead of the reader, so a reader that falls behind holds at most one page of objects
/// (the rest waits as bytes in the transfer, or unlisted), and no task sits between the
/// transport and the reader.
public struct WatcherEvents: AsyncSequence, Sendable {
    public typealias Element = WatcherEvent
    public typealias Failure = Never
    let watcher: Watcher

    public func makeAsyncIterator() -> Iterator { Iterator(watcher: watcher) }

    public struct Iterator: AsyncIteratorProtocol {
        enum Mode {
            /// Listing; nil until the first page is asked for (then `initStart` has gone out).
            case listing(ListOptions?)
            /// Watching from `version`; `stream` is nil until a watch is open.
            case watching
        }

        let watcher: Watcher
        var mode = Mode.listing(nil)
        /// Where to watch from: the last resourceVersion seen (bookmarks included).
        var version = ""
        var watch: WatchEvents?
        var stream: WatchEvents.Iterator?
        var backoff: Backoff
        /// The event decided and not yet handed out.
        var ready: WatcherEvent?
        /// The page being listed, its items parsed one per step.
        var page: ListPage?
        let log: Logger

        init(watcher: Watcher) {
            self.watcher = watcher
            backoff = watcher.backoff
            log = Logger(name: "watcher", fields: ["resource": .string(watcher.resource.plural), "namespace": .string(watcher.namespace ?? "")])
        }

        public mutating func next() async -> WatcherEvent? {
            while true {
                if let event = ready {
                    ready = nil
                    return event
                }
                if Task.isCancelled { return finish() }
                do throws(KubeError) {
                    try await advance()
                } catch {
                    if case .cancelled = error { return finish() }
                    watcher.onError?(error)
                    endWatch()
                    // A list that failed half-way starts again from its first page (and a new
                    // `initStart`); an expired resourceVersion needs a new list.
                    if case .listing = mode { mode = .listing(nil) }
                    if error.isExpired { mode = .listing(nil) }
                    // The server said how long to wait: do not come back sooner.
                    let time = watcher.time
                    let delay = Swift.max(backoff.next(at: time.now), error.status?.retryAfterSeconds.map(Double.init) ?? 0)
                    do { try await time.sleep(until: time.now.addingTimeInterval(delay)) } catch { return finish() }
                }
            }
        }

        private mutating func emit(_ event: WatcherEvent) { ready = event }

        private mutating func finish() -> WatcherEvent? {
            endWatch()
            return nil
        }

        private mutating func endWatch() {
            watch?.cancel()
            watch = nil
            stream = nil
        }

        /// One step: a page listed (and its first item taken), one more of its items taken, a
        /// watch opened or one watch event read.
        private mutating func advance() async throws(KubeError) {
            if page != nil { return try nextListed() }
            switch mode {
            case .listing(nil):
                emit(.initStart)
                mode = .listing(ListOptions(
                    labelSelector: watcher.labelSelector, fieldSelector: watcher.fieldSelector,
                    limit: watcher.pageSize ?? Watcher.defaultPageSize(metadataOnly: watcher.metadataOnly), metadataOnly: watcher.metadataOnly,
                    dropsManagedFields: watcher.dropsManagedFields))
            case .listing(var options?):
                try await listPage(&options)
            case .watching where stream == nil:
                let options = WatchOptions(
                    labelSelector: watcher.labelSelector, fieldSelector: watcher.fieldSelector, resourceVersion: version, allowBookmarks: true,
                    timeoutSeconds: watcher.timeoutSeconds, metadataOnly: watcher.metadataOnly, dropsManagedFields: watcher.dropsManagedFields)
                log.debug("watch starting", ["resourceVersion": .string(version)])
                let opened = try await watcher.client.watch(watcher.resource, namespace: watcher.namespace, options: options)
                log.debug("watch open", ["resourceVersion": .string(version)])
                watch = opened
                stream = opened.makeAsyncIterator()
            case .watching:
                try await readWatch()
            }
        }

        /// Lists one page, streaming its objects (kube-rs's InitApply): a consumer swaps its
        /// store only at `initDone`, so a list that fails half-way and starts again with a new
        /// `initStart` never looks like deletions.
        private mutating func listPage(_ options: inout ListOptions) async throws(KubeError) {
            let listed: ListPage
            do {
                listed = try await watcher.client.listPage(watcher.resource, namespace: watcher.namespace, options: options)
            } catch {
                // An expired continue token: start the list again.
                if error.isExpired, options.continueToken != nil {
                    options.continueToken = nil
                    mode = .listing(options)
                    emit(.initStart)
                    return
                }
                throw error
            }
            if let token = listed.continueToken {
                options.continueToken = token
                mode = .listing(options)
            }
            page = listed
            try nextListed()
        }

        /// The listed page's next item; after its last, the list's end if no page follows.
        /// An item that is not JSON fails the list as a page that is not would: it starts again.
        private mutating func nextListed() throws(KubeError) {
            guard var current = page else { return }
            page = nil
            if let object = try current.next() {
                page = current
                emit(.initApply(object))
            } else if current.continueToken == nil {
                version = current.resourceVersion
                mode = .watching
                emit(.initDone)
            }
        }

        /// Reads one event of the open watch. The stream ending, or the connection failing, means
        /// watching again from the last version seen; 410 Expired means listing again.
        private mutating func readWatch() async throws(KubeError) {
            guard var current = stream else { return }
            let event: WatchEvent?
            do {
                event = try await current.next()
            } catch {
                if case .transport = error {
                    log.debug("watch closed", ["resourceVersion": .string(version)])
                    endWatch()
                    return
                }
                endWatch()
                throw error
            }
            stream = current
            guard let event else {
                log.debug("watch closed", ["resourceVersion": .string(version)])
                endWatch()
                if Task.isCancelled { throw .cancelled }
                return
            }
            switch event {
            case .added(let object), .modified(let object): emit(.apply(object))
            case .deleted(let object): emit(.delete(object))
            case .bookmark: break
            case .error(let status):
                endWatch()
                if status.isExpired {
                    mode = .listing(nil)
                    return
                }
                throw KubeError.api(status)
            }
            if let next = event.resourceVersion, !next.isEmpty { version = next }
        }
    }
}

/// Exponential backoff with jitter that resets after a stretch of success: client-go's
/// reflector numbers (0.8 s to 30 s, doubling, reset after 2 minutes without trouble).
public struct Backoff: Sendable {
    public var initial: TimeInterval = 0.8
    public var maximum: TimeInterval = 30
    public var factor: Double = 2
    public var resetAfter: TimeInterval = 120
    private var current: TimeInterval?
    private var lastFailure: Date?

    public init(initial: TimeInterval = 0.8, maximum: TimeInterval = 30, factor: Double = 2, resetAfter: TimeInterval = 120) {
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.resetAfter = resetAfter
    }

    /// The delay before the next attempt, after a failure at `now`.
    public mutating func next(at now: Date) -> TimeInterval {
        if let lastFailure, now.timeIntervalSince(lastFailure) > resetAfter { current = nil }
        let base = current.map { min(maximum, $0 * factor) } ?? initial
        current = base
        lastFailure = now
        // Jitter up to the base again (client-go's jitter 1.0) spreads reconnects apart.
        return base * Double.random(in: 1...2)
    }
}
