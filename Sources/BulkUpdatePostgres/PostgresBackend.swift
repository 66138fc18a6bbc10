package import BulkUpdate
package import Logging
package import PostgresNIO

/// PostgreSQL as a ``BulkUpdateBackend``: the catalog from pg_catalog, chunks through ``PostgresChunkExecutor``, on
/// the connections of a ``PostgresConnections`` (a client's pool, Fluent's, or one pinned connection).
package struct PostgresBackend: BulkUpdateBackend {
    let connections: PostgresConnections

    package init(client: PostgresClient) {
        self.connections = PostgresConnections(client: client)
    }

    package init(connections: PostgresConnections) {
        self.connections = connections
    }

    package var databaseName: String { "PostgreSQL" }

    // See `BulkUpdateBackend.statementText(_:rows:)`.
    package func statementText(_ plan: UpdatePlan, rows: Int) -> String {
        let statements = PostgresStatements(plan: plan)
        let rows = min(rows, statements.rowsPerStatement)
        // What the run writes, also when this is shown for a dry run of it.
        let options = plan.options
        let undo =
            options.keepsUndo && !options.atomic
            ? options.runID.map { RunJournal(runID: $0, schema: PostgresPrivileges.journalSchema(plan)) } : nil
        let sql: SQL
        switch plan.options.strategy {
        case .values: sql = statements.update(from: statements.sql.valuesSource(rows: rows))
        case .caseWhen: sql = statements.caseWhen(rows: rows)
        case .copy:
            // An atomic run's stage gets its random name when the run starts.
            let stage: SQL = plan.options.atomic ? "<staging table>" : StageTable.temporary(for: plan).qualified
            let update =
                (plan.isGuarded || undo != nil) && !plan.options.atomic
                ? statements.guardedWrite(from: "\(stage) AS u", undo: undo.map { ($0, 1) })
                : statements.update(from: "\(stage) AS u")
            sql = "COPY \(stage) FROM STDIN; " + update
        default:
            sql =
                plan.isGuarded || undo != nil
                ? statements.guardedWrite(
                    from: statements.unnestSource(ordinal: true),
                    undo: undo.map { ($0, plan.columns.count + 1) }
                )
                : statements.update(from: statements.unnestSource)
        }
        return PostgresStatement(sql).text
    }

    // See `BulkUpdateBackend.resolve(_:logger:)`.
    package func resolve(_ options: BulkUpdateOptions, logger: Logger) throws(BulkUpdateError) -> BulkUpdateOptions {
        var options = options
        if self.connections.isPinned {
            try Self.pin(&options, nested: self.connections.transactions == .nested, logger: logger)
        }
        let guarded = !options.expectedColumns.isEmpty || options.condition != nil
        switch options.strategy {
        case .auto:
            // Measured (docs/strategies.md): unnest is as fast as or faster than copy at every chunk size; copy is
            // what an atomic run stages with.
            options.strategy = options.atomic ? .copy : .unnest
            return options
        case .copy:
            return options
        case .values where guarded, .caseWhen where guarded:
            throw BulkUpdateError(
                .configuration,
                "strategy \(options.strategy) cannot check expected values or a condition on PostgreSQL;"
                    + " use auto, unnest or copy"
            )
        case .values where options.keepsUndo && options.runID != nil,
            .caseWhen where options.keepsUndo && options.runID != nil:
            // Their statements are not tracked: the run keeps no undo, and says so in its report.
            logger.info(
                "strategy \(options.strategy) keeps no undo on PostgreSQL; use auto, unnest or copy to keep it",
                metadata: [LogKey.strategy: "\(options.strategy)"]
            )
            options.keepsUndo = false
            return options
        case .unnest, .values, .caseWhen:
            guard !options.atomic else {
                throw BulkUpdateError(
                    .configuration,
                    "atomic runs on PostgreSQL load a staging table with COPY; use strategy copy or auto"
                )
            }
            return options
        default:
            throw BulkUpdateError(
                .configuration,
                "strategy \(options.strategy) is not available on PostgreSQL; use auto, unnest, copy, values or caseWhen"
            )
        }
    }

    /// A run on one connection: one worker, and no retry (a failed statement on the caller's connection, or in the
    /// caller's transaction, is the caller's to handle). A journaled run needs transactions of its own.
    private static func pin(_ options: inout BulkUpdateOptions, nested: Bool, logger: Logger) throws(BulkUpdateError) {
        if nested, options.runID != nil {
            throw BulkUpdateError(
                .configuration,
                "a journaled run (runID) commits each chunk with its journal entry, which it cannot do inside the"
                    + " caller's transaction; run it outside the transaction"
            )
        }
        if options.watchesHealth {
            throw BulkUpdateError(
                .configuration,
                "the health checks (maximumReplicaLag, pauseWhen) run beside the workers on connections of their own;"
                    + " a run on one connection cannot have them"
            )
        }
        options.maximumRetries = 0
        if options.workers > 1 {
            logger.info(
                "one connection: running with one worker",
                metadata: [LogKey.workers: "\(options.workers)"]
            )
            options.workers = 1
        }
    }

    // See `BulkUpdateBackend.describe(_:options:logger:)`.
    package func describe(_ table: BulkUpdateTableName, options: BulkUpdateOptions, logger: Logger) async throws
        -> TableSchema
    {
        do {
            return try await self.connections.withDeadlineConnection(
                statementTimeout: options.statementTimeout,
                logger: logger
            ) { db in
                return try await PostgresCatalog.describe(table, on: db)
            }
        } catch {
            throw PostgresErrors.map(error, doing: "reading the catalog for \(table)")
        }
    }

    // See `BulkUpdateBackend.valueChecker(for:logger:)`.
    package func valueChecker(for plan: UpdatePlan, logger: Logger) -> (any ServerValueChecker)? {
        guard plan.columns.contains(where: \.type.isServerChecked) else { return nil }
        return PostgresValueChecker(connections: self.connections, plan: plan)
    }

    // See `BulkUpdateBackend.preflight(_:logger:)`.
    package func preflight(_ plan: UpdatePlan, logger: Logger) async throws {
        do {
            try await self.connections.withDeadlineConnection(
                statementTimeout: plan.options.statementTimeout,
                logger: logger
            ) { db in
                if try await db.query("SELECT pg_catalog.pg_is_in_recovery()" as SQL).rows.first?.decode(Bool.self)
                    == true
                {
                    throw BulkUpdateError(
                        .configuration,
                        "the server is a standby (in recovery), where nothing can be written; connect to the primary"
                    )
                }
                try await PostgresPrivileges.check(plan, on: db)
            }
        } catch {
            throw PostgresErrors.map(error, doing: "checking privileges on \(plan.table.name)")
        }
        if plan.isGuarded { try await self.tryGuards(plan, logger: logger) }
        // The health checks of a live run, tried once: the pause query, the right to read the standbys' positions,
        // the standbys themselves.
        guard plan.options.watchesHealth else { return }
        do {
            _ = try await self.connections.withDeadlineConnection(
                statementTimeout: PostgresRunProbe.timeout,
                logger: logger
            ) { db in try await PostgresRunProbe.preflight(plan.options, on: db) }
        } catch {
            throw PostgresErrors.map(error, doing: "checking the health checks")
        }
        if !plan.options.replicaURLs.isEmpty {
            try await PostgresStandbys.open(urls: plan.options.replicaURLs, logger: logger).close()
        }
    }

    /// Runs the statement that reads a guarded chunk's rows once, on no rows: the caller's condition is SQL only the
    /// server can judge, so one it refuses (or that reads a column the role may not) stops the run before anything
    /// is written.
    ///
    /// - Throws: ``BulkUpdateError`` with code `configuration` and the server's message, or `privilege`.
    private func tryGuards(_ plan: UpdatePlan, logger: Logger) async throws {
        let statements = PostgresStatements(plan: plan)
        let sql = statements.sql.classification(from: statements.unnestSource(ordinal: true), filter: "1 = 1")
        let none = Chunk(plan: plan, worker: 0, number: 0, capacity: 0)
        do {
            try await self.connections.withDeadlineConnection(
                statementTimeout: plan.options.statementTimeout,
                logger: logger
            ) { db in
                try await self.connections.isolated(on: db, savepoint: "bulk_update_condition") {
                    _ = try await db.query(PostgresStatement(sql), statements.arrayBinds(none))
                }
            }
        } catch {
            guard var mapped = PostgresErrors.map(error, doing: "the condition") as? BulkUpdateError,
                mapped.code == .server || mapped.code == .input
            else { throw PostgresErrors.map(error, doing: "trying the condition") }
            mapped.code = .configuration
            throw mapped
        }
    }

    // See `BulkUpdateBackend.withRun(_:logger:_:)`.
    package func withRun(
        _ plan: UpdatePlan,
        logger: Logger,
        _ body: (PostgresChunkExecutor, (any RunProbe)?) async throws -> BulkUpdateReport
    ) async throws -> BulkUpdateReport {
        try await self.connections.restoringSettings(statementTimeout: plan.options.statementTimeout, logger: logger) {
            try await self.withStandbys(plan.options, logger: logger) { standbys, streaming in
                /// The monitor's probe; none on one pinned connection, which the monitor cannot share with the worker.
                func probe(_ journal: RunJournal?) -> (any RunProbe)? {
                    guard !self.connections.isPinned, journal != nil || plan.options.watchesHealth else { return nil }
                    return PostgresRunProbe(
                        connections: self.connections,
                        options: plan.options,
                        journal: journal,
                        standbys: standbys,
                        streaming: streaming,
                        logger: logger
                    )
                }
                if let runID = plan.options.runID {
                    return try await self.withJournal(runID, plan: plan, logger: logger) { executor, journal in
                        try await body(executor, probe(journal))
                    }
                }
                guard plan.options.atomic else {
                    return try await body(PostgresChunkExecutor(connections: self.connections, plan: plan), probe(nil))
                }
                return try await PostgresAtomicRun(connections: self.connections, plan: plan, logger: logger).run {
                    try await body($0, probe(nil))
                }
            }
        }
    }

    /// Opens the standbys of ``BulkUpdateOptions/replicaURLs`` for `body` and closes them after it; or, watching the
    /// standbys that stream from the server, passes their names as they are before the first write.
    private func withStandbys(
        _ options: BulkUpdateOptions,
        logger: Logger,
        _ body: (PostgresStandbys?, [String]) async throws -> BulkUpdateReport
    ) async throws -> BulkUpdateReport {
        guard options.maximumReplicaLag != nil else { return try await body(nil, []) }
        guard options.replicaURLs.isEmpty else {
            let standbys = try await PostgresStandbys.open(urls: options.replicaURLs, logger: logger)
            do {
                let report = try await body(standbys, [])
                await standbys.close()
                return report
            } catch {
                await standbys.close()
                throw error
            }
        }
        let streaming: [String]
        do {
            streaming = try await self.connections.withDeadlineConnection(
                statementTimeout: PostgresRunProbe.timeout,
                logger: logger
            ) { db in try await PostgresRunProbe.preflight(options, on: db) }
        } catch {
            throw PostgresErrors.map(error, doing: "reading the standbys from pg_stat_replication")
        }
        return try await body(nil, streaming)
    }

    /// A journaled run: registers it (or checks the run it resumes and loads its journal), runs `body`, and marks
    /// the run finished, or, when `body` fails, interrupted (a stop) or failed.
    private func withJournal(
        _ runID: String,
        plan: UpdatePlan,
        logger: Logger,
        _ body: (PostgresChunkExecutor, RunJournal) async throws -> BulkUpdateReport
    ) async throws -> BulkUpdateReport {
        let journal = RunJournal(runID: runID, schema: PostgresPrivileges.journalSchema(plan))
        let timeout = plan.options.statementTimeout
        var journaled: [RunJournal.Entry: RunJournal.Stored] = [:]
        var lz4 = false
        do {
            try await self.connections.withDeadlineConnection(statementTimeout: timeout, logger: logger) { db in
                if plan.options.savesUndo {
                    // No row before PostgreSQL 14; false on a server built without LZ4.
                    let query: SQL =
                        "SELECT 'lz4' = ANY(enumvals) FROM pg_catalog.pg_settings WHERE name = 'default_toast_compression'"
                    lz4 = try await db.query(query).rows.first?.decode(Bool?.self) ?? false
                }
                // Existing tables are used as they are: a role that may only read and write them needs no DDL.
                if try await !PostgresPrivileges.journalExists(plan, on: db) {
                    for statement in journal.createStatements { _ = try await db.query(statement) }
                }
                try await PostgresPrivileges.addControlColumns(journal, plan: plan, on: db)
                var binds = PostgresBindings()
                binds.append(runID)
                let rate = plan.options.maximumRowsPerSecond.map(Int64.init)
                let total = plan.options.totalRows.map(Int64.init)
                let target = plan.options.targetChunkDuration.map(BulkUpdateEngine.seconds)
                if plan.options.resume {
                    let run = try await db.query(journal.selectRun, binds)
                    let stored = try run.rows.first.map {
                        try $0.decode((String, String, String?, String?, String?).self)
                    }
                    try journal.checkResume(stored: stored.map { ($0.0, $0.1, $0.2, $0.3, $0.4) }, plan: plan)
                    var revertBinds = PostgresBindings()
                    revertBinds.append(RunJournal.revertID(of: runID))
                    let revert = try await db.query(journal.selectRun, revertBinds).rows.first.map {
                        try $0.decode((String, String, String?, String?, String?).self).2
                    }
                    let marked = try await !db.query(journal.selectRevertMark, binds).rows.isEmpty
                    try journal.checkNotReverted(revert: revert, marked: marked)
                    try await journal.checkNotAlive(state: stored?.3, heartbeat: stored?.4, finished: stored?.2) {
                        try await db.query(journal.selectState, binds).rows.first?.decode(
                            (String?, String?, String?).self
                        ).1
                    }
                    for row in try await db.query(journal.selectChunks, binds).rows {
                        let (worker, chunk, fingerprint, inputRows) = try row.decode(
                            (Int64, Int64, String, Int64?).self
                        )
                        journaled[RunJournal.Entry(worker: Int(worker), chunk: Int(chunk))] = RunJournal.Stored(
                            fingerprint: fingerprint,
                            inputRows: inputRows.map(Int.init)
                        )
                    }
                    binds.append(RunJournal.now())
                    binds.append(rate)
                    binds.append(total)
                    binds.append(target)
                    _ = try await db.query(journal.resumeRun, binds)
                } else {
                    binds.append(plan.table.name.description)
                    binds.append(RunJournal.fingerprint(of: plan))
                    binds.append(RunJournal.now())
                    binds.append(rate)
                    binds.append(total)
                    binds.append(target)
                    do {
                        _ = try await db.query(journal.insertRun, binds)
                    } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                        throw BulkUpdateError(
                            .configuration,
                            "run \(SQLText.literal(runID)) exists already; resume it, or choose another run id"
                        )
                    }
                    if plan.options.savesUndo {
                        var header = PostgresBindings(capacity: 4)
                        for value in journal.undoHeader(plan, storageClasses: false) { header.append(value) }
                        _ = try await db.query(journal.insertUndoHeader, header)
                    }
                }
            }
        } catch {
            throw PostgresErrors.map(error, doing: "opening the run journal")
        }
        var report: BulkUpdateReport
        do {
            report = try await body(
                PostgresChunkExecutor(
                    connections: self.connections,
                    plan: plan,
                    journal: journal,
                    journaled: journaled,
                    lz4: lz4
                ),
                journal
            )
        } catch var error as BulkUpdateError {
            error.partialReport?.runID = runID
            await self.end(
                journal,
                as: error.code == .interrupted ? "interrupted" : "failed",
                plan: plan,
                logger: logger
            )
            throw error
        } catch {
            await self.end(journal, as: "failed", plan: plan, logger: logger)
            throw error
        }
        report.runID = runID
        do {
            try await self.connections.withDeadlineConnection(statementTimeout: timeout, logger: logger) { db in
                var binds = PostgresBindings()
                binds.append(RunJournal.now())
                binds.append(runID)
                binds.append(Int64(report.rowsConflicting))
                binds.append(Int64(report.rowsSkippedByCondition))
                _ = try await db.query(journal.finishRun, binds)
            }
        } catch {
            throw PostgresErrors.map(error, doing: "closing the run journal")
        }
        return report
    }

    /// Records how an unfinished run ended, if the database can still be reached; `runs` shows a run whose row was
    /// not updated by its heartbeat's age.
    private func end(_ journal: RunJournal, as state: String, plan: UpdatePlan, logger: Logger) async {
        var binds = PostgresBindings(capacity: 3)
        binds.append(journal.runID)
        binds.append(state)
        binds.append(RunJournal.now())
        _ = try? await self.connections.withDeadlineConnection(
            statementTimeout: PostgresRunProbe.timeout,
            logger: logger
        ) { db in try await db.query(journal.endRun, binds) }
    }
}
