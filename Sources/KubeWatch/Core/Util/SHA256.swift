/// SHA-256 (FIPS 180-4). Foundation on Linux has none and the project takes no crypto package;
/// it is used for fingerprints and content hashes, never to protect anything. Every reconcile
/// hashes its desired children, so the rounds run over raw buffers, without bounds checks or
/// an array per block.
public enum SHA256 {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    public static func hash(_ message: some Collection<UInt8>) -> [UInt8] {
        let digest = message.withContiguousStorageIfAvailable(digest) ?? Array(message).withUnsafeBufferPointer(digest)
        var bytes = [UInt8](repeating: 0, count: 32)
        for (index, word) in digest.enumerated() {
            for byte in 0..<4 { bytes[index * 4 + byte] = UInt8(truncatingIfNeeded: word >> UInt32(24 - byte * 8)) }
        }
        return bytes
    }

    public static func hex(_ message: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        let digest = hash(message)
        return String(unsafeUninitializedCapacity: 64) { text in
            for (index, byte) in digest.enumerated() {
                text[index * 2] = digits[Int(byte >> 4)]
                text[index * 2 + 1] = digits[Int(byte & 0x0f)]
            }
            return 64
        }
    }

    /// The eight words of the digest: the whole blocks where they lie, then the tail and its
    /// padding (one or two blocks) from a small copy.
    private static func digest(_ message: UnsafeBufferPointer<UInt8>) -> [UInt32] {
        var state: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        let whole = message.count / 64 * 64
        var tail = [UInt8](repeating: 0, count: message.count - whole < 56 ? 64 : 128)
        for index in whole..<message.count { tail[index - whole] = message[index] }
        tail[message.count - whole] = 0x80
        let bitLength = UInt64(message.count) * 8
        for byte in 0..<8 { tail[tail.count - 1 - byte] = UInt8(truncatingIfNeeded: bitLength >> UInt64(byte * 8)) }
        state.withUnsafeMutableBufferPointer { h in
            k.withUnsafeBufferPointer { k in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                    var offset = 0
                    while offset < whole {
                        compress(UnsafeBufferPointer(rebasing: message[offset..<offset + 64]), into: h, k: k, w: w)
                        offset += 64
                    }
                    tail.withUnsafeBufferPointer { tail in
                        for block in stride(from: 0, to: tail.count, by: 64) {
                            compress(UnsafeBufferPointer(rebasing: tail[block..<block + 64]), into: h, k: k, w: w)
                        }
                    }
                }
            }
        }
        return state
    }

    @inline(__always)
    private static func compress(_ block: UnsafeBufferPointer<UInt8>, into h: UnsafeMutableBufferPointer<UInt32>, k: UnsafeBufferPointer<UInt32>, w: UnsafeMutableBufferPointer<UInt32>) {
        let bytes = block.baseAddress.unsafelyUnwrapped
        let w = w.baseAddress.unsafelyUnwrapped
        let k = k.baseAddress.unsafelyUnwrapped
        for i in 0..<16 {
            let j = i &* 4
            w[i] = UInt32(bytes[j]) << 24 | UInt32(bytes[j &+ 1]) << 16 | UInt32(bytes[j &+ 2]) << 8 | UInt32(bytes[j &+ 3])
        }
        for i in 16..<64 {
            let s0 = rotate(w[i &- 15], 7) ^ rotate(w[i &- 15], 18) ^ (w[i &- 15] >> 3)
            let s1 = rotate(w[i &- 2], 17) ^ rotate(w[i &- 2], 19) ^ (w[i &- 2] >> 10)
            w[i] = w[i &- 16] &+ s0 &+ w[i &- 7] &+ s1
        }
        let state = h.baseAddress.unsafelyUnwrapped
        var (a, b, c, d, e, f, g, hh) = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7])
        for i in 0..<64 {
            let s1 = rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)
            let choice = (e & f) ^ (~e & g)
            let temp1 = hh &+ s1 &+ choice &+ k[i] &+ w[i]
            let s0 = rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)
            let majority = (a & b) ^ (a & c) ^ (b & c)
            let temp2 = s0 &+ majority
            (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ temp1, c, b, a, temp1 &+ temp2)
        }
        state[0] = state[0] &+ a; state[1] = state[1] &+ b; state[2] = state[2] &+ c; state[3] = state[3] &+ d
        state[4] = state[4] &+ e; state[5] = state[5] &+ f; state[6] = state[6] &+ g; state[7] = state[7] &+ hh
    }

    @inline(__always)
    private static func rotate(_ value: UInt32, _ count: UInt32) -> UInt32 { (value &>> count) | (value &<< (32 &- count)) }
}
