import Foundation

/// Caps glibc's malloc arenas. glibc gives threads that contend for the heap arenas of their
/// own, up to eight per core it sees: on a 64-core node that is hundreds, each keeping the
/// free pages of its last burst, although this process runs on one CPU's worth of quota. Two
/// arenas keep that contention low for Swift's cooperative pool and hold the heap to what is
/// live. Set before the threads start; `MALLOC_ARENA_MAX` in the environment wins (glibc reads
/// it itself). Found through the dynamic linker, as `malloc_trim` is.
public enum MallocArenas {
    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    /// glibc's `M_ARENA_MAX`.
    private static let arenaMax: Int32 = -8

    public static func limit(to count: Int32) {
        guard ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil,
              let mallopt = HeapTrimmer.libcFunction("mallopt", as: Mallopt.self) else { return }
        _ = mallopt(arenaMax, count)
    }
}
