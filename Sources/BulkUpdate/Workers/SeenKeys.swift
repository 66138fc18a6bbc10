/// The keys a worker has already written, so that a key coming back in a later chunk is counted (in
/// ``BulkUpdateReport/duplicateKeysAcrossChunks``), in memory that does not grow with a large input's size for the
/// common key, a single integer column.
///
/// Integer keys are bits of a bitmap over their range for as long as the range stays dense (at most 128 bits per
/// key seen, plus a floor of 2^23 bits): a 10,000,000-row run over ids 1…10,000,000 keeps 1.25 MB. Other keys, or
/// integer keys spread too thinly, are kept as their 64-bit key hashes in a set (about 16–32 bytes each).
struct SeenKeys {
    private var bits: [UInt64] = []
    /// The key of bit 0.
    private var base: Int64 = 0
    private var hashes: Set<UInt64>?
    private var count = 0

    /// Range the bitmap may always cover, in bits, whatever the number of keys (1 MB).
    private static let floorBits: Int64 = 1 << 23

    /// Records a key, by its integer value when it has one and by its hash otherwise; `false` when it was seen
    /// before.
    mutating func insert(integer key: Int64?, hash: UInt64) -> Bool {
        guard self.hashes == nil, let key, self.cover(key) else { return self.insertHash(hash) }
        let offset = Int(key - self.base)
        let (word, bit) = (offset >> 6, UInt64(1) << UInt64(offset & 63))
        if self.bits[word] & bit != 0 { return false }
        self.bits[word] |= bit
        self.count += 1
        return true
    }

    /// Makes the bitmap cover `key`; `false` (with the keys moved to the hash set) when it would grow too sparse.
    private mutating func cover(_ key: Int64) -> Bool {
        if self.bits.isEmpty {
            guard key <= Int64.max - Self.floorBits else { return self.giveUp() }
            self.base = key
            self.bits = [UInt64](repeating: 0, count: 1024)
            return true
        }
        let last = self.base + Int64(self.bits.count) * 64 - 1  // the highest key covered; checked when grown
        if key >= self.base && key <= last { return true }
        // The range with `key`, from its lowest to its highest key, must stay dense enough and away from the ends of
        // Int64 (so that no arithmetic below overflows).
        let (low, high) = (min(self.base, key), max(last, key))
        let (span, overflow) = high.subtractingReportingOverflow(low)
        let limit = max(Self.floorBits, 128 * Int64(self.count + 1))
        guard !overflow, span < limit, low >= Int64.min + 4 * limit, high <= Int64.max - 4 * limit else {
            return self.giveUp()
        }
        // Grown by half again at least, so that keys arriving in order do not copy the bitmap for every chunk.
        let slack = self.bits.count / 2
        if key > last {
            let needed = Int((key - self.base) / 64) + 1
            self.bits.append(
                contentsOf: repeatElement(0, count: max(needed, self.bits.count + slack) - self.bits.count)
            )
        } else {
            let below = Int((self.base - key + 63) / 64) + slack
            self.bits.insert(contentsOf: repeatElement(0, count: below), at: 0)
            self.base -= Int64(below) * 64
        }
        return true
    }

    /// Moves to the hash set for good.
    private mutating func giveUp() -> Bool {
        self.moveToHashes()
        return false
    }

    private mutating func insertHash(_ hash: UInt64) -> Bool {
        if self.hashes == nil { self.moveToHashes() }
        let inserted = self.hashes!.insert(hash).inserted
        if inserted { self.count += 1 }
        return inserted
    }

    /// Moves the bitmap's keys into the hash set.
    private mutating func moveToHashes() {
        guard self.hashes == nil else { return }
        var hashes = Set<UInt64>(minimumCapacity: self.count)
        for (word, value) in self.bits.enumerated() where value != 0 {
            for bit in 0..<64 where value & (UInt64(1) << UInt64(bit)) != 0 {
                let key = self.base + Int64(word * 64 + bit)
                hashes.insert(KeyHash.hash(integerKey: key))
            }
        }
        self.hashes = hashes
        self.bits = []
    }
}
