package import BulkUpdate
import Foundation
package import Logging
import SQLiteNIO

/// SQLite as a ``BulkUpdateBackend``: one writer connection shared by every worker through an ``AsyncLock``.
package struct SQLiteBackend: BulkUpdateBackend {
    /// `UPDATE … FROM` first appeared in SQLite 3.33.0.
    static let minimumVersion: Int32 = 3_033_000

    let connection: SQLiteConnection
    let lock: AsyncLock
    let busyTimeout: Duration

    package var databaseName: String { "SQLite" }

    // See `BulkUpdateBackend.statementText(_:rows:)`.
    package func statementText(_ plan: UpdatePlan, rows: Int) -> String {
        let sql = UpdateSQL(plan: plan, dialect: SQLiteChunkExecutor.dialect)
        let skip = plan.options.skipUnchanged
        let statement: SQL
        switch plan.options.strategy {
        case .caseWhen: statement = sql.caseWhen(rows: rows, onlyChanged: skip).statement
        case .tempTable: statement = sql.update(from: "\(SQLiteChunkExecutor.stageTable) AS u", onlyChanged: skip)
        default: statement = sql.update(from: sql.valuesSource(rows: rows), onlyChanged: skip)
        }
        return SQLiteStatement(statement).text
    }

    // See `BulkUpdateBackend.resolve(_:logger:)`.
    package func resolve(_ options: BulkUpdateOptions, logger: Logger) throws(BulkUpdateError) -> BulkUpdateOptions {
        var options = options
        if options.workers > 1 {
            // One writer at a time: more workers would only interleave keys from the whole table in every chunk
            // (routing is by key hash) and lose the locality of sorted input. Checking and routing still run
            // beside the writer.
            logger.info(
                "SQLite has a single writer: running with one writing worker",
                metadata: [LogKey.workers: "\(options.workers)"]
            )
            options.workers = 1
        }
        // The only transient failure here is another process's write lock, and the busy timeout is already how
        // long the user chose to wait for it.
        options.maximumRetries = 0
        if options.maximumReplicaLag != nil {
            throw BulkUpdateError(.configuration, "SQLite has no standbys: drop the replica lag limit")
        }
        if options.pauseWhen != nil && options.atomic {
            throw BulkUpdateError(
                .configuration,
                "an atomic run on SQLite holds the one connection for its whole transaction, so the pause-when"
                    + " query could not run beside it; drop one of them"
            )
        }
        switch options.strategy {
        case .auto:
            options.strategy = .values
            return options
        case .caseWhen where !options.expectedColumns.isEmpty || options.condition != nil:
            throw BulkUpdateError(
                .configuration,
                "strategy caseWhen cannot check expected values or a condition; use auto, values or tempTable"
            )
        case .values, .caseWhen, .tempTable:
            return options
        default:
            throw BulkUpdateError(
                .configuration,
                "strategy \(options.strategy) is not available on SQLite; use values, tempTable or caseWhen"
            )
        }
    }

    // See `BulkUpdateBackend.describe(_:options:logger:)`.
    package func describe(_ table: BulkUpdateTableName, options: BulkUpdateOptions, logger: Logger) async throws
        -> TableSchema
    {
        let version = SQLiteConnection.libraryVersion()
        guard version >= Self.minimumVersion else {
            throw BulkUpdateError(
                .configuration,
                "SQLite \(SQLiteConnection.libraryVersionString()) is too old: UPDATE … FROM needs SQLite 3.33.0 or newer"
            )
        }
        do {
            return try await SQLiteCatalog.describe(table, on: self.connection)
        } catch {
            throw SQLiteErrors.map(error, doing: "reading the schema of \(table)")
        }
    }

    // See `BulkUpdateBackend.withRun(_:logger:_:)`.
    package func withRun(
        _ plan: UpdatePlan,
        logger: Logger,
        _ body: (SQLiteChunkExecutor, (any RunProbe)?) async throws -> BulkUpdateReport
    ) async throws -> BulkUpdateReport {
        let executor: SQLiteChunkExecutor
        var journal: RunJournal?
        do {
            // PRAGMA takes no parameters; the number comes from a Duration, never from input text.
            try await self.connection.execute(
                "PRAGMA busy_timeout = \(integer: Int(self.busyMilliseconds(plan.options)))"
            )
            var journaled: [RunJournal.Entry: RunJournal.Stored] = [:]
            var storageClasses = true
            if let runID = plan.options.runID {
                journal = RunJournal(runID: runID, schema: plan.journalSchema)
                (journaled, storageClasses) = try await self.openJournal(journal!, plan: plan)
            }
            executor = SQLiteChunkExecutor(
                connection: self.connection,
                lock: self.lock,
                plan: plan,
                maximumParameters: try await Self.maximumParameters(on: self.connection),
                ownsTransactions: !plan.options.atomic,
                journal: journal,
                journaled: journaled,
                storageClasses: storageClasses
            )
        } catch {
            throw SQLiteErrors.map(error, doing: "preparing the update")
        }
        let probe: (any RunProbe)? =
            journal != nil || plan.options.pauseWhen != nil
            ? SQLiteRunProbe(
                connection: self.connection,
                lock: self.lock,
                journal: journal,
                pauseQuery: plan.options.pauseWhen
            ) : nil
        if let journal {
            var report: BulkUpdateReport
            do {
                report = try await body(executor, probe)
            } catch {
                // How the run ended, for `runs`; the database may be what failed, so only if it still answers.
                let state = (error as? BulkUpdateError)?.code == .interrupted ? "interrupted" : "failed"
                _ = try? await self.lock.withLock {
                    try await self.connection.execute(
                        journal.endRun,
                        [.text(journal.runID), .text(state), .text(RunJournal.now())]
                    )
                }
                guard var error = error as? BulkUpdateError else { throw error }
                error.partialReport?.runID = journal.runID
                throw error
            }
            report.runID = journal.runID
            do {
                _ = try await self.lock.withLock {
                    try await self.connection.execute(
                        journal.finishRun,
                        [
                            .text(RunJournal.now()), .text(journal.runID), .integer(report.rowsConflicting),
                            .integer(report.rowsSkippedByCondition),
                        ]
                    )
                }
            } catch {
                throw SQLiteErrors.map(error, doing: "closing the run journal")
            }
            return report
        }
        guard plan.options.atomic else { return try await body(executor, probe) }
        // All or nothing: the whole run is one transaction, held for its length.
        return try await self.lock.withLock {
            do {
                try await self.connection.execute("BEGIN IMMEDIATE")
            } catch {
                throw SQLiteErrors.map(error, doing: "starting the transaction")
            }
            do {
                let report = try await body(executor, nil)
                try await self.connection.execute("COMMIT")
                return report
            } catch {
                _ = try? await self.connection.execute("ROLLBACK")
                guard let failure = SQLiteErrors.map(error, doing: "the update") as? BulkUpdateError else {
                    throw error
                }
                // Rolled back: nothing the chunks did stays.
                throw failure.rolledBack(plan)
            }
        }
    }

    /// How long a chunk waits for another process's write lock: ``BulkUpdateOptions/lockTimeout`` when given (zero
    /// meaning no limit), else the updater's busy timeout.
    func busyMilliseconds(_ options: BulkUpdateOptions) -> Int64 {
        Int64(
            SQLiteBulkUpdater.milliseconds(
                SQLiteBulkUpdater.busyTimeout(lockTimeout: options.lockTimeout, otherwise: self.busyTimeout)
            )
        )
    }

    // See `BulkUpdateBackend.preflight(_:logger:)`.
    package func preflight(_ plan: UpdatePlan, logger: Logger) async throws {
        if let pauseWhen = plan.options.pauseWhen {
            // Tried once before anything is written: a query that fails stops the run here.
            _ = try await self.lock.withLock { try await SQLiteRunProbe.pauseWhen(pauseWhen, on: self.connection) }
        }
        if plan.isGuarded {
            // The caller's condition is SQL only SQLite can judge: the statement that reads a guarded chunk's rows
            // is run once on one row of NULLs, which matches nothing, so SQL it refuses stops the run here.
            let sql = UpdateSQL(plan: plan, dialect: SQLiteChunkExecutor.dialect)
            let query = sql.classification(from: sql.valuesSource(rows: 1, ordinal: true), filter: "1 = 1")
            do {
                _ = try await self.lock.withLock {
                    try await self.connection.execute(query, Array(repeating: .null, count: plan.columns.count + 1))
                }
            } catch {
                let mapped = SQLiteErrors.map(error, doing: "the condition")
                guard var failure = mapped as? BulkUpdateError else { throw mapped }
                failure.code = .configuration
                throw failure
            }
        }
        // SQLite has no privileges; what can stop a write is the file system: the database file and the directory
        // its journal files go to must be writable by this process.
        let schema = plan.table.name.schema ?? "main"
        let files: [SQLiteRow]
        do {
            files = try await self.connection.execute("SELECT name, file FROM pragma_database_list")
        } catch {
            throw SQLiteErrors.map(error, doing: "reading the database list")
        }
        var schemas = [schema]
        let journalSchema = plan.journalSchema ?? schema
        if plan.options.runID != nil { schemas.append(journalSchema) }
        if plan.options.runID != nil, !files.contains(where: { $0.column("name")?.string == journalSchema }) {
            throw BulkUpdateError(
                .configuration,
                "the journal schema \(SQLText.literal(journalSchema)) is not a database of this connection"
                    + " (SQLite names them main, temp or the name given to ATTACH)"
            )
        }
        for row in files {
            guard let name = row.column("name")?.string, schemas.contains(name),
                let path = row.column("file")?.string, !path.isEmpty
            else { continue }
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            for (what, place) in [("database file", path), ("directory", directory)] where access(place, W_OK) != 0 {
                throw BulkUpdateError(
                    .privilege,
                    "the SQLite \(what) \(place) is not writable by this process"
                        + " (\(String(cString: strerror(errno)))); nothing was written"
                )
            }
        }
    }

    /// Creates the journal tables when missing, then registers the run, or checks the run it resumes and returns
    /// the chunks its journal holds; and whether the run's undo keeps storage classes (a new run's does; a resumed
    /// run's as its first undo row says, so that a run started by an earlier version keeps the one form it began
    /// with).
    private func openJournal(
        _ journal: RunJournal,
        plan: UpdatePlan
    ) async throws -> ([RunJournal.Entry: RunJournal.Stored], storageClasses: Bool) {
        try await self.lock.withLock {
            let schema = plan.journalSchema ?? plan.table.name.schema ?? "main"
            func columns(_ table: String) async throws -> [String] {
                try await self.connection.execute(
                    "SELECT name FROM pragma_table_info(\(parameter: 1), \(parameter: 2))",
                    [.text(table), .text(schema)]
                ).compactMap { $0.column("name")?.string }
            }
            // A table of a journal table's name that is not one is someone else's: left alone, and nothing written.
            for table in RunJournal.tables(for: plan.options) {
                let present = try await columns(table.name)
                guard !present.isEmpty else { continue }
                if let foreign = RunJournal.foreignTable(
                    table.name,
                    schema: schema,
                    columns: present,
                    options: plan.options
                ) {
                    throw BulkUpdateError(.configuration, foreign)
                }
            }
            for statement in journal.createStatements { try await self.connection.execute(statement) }
            // Tables made by an earlier version get the columns added since.
            for table in ["bulk_update_runs", "bulk_update_journal"] {
                let present = try await columns(table)
                for column in RunJournal.addedColumns where column.table == table && !present.contains(column.name) {
                    try await self.connection.execute(journal.addColumn(column))
                }
            }
            let rate: SQLiteData = plan.options.maximumRowsPerSecond.map { .integer($0) } ?? .null
            let total: SQLiteData = plan.options.totalRows.map { .integer($0) } ?? .null
            let target: SQLiteData =
                plan.options.targetChunkDuration.map { .float(BulkUpdateEngine.seconds($0)) } ?? .null
            guard plan.options.resume else {
                let existing = try await self.connection.execute(journal.selectRun, [.text(journal.runID)])
                guard existing.isEmpty else {
                    throw BulkUpdateError(
                        .configuration,
                        "run \(SQLText.literal(journal.runID)) exists already; resume it, or choose another run id"
                    )
                }
                try await self.connection.execute(
                    journal.insertRun,
                    [
                        .text(journal.runID), .text(plan.table.name.description),
                        .text(RunJournal.fingerprint(of: plan)), .text(RunJournal.now()), rate, total, target,
                    ]
                )
                if plan.options.savesUndo {
                    try await self.connection.execute(
                        journal.insertUndoHeader,
                        journal.undoHeader(plan, storageClasses: true).map { .text($0) }
                    )
                }
                return ([:], true)
            }
            let run = try await self.connection.execute(journal.selectRun, [.text(journal.runID)]).first
            try journal.checkResume(
                stored: run.map {
                    (
                        $0.column("target")?.string ?? "", $0.column("fingerprint")?.string ?? "",
                        $0.column("finished_at")?.string, $0.column("state")?.string, $0.column("heartbeat_at")?.string
                    )
                },
                plan: plan
            )
            let revert = try await self.connection.execute(
                journal.selectRun,
                [.text(RunJournal.revertID(of: journal.runID))]
            ).first.map { $0.column("finished_at")?.string }
            let marked = try await !self.connection.execute(journal.selectRevertMark, [.text(journal.runID)]).isEmpty
            try journal.checkNotReverted(revert: revert, marked: marked)
            try await journal.checkNotAlive(
                state: run?.column("state")?.string,
                heartbeat: run?.column("heartbeat_at")?.string,
                finished: run?.column("finished_at")?.string
            ) {
                try await self.connection.execute(journal.selectState, [.text(journal.runID)]).first?
                    .column("heartbeat_at")?.string
            }
            var journaled: [RunJournal.Entry: RunJournal.Stored] = [:]
            for row in try await self.connection.execute(journal.selectChunks, [.text(journal.runID)]) {
                let entry = RunJournal.Entry(
                    worker: Int(row.column("worker")?.integer ?? -1),
                    chunk: Int(row.column("chunk")?.integer ?? -1)
                )
                journaled[entry] = RunJournal.Stored(
                    fingerprint: row.column("fingerprint")?.string ?? "",
                    inputRows: row.column("input_rows")?.integer
                )
            }
            try await self.connection.execute(
                journal.resumeRun,
                [.text(journal.runID), .text(RunJournal.now()), rate, total, target]
            )
            let header =
                plan.options.savesUndo
                ? try await self.connection.execute(journal.selectUndoHeader(legacy: false), [.text(journal.runID)])
                : []
            return (journaled, header.first?.column("key_values")?.string == RunJournal.storageClassesMark)
        }
    }

    /// The connection's limit on parameters in one statement, read at run time: SQLite names it when asked to
    /// prepare a parameter past it (sqlite-nio builds SQLite with 250,000; SQLite's default is 32,766).
    static func maximumParameters(on connection: SQLiteConnection) async throws -> Int {
        do {
            try await connection.execute("SELECT \(parameter: 2_147_483_647)")
        } catch let error as SQLiteError {
            // "variable number must be between ?1 and ?250000"
            if let range = error.message.range(of: "and ?"),
                let limit = Int(error.message[range.upperBound...].prefix { $0.isNumber })
            {
                return limit
            }
        }
        return 32_766
    }
}
