package import Logging

/// Values only the database can judge: domain `CHECK` constraints and types whose text it parses
/// (``ColumnType/isServerChecked``). The backend checks them by casting, writing nothing.
package protocol ServerValueChecker: Sendable {
    /// The rows of `values` (one column of plan column `column`, NULLs left out) that the database refuses, with its
    /// reason for each, in row order; at most `limit` of them.
    func rejected(column: Int, values: any ChunkColumn, limit: Int, logger: Logger) async throws
        -> [(row: Int, reason: String)]
}

/// Reads every row once and checks it against the plan before anything is written: on the client first, then, in
/// batches, by the database for the columns only it can judge.
///
/// Rows are checked into a chunk of up to ``batchSize`` rows, the same typed columns a run writes from; the chunk is
/// emptied (after the database has checked its values, when some column needs that) and filled again, so memory
/// does not grow with the input.
package struct ValidationPass {
    /// Rows checked per batch, and so values sent to the database per check.
    package static let batchSize = 10_000

    package let plan: UpdatePlan
    private let checker: (any ServerValueChecker)?
    private let logger: Logger
    /// How many errors are kept; the rest are only counted.
    private let listLimit: Int
    /// The plan columns the database checks.
    private let checkedColumns: [Int]
    /// The rows of the current batch that were valid on the client.
    private var batch: Chunk
    /// Key hashes seen so far, with their lines, when repeated keys are an error.
    private var seen: [UInt64: Int] = [:]

    /// Errors found so far, at most `listLimit` (in line order after ``finish()``).
    package private(set) var errors: [BulkUpdateError] = []
    /// Invalid rows found so far.
    package private(set) var invalid = 0
    /// Rows read.
    package private(set) var rows = 0
    /// Whether the database stopped being asked after `listLimit` refusals, so ``invalid`` may be short.
    package private(set) var invalidIsLowerBound = false
    /// A running fingerprint of every value of every row, in input order.
    private var contentHash: UInt64 = KeyHash.seed

    /// The full batches, in input order, when rows are kept.
    private var kept: [Chunk] = []
    private var keepsRows: Bool
    /// The most memory kept rows may take, by ``keptBytes``; past it the kept rows are let go.
    private let keptRowsBudget: Int
    /// Whether every value is hashed for ``digest``: only a journaled run needs it.
    private let hashesRows: Bool

    /// The memory kept rows may take by default: 64 MiB by ``keptBytes`` (1,000,000 rows of an integer key and
    /// one text column take about 48 MB).
    package static let defaultKeptRowsBudget = 64 << 20

    /// - Parameters:
    ///   - keepingRows: Whether to keep every checked row (``checkedRows``), so that a run can write them without
    ///     reading and checking them again. Once they would take more than `keptRowsBudget` bytes they are let go
    ///     (``CheckedRows/isKept`` is then `false` and the input must be read again), so memory stays bounded.
    package init(
        plan: UpdatePlan,
        checker: (any ServerValueChecker)?,
        listLimit: Int,
        keepingRows: Bool = false,
        keptRowsBudget: Int = ValidationPass.defaultKeptRowsBudget,
        logger: Logger
    ) {
        self.plan = plan
        self.checker = checker
        self.listLimit = listLimit
        self.keepsRows = keepingRows
        self.keptRowsBudget = keptRowsBudget
        self.hashesRows = plan.options.runID != nil
        self.logger = logger
        self.checkedColumns =
            checker == nil ? [] : plan.columns.indices.filter { plan.columns[$0].type.isServerChecked }
        self.batch = Chunk(plan: plan, worker: 0, number: 0, capacity: Self.batchSize)
    }

    /// Checks one row on the client and keeps it for the database when a column needs that, without waiting; a row
    /// that does not fit is recorded, not thrown.
    ///
    /// - Returns: Whether the batch is full; then call ``flushFull()`` before the next row.
    package mutating func checkOnClient(_ row: BulkUpdateRow, line: Int) -> Bool {
        self.rows += 1
        let rowHash: UInt64
        do {
            rowHash = try self.batch.append(row, line: line, plan: self.plan, hashingRow: self.hashesRows)
        } catch {
            self.record(error)
            return false
        }
        let index = self.batch.count - 1
        if self.plan.options.duplicateKeys == .error,
            let earlier = self.seen.updateValue(line, forKey: self.batch.hashes[index])
        {
            self.record(self.batch.duplicate(row: index, earlierLine: earlier, sortingLines: false))
            self.batch.removeLast()
            return false
        }
        self.contentHash = KeyHash.mix(self.contentHash ^ rowHash)
        guard self.batch.count >= Self.batchSize else { return false }
        guard !self.checkedColumns.isEmpty else {
            _ = self.takeBatch()
            return false
        }
        return true
    }

    /// Empties the batch and returns what it held, keeping it when rows are kept.
    private mutating func takeBatch() -> Chunk {
        let batch = self.batch
        if self.keepsRows && self.keptBytes(rows: self.rows) > self.keptRowsBudget {
            // Over the budget: let every kept row go; the input will be read again.
            self.keepsRows = false
            self.kept = []
        }
        if self.keepsRows {
            if batch.count > 0 { self.kept.append(batch) }
            self.batch = Chunk(plan: self.plan, worker: 0, number: 0, capacity: Self.batchSize)
        } else {
            self.batch.removeAll()
        }
        return batch
    }

    /// About how much memory `rows` kept rows take: each row's line and key hash, and 16 bytes per value (an
    /// optional integer, double or date, or a string's inline part). Longer strings' own bytes are not counted: a
    /// collection's strings are shared with the caller's values, and a file's are at most the file's size.
    private func keptBytes(rows: Int) -> Int {
        rows * (16 + 16 * self.plan.columns.count)
    }

    /// The rows checked so far, kept when the pass was made with `keepingRows` and they stayed within the budget;
    /// call after ``finish()``.
    package var checkedRows: CheckedRows {
        CheckedRows(batches: self.kept, digest: self.digest, count: self.rows, isKept: self.keepsRows)
    }

    /// Sends the batch to the database when it is full.
    package mutating func flushFull() async throws {
        if self.batch.count >= Self.batchSize { try await self.flush() }
    }

    /// Sends what is left to the database and puts the errors in line order.
    package mutating func finish() async throws {
        try await self.flush()
        self.errors.sort { ($0.inputLine ?? 0) < ($1.inputLine ?? 0) }
        if self.errors.count > self.listLimit { self.errors.removeLast(self.errors.count - self.listLimit) }
    }

    /// Whether a row was found invalid.
    package var hasErrors: Bool { self.invalid > 0 }

    /// The input as a journal remembers it: its row count and a 64-bit fingerprint of every value in order
    /// (`200000:3fa2…`). A resumed run must read an input with the same digest. `nil` when the plan keeps no
    /// journal (no ``BulkUpdateOptions/runID``): then no value is hashed beyond the keys.
    package var digest: String? {
        guard self.hashesRows else { return nil }
        let hex = String(self.contentHash, radix: 16)
        return "\(self.rows):" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    private mutating func record(_ error: BulkUpdateError) {
        self.invalid += 1
        if self.errors.count < self.listLimit { self.errors.append(error) }
    }

    /// Sends the batch's values of each column the database checks, and empties the batch.
    private mutating func flush() async throws {
        let batch = self.takeBatch()
        guard let checker, batch.count > 0 else { return }
        for column in self.checkedColumns {
            guard !self.invalidIsLowerBound else { return }
            let rows = (0..<batch.count).filter { !batch.columns[column].isNull(at: $0) }
            guard !rows.isEmpty else { continue }
            let values = batch.columns[column].gathered(rows)
            let schema = self.plan.columns[column]
            let refused = try await checker.rejected(
                column: column,
                values: values,
                limit: self.listLimit,
                logger: self.logger
            )
            for (row, reason) in refused {
                // Keep every refusal of this batch, so the earliest lines can be listed after sorting.
                self.invalid += 1
                self.errors.append(
                    BulkUpdateError(
                        .input,
                        "value \(values.render(at: row)) does not fit column \"\(schema.name)\""
                            + " (\(schema.type.displayName)): \(reason)",
                        inputLine: batch.lines[rows[row]],
                        column: schema.name
                    )
                )
            }
            if refused.count >= self.listLimit { self.invalidIsLowerBound = true }
        }
    }
}
