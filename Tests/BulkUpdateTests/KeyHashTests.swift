import BulkUpdateTestSupport
import Foundation
import Testing

@testable import BulkUpdate

/// The key hash routes rows to workers and must never change between runs or versions.
@Suite("KeyHash")
struct KeyHashTests {
    @Test func mixIsTheSplitMix64Finalizer() {
        // The first output of SplitMix64 seeded with 0 is the published reference value 0xE220A8397B1DCDAF.
        #expect(KeyHash.mix(0) == 0xE220_A839_7B1D_CDAF)
        #expect(KeyHash.mix(1) == 0x910A_2DEC_8902_5CC1)
    }

    @Test func knownCellHashes() {
        #expect(KeyHash.hash(Cell.int(0)) == 0xE220_A839_7B1D_CDAF)
        #expect(KeyHash.hash(Cell.int(1)) == 0x910A_2DEC_8902_5CC1)
        // FNV-1a of "a" is 0xAF63DC4C8601EC8C, then mixed.
        #expect(KeyHash.hash(Cell.text("a")) == KeyHash.mix(0xAF63_DC4C_8601_EC8C))
        #expect(KeyHash.hash(Cell.text("a")) == 0x5F29_C2AA_DD9B_8527)
        #expect(KeyHash.hash(Cell.null) == 0x6A09_E667_F3BC_C908)
    }

    @Test func knownKeyHashes() {
        let one: [Cell] = [.int(1)]
        #expect(KeyHash.hash(one[...]) == 0x29E4_9B19_9086_D8D3)
        let composite: [Cell] = [.int(1), .text("a")]
        #expect(KeyHash.hash(composite[...]) == 0x6EF1_B313_3672_987B)
    }

    @Test func sameTextSameHash() {
        let a = String(repeating: "key-", count: 3) + "42"
        let b = "key-key-key-42"
        #expect(KeyHash.hash(Cell.text(a)) == KeyHash.hash(Cell.text(b)))
        let rowA: [Cell] = [.text(a), .int(7)]
        let rowB: [Cell] = [.text(b), .int(7)]
        #expect(KeyHash.hash(rowA[...]) == KeyHash.hash(rowB[...]))
    }

    @Test func differentValuesDifferentHashes() {
        #expect(KeyHash.hash(Cell.text("a")) != KeyHash.hash(Cell.text("b")))
        #expect(KeyHash.hash(Cell.text("a")) != KeyHash.hash(Cell.text("A")))
        #expect(KeyHash.hash(Cell.text("\u{E9}")) != KeyHash.hash(Cell.text("e\u{301}")))
        #expect(KeyHash.hash(Cell.int(1)) != KeyHash.hash(Cell.int(2)))
        #expect(KeyHash.hash(Cell.bool(true)) != KeyHash.hash(Cell.bool(false)))
        #expect(KeyHash.hash(Cell.bytes([0, 1])) != KeyHash.hash(Cell.bytes([1, 0])))
    }

    @Test func columnOrderMatters() {
        let ab: [Cell] = [.int(1), .int(2)]
        let ba: [Cell] = [.int(2), .int(1)]
        #expect(KeyHash.hash(ab[...]) != KeyHash.hash(ba[...]))
    }

    @Test func hashDependsOnlyOnTheSliceContents() {
        let row: [Cell] = [.int(1), .text("ignored")]
        let key: [Cell] = [.int(1)]
        #expect(KeyHash.hash(row[0..<1]) == KeyHash.hash(key[...]))
    }

    @Test func zeroAndNegativeZeroHashAlike() {
        #expect(KeyHash.hash(Cell.double(0)) == KeyHash.hash(Cell.double(-0.0)))
        #expect(KeyHash.hash(Cell.double(1)) != KeyHash.hash(Cell.double(-1)))
    }

    @Test func uuidHashUsesItsBytes() throws {
        let uuid = try #require(UUID(uuidString: "123e4567-e89b-12d3-a456-426614174000"))
        let same = try #require(UUID(uuidString: "123E4567-E89B-12D3-A456-426614174000"))
        let other = try #require(UUID(uuidString: "123e4567-e89b-12d3-a456-426614174001"))
        #expect(KeyHash.hash(Cell.uuid(uuid)) == KeyHash.hash(Cell.uuid(same)))
        #expect(KeyHash.hash(Cell.uuid(uuid)) != KeyHash.hash(Cell.uuid(other)))
        #expect(KeyHash.hash(Cell.uuid(uuid)) == KeyHash.hash(Cell.bytes(uuid.bytes)))
    }

    @Test func uuidOrderIsTheOrderOfItsBytes() {
        var random = SystemRandomNumberGenerator()
        let uuids = (0..<200).map { index -> UUID in
            // Some share their first bytes, so later bytes decide.
            var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) }
            if index % 2 == 0 { bytes[0] = 7; bytes[1] = 7 }
            return UUID(
                uuid: (
                    bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                    bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
                )
            )
        }
        var disagreements = 0
        for (a, b) in Array(zip(uuids, uuids.shuffled())) + Array(zip(uuids, uuids)) {
            if UUID.order(a, b) != [UInt8].order(a.bytes, b.bytes) { disagreements += 1 }
        }
        #expect(disagreements == 0)
    }

    @Test func integerKeyHashIsTheOneColumnKeyHash() {
        for key: Int64 in [0, 1, -1, 42, .min, .max] {
            #expect(KeyHash.hash(integerKey: key) == KeyHash.hash([Cell.int(key)][...]))
        }
    }
}
