import BulkUpdate
import BulkUpdatePostgres
import FluentSQL
import Logging

/// PostgreSQL through Fluent's own database, as a ``BulkUpdateBackend``: the catalog and the chunks go through
/// its SQLKit interface, so every connection comes from the application's pool, whichever way fluent-postgres-driver
/// was configured (`SQLPostgresConfiguration` with its per-event-loop pool, or a `PostgresClient`).
///
/// `BulkUpdatePostgres` needs a `PostgresClient`, which neither configuration hands out, so this backend carries
/// its own small executor with the same `unnest` statement and binary array parameters.
struct FluentPostgresBackend: BulkUpdateBackend {
    let database: any SQLDatabase
    /// Whether `database` is already bound to one connection and a transaction (inside Fluent's `transaction` or
    /// `withConnection`): then the update runs on it with one worker and no transaction of its own.
    let isPinned: Bool

    var databaseName: String { "PostgreSQL" }

    // See `BulkUpdateBackend.resolve(_:logger:)`.
    func resolve(_ options: BulkUpdateOptions, logger: Logger) throws(BulkUpdateError) -> BulkUpdateOptions {
        var options = options
        switch options.strategy {
        case .auto, .unnest:
            options.strategy = .unnest
        default:
            throw BulkUpdateError(
                .configuration,
                "strategy \(options.strategy) is not available for Fluent models on PostgreSQL; use auto or unnest"
            )
        }
        if options.runID != nil {
            throw BulkUpdateError(
                .configuration,
                "journaled runs (runID) are not available for Fluent models on PostgreSQL; use BulkUpdatePostgres"
            )
        }
        if options.atomic || self.isPinned {
            // One connection and one transaction: a failed statement aborts it, so a retry could not succeed.
            options.maximumRetries = 0
            if options.workers > 1 {
                logger.info(
                    "one transaction on one connection: running with one worker",
                    metadata: [LogKey.workers: "\(options.workers)"]
                )
                options.workers = 1
            }
        }
        return options
    }

    // See `BulkUpdateBackend.describe(_:options:logger:)`.
    func describe(_ table: BulkUpdateTableName, options: BulkUpdateOptions, logger: Logger) async throws -> TableSchema
    {
        do {
            return try await FluentPostgresCatalog.describe(table, on: self.database)
        } catch {
            throw PostgresErrors.map(error, doing: "reading the catalog for \(table)")
        }
    }

    // See `BulkUpdateBackend.preflight(_:logger:)`. This path keeps no journal and stages nothing; the server
    // checks the role's privileges on the target when the first chunk is written.
    func preflight(_ plan: UpdatePlan, logger: Logger) async throws {}

    // See `BulkUpdateBackend.statementText(_:rows:)`.
    func statementText(_ plan: UpdatePlan, rows: Int) -> String {
        FluentPostgresExecutor.updateText(UpdateSQL(plan: plan, dialect: FluentPostgresExecutor.dialect))
    }

    // See `BulkUpdateBackend.withRun(_:logger:_:)`.
    func withRun(
        _ plan: UpdatePlan,
        logger: Logger,
        _ body: (FluentPostgresExecutor) async throws -> BulkUpdateReport
    ) async throws -> BulkUpdateReport {
        if self.isPinned {
            return try await body(FluentPostgresExecutor(database: self.database, plan: plan, ownsTransactions: false))
        }
        guard plan.options.atomic else {
            return try await body(FluentPostgresExecutor(database: self.database, plan: plan, ownsTransactions: true))
        }
        // All or nothing: one connection, one transaction for the whole run.
        do {
            return try await self.atomicRun(plan, body)
        } catch {
            throw PostgresErrors.map(error, doing: "the update")
        }
    }

    private func atomicRun(
        _ plan: UpdatePlan,
        _ body: (FluentPostgresExecutor) async throws -> BulkUpdateReport
    ) async throws -> BulkUpdateReport {
        try await Self.withSession(of: self.database) { session in
            do {
                try await session.run("BEGIN")
                try await FluentPostgresExecutor.setTimeouts(plan.options, on: session)
            } catch {
                throw PostgresErrors.map(error, doing: "starting the transaction")
            }
            do {
                let report = try await body(
                    FluentPostgresExecutor(database: session, plan: plan, ownsTransactions: false)
                )
                try await session.run("COMMIT")
                return report
            } catch {
                try? await session.run("ROLLBACK")
                guard var failure = PostgresErrors.map(error, doing: "the update") as? BulkUpdateError else {
                    throw error
                }
                if let partial = failure.partialReport {
                    // Rolled back: nothing the chunks did stays.
                    failure.partialReport = BulkUpdateEngine.emptyReport(partial.table, plan: plan, since: .now)
                    failure.partialReport?.rowsRead = partial.rowsRead
                }
                throw failure
            }
        }
    }

    /// Runs `body` with one session (one leased connection) of `database`, held until `body` returns.
    ///
    /// `SQLDatabase.withSession` takes an escaping, `Sendable` closure, and `body` (the engine's run) is neither; so a
    /// child task holds the session open while this task uses it, and gives it back when told to.
    static func withSession<Result: Sendable>(
        of database: any SQLDatabase,
        _ body: (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        let (sessions, sessionSink) = AsyncThrowingStream.makeStream(of: (any SQLDatabase).self)
        let (release, releaseSink) = AsyncStream.makeStream(of: Never.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await database.withSession { session in
                        sessionSink.yield(session)
                        for await _ in release {}
                    }
                    sessionSink.finish()
                } catch {
                    sessionSink.finish(throwing: error)
                    throw error
                }
            }
            defer { releaseSink.finish() }
            var iterator = sessions.makeAsyncIterator()
            guard let session = try await iterator.next() else { throw CancellationError() }
            let result = try await body(session)
            releaseSink.finish()
            try await group.waitForAll()
            return result
        }
    }
}
