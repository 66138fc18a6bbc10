package import BulkUpdate
package import Logging
package import PostgresNIO

/// PostgreSQL as a ``BulkUpdateBackend``: the catalog from pg_catalog, chunks through ``PostgresChunkExecutor``.
package struct PostgresBackend: BulkUpdateBackend {
    let client: PostgresClient

    /// From this chunk size on, `auto` picks `copy` over `unnest` (see docs/strategies.md for the measurements).
    static let copyFromChunkSize = 50_000

    package init(client: PostgresClient) {
        self.client = client
    }

    package var databaseName: String { "PostgreSQL" }

    // See `BulkUpdateBackend.statementText(_:rows:)`.
    package func statementText(_ plan: UpdatePlan, rows: Int) -> String {
        let statements = PostgresStatements(plan: plan)
        let rows = min(rows, statements.rowsPerStatement)
        switch plan.options.strategy {
        case .values: return statements.update(from: statements.sql.valuesSource(rows: rows))
        case .caseWhen: return statements.caseWhen(rows: rows)
        case .copy:
            let stage = plan.options.atomic ? "<staging table>" : StageTable.temporary(for: plan).qualified
            return "COPY \(stage) FROM STDIN; " + statements.update(from: "\(stage) AS u")
        default: return statements.update(from: statements.unnestSource)
        }
    }

    // See `BulkUpdateBackend.resolve(_:logger:)`.
    package func resolve(_ options: BulkUpdateOptions, logger: Logger) throws(BulkUpdateError) -> BulkUpdateOptions {
        var options = options
        switch options.strategy {
        case .auto:
            options.strategy = options.atomic || options.chunkSize >= Self.copyFromChunkSize ? .copy : .unnest
            return options
        case .copy:
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

    // See `BulkUpdateBackend.describe(_:options:logger:)`.
    package func describe(_ table: BulkUpdateTableName, options: BulkUpdateOptions, logger: Logger) async throws
        -> TableSchema
    {
        do {
            return try await self.client.withConnection { connection in
                let db = DeadlineConnection(connection: connection, timeout: options.statementTimeout, logger: logger)
                return try await PostgresCatalog.describe(table, on: db)
            }
        } catch {
            throw PostgresErrors.map(error, doing: "reading the catalog for \(table)")
        }
    }

    // See `BulkUpdateBackend.withRun(_:logger:_:)`.
    package func withRun(
        _ plan: UpdatePlan,
        logger: Logger,
        _ body: (PostgresChunkExecutor) async throws -> BulkUpdateReport
    ) async throws -> BulkUpdateReport {
        guard plan.options.atomic else {
            return try await body(PostgresChunkExecutor(client: self.client, plan: plan))
        }
        return try await PostgresAtomicRun(client: self.client, plan: plan, logger: logger).run(body)
    }
}
