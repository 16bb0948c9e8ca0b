import Foundation
import KubeCore

/// `nim-bench json FILE...`: how fast the client's JSON parser and writer go over the given
/// bodies (list responses saved from an API server), in MB/s, and the cache's compaction of
/// each item (managedFields dropped, serialized again): the work every list and watch event costs the operator.
enum JSONBench {
    static func main(_ arguments: ArraySlice<String>) -> Int32 {
        guard !arguments.isEmpty else {
            print("usage: nim-bench json FILE...")
            return 2
        }
        for path in arguments {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): unreadable")
                return 1
            }
            let bytes = [UInt8](data)
            guard let parsed = try? JSON(parsing: bytes) else {
                print("\(path): not JSON")
                return 1
            }
            let rounds = max(3, 50_000_000 / max(bytes.count, 1))
            let parse = measure(rounds) { _ = try? JSON(parsing: bytes) }
            // As an informer reads a page: the items delimited, then parsed one at a time.
            let itemwise = measure(rounds) {
                guard let (_, ranges) = try? JSON.parsing(bytes, deferring: "items") else { return }
                for range in ranges { _ = try? JSON(parsing: bytes[range]) }
            }
            let write = measure(rounds) { _ = parsed.serializedBytes() }
            let items = parsed["items"]?.arrayValue ?? []
            let compact = measure(rounds) { for item in items {
                    var trimmed = item
                    trimmed[path: ["metadata", "managedFields"]] = nil
                    _ = trimmed.serializedBytes()
                } }
            let megabytes = Double(bytes.count) / 1_048_576
            print(String(format: "%@: %.0f KB, %d items: parse %.0f MB/s (%.2f ms), item by item %.0f MB/s, write %.0f MB/s (%.2f ms), trim and compact %.2f ms (%.1f µs an item)",
                (path as NSString).lastPathComponent, Double(bytes.count) / 1024, items.count, megabytes / parse, parse * 1000, megabytes / itemwise, megabytes / write, write * 1000,
                compact * 1000, compact * 1_000_000 / Double(max(items.count, 1))))
        }
        return 0
    }

    /// Seconds per round, the best of `rounds`.
    static func measure(_ rounds: Int, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<rounds {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }
}
