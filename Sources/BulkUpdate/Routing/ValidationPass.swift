package import Logging

/// Values only the database can judge: domain `CHECK` constraints and types whose text it parses
/// (``ColumnType/isServerChecked``). The backend checks them by casting, writing nothing.
package protocol ServerValueChecker: Sendable {
    /// The rows of `values` (one column of plan column `column`, NULLs left out) that the database refuses, with its
    /// reason for each, in row order; at most `limit` of them.
    func rejected(column: Int, values: ColumnValues, limit: Int, logger: Logger) async throws
        -> [(row: Int, reason: String)]
}

/// Reads every row once and checks it against the plan before anything is written: on the client first, then, in
/// batches, by the database for the columns only it can judge.
package struct ValidationPass {
    /// Values sent to the database per check.
    package static let batchSize = 10_000

    package let plan: UpdatePlan
    private let checker: (any ServerValueChecker)?
    private let logger: Logger
    /// How many errors are kept; the rest are only counted.
    private let listLimit: Int
    private var validator: RowValidator
    /// The plan columns the database checks, and the values waiting to be sent for each (same order).
    private let checkedColumns: [Int]
    private var batches: [Batch]

    private struct Batch {
        var values: ColumnValues
        var lines: [Int] = []
    }

    /// Errors found so far, at most `listLimit` (in line order after ``finish()``).
    package private(set) var errors: [BulkUpdateError] = []
    /// Invalid rows found so far.
    package private(set) var invalid = 0
    /// Rows read.
    package private(set) var rows = 0
    /// Whether the database stopped being asked after `listLimit` refusals, so ``invalid`` may be short.
    package private(set) var invalidIsLowerBound = false
    /// A running fingerprint of every value of every row, in input order.
    private var contentHash: UInt64 = 0x9E37_79B9_7F4A_7C15

    package init(plan: UpdatePlan, checker: (any ServerValueChecker)?, listLimit: Int, logger: Logger) {
        self.plan = plan
        self.checker = checker
        self.listLimit = listLimit
        self.logger = logger
        self.validator = RowValidator(plan: plan)
        self.checkedColumns =
            checker == nil ? [] : plan.columns.indices.filter { plan.columns[$0].type.isServerChecked }
        self.batches = self.checkedColumns.map {
            Batch(values: ColumnValues(kind: plan.columns[$0].type.kind, capacity: 0))
        }
    }

    /// Checks one row on the client and queues its values for the database, without waiting; a row that does not
    /// fit is recorded, not thrown.
    ///
    /// - Returns: Whether a batch is full; then call ``flushFull()`` before the next row.
    package mutating func checkOnClient(_ row: BulkUpdateRow, line: Int) -> Bool {
        self.rows += 1
        let cells: [Cell]
        do {
            cells = try self.validator.checkedCells(row, line: line)
        } catch {
            self.record(error)
            return false
        }
        var rowHash = UInt64(cells.count)
        for cell in cells { rowHash = KeyHash.mix(rowHash ^ KeyHash.hash(cell)) }
        self.contentHash = KeyHash.mix(self.contentHash ^ rowHash)
        var full = false
        for (index, column) in self.checkedColumns.enumerated() where cells[column] != .null {
            // Appended in place: a copy taken out of the array and put back would copy the whole batch each row.
            self.batches[index].values.append(cells[column])
            self.batches[index].lines.append(line)
            if self.batches[index].lines.count >= Self.batchSize { full = true }
        }
        return full
    }

    /// Sends every full batch to the database.
    package mutating func flushFull() async throws {
        for index in self.checkedColumns.indices where self.batches[index].lines.count >= Self.batchSize {
            try await self.flush(index)
        }
    }

    /// Sends what is left to the database and puts the errors in line order.
    package mutating func finish() async throws {
        for index in self.checkedColumns.indices { try await self.flush(index) }
        self.errors.sort { ($0.inputLine ?? 0) < ($1.inputLine ?? 0) }
        if self.errors.count > self.listLimit { self.errors.removeLast(self.errors.count - self.listLimit) }
    }

    /// Whether a row was found invalid.
    package var hasErrors: Bool { self.invalid > 0 }

    /// The input as a journal remembers it: its row count and a 64-bit fingerprint of every value in order
    /// (`200000:3fa2…`). A resumed run must read an input with the same digest.
    package var digest: String {
        let hex = String(self.contentHash, radix: 16)
        return "\(self.rows):" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    private mutating func record(_ error: BulkUpdateError) {
        self.invalid += 1
        if self.errors.count < self.listLimit { self.errors.append(error) }
    }

    /// Sends batch `index` to the database and empties it.
    private mutating func flush(_ index: Int) async throws {
        let column = self.checkedColumns[index]
        let batch = self.batches[index]
        self.batches[index] = Batch(values: ColumnValues(kind: self.plan.columns[column].type.kind, capacity: 0))
        guard let checker, !batch.lines.isEmpty, !self.invalidIsLowerBound else { return }
        let schema = self.plan.columns[column]
        let refused = try await checker.rejected(
            column: column,
            values: batch.values,
            limit: self.listLimit,
            logger: self.logger
        )
        for (row, reason) in refused {
            // Keep every refusal of this batch, so the earliest lines can be listed after sorting.
            self.invalid += 1
            self.errors.append(
                BulkUpdateError(
                    .input,
                    "value \(batch.values.render(row)) does not fit column \"\(schema.name)\""
                        + " (\(schema.type.displayName)): \(reason)",
                    inputLine: batch.lines[row],
                    column: schema.name
                )
            )
        }
        if refused.count >= self.listLimit { self.invalidIsLowerBound = true }
    }
}
