package import BulkUpdate
package import Logging
package import PostgresNIO

/// PostgreSQL as a ``BulkUpdateBackend``: the catalog from pg_catalog, chunks through ``PostgresChunkExecutor``.
package struct PostgresBackend: BulkUpdateBackend {
    let client: PostgresClient

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
        default: return statements.update(from: statements.unnestSource)
        }
    }

    // See `BulkUpdateBackend.resolve(_:logger:)`.
    package func resolve(_ options: BulkUpdateOptions, logger: Logger) throws(BulkUpdateError) -> BulkUpdateOptions {
        var options = options
        switch options.strategy {
        case .auto:
            options.strategy = .unnest
            return options
        case .unnest, .values, .caseWhen:
            return options
        default:
            throw BulkUpdateError(
                .configuration,
                "strategy \(options.strategy) is not available on PostgreSQL; use unnest, values or caseWhen"
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

    // See `BulkUpdateBackend.prepare(_:logger:)`.
    package func prepare(_ plan: UpdatePlan, logger: Logger) async throws -> PostgresChunkExecutor {
        PostgresChunkExecutor(client: self.client, plan: plan)
    }
}
