import Foundation

/// Gives the kernel back the pages of code and read-only data the process has stopped using,
/// once it goes idle after being busy. Every page fault on a mapped file brings in its
/// neighbours too, so start-up (flag parsing, discovery, TLS set-up, the first lists) and a
/// burst of reconciles leave 10 MB and more of the binary and its libraries resident that an
/// idle operator never touches again: a third of its RSS. `MADV_PAGEOUT` (Linux 5.4) drops
/// them; what is still in use comes back on its next touch, from the page cache or the image.
///
/// Only while idle (under 2 % of a CPU over a round) and only after busy rounds, so a working
/// operator is never slowed by faulting its own hot code back in, and an idle one pages out
/// once, not every round. Clean file pages only: anonymous memory (the heap) is untouched.
enum CodePager {
    /// `MADV_PAGEOUT`, which Swift's Glibc module may not define.
    private static let pageOut: Int32 = 21
    /// The CPU share under which a round counts as idle.
    static let idleShare = 0.02

    /// Pages out after each busy spell, checking every `interval`, until cancelled.
    static func run(every interval: TimeInterval) async {
        #if os(Linux)
        var busy = true  // start-up
        var lastCPU = processCPUSeconds()
        while !Task.isCancelled {
            do { try await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000)) } catch { return }
            let cpu = processCPUSeconds()
            defer { lastCPU = cpu }
            if cpu - lastCPU >= idleShare * interval {
                busy = true
            } else if busy {
                busy = false
                guard pageOutReadOnlyFileMappings() else { return }  // not supported here
            }
        }
        #endif
    }

    /// The CPU time the process has used, user and system, all threads.
    static func processCPUSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1_000_000_000
    }

    /// Advises every read-only mapping of a file out; false when the kernel does not know the
    /// advice (older than 5.4, or a sandbox that refuses it).
    @discardableResult
    static func pageOutReadOnlyFileMappings() -> Bool {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return false }
        for range in readOnlyFileRanges(maps) {
            guard let start = UnsafeMutableRawPointer(bitPattern: range.start) else { continue }
            if madvise(start, Int(range.end - range.start), pageOut) != 0, errno == EINVAL { return false }
        }
        return true
    }

    /// The address ranges of `/proc/self/maps` lines that map a file and are not writable
    /// (code, read-only data): `START-END PERMS OFFSET DEV INODE PATH`.
    static func readOnlyFileRanges(_ maps: String) -> [(start: UInt, end: UInt)] {
        maps.split(separator: "\n").compactMap { line in
            // The kernel pads the inode field with spaces before the path.
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5].hasPrefix("/"), !fields[1].contains("w") else { return nil }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { return nil }
            return (start, end)
        }
    }
}
