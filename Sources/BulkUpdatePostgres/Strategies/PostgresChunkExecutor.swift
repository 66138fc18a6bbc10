package import BulkUpdate
package import Logging
import PostgresNIO

/// Writes chunks with the chosen strategy, each chunk in its own transaction on a connection leased from the
/// pool for that chunk (so workers never wait on each other for connections they hold).
package struct PostgresChunkExecutor: ChunkExecutor {
    let client: PostgresClient
    let statements: PostgresStatements
    /// The unnest statement text, the same for every chunk.
    let unnestSQL: String

    init(client: PostgresClient, plan: UpdatePlan) {
        self.client = client
        self.statements = PostgresStatements(plan: plan)
        self.unnestSQL = self.statements.update(from: self.statements.unnestSource)
    }

    // See `ChunkExecutor.write(_:logger:)`.
    package func write(_ chunk: Chunk, logger: Logger) async throws -> ChunkOutcome {
        let options = self.statements.plan.options
        do {
            return try await self.client.withConnection { connection in
                let db = DeadlineConnection(connection: connection, timeout: options.statementTimeout, logger: logger)
                _ = try await db.query("BEGIN")
                do {
                    var outcome = try await self.apply(chunk, on: db)
                    if outcome.matched < chunk.count {
                        outcome.notFoundExamples = try await self.notFound(chunk, on: db)
                    }
                    _ = try await db.query("COMMIT")
                    return outcome
                } catch {
                    if !connection.isClosed { _ = try? await db.query("ROLLBACK") }
                    throw error
                }
            }
        } catch {
            throw PostgresErrors.map(error, doing: "the update")
        }
    }

    private func apply(_ chunk: Chunk, on db: DeadlineConnection) async throws -> ChunkOutcome {
        let statements = self.statements
        switch statements.plan.options.strategy {
        case .values:
            var total = ChunkOutcome(matched: 0, changed: 0)
            for rows in self.batches(chunk.count) {
                let sql = statements.update(from: statements.sql.valuesSource(rows: rows.count))
                total.add(try await self.run(sql, statements.cellBinds(chunk, rows: rows), on: db))
            }
            return total
        case .caseWhen:
            var total = ChunkOutcome(matched: 0, changed: 0)
            for rows in self.batches(chunk.count) {
                let sql = statements.caseWhen(rows: rows.count)
                total.add(try await self.run(sql, statements.cellBinds(chunk, rows: rows), on: db))
            }
            return total
        default:
            return try await self.run(self.unnestSQL, statements.arrayBinds(chunk), on: db)
        }
    }

    /// Runs one update statement and reads its counts: the command tag, or the (changed, matched) row.
    private func run(_ sql: String, _ binds: PostgresBindings, on db: DeadlineConnection) async throws -> ChunkOutcome {
        let result = try await db.query(PostgresQuery(unsafeSQL: sql, binds: binds))
        if self.statements.plan.options.skipUnchanged {
            guard let row = result.rows.first else { return ChunkOutcome(matched: 0, changed: 0) }
            let (changed, matched) = try row.decode((Int64, Int64).self)
            return ChunkOutcome(matched: Int(matched), changed: Int(changed))
        }
        let matched = result.metadata.rows ?? 0
        return ChunkOutcome(matched: matched, changed: matched)
    }

    private func notFound(_ chunk: Chunk, on db: DeadlineConnection) async throws -> [String] {
        let binds = self.statements.arrayBinds(chunk, columns: 0..<chunk.keyColumnCount)
        let result = try await db.query(PostgresQuery(unsafeSQL: self.statements.notFoundLookup, binds: binds))
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
