import Foundation

/// Gives the C heap's free pages back to the kernel now and then. glibc keeps what a burst of
/// allocations freed (a relist, a thousand reconciles) for reuse, so resident memory stays at
/// the peak; `malloc_trim` returns every whole free page in every arena, the way Go's scavenger
/// returns idle heap. Found through the dynamic linker: Swift's Glibc module does not export it.
enum HeapTrimmer {
    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trim = libcFunction("malloc_trim", as: Trim.self)

    /// A glibc function Swift's Glibc module does not export (malloc.h's), by name; nil elsewhere.
    static func libcFunction<Function>(_ name: String, as type: Function.Type) -> Function? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }

    /// Trims every `interval` until cancelled; returns at once where there is no malloc_trim.
    static func run(every interval: TimeInterval) async {
        guard let trim else { return }
        while !Task.isCancelled {
            do { try await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000)) } catch { return }
            _ = trim(0)
        }
    }
}
