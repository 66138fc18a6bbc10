package import BulkUpdate
package import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Writes chunks with the chosen strategy, each chunk in its own transaction (or savepoint, on a caller's
/// transaction: see ``PostgresConnections``) on a connection leased for that chunk (so workers never wait on each
/// other for connections they hold). In an atomic run it only
/// copies chunks into the run's shared stage; ``PostgresAtomicRun`` applies them at the end.
package struct PostgresChunkExecutor: JournaledChunkExecutor {
    let connections: PostgresConnections
    let statements: PostgresStatements
    /// The unnest statement, the same for every chunk.
    let unnestStatement: PostgresStatement
    /// The statement that applies the `copy` strategy's stage.
    let stageStatement: PostgresStatement
    /// The not-found lookup of the strategies that bind arrays.
    let notFoundStatement: PostgresStatement
    /// A dry run's counts, over the chunk as arrays.
    let previewCountsStatement: PostgresStatement
    /// The statements of a guarded run, or of one that keeps undo (see ``applyTracked(_:on:)``).
    let tracked: TrackedStatements?
    /// The `copy` strategy's per-connection temporary table, and the connections that already have it.
    let temporaryStage: StageTable
    let preparedConnections: ConnectionSet
    /// The `values` and `caseWhen` statements, by rows per statement (all but a chunk's last batch are full).
    let batchStatements: StatementCache<PostgresStatement>
    /// The staging connection of an atomic run.
    let stage: PostgresAtomicRun.Stage?
    /// The run's journal, and the chunks it already holds when resuming.
    package let journal: RunJournal?
    package let journaled: [RunJournal.Entry: RunJournal.Stored]
    /// Whether each chunk's undo is compressed with LZ4 rather than the server's default (see
    /// ``transactionSettings(_:indexJoins:lz4:)``).
    let lz4: Bool

    init(
        connections: PostgresConnections,
        plan: UpdatePlan,
        stage: PostgresAtomicRun.Stage? = nil,
        journal: RunJournal? = nil,
        journaled: [RunJournal.Entry: RunJournal.Stored] = [:],
        lz4: Bool = false
    ) {
        self.journal = journal
        self.journaled = journaled
        self.lz4 = lz4 && plan.options.savesUndo
        self.connections = connections
        self.statements = PostgresStatements(plan: plan)
        self.unnestStatement = PostgresStatement(self.statements.update(from: self.statements.unnestSource))
        self.temporaryStage = StageTable.temporary(for: plan)
        self.stageStatement = PostgresStatement(self.statements.update(from: "\(self.temporaryStage.qualified) AS u"))
        self.notFoundStatement = PostgresStatement(self.statements.notFoundLookup)
        self.previewCountsStatement = PostgresStatement(
            self.statements.sql.previewCounts(from: self.statements.unnestSource)
        )
        let undo = plan.options.savesUndo ? journal : nil
        self.tracked =
            plan.isGuarded || undo != nil
            ? TrackedStatements(
                self.statements,
                stage: plan.options.strategy == .copy ? self.temporaryStage : nil,
                undo: undo
            ) : nil
        self.preparedConnections = ConnectionSet()
        self.batchStatements = StatementCache()
        self.stage = stage
    }

    // See `ChunkExecutor.write(_:logger:)`.
    package func write(_ chunk: Chunk, logger: Logger) async throws -> ChunkOutcome {
        let options = self.statements.plan.options
        let fingerprint = self.journal == nil ? "" : chunk.fingerprint()
        if let stage = self.stage {
            // One COPY on the run's staging connection, committed on its own: the target is not touched until the
            // run's final statement.
            do {
                try await stage.lock.withLock {
                    try await stage.connection.copy(
                        into: stage.table.copyTable,
                        columns: stage.table.copyColumns,
                        self.copyPayload(chunk) { _ in String(chunk.number) }
                    )
                }
            } catch {
                throw PostgresErrors.map(error, doing: "staging a chunk")
            }
            return ChunkOutcome(matched: 0, changed: 0)
        }
        do {
            return try await self.connections.withDeadlineConnection(
                statementTimeout: options.statementTimeout,
                logger: logger
            ) { db in
                if options.strategy == .copy, !self.preparedConnections.contains(db.connection.id) {
                    // In the caller's transaction, in a savepoint of its own: a failure leaves that transaction usable.
                    try await self.connections.isolated(on: db, savepoint: "bulk_update_stage") {
                        _ = try await db.query(self.temporaryStage.create)
                    }
                    self.preparedConnections.insert(db.connection.id)
                }
                return try await self.connections.transaction(on: db) {
                    let (settings, binds) = Self.transactionSettings(
                        options,
                        indexJoins: true,
                        lz4: self.lz4,
                        runLock: self.journal?.runID
                    )
                    _ = try await db.control(settings, binds)
                    var outcome = try await self.apply(chunk, on: db)
                    try await outcome.checkMissingKeys(of: chunk, options: options) {
                        try await self.notFound(chunk, on: db, fromStage: options.strategy == .copy)
                    }
                    if let journal = self.journal {
                        // In the chunk's own transaction: the chunk and its entry commit together or not at all.
                        let record = chunk.record()
                        var binds = PostgresBindings(capacity: 9)
                        binds.append(journal.runID)
                        binds.append(Int64(record.worker))
                        binds.append(Int64(record.number))
                        binds.append(record.firstKey)
                        binds.append(record.lastKey)
                        binds.append(Int64(record.rows))
                        binds.append(fingerprint)
                        binds.append(RunJournal.now())
                        binds.append(Int64(chunk.routedRows))
                        let entry = try await db.query(journal.insertChunk + " RETURNING 1", binds)
                        guard !entry.rows.isEmpty else { throw journal.revertedWhileWriting }
                    }
                    return outcome
                }
            }
        } catch {
            throw PostgresErrors.map(error, doing: "the update")
        }
    }

    // See `ChunkExecutor.preview(_:samples:logger:)`. Whatever the strategy, the chunk travels as arrays.
    package func preview(_ chunk: Chunk, samples: Int, logger: Logger) async throws -> ChunkOutcome {
        let options = self.statements.plan.options
        let sql = self.statements.sql
        do {
            return try await self.connections.withDeadlineConnection(
                statementTimeout: options.statementTimeout,
                logger: logger
            ) { db in
                try await self.connections.transaction(on: db, readOnly: true) {
                    let (settings, binds) = Self.transactionSettings(options, indexJoins: true)
                    _ = try await db.control(settings, binds)
                    let arrays = self.statements.arrayBinds(chunk)
                    let counts = try await db.query(self.previewCountsStatement, arrays)
                    guard let row = counts.rows.first else { return ChunkOutcome(matched: 0, changed: 0) }
                    let (matched, differing, conflicting, skipped) = try row.decode((Int64, Int64, Int64, Int64).self)
                    var outcome = ChunkOutcome(matched: Int(matched), changed: Int(differing))
                    outcome.isPreview = true
                    outcome.conflicting = Int(conflicting)
                    outcome.skippedByCondition = Int(skipped)
                    if conflicting > 0 {
                        let plan = self.statements.plan
                        let found = try await db.query(
                            PostgresStatement(
                                sql.classification(
                                    from: self.statements.unnestSource(ordinal: true),
                                    filter: sql.conflicting
                                )
                            ),
                            arrays
                        )
                        for row in found.rows {
                            let classified = try ClassifiedRow(row, plan: plan, firstPosition: 1)
                            outcome.conflicts += classified.conflicts(
                                key: chunk.renderKey(classified.position),
                                plan: plan
                            )
                        }
                    }
                    if differing > 0 && samples > 0 {
                        let found = try await db.query(
                            PostgresStatement(
                                sql.previewSamples(from: self.statements.unnestSource(ordinal: true), limit: samples)
                            ),
                            arrays
                        )
                        for row in found.rows {
                            let cells = row.makeRandomAccess()
                            let position = try cells[0].decode(Int64.self)
                            outcome.samples += try sql.previewSample(
                                key: chunk.renderKey(Int(position) - 1),
                                flag: { try cells[$0].decode(Int32.self) == 1 },
                                text: { try cells[$0].decode(String?.self) }
                            )
                        }
                    }
                    if outcome.matched < chunk.count {
                        outcome.notFoundExamples = try await self.notFound(chunk, on: db, fromStage: false)
                    }
                    return outcome
                }
            }
        } catch {
            throw PostgresErrors.map(error, doing: "the dry run")
        }
    }

    /// The settings that make the text of values exact both ways (see ``transactionSettings(_:indexJoins:lz4:runLock:)``):
    /// how the server writes values as text, then how it reads text back (``readingSettings``).
    static let textSettings: [(name: String, value: String)] =
        [
            ("DateStyle", "ISO"), ("extra_float_digits", "3"), ("bytea_output", "hex"),
        ] + Self.readingSettings

    /// The settings that decide how the server reads text as values: those of chunks, and of the statement that
    /// checks such values before the first write.
    static let readingSettings: [(name: String, value: String)] = [("array_nulls", "on"), ("xmloption", "content")]

    /// Every setting a chunk's transaction may change, for a caller's transaction to be given back its own.
    static let changedSettings =
        ["statement_timeout", "lock_timeout", "enable_hashjoin", "enable_mergejoin", "plan_cache_mode"]
        + Self.textSettings.map(\.name) + ["default_toast_compression"]

    /// `set_config('DateStyle', 'ISO', true), …`: `settings` for the rest of the transaction.
    static func setConfig(_ settings: [(name: String, value: String)]) -> SQL {
        SQL.list(settings.map { "set_config(\(literal: $0.name), \(literal: $0.value), true)" as SQL })
    }

    /// Sets the transaction's `statement_timeout` and `lock_timeout` (the latter only when asked for), and, with
    /// `indexJoins`, turns hash and merge joins off and makes the chunk's statements use generic plans
    /// (`plan_cache_mode`) for the transaction.
    ///
    /// A chunk's statement is planned with its bound arrays' real length; once a chunk is about 1 % of the table
    /// or more, the planner estimates a hash join over a sequential scan of the whole table as cheaper, and every
    /// chunk then reads the whole table (measured: 300 ms instead of 57 ms per 10,000-row chunk of a 1,000,000-row
    /// table whose physical order no longer follows the key). With only nested loops left, each chunk reads its rows
    /// through the key's unique index, so a chunk costs the same whatever the table's size.
    ///
    /// A custom plan (one made with the bound arrays as constants, which PostgreSQL makes for every unnamed
    /// statement) of an UPDATE on a partitioned table costs far more to run than the generic plan, whose per-row
    /// partition pruning is the same (PostgreSQL 15, 128 partitions, 10,000-row chunk: 262–437 ms against 67–106
    /// ms, a plain table 41–60 ms either way). Chunk statements are all alike, so the generic plan loses nothing.
    ///
    /// With `lz4` (a run that keeps undo, on a server built with LZ4), the undo row the chunk inserts is compressed
    /// with LZ4 (`default_toast_compression`, which applies to columns that name no compression of their own): a
    /// 10,000-row chunk's undo took 1.2 ms to compress and store instead of 6–7 ms with the default `pglz`, for a
    /// fifth more space. Reading it back needs nothing: each stored value names its method.
    ///
    /// The values the server writes as text for the chunk (the undo, the conflicts) are in the forms this tool reads
    /// back exactly, whatever the role or database sets: dates as ISO (`DateStyle`; its day-month order, which only
    /// input uses, is left as it is), floats with every digit (`extra_float_digits = 3`, which PostgreSQL 12 and
    /// later read as "shortest exact") and `bytea` as hex. A role with `extra_float_digits = 0` otherwise kept undo
    /// rounded to 15 digits, and one with `bytea_output = escape` undo that a revert would have written back as other
    /// bytes. The same goes for what the server reads back from such text: `array_nulls` on (off, a revert read an
    /// array's NULL element back as the text "NULL") and `xmloption` content (document refused the XML content a
    /// column held). A caller's transaction is given back its own settings (`restoringSettings`).
    ///
    /// With `runLock` (a journaled run's id), the transaction holds the run's advisory lock shared
    /// (``RunJournal/lockClass``), so that a revert marks the run only between chunks (see
    /// ``RunJournal/markReverted(postgres:)``).
    static func transactionSettings(
        _ options: BulkUpdateOptions,
        indexJoins: Bool,
        lz4: Bool = false,
        runLock: String? = nil
    ) -> (SQL, PostgresBindings) {
        func milliseconds(_ duration: Duration) -> String {
            String(max(0, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000))
        }
        var binds = PostgresBindings(capacity: 2)
        binds.append(milliseconds(options.statementTimeout))
        var sql: SQL = "SELECT set_config('statement_timeout', \(parameter: 1), true)"
        if let lockTimeout = options.lockTimeout {
            binds.append(milliseconds(lockTimeout))
            sql += ", set_config('lock_timeout', \(parameter: 2), true)"
        }
        if indexJoins {
            sql +=
                ", set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"
                + ", set_config('plan_cache_mode', 'force_generic_plan', true)"
        }
        sql += ", " + Self.setConfig(Self.textSettings)
        if lz4 { sql += ", set_config('default_toast_compression', 'lz4', true)" }
        if let runLock {
            binds.append(runLock)
            sql +=
                ", pg_advisory_xact_lock_shared(\(integer: RunJournal.lockClass), hashtext(\(parameter: binds.count)))"
        }
        return (sql, binds)
    }

    /// The chunk's rows in COPY text format, each followed by `extra(row)`.
    func copyPayload(_ chunk: Chunk, extra: (Int) -> String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(chunk.count * 32)
        CopyText.encode(chunk, rows: 0..<chunk.count, into: &buffer, extra: extra)
        return buffer
    }

    private func apply(_ chunk: Chunk, on db: DeadlineConnection) async throws -> ChunkOutcome {
        let statements = self.statements
        if let tracked = self.tracked { return try await self.applyTracked(chunk, with: tracked, on: db) }
        switch statements.plan.options.strategy {
        case .values:
            var total = ChunkOutcome(matched: 0, changed: 0)
            for rows in self.batches(chunk.count) {
                let statement = self.batchStatements.statement(rows: rows.count) {
                    PostgresStatement(statements.update(from: statements.sql.valuesSource(rows: $0)))
                }
                total.add(try await self.run(statement, statements.cellBinds(chunk, rows: rows), on: db))
            }
            return total
        case .caseWhen:
            var total = ChunkOutcome(matched: 0, changed: 0)
            for rows in self.batches(chunk.count) {
                let statement = self.batchStatements.statement(rows: rows.count) {
                    PostgresStatement(statements.caseWhen(rows: $0))
                }
                total.add(try await self.run(statement, statements.cellBinds(chunk, rows: rows), on: db))
            }
            return total
        case .copy:
            let stage = self.temporaryStage
            if self.connections.transactions == .nested {
                // A savepoint's release does not empty an ON COMMIT DELETE ROWS table; the last chunk may be there.
                _ = try await db.query(stage.clear)
            }
            try await db.copy(into: stage.copyTable, columns: stage.copyColumns, self.copyPayload(chunk) { String($0) })
            return try await self.run(self.stageStatement, PostgresBindings(), on: db)
        default:
            return try await self.run(self.unnestStatement, statements.arrayBinds(chunk), on: db)
        }
    }

    /// A guarded chunk (``UpdatePlan/isGuarded``), or one whose undo is kept, `unnest` or `copy`:
    /// 1. One statement writes the rows that meet the guards (which the server re-checks on a row's newest version
    ///    when another session changed it first, so no concurrent change is overwritten), saves their undo, and
    ///    returns their positions.
    /// 2. When some rows were not written, a second statement reads why for each matched one of them
    ///    (``ClassifiedRow``).
    /// 3. Rows that meet every condition now, yet were not written, were changed by another session while the first
    ///    statement ran: they are locked (`FOR NO KEY UPDATE`), written again, and whatever is still left alone is
    ///    read again, so the counts and the undo are exact.
    private func applyTracked(_ chunk: Chunk, with tracked: TrackedStatements, on db: DeadlineConnection) async throws
        -> ChunkOutcome
    {
        let plan = self.statements.plan
        var binds: PostgresBindings
        let first: Int64
        if tracked.fromStage {
            let stage = self.temporaryStage
            if self.connections.transactions == .nested { _ = try await db.query(stage.clear) }
            try await db.copy(into: stage.copyTable, columns: stage.copyColumns, self.copyPayload(chunk) { String($0) })
            binds = PostgresBindings(capacity: 5)
            first = 0
        } else {
            binds = self.statements.arrayBinds(chunk)
            first = 1
        }
        let repeated = RunJournal.jsonIntegers(chunk.repeated.map { $0 + Int(first) })
        func positions(_ statement: PostgresStatement, _ positions: [Int64]?) async throws -> [Int64] {
            var all = binds
            if let positions { all.append(positions) }
            if let journal = tracked.undo {
                all.append(journal.runID)
                all.append(Int64(chunk.worker))
                all.append(Int64(chunk.number))
                // The write, then the rows written again after the lock: two parts of the chunk's undo.
                all.append(Int64(positions == nil ? 0 : 1))
                all.append(repeated)
            }
            return try await db.query(statement, all).rows.first?.decode([Int64].self) ?? []
        }
        func leftAlone(excluding written: [Int64]) async throws -> [ClassifiedRow] {
            var all = binds
            all.append(written)
            return try await db.query(tracked.classification, all).rows.map {
                try ClassifiedRow($0, plan: plan, firstPosition: Int(first))
            }
        }
        let written = try await positions(tracked.write, nil)
        var outcome = ChunkOutcome(matched: written.count, changed: written.count)
        guard written.count < chunk.count else { return outcome }
        var left = try await leftAlone(excluding: written)
        let raced = left.filter { $0.isRaced(skipUnchanged: plan.options.skipUnchanged) }.map {
            Int64($0.position) + first
        }
        if !raced.isEmpty {
            var lock = binds
            lock.append(raced)
            _ = try await db.query(tracked.lock, lock)
            let again = try await positions(tracked.retry, raced)
            outcome.matched += again.count
            outcome.changed += again.count
            let still = Set(raced).subtracting(again)
            left.removeAll { raced.contains(Int64($0.position) + first) }
            if !still.isEmpty {
                let others = (first..<(first + Int64(chunk.count))).filter { !still.contains($0) }
                left += try await leftAlone(excluding: others)
            }
        }
        for row in left { outcome.count(row, key: chunk.renderKey(row.position), plan: plan) }
        return outcome
    }

    /// Runs one update statement and reads its counts: the command tag, or the (changed, matched) row.
    private func run(
        _ statement: PostgresStatement,
        _ binds: PostgresBindings,
        on db: DeadlineConnection
    ) async throws -> ChunkOutcome {
        let result = try await db.query(statement, binds)
        if self.statements.plan.options.skipUnchanged {
            guard let row = result.rows.first else { return ChunkOutcome(matched: 0, changed: 0) }
            let (changed, matched) = try row.decode((Int64, Int64).self)
            return ChunkOutcome(matched: Int(matched), changed: Int(changed))
        }
        let matched = result.metadata.rows ?? 0
        return ChunkOutcome(matched: matched, changed: matched)
    }

    /// Up to ``ChunkOutcome/notFoundExampleLimit`` keys of `chunk` with no row: looked up in the `copy` strategy's
    /// stage, which still holds the chunk, when `fromStage`, else sent as arrays.
    private func notFound(_ chunk: Chunk, on db: DeadlineConnection, fromStage: Bool) async throws -> [String] {
        let result: PostgresQueryResult
        if fromStage {
            // The chunk is still in the stage, with each row's position.
            let stage = self.temporaryStage
            let sql = self.statements.sql
            result = try await db.query(
                "SELECT u.\(stage.extra) + 1 FROM \(stage.qualified) AS u"
                    + " WHERE NOT EXISTS (SELECT 1 FROM \(sql.table) AS t WHERE \(sql.match))"
                    + " ORDER BY u.\(stage.extra) LIMIT \(integer: ChunkOutcome.notFoundExampleLimit)"
            )
        } else {
            let binds = self.statements.arrayBinds(chunk, columns: 0..<chunk.keyColumnCount)
            result = try await db.query(self.notFoundStatement, binds)
        }
        return try result.rows.map { row in
            let position = try row.decode(Int64.self)
            return chunk.renderKey(Int(position) - 1)
        }
    }

    private func batches(_ count: Int) -> [Range<Int>] {
        let size = self.statements.rowsPerStatement
        return stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
    }
}

extension ChunkOutcome {
    fileprivate mutating func add(_ other: ChunkOutcome) {
        self.matched += other.matched
        self.changed += other.changed
    }
}

/// Connection ids, shared by the workers of one run.
final class ConnectionSet: Sendable {
    private let ids = Mutex(Set<Int>())

    /// Adds `id`.
    func insert(_ id: Int) {
        self.ids.withLock { _ = $0.insert(id) }
    }

    func contains(_ id: Int) -> Bool {
        self.ids.withLock { $0.contains(id) }
    }
}

/// The statements of a tracked chunk (see `PostgresChunkExecutor.applyTracked`), over the chunk's arrays or the
/// `copy` strategy's stage: parameters after the arrays (none for the stage) are positions, then the undo's run id,
/// worker, chunk, part and repeated positions.
struct TrackedStatements: Sendable {
    /// Writes what meets the guards, saving undo when ``undo`` is set; returns the positions written.
    let write: PostgresStatement
    /// ``write`` for the positions of the first parameter after the arrays only.
    let retry: PostgresStatement
    /// Why each matched row whose position is not in the parameter after the arrays was left alone.
    let classification: PostgresStatement
    /// Locks the matched rows whose positions are in the parameter after the arrays.
    let lock: PostgresStatement
    let fromStage: Bool
    /// The journal whose undo table the writes fill, when the run keeps undo.
    let undo: RunJournal?

    init(_ statements: PostgresStatements, stage: StageTable?, undo: RunJournal?) {
        let source = statements.guardedSource(stage: stage)
        let after = stage == nil ? statements.plan.columns.count + 1 : 1
        self.write = PostgresStatement(
            statements.guardedWrite(from: source, undo: undo.map { ($0, after) })
        )
        self.retry = PostgresStatement(
            statements.guardedWrite(from: source, restriction: after, undo: undo.map { ($0, after + 1) })
        )
        self.classification = PostgresStatement(statements.guardedClassification(from: source, written: after))
        self.lock = PostgresStatement(statements.lock(from: source, positions: after))
        self.fromStage = stage != nil
        self.undo = undo
    }
}
