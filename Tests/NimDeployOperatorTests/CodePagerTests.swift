import Foundation
import Testing
@testable import NimDeployManager

/// The idle operator gives back the code pages it no longer runs (issue 21's memory budget).
@Suite struct CodePagerTests {
    @Test func onlyReadOnlyMappingsOfFilesArePagedOut() {
        let maps = """
            55d0c0000000-55d0c1000000 r--p 00000000 08:01 1234 /usr/bin/nim-deploy-operator
            55d0c1000000-55d0c2000000 r-xp 01000000 08:01 1234 /usr/bin/nim-deploy-operator
            55d0c2000000-55d0c2100000 rw-p 02000000 08:01 1234 /usr/bin/nim-deploy-operator
            55d0c3000000-55d0c4000000 rw-p 00000000 00:00 0    [heap]
            7f0000000000-7f0000100000 r-xp 00000000 08:01 99   /usr/lib/x86_64-linux-gnu/libcurl.so.4 (deleted)
            7f0000200000-7f0000300000 r--p 00000000 00:00 0
            7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0    [vdso]
            garbled line
            """
        let ranges = CodePager.readOnlyFileRanges(maps)
        #expect(ranges.map(\.start) == [0x55d0_c000_0000, 0x55d0_c100_0000, 0x7f00_0000_0000])
        #expect(ranges.map(\.end) == [0x55d0_c100_0000, 0x55d0_c200_0000, 0x7f00_0010_0000])
    }

    @Test func pagingOutGivesBackResidentFilePages() throws {
        func residentFileKB() throws -> Int {
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            let line = status.split(separator: "\n").first { $0.hasPrefix("RssFile:") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        let before = try residentFileKB()
        #expect(CodePager.pageOutReadOnlyFileMappings(), "MADV_PAGEOUT is supported (Linux 5.4 and later)")
        let after = try residentFileKB()
        // The test binary alone keeps tens of MB of code resident; what is running comes back.
        #expect(after < before - 1024, "RssFile \(before) kB before, \(after) kB after")
    }
}
