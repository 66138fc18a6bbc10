import BulkUpdate
import BulkUpdatePostgres
import FluentSQL
import Logging

/// Writes chunks with `UPDATE … FROM unnest($1::type[], …)`: every column is one array parameter, so the text is
/// the same for every chunk and there is no parameter limit.
///
/// With its own transactions, each chunk leases a session (one connection) from Fluent's pool for just that chunk
/// and commits on it, so workers never hold a connection while waiting for another: with more workers than the
/// pool has connections they take turns instead of deadlocking. Without (an atomic run, or a database already bound
/// to one connection by Fluent's `transaction`), every chunk runs on `database` as it is.
struct FluentPostgresExecutor: ChunkExecutor {
    /// How many keys a not-found lookup reports per chunk.
    static let notFoundExampleLimit = 10

    let database: any SQLDatabase
    let ownsTransactions: Bool
    let sql: UpdateSQL
    /// `WITH … SELECT changed, matched`: the update and its counts in one statement.
    let updateText: String
    let notFoundText: String

    init(database: any SQLDatabase, plan: UpdatePlan, ownsTransactions: Bool) {
        self.database = database
        self.ownsTransactions = ownsTransactions
        self.sql = UpdateSQL(plan: plan, dialect: Self.dialect)
        self.updateText = Self.updateText(self.sql)
        self.notFoundText = Self.notFoundText(self.sql)
    }

    /// `$3::integer`: every parameter carries its column's type, since text-like values travel as `text`.
    static let dialect = UpdateSQL.Dialect(
        parameter: { number, column in "$\(number)::\(column.type.sqlName)" },
        differs: { lhs, rhs, column in
            // json has no equality operator; compare its text, which is what would be stored.
            column.type.kind == .json ? "\(lhs)::text IS DISTINCT FROM \(rhs)::text" : "\(lhs) IS DISTINCT FROM \(rhs)"
        }
    )

    /// `unnest($1::integer[], $2::character varying[]) AS u("id", "username")`
    static func unnestSource(_ sql: UpdateSQL, columns: Int? = nil, ordinal: Bool = false) -> String {
        let plan = sql.plan
        let count = columns ?? plan.columns.count
        let arrays = plan.columns.prefix(count).enumerated().map { "$\($0.offset + 1)::\($0.element.type.sqlName)[]" }
        let names = sql.allNames.prefix(count) + (ordinal ? [UpdateSQL.ordinalName] : [])
        return "unnest(\(arrays.joined(separator: ", ")))\(ordinal ? " WITH ORDINALITY" : "")"
            + " AS u(\(names.joined(separator: ", ")))"
    }

    /// One statement that updates and returns `(changed, matched)`; with `skipUnchanged`, rows whose values already
    /// equal the new ones are matched but not written.
    static func updateText(_ sql: UpdateSQL) -> String {
        let source = Self.unnestSource(sql)
        guard sql.plan.options.skipUnchanged else {
            return "WITH w AS (\(sql.update(from: source, onlyChanged: false)) RETURNING 1)"
                + " SELECT count(*)::int8 AS changed, count(*)::int8 AS matched FROM w"
        }
        return "WITH u AS (SELECT * FROM \(source)), w AS (\(sql.update(from: "u", onlyChanged: true)) RETURNING 1)"
            + " SELECT (SELECT count(*) FROM w)::int8 AS changed,"
            + " (SELECT count(*) FROM \(sql.table) AS t JOIN u ON \(sql.match))::int8 AS matched"
    }

    /// Positions (from 1) of up to ``notFoundExampleLimit`` chunk keys that have no row; binds the key arrays.
    static func notFoundText(_ sql: UpdateSQL) -> String {
        let source = Self.unnestSource(sql, columns: sql.plan.keyColumns.count, ordinal: true)
        return "SELECT u.\(UpdateSQL.ordinalName)::int8 AS position FROM \(source)"
            + " WHERE NOT EXISTS (SELECT 1 FROM \(sql.table) AS t WHERE \(sql.match))"
            + " ORDER BY u.\(UpdateSQL.ordinalName) LIMIT \(Self.notFoundExampleLimit)"
    }

    // See `ChunkExecutor.write(_:logger:)`.
    func write(_ chunk: Chunk, logger: Logger) async throws -> ChunkOutcome {
        do {
            guard self.ownsTransactions else { return try await self.apply(chunk, on: self.database) }
            let options = self.sql.plan.options
            return try await self.database.withSession { session in
                try await session.run("BEGIN")
                do {
                    try await Self.setTimeouts(options, on: session)
                    let outcome = try await self.apply(chunk, on: session)
                    try await session.run("COMMIT")
                    return outcome
                } catch {
                    try? await session.run("ROLLBACK")
                    throw error
                }
            }
        } catch {
            throw PostgresErrors.map(error, doing: "the update")
        }
    }

    private func apply(_ chunk: Chunk, on db: any SQLDatabase) async throws -> ChunkOutcome {
        let plan = self.sql.plan
        let binds: [any Encodable & Sendable] = chunk.columns.indices.map {
            PostgresArrayParameter(values: chunk.columns[$0], kind: plan.columns[$0].type.kind)
        }
        guard let counts = try await db.rows(PreparedSQL(self.updateText, binds)).first else {
            return ChunkOutcome(matched: 0, changed: 0)
        }
        var outcome = ChunkOutcome(
            matched: Int(try counts.decode(column: "matched", as: Int64.self)),
            changed: Int(try counts.decode(column: "changed", as: Int64.self))
        )
        if outcome.matched < chunk.count {
            let keys = Array(binds.prefix(chunk.keyColumnCount))
            outcome.notFoundExamples = try await db.rows(PreparedSQL(self.notFoundText, keys)).map { row in
                chunk.renderKey(Int(try row.decode(column: "position", as: Int64.self)) - 1)
            }
        }
        return outcome
    }

    /// Sets ``BulkUpdateOptions/statementTimeout`` and ``BulkUpdateOptions/lockTimeout`` for the transaction
    /// `session` is in: the server cancels a statement that runs or waits for a lock too long.
    static func setTimeouts(_ options: BulkUpdateOptions, on session: any SQLDatabase) async throws {
        try await session.run("SET LOCAL statement_timeout = \(Self.milliseconds(options.statementTimeout))")
        if let lockTimeout = options.lockTimeout {
            try await session.run("SET LOCAL lock_timeout = \(Self.milliseconds(lockTimeout))")
        }
    }

    /// A duration in whole milliseconds, at least 1 (`statement_timeout = 0` would mean no limit).
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (total, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? Int64(Int32.max) : max(1, min(Int64(Int32.max), total + attoseconds / 1_000_000_000_000_000))
    }
}
