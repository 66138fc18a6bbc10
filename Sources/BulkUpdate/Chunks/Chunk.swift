/// A batch of rows for one worker, held column by column: key columns first, then set columns.
package struct Chunk: Sendable {
    /// One typed array per column, all of length ``count``.
    package var columns: [ColumnValues]
    /// Each row's input line (or 1-based position), for messages.
    package var lines: [Int]
    /// Each row's stable key hash.
    package var hashes: [UInt64]
    /// How many of ``columns`` are key columns.
    package var keyColumnCount: Int
    /// The worker the chunk belongs to, from 0.
    package var worker: Int
    /// The chunk's number among its worker's chunks, from 0.
    package var number: Int

    package var count: Int { self.lines.count }

    package init(plan: UpdatePlan, worker: Int, number: Int, capacity: Int) {
        self.columns = plan.columns.map { ColumnValues(kind: $0.type.kind, capacity: capacity) }
        self.lines = []
        self.lines.reserveCapacity(capacity)
        self.hashes = []
        self.hashes.reserveCapacity(capacity)
        self.keyColumnCount = plan.keyColumns.count
        self.worker = worker
        self.number = number
    }

    /// Appends one checked row.
    package mutating func append(_ cells: [Cell], line: Int, hash: UInt64) {
        for index in cells.indices {
            self.columns[index].append(cells[index])
        }
        self.lines.append(line)
        self.hashes.append(hash)
    }

    /// The key of row `index` as SQL-like text: `42`, `'abc'` or `(1, 'a')` for composite keys.
    package func renderKey(_ index: Int) -> String {
        Cell.renderKey((0..<self.keyColumnCount).map { self.columns[$0].cell(at: index) })
    }

    /// Compares the keys of two rows.
    package func compareKeys(_ lhs: Int, _ rhs: Int) -> Int {
        for column in 0..<self.keyColumnCount {
            let order = self.columns[column].compare(lhs, rhs)
            if order != 0 { return order }
        }
        return 0
    }

    /// Sorts the rows by key and removes duplicate keys, keeping the last row of each key in input order.
    ///
    /// - Returns: The dropped rows as (dropped line, line that replaced it), in key order.
    package mutating func sortAndDeduplicate() -> [(dropped: Int, keptLine: Int)] {
        let count = self.count
        guard count > 0 else { return [] }
        var order: [Int]
        if self.keyColumnCount == 1, case .int(let keys) = self.columns[0] {
            // Fast path for the common single integer key.
            var pairs = [(key: Int64, index: Int)]()
            pairs.reserveCapacity(count)
            for index in 0..<count { pairs.append((keys[index] ?? Int64.min, index)) }
            pairs.sort { $0.key != $1.key ? $0.key < $1.key : $0.index < $1.index }
            order = pairs.map(\.index)
        } else {
            order = Array(0..<count)
            order.sort { lhs, rhs in
                let byKey = self.compareKeys(lhs, rhs)
                return byKey != 0 ? byKey < 0 : lhs < rhs
            }
        }
        var kept: [Int] = []
        kept.reserveCapacity(count)
        var dropped: [(dropped: Int, keptLine: Int)] = []
        for position in order.indices {
            let index = order[position]
            if position + 1 < order.count, self.compareKeys(index, order[position + 1]) == 0 {
                // A later row (higher input index) has the same key; find the one that is kept for the message.
                var last = position + 1
                while last + 1 < order.count, self.compareKeys(index, order[last + 1]) == 0 { last += 1 }
                dropped.append((self.lines[index], self.lines[order[last]]))
                continue
            }
            kept.append(index)
        }
        let isIdentity = kept.count == count && kept.elementsEqual(0..<count)
        if !isIdentity {
            self.columns = self.columns.map { $0.gathered(kept) }
            self.lines = kept.map { self.lines[$0] }
            self.hashes = kept.map { self.hashes[$0] }
        }
        return dropped
    }

    /// A stable 64-bit fingerprint of the chunk's content (every value of every row, in order), as 16 hex digits:
    /// a resumed run compares it with the journal to be sure it rebuilt the same chunk.
    package func fingerprint() -> String {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D ^ UInt64(self.count)
        for row in 0..<self.count {
            for column in self.columns {
                state = KeyHash.mix(state ^ KeyHash.hash(column.cell(at: row)))
            }
        }
        let hex = String(state, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Describes the chunk for the report: rows and first and last key. Call after sorting.
    package func record() -> BulkUpdateReport.ChunkRecord {
        BulkUpdateReport.ChunkRecord(
            worker: self.worker,
            number: self.number,
            rows: self.count,
            firstKey: self.count > 0 ? self.renderKey(0) : "",
            lastKey: self.count > 0 ? self.renderKey(self.count - 1) : ""
        )
    }
}
