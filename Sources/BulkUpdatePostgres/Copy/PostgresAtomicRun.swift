import BulkUpdate
import Logging
import PostgresNIO

/// An all-or-nothing run on PostgreSQL.
///
/// Workers COPY their chunks into one unlogged staging table, each COPY committed on its own; then a single
/// transaction applies the whole stage with one `UPDATE … FROM` and drops it. The target is untouched until that
/// transaction commits. A control connection holds a session advisory lock named after the stage for the whole
/// run, so a stage whose lock is free belongs to a run that died: every atomic run first drops such leftovers.
struct PostgresAtomicRun {
    /// The advisory lock space (`pg_advisory_lock(int4, int4)`'s first key): "BULK".
    static let lockSpace: Int32 = 0x4255_4C4B

    let client: PostgresClient
    let plan: UpdatePlan
    let logger: Logger

    func run(_ body: (PostgresChunkExecutor) async throws -> BulkUpdateReport) async throws -> BulkUpdateReport {
        let stage = StageTable.atomic(for: self.plan)
        let timeout = self.plan.options.statementTimeout
        do {
            return try await self.client.withConnection { connection in
                let control = DeadlineConnection(connection: connection, timeout: timeout, logger: self.logger)
                try await self.dropLeftovers(on: control)
                _ = try await control.query("SELECT pg_advisory_lock(\(Self.lockSpace), hashtext(\(stage.name)))")
                _ = try await control.query(PostgresQuery(unsafeSQL: stage.createSQL))
                do {
                    var report = try await body(
                        PostgresChunkExecutor(client: self.client, plan: self.plan, atomicStage: stage)
                    )
                    try await self.apply(stage, to: &report, on: control)
                    _ = try? await control.query(
                        "SELECT pg_advisory_unlock(\(Self.lockSpace), hashtext(\(stage.name)))"
                    )
                    return report
                } catch {
                    if !connection.isClosed {
                        _ = try? await control.query("ROLLBACK")
                        _ = try? await control.query(
                            PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(stage.qualified)")
                        )
                        _ = try? await control.query(
                            "SELECT pg_advisory_unlock(\(Self.lockSpace), hashtext(\(stage.name)))"
                        )
                    }
                    throw error
                }
            }
        } catch {
            guard var failure = PostgresErrors.map(error, doing: "the atomic update") as? BulkUpdateError else {
                throw error
            }
            // Nothing reached the target: say so, whatever had been staged.
            let staged = failure.partialReport
            failure.partialReport = BulkUpdateEngine.emptyReport(
                staged?.table ?? self.plan.table.name.description,
                plan: self.plan,
                since: .now
            )
            failure.partialReport?.rowsRead = staged?.rowsRead ?? 0
            throw failure
        }
    }

    /// The final transaction: one UPDATE from the stage (the last chunk of a key wins), the counts, the drop.
    private func apply(_ stage: StageTable, to report: inout BulkUpdateReport, on db: DeadlineConnection) async throws {
        let statements = PostgresStatements(plan: self.plan)
        let keys = statements.sql.keyNames.joined(separator: ", ")
        let repeated = report.duplicateKeysAcrossChunks > 0
        let source =
            repeated
            ? "(SELECT DISTINCT ON (\(keys)) * FROM \(stage.qualified) ORDER BY \(keys),"
                + " \(SQLIdentifier.quote(stage.extraColumn)) DESC) AS u"
            : "\(stage.qualified) AS u"
        _ = try await db.query("BEGIN")
        do {
            let result = try await db.query(PostgresQuery(unsafeSQL: statements.update(from: source)))
            var matched: Int
            var changed: Int
            if self.plan.options.skipUnchanged, let row = result.rows.first {
                let counts = try row.decode((Int64, Int64).self)
                (changed, matched) = (Int(counts.0), Int(counts.1))
            } else {
                matched = result.metadata.rows ?? 0
                changed = matched
            }
            let staged = report.committedChunks.reduce(0) { $0 + $1.rows }
            var distinctKeys = staged
            if repeated {
                let count = try await db.query(
                    PostgresQuery(
                        unsafeSQL: "SELECT count(*) FROM (SELECT DISTINCT \(keys) FROM \(stage.qualified)) AS k"
                    )
                )
                distinctKeys = Int(try count.rows.first?.decode(Int64.self) ?? Int64(staged))
            }
            var examples: [String] = []
            if matched < distinctKeys {
                let texts = statements.sql.keyNames.map { "u.\($0)::text" }.joined(separator: ", ")
                let missing = try await db.query(
                    PostgresQuery(
                        unsafeSQL: "SELECT DISTINCT \(texts) FROM \(stage.qualified) AS u WHERE NOT EXISTS"
                            + " (SELECT 1 FROM \(statements.sql.table) AS t WHERE \(statements.sql.match))"
                            + " LIMIT \(PostgresStatements.notFoundExampleLimit)"
                    )
                )
                for row in missing.rows {
                    examples.append(self.plan.renderKey(text: try row.map { try $0.decode(String?.self) }))
                }
            }
            _ = try await db.query(PostgresQuery(unsafeSQL: "DROP TABLE \(stage.qualified)"))
            _ = try await db.query("COMMIT")
            report.rowsMatched = matched
            report.rowsChanged = changed
            report.rowsUnchanged = matched - changed
            report.keysNotFound = distinctKeys - matched
            report.notFoundExamples = examples
            report.duplicateKeys += report.duplicateKeysAcrossChunks
            report.duplicateKeysAcrossChunks = 0
        } catch {
            _ = try? await db.query("ROLLBACK")
            throw error
        }
    }

    /// Drops the stages of atomic runs that died: their control connection, and with it the advisory lock, is gone.
    private func dropLeftovers(on db: DeadlineConnection) async throws {
        let found = try await db.query(
            """
            SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND c.relname LIKE 'bulk\\_update\\_atomic\\_%'
            """
        )
        for row in found.rows {
            let (schema, name) = try row.decode((String, String).self)
            let locked = try await db.query("SELECT pg_try_advisory_lock(\(Self.lockSpace), hashtext(\(name)))")
            guard try locked.rows.first?.decode(Bool.self) == true else { continue }  // a live run's stage
            let table = SQLIdentifier.quote(schema) + "." + SQLIdentifier.quote(name)
            _ = try await db.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(table)"))
            _ = try await db.query("SELECT pg_advisory_unlock(\(Self.lockSpace), hashtext(\(name)))")
            self.logger.info(
                "dropped the staging table of an atomic run that did not finish",
                metadata: ["bulk_update.table": "\(schema).\(name)"]
            )
        }
    }
}
