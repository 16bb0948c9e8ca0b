import Foundation
import Reconciler
import StandIns

/// `swift run -c release nim-bench catalog [--models N] [--latency-ms MS] [--concurrency a,b,...]`
///
/// `catalog generate` against the NGC stand-in answering every call after a fixed latency:
/// the same generator the command runs, first one call at a time (what nim_metadata.sh does),
/// then with each concurrency asked for.
struct CatalogBench {
    var models = 200
    var latencyMilliseconds = 50
    var concurrencies = [1, 8, 16, 32]

    static func main(_ arguments: ArraySlice<String>) async -> Int32 {
        var bench = CatalogBench()
        var arguments = arguments
        while let flag = arguments.popFirst() {
            let value = arguments.popFirst()
            switch (flag, value.flatMap(Int.init)) {
            case ("--models", let n?) where n > 0: bench.models = n
            case ("--latency-ms", let n?) where n >= 0: bench.latencyMilliseconds = n
            case ("--concurrency", _):
                let list = (value ?? "").split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
                guard !list.isEmpty else { fallthrough }
                bench.concurrencies = list
            default:
                print("usage: nim-bench catalog [--models N] [--latency-ms MS] [--concurrency 1,8,16,32]")
                return 2
            }
        }
        do {
            try await bench.run()
            return 0
        } catch {
            print("nim-bench catalog: \(error)")
            return 1
        }
    }

    /// The shipped catalog's models, with numbered copies of them beyond its 186.
    func catalog(root: URL) throws -> ModelCatalog {
        let text = try String(contentsOf: root.appendingPathComponent("config/catalog/nim-model-metadata.yaml"), encoding: .utf8)
        let shipped = try CatalogManifest.read(text).catalog
        var catalog = ModelCatalog()
        let names = shipped.modelNames
        for index in 0..<models {
            guard var entry = shipped[names[index % names.count]] else { continue }
            if index >= names.count {
                entry.name += "-copy\(index / names.count)"
                entry.image.path += "-copy\(index / names.count)"
            }
            catalog.entries[entry.name] = entry
        }
        return catalog
    }

    func run() async throws {
        let catalog = try catalog(root: Bench.packageRoot())
        let ngc = NGCStandIn(catalog: catalog)
        try ngc.start()
        defer { ngc.stop() }
        ngc.setLatency(Double(latencyMilliseconds) / 1000)
        let key = APIKey("nvapi-bench-0123456789abcdef")
        print("nim-bench catalog: \(catalog.entries.count) models, \(latencyMilliseconds) ms per NGC answer, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        var sequential: TimeInterval?
        for concurrency in concurrencies {
            var options = CatalogGenerator.Options()
            options.concurrency = concurrency
            let generator = CatalogGenerator(baseURL: ngc.baseURL, options: options)
            let before = ngc.calls("repository")
            let started = Date()
            let (generated, summary) = try await generator.generate(key: key)
            let elapsed = Date().timeIntervalSince(started)
            guard generated.entries.count == catalog.entries.count, !summary.isIncomplete else {
                throw BenchFailure(description: "generated \(summary.line()) of \(catalog.entries.count)")
            }
            if concurrency == 1 { sequential = elapsed }
            let speedup = sequential.map { String(format: ", %.1fx sequential", $0 / elapsed) } ?? ""
            print(String(format: "  concurrency %2d: %6.2f s for %d models (%d repository calls)%@", concurrency, elapsed, generated.entries.count, ngc.calls("repository") - before, speedup))
        }
    }
}
