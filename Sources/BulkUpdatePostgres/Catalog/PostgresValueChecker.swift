import BulkUpdate
import Logging
import PostgresNIO

/// Asks PostgreSQL which values it would refuse, writing nothing: a batch of one column's values is cast to the
/// column's type in a `SELECT` (`SELECT count(CAST(u.v AS "Mood")) FROM unnest($1) AS u(v)`), which fails on the
/// first value the type or a domain's `CHECK` refuses; a failed batch is halved until each refused value is found.
/// Used for ``ColumnType/isServerChecked`` columns, whose rules the client cannot apply itself.
struct PostgresValueChecker: ServerValueChecker {
    let connections: PostgresConnections
    let plan: UpdatePlan

    // See `ServerValueChecker.rejected(column:values:limit:logger:)`.
    func rejected(column: Int, values: any ChunkColumn, limit: Int, logger: Logger) async throws
        -> [(row: Int, reason: String)]
    {
        let type = self.plan.columns[column].type
        // The parameter's own type (the column family's array) needs no cast in the statement. The settings that
        // decide how text is read are the chunks' (PostgresChunkExecutor.transactionSettings), set first (the casts
        // are evaluated in the aggregate, above the join) and only for this statement's transaction.
        let sql = PostgresStatement(
            "SELECT count(CAST(u.v AS \(type: type.sqlName)))::int8"
                + " FROM (SELECT \(PostgresChunkExecutor.setConfig(PostgresChunkExecutor.readingSettings))) AS s,"
                + " unnest(\(parameter: 1)) AS u(v)"
        )
        do {
            return try await self.connections.withDeadlineConnection(
                statementTimeout: self.plan.options.statementTimeout,
                logger: logger
            ) { db in
                var refused: [(row: Int, reason: String)] = []
                try await self.search(
                    Array(0..<values.count),
                    in: values,
                    sql: sql,
                    limit: limit,
                    on: db,
                    into: &refused
                )
                return refused.sorted { $0.row < $1.row }
            }
        } catch {
            throw PostgresErrors.map(error, doing: "checking the values of column \(self.plan.columns[column].name)")
        }
    }

    /// Checks the values at `rows`; when the database refuses one of them, halves the set until each refused row is
    /// found, stopping after `limit`.
    private func search(
        _ rows: [Int],
        in values: any ChunkColumn,
        sql: PostgresStatement,
        limit: Int,
        on db: DeadlineConnection,
        into refused: inout [(row: Int, reason: String)]
    ) async throws {
        guard !rows.isEmpty, refused.count < limit else { return }
        var binds = PostgresBindings(capacity: 1)
        binds.append(PostgresArrayBind(values: values.gathered(rows)))
        do {
            _ = try await self.connections.isolated(on: db, savepoint: "bulk_update_check") {
                try await db.query(sql, binds)
            }
            return
        } catch let error as PSQLError {
            // Data exceptions (22…) and integrity violations (23…) are the value's fault; anything else is not.
            guard let state = error.serverInfo?[.sqlState], state.hasPrefix("22") || state.hasPrefix("23") else {
                throw error
            }
            guard rows.count > 1 else {
                refused.append((rows[0], error.serverInfo?[.message] ?? "refused by PostgreSQL"))
                return
            }
        }
        let half = rows.count / 2
        for part in [rows[..<half], rows[half...]] {
            try await self.search(Array(part), in: values, sql: sql, limit: limit, on: db, into: &refused)
        }
    }
}
