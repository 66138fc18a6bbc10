/// Stable 64-bit hashes of keys and values: the same key gives the same hash in every process and run, so routing
/// (and later, resuming) is deterministic. Swift's `Hasher` is seeded per process and is not used. Each value's own
/// hash is its element's ``ColumnElement/stableHash``.
package enum KeyHash {
    /// Where a key's hash starts: each key column's value hash is folded in, in order, with ``mix(_:)``
    /// (`Chunk.append`). The input digest starts here too.
    package static let seed: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The hash of NULL.
    package static let null: UInt64 = 0x6A09_E667_F3BC_C908

    /// The hash of a single integer key, as `Chunk.append` computes it for a one-column integer key.
    package static func hash(integerKey key: Int64) -> UInt64 {
        Self.mix(Self.seed ^ key.stableHash)
    }

    /// The finalizer of SplitMix64: a fast, well-distributed bijection.
    @inline(__always)
    package static func mix(_ input: UInt64) -> UInt64 {
        var z = input &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// FNV-1a over `bytes`, finalized with ``mix(_:)``: the hash of text, bytes and UUIDs.
    package static func fnv1a(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return mix(hash)
    }
}
