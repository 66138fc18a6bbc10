import BulkUpdateTestSupport
import Testing

@testable import BulkUpdate

/// The keys a worker has written: the same answers as a set of every key, whatever the keys' order and spread.
@Suite("SeenKeys")
struct SeenKeysTests {
    /// Inserts every key into `SeenKeys` and into a `Set`, and checks that both say the same each time.
    static func agree(_ keys: [Int64], sourceLocation: SourceLocation = #_sourceLocation) {
        var seen = SeenKeys()
        var reference = Set<Int64>()
        var disagreements = 0
        for key in keys {
            let hash = KeyHash.hash(integerKey: key)
            if seen.insert(integer: key, hash: hash) != reference.insert(key).inserted { disagreements += 1 }
        }
        #expect(disagreements == 0, sourceLocation: sourceLocation)
    }

    @Test func ascendingDescendingAndRepeatedKeys() {
        Self.agree(Array(1...200_000) + Array(1...1_000))
        Self.agree(Array((1...200_000).reversed()) + [5, 5, 200_000])
        Self.agree((0..<100_000).map { Int64($0 % 777) })
    }

    @Test func randomKeysInARange() {
        var random = SplitMix(seed: 7)
        Self.agree((0..<300_000).map { _ in Int64.random(in: -50_000...250_000, using: &random) })
    }

    @Test func sparseAndExtremeKeysMoveToHashes() {
        var random = SplitMix(seed: 11)
        let sparse = (0..<50_000).map { _ in Int64.random(in: Int64.min...Int64.max, using: &random) }
        Self.agree([1, 2, 3] + sparse + [1, 2, 3, sparse[10]])
        Self.agree([Int64.max, Int64.min, Int64.max, 0, Int64.min])
        Self.agree(Array(1...10_000) + [Int64(1) << 40, 17, Int64(1) << 40])
    }

    @Test func keysWithoutAnIntegerUseTheirHash() {
        var seen = SeenKeys()
        let answers = [42, 42, 43].map { seen.insert(integer: nil, hash: $0) }
        #expect(answers == [true, false, true])
    }
}
