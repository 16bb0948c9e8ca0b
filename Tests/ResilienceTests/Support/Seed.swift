import Foundation
import TestSupport

/// The suite's randomness (kill points, fault timing, which deployments a writer touches) comes
/// from one seed, printed first, so a failure replays with `RESILIENCE_SEED=<seed>`.
enum Seed {
    static let value: UInt64 = {
        let seed = ProcessInfo.processInfo.environment["RESILIENCE_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("resilience seed: \(seed) (replay: RESILIENCE_SEED=\(seed) swift test --filter ResilienceTests)")
        return seed
    }()

    /// A generator for one test: the suite's seed mixed with the test's name, so tests do not
    /// share a sequence and adding one does not change the others'.
    static func random(_ test: String = #function) -> SeededRandom {
        var mixed = value
        for byte in test.utf8 { mixed = (mixed ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return SeededRandom(seed: mixed)
    }
}
