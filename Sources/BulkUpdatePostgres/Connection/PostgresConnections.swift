package import BulkUpdate
package import Logging
package import PostgresNIO

/// Something that lends a `PostgresConnection` for the length of a closure: a `PostgresClient`'s pool, another
/// pool (Fluent's), or one connection a caller holds.
package protocol PostgresConnectionLender: Sendable {
    /// Runs `body` with a connection, which goes back to its owner when `body` returns.
    func lend<Result>(_ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result
}

extension PostgresClient: PostgresConnectionLender {
    package func lend<Result>(
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await self.withConnection(body)
    }
}

/// Where every PostgreSQL statement of a run gets its connection, and how a run brackets its writes.
///
/// Every caller reaches PostgreSQL through this one type: ``PostgresBulkUpdater`` with a `PostgresClient`,
/// `BulkUpdateFluent` with Fluent's pool or the connection of a Fluent transaction. The catalog, the statements, the
/// executor, the deadlines and the error mapping are the same for all of them; only these differ:
/// - A pool lends a connection per chunk and each chunk is its own transaction (`BEGIN` … `COMMIT`).
/// - A pinned connection (one the caller holds) serves every statement, one at a time, so a run on it has one
///   worker. When the caller has a transaction open on it, each chunk is a savepoint released into that
///   transaction, and the run commits or rolls back with the caller's transaction; the settings a chunk changes
///   (`statement_timeout`, `lock_timeout`, the join methods) are put back when the run ends.
package struct PostgresConnections: Sendable {
    /// How a run brackets a chunk's statements.
    package enum Transactions: Sendable {
        /// Its own transaction: `BEGIN` … `COMMIT`, or `ROLLBACK`.
        case own
        /// A savepoint inside the caller's transaction: `SAVEPOINT` … `RELEASE`, or `ROLLBACK TO`.
        case nested
    }

    let lender: any PostgresConnectionLender
    /// How chunks are bracketed.
    package let transactions: Transactions
    /// Whether every statement runs on one connection the caller holds.
    package let isPinned: Bool

    /// A `PostgresClient`'s pool.
    package init(client: PostgresClient) {
        self.init(pool: client)
    }

    /// A pool that lends a connection per call.
    package init(pool: any PostgresConnectionLender) {
        self.lender = pool
        self.transactions = .own
        self.isPinned = false
    }

    /// One connection the caller holds for the length of the run; `inTransaction` when the caller has a transaction
    /// block open on it (see ``isInTransactionBlock(_:logger:)``).
    package init(pinned connection: PostgresConnection, inTransaction: Bool) {
        self.lender = PinnedConnection(connection: connection, turn: AsyncLock())
        self.transactions = inTransaction ? .nested : .own
        self.isPinned = true
    }

    /// Whether a transaction block (`BEGIN`) is open on `connection`, asked by setting a savepoint: PostgreSQL
    /// refuses one outside a block (25P01), which ends nothing, and inside one it is released at once. A caller's
    /// transaction that has already failed (25P02) is reported as the error it is.
    package static func isInTransactionBlock(_ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        // Under a deadline like every other statement (a closed connection would otherwise hang the call).
        let db = DeadlineConnection(connection: connection, statementTimeout: .seconds(25), logger: logger)
        do {
            _ = try await db.query("SAVEPOINT bulk_update_probe" as SQL)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "25P01" {
            return false
        }
        _ = try await db.query("RELEASE SAVEPOINT bulk_update_probe" as SQL)
        return true
    }

    /// Leases a connection for `body`, every call on it under the deadline of `statementTimeout` (see
    /// ``DeadlineConnection``).
    func withDeadlineConnection<Result>(
        statementTimeout: Duration,
        logger: Logger,
        _ body: (DeadlineConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await self.lender.lend { connection in
            try await body(
                DeadlineConnection(connection: connection, statementTimeout: statementTimeout, logger: logger)
            )
        }
    }

    /// Runs `body` as one transaction on `db`: its own, or a savepoint named `name` in the caller's. When `body`
    /// throws, what it did is rolled back and the error rethrown. With `readOnly`, its own transaction is a
    /// `REPEATABLE READ READ ONLY` one (one snapshot for every statement of `body`); a savepoint stays as the
    /// caller's transaction is.
    func transaction<Result>(
        on db: DeadlineConnection,
        savepoint name: String = "bulk_update_chunk",
        readOnly: Bool = false,
        _ body: () async throws -> Result
    ) async throws -> Result {
        let savepoint = SQL.identifier(name)
        let (begin, commit, rollback): ([SQL], [SQL], [SQL]) =
            switch self.transactions {
            case .own:
                ([readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN"], ["COMMIT"], ["ROLLBACK"])
            case .nested:
                (
                    ["SAVEPOINT \(savepoint)"], ["RELEASE SAVEPOINT \(savepoint)"],
                    ["ROLLBACK TO SAVEPOINT \(savepoint)", "RELEASE SAVEPOINT \(savepoint)"]
                )
            }
        for statement in begin { _ = try await db.control(statement) }
        do {
            let result = try await body()
            // COMMIT may wait (for a synchronous standby): it has the whole statement deadline.
            for statement in commit { _ = try await db.query(statement) }
            return result
        } catch {
            if !db.connection.isClosed {
                for statement in rollback { _ = try? await db.control(statement) }
            }
            throw error
        }
    }

    /// Runs `body`, whose statements may fail (a value check, a staging table's life), so that a failure leaves the
    /// connection usable: as it is on a connection of its own, inside a savepoint in the caller's transaction.
    func isolated<Result>(
        on db: DeadlineConnection,
        savepoint name: String,
        _ body: () async throws -> Result
    ) async throws -> Result {
        switch self.transactions {
        case .own: try await body()
        case .nested: try await self.transaction(on: db, savepoint: name, body)
        }
    }

    /// Runs `body` and, in the caller's transaction, puts back the settings chunks change with `set_config(…, true)`
    /// (see ``PostgresChunkExecutor/transactionSettings(_:indexJoins:)``), which would otherwise last until the
    /// caller's transaction ends. A report `body` returned goes with an error in putting them back (as its
    /// partial report: the chunks were released into the caller's transaction).
    func restoringSettings(
        statementTimeout: Duration,
        logger: Logger,
        _ body: () async throws -> BulkUpdateReport
    ) async throws -> BulkUpdateReport {
        guard self.transactions == .nested else { return try await body() }
        let names = PostgresChunkExecutor.changedSettings
        let saved: [String]
        do {
            saved = try await self.withDeadlineConnection(statementTimeout: statementTimeout, logger: logger) { db in
                let select = SQL.list(names.indices.map { "current_setting(\(parameter: $0 + 1))" })
                var binds = PostgresBindings(capacity: names.count)
                for name in names { binds.append(name) }
                let result = try await db.query("SELECT \(select)", binds)
                guard let row = result.rows.first else { return [String]() }
                return try row.map { try $0.decode(String.self) }
            }
        } catch {
            throw PostgresErrors.map(error, doing: "reading the settings of the caller's transaction")
        }
        func restore() async throws {
            guard saved.count == names.count else { return }
            try await self.withDeadlineConnection(statementTimeout: statementTimeout, logger: logger) { db in
                let calls = SQL.list(
                    names.indices.map { "set_config(\(parameter: 2 * $0 + 1), \(parameter: 2 * $0 + 2), true)" }
                )
                var binds = PostgresBindings(capacity: 2 * names.count)
                for (name, value) in zip(names, saved) {
                    binds.append(name)
                    binds.append(value)
                }
                _ = try await db.query("SELECT \(calls)", binds)
            }
        }
        let report: BulkUpdateReport
        do {
            report = try await body()
        } catch {
            // An aborted transaction refuses every statement until the caller rolls it back, which resets them.
            try? await restore()
            throw error
        }
        do {
            try await restore()
        } catch {
            guard
                var failure = PostgresErrors.map(error, doing: "putting back the settings of the caller's transaction")
                    as? BulkUpdateError
            else { throw error }
            failure.partialReport = report
            throw failure
        }
        return report
    }
}

/// The one connection of a pinned run, lent to one statement sequence at a time.
private struct PinnedConnection: PostgresConnectionLender {
    let connection: PostgresConnection
    let turn: AsyncLock

    func lend<Result>(_ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        try await self.turn.withLock { try await body(self.connection) }
    }
}
