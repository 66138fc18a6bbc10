package import BulkUpdate
import Foundation
package import Logging
import NIOCore
import SQLiteNIO

/// Writes chunks on the one writer connection, one at a time (``AsyncLock``), each in its own
/// `BEGIN IMMEDIATE` … `COMMIT` transaction.
package struct SQLiteChunkExecutor: JournaledChunkExecutor {
    /// `?3`: SQLite is dynamically typed, values are bound as they are stored.
    static let dialect = UpdateSQL.Dialect(
        parameter: { number, _ in .parameter(number) },
        differs: { lhs, rhs, _ in "\(lhs) IS NOT \(rhs)" },
        // A blob as PostgreSQL shows a bytea (`\x0aff`), anything else as SQLite casts it.
        text: { value, _ in
            "CASE WHEN typeof(\(value)) = 'blob' THEN '\\x' || lower(hex(\(value))) ELSE CAST(\(value) AS TEXT) END"
        }
    )
    /// The temporary table of the `tempTable` strategy, private to the connection.
    static let stageName = "bulk_update_stage"
    static let stageTable: SQL = "temp.\(identifier: Self.stageName)"

    let connection: SQLiteConnection
    let lock: AsyncLock
    let sql: UpdateSQL
    let maximumParameters: Int
    /// The `values` and `caseWhen` statements, by rows per statement (all but a chunk's last batch are full).
    let batchStatements = StatementCache<SQLiteStatement>()
    /// The `tempTable` strategy's inserts into its stage, by rows per statement.
    let stageInserts = StatementCache<SQLiteStatement>()
    /// The undo inserts, by rows per statement.
    let undoInserts = StatementCache<SQLiteStatement>()
    /// Whether each chunk is its own transaction; `false` in an atomic run, whose one transaction (and the writer
    /// lock) the backend holds.
    let ownsTransactions: Bool
    /// The run's journal, and the chunks it already holds when resuming.
    package let journal: RunJournal?
    package let journaled: [RunJournal.Entry: RunJournal.Stored]
    /// Whether the undo keeps storage classes (``RunJournal/storageClassesMark``).
    let storageClasses: Bool

    init(
        connection: SQLiteConnection,
        lock: AsyncLock,
        plan: UpdatePlan,
        maximumParameters: Int,
        ownsTransactions: Bool,
        journal: RunJournal? = nil,
        journaled: [RunJournal.Entry: RunJournal.Stored] = [:],
        storageClasses: Bool = true
    ) {
        self.journal = journal
        self.journaled = journaled
        self.storageClasses = storageClasses
        self.connection = connection
        self.lock = lock
        self.sql = UpdateSQL(plan: plan, dialect: Self.dialect)
        self.maximumParameters = maximumParameters
        self.ownsTransactions = ownsTransactions
    }

    // See `ChunkExecutor.write(_:logger:)`.
    package func write(_ chunk: Chunk, logger: Logger) async throws -> ChunkOutcome {
        let fingerprint = self.journal == nil ? "" : chunk.fingerprint()
        guard self.ownsTransactions else {
            do {
                var outcome = try await self.apply(chunk)
                try await outcome.checkMissingKeys(of: chunk, options: self.sql.plan.options) {
                    try await self.notFound(chunk)
                }
                return outcome
            } catch {
                throw SQLiteErrors.map(error, doing: "the update")
            }
        }
        do {
            return try await self.transaction("BEGIN IMMEDIATE") {
                var outcome = try await self.apply(chunk)
                try await outcome.checkMissingKeys(of: chunk, options: self.sql.plan.options) {
                    try await self.notFound(chunk)
                }
                if let journal = self.journal {
                    // In the chunk's own transaction: the chunk and its entry commit together or not at all.
                    let record = chunk.record()
                    try await self.connection.execute(
                        journal.insertChunk,
                        [
                            .text(journal.runID), .integer(SQLiteInt64(record.worker)),
                            .integer(SQLiteInt64(record.number)), .text(record.firstKey), .text(record.lastKey),
                            .integer(SQLiteInt64(record.rows)), .text(fingerprint), .text(RunJournal.now()),
                            .integer(SQLiteInt64(chunk.routedRows)),
                        ]
                    )
                    guard try await self.count("SELECT changes()", []) == 1 else { throw journal.revertedWhileWriting }
                }
                return outcome
            }
        } catch {
            throw SQLiteErrors.map(error, doing: "the update")
        }
    }

    // See `ChunkExecutor.preview(_:samples:logger:)`. Whatever the strategy, the chunk travels as VALUES.
    package func preview(_ chunk: Chunk, samples: Int, logger: Logger) async throws -> ChunkOutcome {
        guard self.ownsTransactions else {
            do { return try await self.read(chunk, samples: samples) } catch {
                throw SQLiteErrors.map(error, doing: "the dry run")
            }
        }
        do {
            // A deferred transaction that only reads: one snapshot for the counts, samples and missing keys, and no
            // write lock.
            return try await self.transaction("BEGIN") { try await self.read(chunk, samples: samples) }
        } catch {
            throw SQLiteErrors.map(error, doing: "the dry run")
        }
    }

    /// Runs `body` under the writer lock in a transaction opened with `begin`: committed when it returns, rolled back
    /// when it throws.
    private func transaction<Result: Sendable>(_ begin: SQL, _ body: () async throws -> Result) async throws -> Result {
        try await self.lock.withLock {
            try await self.connection.execute(begin)
            do {
                let result = try await body()
                try await self.connection.execute("COMMIT")
                return result
            } catch {
                _ = try? await self.connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// A preview's reads: the counts, up to `samples` rows of differences, the keys not found.
    private func read(_ chunk: Chunk, samples: Int) async throws -> ChunkOutcome {
        var outcome = ChunkOutcome(matched: 0, changed: 0)
        outcome.isPreview = true
        var samplesLeft = samples
        for rows in self.batches(chunk.count, width: chunk.columns.count + 1) {
            let source = self.sql.valuesSource(rows: rows.count, ordinal: true)
            let binds = self.binds(chunk, rows: rows, ordinal: true)
            let counts = try await self.connection.execute(self.sql.previewCounts(from: source), binds)
            func count(_ column: Int) -> Int { Int(counts.first?.columns[column].data.integer ?? 0) }
            let differing = count(1)
            outcome.matched += count(0)
            outcome.changed += differing
            outcome.conflicting += count(2)
            outcome.skippedByCondition += count(3)
            if count(2) > 0 {
                for row in try await self.classify(chunk, rows: rows, filter: self.sql.conflicting) {
                    outcome.conflicts += row.conflicts(key: chunk.renderKey(row.position), plan: self.sql.plan)
                }
            }
            guard differing > 0 && samplesLeft > 0 else { continue }
            let found = try await self.connection.execute(
                self.sql.previewSamples(from: source, limit: samplesLeft),
                binds
            )
            for row in found {
                let cells = row.columns.map(\.data)
                outcome.samples += self.sql.previewSample(
                    key: chunk.renderKey(Int(cells[0].integer ?? 0)),
                    flag: { cells[$0].integer == 1 },
                    text: { cells[$0].string }
                )
            }
            samplesLeft -= found.count
        }
        if outcome.matched < chunk.count { outcome.notFoundExamples = try await self.notFound(chunk) }
        return outcome
    }

    /// The matched rows among `rows` of `chunk` that meet `filter`, with what decides their fate.
    private func classify(_ chunk: Chunk, rows: Range<Int>, filter: SQL) async throws -> [ClassifiedRow] {
        let plan = self.sql.plan
        let found = try await self.connection.execute(
            self.sql.classification(from: self.sql.valuesSource(rows: rows.count, ordinal: true), filter: filter),
            self.binds(chunk, rows: rows, ordinal: true)
        )
        return found.map { row in
            let cells = row.columns.map(\.data)
            return ClassifiedRow(
                keyCount: plan.keyColumns.count,
                expectedCount: plan.expectedColumns.count,
                position: Int(cells[0].integer ?? 0),
                flag: { cells[$0].integer == 1 },
                text: { cells[$0].string }
            )
        }
    }

    private func apply(_ chunk: Chunk) async throws -> ChunkOutcome {
        let plan = self.sql.plan
        let skip = plan.options.skipUnchanged
        var outcome = ChunkOutcome(matched: 0, changed: 0)
        let undo = plan.options.savesUndo ? self.journal : nil
        if plan.isGuarded || undo != nil {
            // Read first, then write: in this write transaction no other session can change a row between the two.
            var left: [ClassifiedRow] = []
            for (part, rows) in self.batches(chunk.count, width: chunk.columns.count + 1).enumerated() {
                if plan.isGuarded {
                    left += try await self.classify(chunk, rows: rows, filter: self.sql.leftAlone(onlyChanged: skip))
                }
                if let undo { try await self.saveUndo(chunk, rows: rows, part: part, journal: undo) }
            }
            outcome = try await self.write(chunk, skip: skip, countMatched: skip && !plan.isGuarded)
            if plan.isGuarded {
                outcome.matched = outcome.changed
                for row in left { outcome.count(row, key: chunk.renderKey(row.position), plan: plan) }
            } else if !skip {
                outcome.matched = outcome.changed
            }
            return outcome
        }
        outcome = try await self.write(chunk, skip: skip, countMatched: skip)
        if !skip { outcome.matched = outcome.changed }
        return outcome
    }

    /// Saves the undo of the rows among `rows` of `chunk` that the write will change, as the chunk's undo row
    /// `part`: their positions, keys, the values they hold, and the values written (see
    /// ``BulkUpdateOptions/keepsUndo``).
    private func saveUndo(_ chunk: Chunk, rows: Range<Int>, part: Int, journal: RunJournal) async throws {
        let statement = self.undoInserts.statement(rows: rows.count) {
            SQLiteStatement(
                Self.undoInsert(self.sql, rows: $0, journal: journal, storageClasses: self.storageClasses)
            )
        }
        let repeated = chunk.repeated.filter(rows.contains)
        try await self.connection.execute(
            statement,
            self.binds(chunk, rows: rows, ordinal: true) + [
                .text(journal.runID), .integer(SQLiteInt64(chunk.worker)), .integer(SQLiteInt64(chunk.number)),
                .integer(SQLiteInt64(part)), .text(RunJournal.jsonIntegers(repeated)),
            ]
        )
    }

    /// The undo of `rows` rows, one undo row (none when no row will change): parameters are the rows' values with
    /// their positions (as ``UpdateSQL/valuesSource(rows:ordinal:)`` numbers them), then the run id, the worker, the
    /// chunk, the part and the repeated positions (a JSON array).
    ///
    /// Parameters are numbered in the order the text uses them: SQLite looks up a `?N` below the highest number
    /// seen so far in a list, so a statement that named the run id (`?30001`) before the rows' 30,000 parameters
    /// took a second to prepare for each 10,000-row chunk.
    static func undoInsert(_ sql: UpdateSQL, rows: Int, journal: RunJournal, storageClasses: Bool = true) -> SQL {
        let plan = sql.plan
        let first = rows * (plan.columns.count + 1) + 1
        func json(_ alias: SQL, _ columns: [ColumnSchema], classes: Bool) -> SQL {
            let arrays = columns.map { column -> SQL in
                let value: SQL = "\(alias).\(identifier: column.name)"
                return "json_group_array(\(classes ? Self.undoValue(value) : Self.dialect.text(value, column)))"
            }
            return "json_array(\(SQL.list(arrays)))"
        }
        var written: [SQL] = ["1 = 1"]
        if let guards = sql.guards { written.append(guards) }
        if plan.options.skipUnchanged { written.append("(\(sql.changed))") }
        // The aggregates read the joined rows in one pass, in the same order.
        return "INSERT INTO \(journal.undoTable) (\(SQL.list(RunJournal.undoColumns.map(SQL.identifier))))"
            + " SELECT r.run_id, r.worker, r.chunk, r.part, count(*), json_group_array(u.\(UpdateSQL.ordinalName)),"
            + " \(json("t", plan.keyColumns, classes: false)), \(json("t", plan.setColumns, classes: storageClasses)),"
            + " \(json("u", plan.setColumns, classes: storageClasses)), r.repeated"
            + " FROM \(sql.table) AS t JOIN \(sql.valuesSource(rows: rows, ordinal: true)) ON \(sql.match)"
            + " JOIN (SELECT \(parameter: first) AS run_id, \(parameter: first + 1) AS worker,"
            + " \(parameter: first + 2) AS chunk, \(parameter: first + 3) AS part, \(parameter: first + 4) AS repeated)"
            + " AS r ON 1 = 1 WHERE \(SQL.list(written, separator: " AND ")) HAVING count(*) > 0"
    }

    /// `value` as an undo row holds a previous or written value, with its storage class (``UndoValue``): text as a
    /// JSON string, an integer as a JSON number, a real as `["r","0.30000000000000004"]` (17 significant digits,
    /// which read back as the same double; SQLite's JSON writes 15), a blob as `["b","0aff"]`. Key values stay text:
    /// the run found its rows with them, converted to the key's type.
    ///
    /// Building a JSON array per value costs: for 100,000 integers, 35–50 ms against 11–18 ms as numbers (SQLite
    /// 3.40); text and integers, the common classes, pass as they are.
    static func undoValue(_ value: SQL) -> SQL {
        "CASE typeof(\(value)) WHEN 'real' THEN json_array('r', printf('%!.17g', \(value)))"
            + " WHEN 'blob' THEN json_array('b', lower(hex(\(value)))) ELSE \(value) END"
    }

    /// Writes the chunk with the run's strategy; `changed` is what SQLite changed, `matched` the rows found when
    /// `countMatched`.
    private func write(_ chunk: Chunk, skip: Bool, countMatched: Bool) async throws -> ChunkOutcome {
        let plan = self.sql.plan
        var outcome = ChunkOutcome(matched: 0, changed: 0)
        switch plan.options.strategy {
        case .tempTable:
            let names = SQL.list(self.sql.allNames)
            // Created and dropped inside the chunk's transaction (or the atomic run's), so nothing is left behind.
            try await self.connection.execute("DROP TABLE IF EXISTS \(Self.stageTable)")
            try await self.connection.execute("CREATE TEMP TABLE \(identifier: Self.stageName) (\(names))")
            let width = chunk.columns.count
            for rows in self.batches(chunk.count, width: width) {
                let statement = self.stageInserts.statement(rows: rows.count) { count in
                    let tuples = (0..<count).map { row -> SQL in
                        "(\(SQL.list((0..<width).map { SQL.parameter(row * width + $0 + 1) })))"
                    }
                    return SQLiteStatement("INSERT INTO \(Self.stageTable) (\(names)) VALUES \(SQL.list(tuples))")
                }
                try await self.connection.execute(statement, self.binds(chunk, rows: rows))
            }
            let source: SQL = "\(Self.stageTable) AS u"
            if countMatched {
                outcome.matched = try await self.count(
                    "SELECT count(*) FROM \(self.sql.table) AS t JOIN \(source) ON \(self.sql.match)",
                    []
                )
            }
            outcome.changed = try await self.update(
                SQLiteStatement(self.sql.update(from: source, onlyChanged: skip)),
                []
            )
            try await self.connection.execute("DROP TABLE \(Self.stageTable)")
        case .caseWhen:
            for rows in self.batches(chunk.count, width: chunk.columns.count) {
                if countMatched { outcome.matched += try await self.countMatched(chunk, rows: rows) }
                let statement = self.batchStatements.statement(rows: rows.count) {
                    SQLiteStatement(self.sql.caseWhen(rows: $0, onlyChanged: skip).statement)
                }
                outcome.changed += try await self.update(statement, self.binds(chunk, rows: rows))
            }
        default:
            for rows in self.batches(chunk.count, width: chunk.columns.count) {
                if countMatched { outcome.matched += try await self.countMatched(chunk, rows: rows) }
                let statement = self.batchStatements.statement(rows: rows.count) {
                    SQLiteStatement(self.sql.update(from: self.sql.valuesSource(rows: $0), onlyChanged: skip))
                }
                outcome.changed += try await self.update(statement, self.binds(chunk, rows: rows))
            }
        }
        return outcome
    }

    /// Runs an UPDATE and returns the rows it changed.
    private func update(_ statement: SQLiteStatement, _ binds: [SQLiteData]) async throws -> Int {
        try await self.connection.execute(statement, binds)
        return try await self.count("SELECT changes()", [])
    }

    private func count(_ query: SQL, _ binds: [SQLiteData]) async throws -> Int {
        let rows = try await self.connection.execute(query, binds)
        return Int(rows.first?.columns.first?.data.integer ?? 0)
    }

    /// Table rows that exist for the keys of `rows`.
    private func countMatched(_ chunk: Chunk, rows: Range<Int>) async throws -> Int {
        let source = self.sql.keyValuesSource(rows: rows.count, ordinal: false)
        return try await self.count(
            "SELECT count(*) FROM \(self.sql.table) AS t JOIN \(source) ON \(self.sql.match)",
            self.keyBinds(chunk, rows: rows, ordinal: false)
        )
    }

    private func notFound(_ chunk: Chunk) async throws -> [String] {
        var examples: [String] = []
        let keyCount = chunk.keyColumnCount
        for rows in self.batches(chunk.count, width: keyCount + 1)
        where examples.count < ChunkOutcome.notFoundExampleLimit {
            let source = self.sql.keyValuesSource(rows: rows.count, ordinal: true)
            let found = try await self.connection.execute(
                "SELECT u.\(UpdateSQL.ordinalName) FROM \(source)"
                    + " WHERE NOT EXISTS (SELECT 1 FROM \(self.sql.table) AS t WHERE \(self.sql.match))"
                    + " ORDER BY u.\(UpdateSQL.ordinalName)"
                    + " LIMIT \(integer: ChunkOutcome.notFoundExampleLimit - examples.count)",
                self.keyBinds(chunk, rows: rows, ordinal: true)
            )
            for row in found {
                if let position = row.columns.first?.data.integer { examples.append(chunk.renderKey(Int(position))) }
            }
        }
        return examples
    }

    private func batches(_ count: Int, width: Int) -> [Range<Int>] {
        let size = max(1, self.maximumParameters / max(1, width))
        return stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
    }

    // MARK: Binds

    /// The values of `rows`, row by row, each row followed by its position in the chunk when `ordinal` is set.
    private func binds(_ chunk: Chunk, rows: Range<Int>, ordinal: Bool = false) -> [SQLiteData] {
        var binds: [SQLiteData] = []
        binds.reserveCapacity(rows.count * (chunk.columns.count + (ordinal ? 1 : 0)))
        let columns = chunk.columns.map(\.sqlite)
        for row in rows {
            for column in columns { binds.append(column.sqliteData(at: row)) }
            if ordinal { binds.append(.integer(SQLiteInt64(row))) }
        }
        return binds
    }

    private func keyBinds(_ chunk: Chunk, rows: Range<Int>, ordinal: Bool) -> [SQLiteData] {
        var binds: [SQLiteData] = []
        let keys = chunk.columns[0..<chunk.keyColumnCount].map(\.sqlite)
        for row in rows {
            for column in keys { binds.append(column.sqliteData(at: row)) }
            if ordinal { binds.append(.integer(SQLiteInt64(row))) }
        }
        return binds
    }
}
