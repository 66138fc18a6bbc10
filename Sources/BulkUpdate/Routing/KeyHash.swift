import Foundation

/// A stable 64-bit hash of a row's key cells: the same key gives the same hash in every process and run, so
/// routing (and later, resuming) is deterministic. Swift's `Hasher` is seeded per process and is not used.
package enum KeyHash {
    package static func hash(_ cells: ArraySlice<Cell>) -> UInt64 {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for cell in cells {
            state = mix(state ^ self.hash(cell))
        }
        return state
    }

    package static func hash(_ cell: Cell) -> UInt64 {
        switch cell {
        case .null: return 0x6A09_E667_F3BC_C908
        case .bool(let value): return mix(value ? 1 : 2)
        case .int(let value): return mix(UInt64(bitPattern: value))
        case .double(let value): return mix(value == 0 ? 0 : value.bitPattern)
        case .date(let value): return mix(UInt64(bitPattern: Int64(value)))
        case .timestamp(let value): return mix(UInt64(bitPattern: value))
        case .text(let value):
            var text = value
            return text.withUTF8 { fnv1a($0) }
        case .bytes(let value): return value.withUnsafeBufferPointer { fnv1a($0) }
        case .uuid(let value): return ColumnValues.bytes(of: value).withUnsafeBufferPointer { fnv1a($0) }
        }
    }

    /// The finalizer of SplitMix64: a fast, well-distributed bijection.
    @inline(__always)
    package static func mix(_ input: UInt64) -> UInt64 {
        var z = input &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static func fnv1a(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return mix(hash)
    }
}
