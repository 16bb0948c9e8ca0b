import Foundation
import KubeCore

/// What a watch asked for: its namespace and selectors.
struct WatchFilter: Sendable {
    var namespace: String?
    var labelSelector: LabelSelector
    var fieldSelector: FieldSelector
    var fieldValue: @Sendable (JSON, String) -> String?

    func matches(_ object: JSON) -> Bool {
        if let namespace, object[path: ["metadata", "namespace"]]?.stringValue != namespace { return false }
        if !labelSelector.isEverything {
            let labels = object[path: ["metadata", "labels"]]
            guard labelSelector.matches(label: { labels?[$0]?.stringValue }) else { return false }
        }
        if !fieldSelector.requirements.isEmpty, !fieldSelector.matches({ fieldValue(object, $0) }) { return false }
        return true
    }

    /// The event this watch sees for a change, or `nil`: an object leaving the selection is
    /// DELETED for this watch, one entering it ADDED, as the real watch cache reports them.
    func event(for record: WatchRecord) -> (WatchEventType, JSON)? {
        switch record.type {
        case .added:
            return matches(record.object) ? (.added, record.object) : nil
        case .modified:
            let now = matches(record.object)
            let before = record.previous.map(matches) ?? false
            switch (before, now) {
            case (true, true): return (.modified, record.object)
            case (false, true): return (.added, record.object)
            case (true, false): return (.deleted, record.object)
            case (false, false): return nil
            }
        case .deleted:
            return (record.previous.map(matches) ?? matches(record.object)) ? (.deleted, record.object) : nil
        case .bookmark, .error:
            return (record.type, record.object)
        }
    }
}

/// One open watch: the store pushes matching events in, the connection's thread takes them out.
final class WatchSubscription: @unchecked Sendable {
    /// A watcher that falls this far behind is cut off, as the real server does when a watch's
    /// buffer fills; the client re-watches from its last resourceVersion.
    static let maximumBacklog = 20_000

    let filter: WatchFilter
    private let condition = NSCondition()
    private var queue: [(WatchEventType, JSON, Int)] = []
    private var closed = false

    init(filter: WatchFilter) { self.filter = filter }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    /// Called by the store under its lock.
    func offer(_ record: WatchRecord) {
        guard let (type, object) = filter.event(for: record) else { return }
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return }
        if queue.count >= Self.maximumBacklog {
            closed = true
        } else {
            queue.append((type, object, record.revision))
        }
        condition.signal()
    }

    func close() {
        condition.lock()
        closed = true
        condition.signal()
        condition.unlock()
    }

    /// Waits until events arrive, the watch is closed, or the deadline passes. Returns the
    /// pending events and whether the watch is still open.
    func take(until deadline: Date) -> (events: [(WatchEventType, JSON, Int)], open: Bool) {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !closed {
            if !condition.wait(until: deadline) { break }
        }
        let events = queue
        queue.removeAll(keepingCapacity: true)
        return (events, !closed)
    }
}
