/// A batch of rows held column by column: key columns first, then set columns. Rows are checked on the way in
/// (``append(_:line:plan:)``) and stay in their columns' typed form until they are sent.
package struct Chunk: Sendable {
    /// One typed column per plan column, all of length ``count``.
    package var columns: [any ChunkColumn]
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
    /// How many input rows the router put into the chunk, before ``sortAndDeduplicate()`` dropped repeated keys: where
    /// an adaptive run that resumes cuts it again.
    package private(set) var routedRows = 0
    /// The rows (indices, ascending) whose key an earlier chunk of the run may have written too, as the worker found
    /// them (a key hash seen before counts): their undo is marked so that a revert keeps the key's first previous
    /// values (see ``RunJournal/createUndo``).
    package var repeated: [Int] = []

    package init(plan: UpdatePlan, worker: Int, number: Int, capacity: Int) {
        self.columns = plan.columns.map { $0.type.makeColumn(capacity: capacity) }
        self.lines = []
        self.lines.reserveCapacity(capacity)
        self.hashes = []
        self.hashes.reserveCapacity(capacity)
        self.keyColumnCount = plan.keyColumns.count
        self.worker = worker
        self.number = number
    }

    /// Checks `row` against `plan` (the plan the chunk was made for) and appends it with its key hash.
    ///
    /// - Parameter hashingRow: Whether to hash every value of the row, not only the key.
    /// - Returns: With `hashingRow`, a stable hash of all the row's values, in order (0 otherwise).
    /// - Throws: ``BulkUpdateError/Code/input`` naming the line and column when a value does not fit its column, a
    ///   key is NULL or a NOT NULL column is given NULL; nothing is appended then.
    @discardableResult
    package mutating func append(_ row: BulkUpdateRow, line: Int, plan: UpdatePlan, hashingRow: Bool = false)
        throws(BulkUpdateError) -> UInt64
    {
        let columns = plan.columns
        guard row.values.count == columns.count else {
            throw BulkUpdateError(
                .input,
                "row has \(row.values.count) value(s), expected \(columns.count):"
                    + " \(columns.map(\.name).joined(separator: ", "))",
                inputLine: line
            )
        }
        let keyCount = self.keyColumnCount
        var keyHash = KeyHash.seed
        var rowHash = UInt64(columns.count)
        for index in 0..<columns.count {
            let value = row.values[index]
            let appended: UInt64?
            do throws(CellError) {
                appended = try self.columns[index].append(value, hashing: hashingRow || index < keyCount)
            } catch {
                self.removeLast(index)
                let column = columns[index]
                throw BulkUpdateError(
                    .input,
                    "value \(value) does not fit column \"\(column.name)\" (\(column.type.displayName)): \(error.reason)",
                    inputLine: line,
                    column: column.name
                )
            }
            let hash: UInt64
            if let appended {
                hash = appended
            } else {
                try self.checkNull(column: index, plan: plan, line: line)
                hash = KeyHash.null
            }
            if index < keyCount { keyHash = KeyHash.mix(keyHash ^ hash) }
            if hashingRow { rowHash = KeyHash.mix(rowHash ^ hash) }
        }
        self.hashes.append(keyHash)
        self.lines.append(line)
        return hashingRow ? rowHash : 0
    }

    /// A NULL was just appended to column `index`: fine for a nullable set column, an error otherwise (and the
    /// row's values are taken back).
    private mutating func checkNull(column index: Int, plan: UpdatePlan, line: Int) throws(BulkUpdateError) {
        let nullable = index >= self.keyColumnCount && plan.columns.withUnsafeBufferPointer { $0[index].isNullable }
        guard !nullable else { return }
        let name = plan.columns[index].name
        if index < self.keyColumnCount {
            self.removeLast(index + 1)
            throw BulkUpdateError(
                .input,
                "key column \"\(name)\" is NULL; every row needs a key",
                inputLine: line,
                column: name
            )
        }
        let key = self.renderKey(self.count)
        self.removeLast(index + 1)
        throw BulkUpdateError(
            .input,
            "NULL given for column \"\(name)\", which is NOT NULL",
            inputLine: line,
            column: name,
            key: key
        )
    }

    /// Takes back the values a refused row left in its first `columns` columns.
    private mutating func removeLast(_ columns: Int) {
        for index in 0..<columns { self.columns[index].removeLast() }
    }

    /// Appends the rows of `other` (a chunk of the same plan) at `rows`, in that order.
    package mutating func append(from other: Chunk, rows: ArraySlice<Int>) {
        for index in self.columns.indices { self.columns[index].append(from: other.columns[index], rows: rows) }
        for row in rows {
            self.lines.append(other.lines[row])
            self.hashes.append(other.hashes[row])
        }
    }

    /// Removes the last row.
    package mutating func removeLast() {
        self.removeLast(self.columns.count)
        self.lines.removeLast()
        self.hashes.removeLast()
    }

    /// Removes every row, keeping the storage.
    package mutating func removeAll() {
        for index in self.columns.indices { self.columns[index].removeAll() }
        self.lines.removeAll(keepingCapacity: true)
        self.hashes.removeAll(keepingCapacity: true)
    }

    /// The values of a single integer key column, the common case several fast paths take.
    package var integerKeys: [Int64?]? {
        self.keyColumnCount == 1 ? (self.columns[0] as? IntegerColumn)?.values : nil
    }

    /// The key of row `index` as SQL-like text: `42`, `'abc'` or `(1, 'a')` for composite keys.
    package func renderKey(_ index: Int) -> String {
        SQLText.key((0..<self.keyColumnCount).map { self.columns[$0].render(at: index) })
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
        self.routedRows = count
        guard count > 0 else { return [] }
        var order: [Int]
        if let keys = self.integerKeys {
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
        self.columns.withUnsafeBufferPointer { columns in
            for row in 0..<self.count {
                for column in columns { state = KeyHash.mix(state ^ column.hash(at: row)) }
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

    /// The error for a key that appears twice, at row `row` and on `earlierLine`, which was read before it.
    ///
    /// - Parameter sortingLines: Whether to name the lower line first (a worker's chunks are sorted by key, so the
    ///   row it holds may come from either line); otherwise `earlierLine` is named first, as it was read.
    package func duplicate(row: Int, earlierLine: Int, sortingLines: Bool = true) -> BulkUpdateError {
        let key = self.renderKey(row)
        let read = [earlierLine, self.lines[row]]
        let lines = sortingLines ? read.sorted() : read
        return BulkUpdateError(
            .duplicateKey,
            "key \(key) appears more than once in the input (input lines \(lines[0]) and \(lines[1]))",
            inputLine: lines[1],
            key: key
        )
    }
}

extension UpdatePlan {
    /// Renders a key given as the text forms of its key columns (as the database prints them), the way reports
    /// render keys: `42`, `'abc'`, `(1, 'a')`. A value that does not parse is shown as quoted text.
    package func renderKey(text values: [String?]) -> String {
        SQLText.key(zip(self.keyColumns, values).map { column, text in column.type.render(text: text) })
    }
}
