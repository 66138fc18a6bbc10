import BulkUpdate
import Logging
import PostgresNIO

/// An all-or-nothing run on PostgreSQL.
///
/// One connection is leased for the whole run. It creates a temporary stage table; the workers' chunks are copied
/// into it one after another (COPY is not where the time goes), each COPY committed on its own so no long
/// transaction is open while the input is read; then one transaction applies the whole stage with a single
/// `UPDATE … FROM`. The target is untouched until that transaction commits. The stage lives in the session's
/// temporary schema: the run needs only the TEMPORARY privilege, and a run that dies leaves nothing behind (the
/// server drops a session's temporary tables when it ends).
struct PostgresAtomicRun {
    let connections: PostgresConnections
    let plan: UpdatePlan
    let logger: Logger

    /// The staging connection and the turn every chunk's COPY takes on it.
    struct Stage: Sendable {
        let table: StageTable
        let connection: DeadlineConnection
        let lock: AsyncLock
    }

    func run(_ body: (PostgresChunkExecutor) async throws -> BulkUpdateReport) async throws -> BulkUpdateReport {
        let table = StageTable.atomic(for: self.plan)
        let timeout = self.plan.options.statementTimeout
        do {
            return try await self.connections.withDeadlineConnection(statementTimeout: timeout, logger: self.logger) {
                db in
                // In the caller's transaction, one savepoint around the run: a failure rolls back the stage with it.
                try await self.connections.isolated(on: db, savepoint: "bulk_update_run") {
                    _ = try await db.query(table.createAtomic)
                    self.logger.debug("atomic stage created", metadata: [LogKey.stage: "\(table.name)"])
                    do {
                        let stage = Stage(table: table, connection: db, lock: AsyncLock())
                        var report = try await body(
                            PostgresChunkExecutor(connections: self.connections, plan: self.plan, stage: stage)
                        )
                        try await self.apply(table, to: &report, on: db)
                        return report
                    } catch {
                        if self.connections.transactions == .own, !db.connection.isClosed {
                            _ = try? await db.query(table.dropIfExists)
                        }
                        throw error
                    }
                }
            }
        } catch {
            guard let failure = PostgresErrors.map(error, doing: "the atomic update") as? BulkUpdateError else {
                throw error
            }
            // Nothing reached the target: say so, whatever had been staged.
            throw failure.rolledBack(self.plan)
        }
    }

    /// The final transaction: one UPDATE from the stage (the last chunk of a key wins), the counts, the drop.
    private func apply(_ stage: StageTable, to report: inout BulkUpdateReport, on db: DeadlineConnection) async throws {
        let started = ContinuousClock.now
        let statements = PostgresStatements(plan: self.plan)
        let keys = SQL.list(statements.sql.keyNames)
        let repeated = report.duplicateKeysAcrossChunks > 0
        let rows: SQL =
            repeated
            ? "(SELECT DISTINCT ON (\(keys)) * FROM \(stage.qualified) ORDER BY \(keys), \(stage.extra) DESC)"
            : stage.qualified
        let source: SQL = "\(rows) AS u"
        // The stage's size and key distribution, for the planner: a whole file is often best applied with a hash
        // join, unlike a chunk.
        _ = try await db.query(stage.analyze)
        try await self.connections.transaction(on: db) {
            let (settings, binds) = PostgresChunkExecutor.transactionSettings(self.plan.options, indexJoins: false)
            _ = try await db.query(settings, binds)
            let left = try await self.leftAlone(by: statements, rows: rows, on: db)
            let result = try await db.query(statements.update(from: source))
            var matched: Int
            var changed: Int
            if self.plan.options.skipUnchanged, let row = result.rows.first {
                let counts = try row.decode((Int64, Int64).self)
                (changed, matched) = (Int(counts.0), Int(counts.1))
            } else {
                matched = result.metadata.rows ?? 0
                changed = matched
            }
            if let left { matched = left.matched }
            let staged = report.committedChunks.reduce(0) { $0 + $1.rows }
            var distinctKeys = staged
            if repeated {
                let count = try await db.query(
                    "SELECT count(*) FROM (SELECT DISTINCT \(keys) FROM \(stage.qualified)) AS k"
                )
                distinctKeys = Int(try count.rows.first?.decode(Int64.self) ?? Int64(staged))
            }
            var examples: [String] = []
            if matched < distinctKeys {
                let texts = SQL.list(statements.sql.keyNames.map { "u.\($0)::text" })
                let missing = try await db.query(
                    "SELECT DISTINCT \(texts) FROM \(stage.qualified) AS u WHERE NOT EXISTS"
                        + " (SELECT 1 FROM \(statements.sql.table) AS t WHERE \(statements.sql.match))"
                        + " LIMIT \(integer: ChunkOutcome.notFoundExampleLimit)"
                )
                for row in missing.rows {
                    examples.append(self.plan.renderKey(text: try row.map { try $0.decode(String?.self) }))
                }
            }
            if self.plan.options.failOnMissingKeys && matched < distinctKeys {
                throw BulkUpdateError.missingKeys(distinctKeys - matched, examples: examples)
            }
            _ = try await db.query(stage.drop)
            report.rowsMatched = matched
            report.rowsChanged = changed
            report.rowsConflicting = left?.conflicting ?? 0
            report.rowsSkippedByCondition = left?.skippedByCondition ?? 0
            report.conflictExamples = Array((left?.conflicts ?? []).prefix(ChunkOutcome.notFoundExampleLimit))
            report.rowsUnchanged = matched - changed - report.rowsConflicting - report.rowsSkippedByCondition
            report.keysNotFound = distinctKeys - matched
            report.notFoundExamples = examples
            report.duplicateKeys += report.duplicateKeysAcrossChunks
            report.duplicateKeysAcrossChunks = 0
            report.elapsedSeconds += BulkUpdateEngine.seconds(ContinuousClock.now - started)
            if let conflicts = left?.conflicts, !conflicts.isEmpty { self.plan.options.onConflicts?(conflicts) }
        }
    }

    /// In a guarded run, before the final UPDATE and in its transaction: locks every matched row of the stage's
    /// `rows` (so none changes before the UPDATE), then reads why each one the UPDATE will leave alone is left alone.
    ///
    /// - Returns: The rows matched (``ChunkOutcome/matched``) and those left alone, counted; `nil` when the run is
    ///   not guarded.
    private func leftAlone(by statements: PostgresStatements, rows: SQL, on db: DeadlineConnection) async throws
        -> ChunkOutcome?
    {
        guard self.plan.isGuarded else { return nil }
        let sql = statements.sql
        let locked = try await db.query(
            "SELECT count(*) FROM (SELECT 1 FROM \(sql.table) AS t JOIN \(rows) AS u ON \(sql.match)"
                + " FOR NO KEY UPDATE OF t) AS l"
        )
        var outcome = ChunkOutcome(matched: 0, changed: 0)
        let positioned: SQL = "(SELECT s.*, 0::int8 AS \(UpdateSQL.ordinalName) FROM \(rows) AS s) AS u"
        let classification = sql.classification(
            from: positioned,
            filter: sql.leftAlone(onlyChanged: self.plan.options.skipUnchanged)
        )
        for row in try await db.query(classification).rows {
            let classified = try ClassifiedRow(row, plan: self.plan, firstPosition: 0)
            outcome.count(classified, key: self.plan.renderKey(text: classified.keyValues), plan: self.plan)
        }
        outcome.matched = Int(try locked.rows.first?.decode(Int64.self) ?? 0)
        return outcome
    }
}
