import Testing
import KubeCore

/// Digests name image layers (checked by a real registry) and stamp every applied child, so a
/// wrong one either breaks pulls or rewrites children forever.
@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func matchesTheStandardsVectors(_ message: String, _ digest: String) {
        #expect(SHA256.hex(Array(message.utf8)) == digest)
        #expect(SHA256.hex(AnyCollection(message.utf8)) == digest, "a collection without contiguous storage")
    }

    /// Every length across the one- and two-block padding boundaries (55, 56, 63, 64, 119, 120),
    /// folded into one digest that Python's hashlib computed.
    @Test func padsEveryLengthAroundTheBlockBoundaries() {
        let digests = (0..<130).map { length in SHA256.hex((0..<length).map { UInt8($0 % 251) }) }.joined()
        #expect(SHA256.hex(Array(digests.utf8)) == "86ad28dbfd993eaac93b418876265379dced3a4a051fe854038149afd8a13c2c")
    }

    @Test func hashesAMillionBytes() {
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(SHA256.hash(Array("abc".utf8)).count == 32)
    }
}
