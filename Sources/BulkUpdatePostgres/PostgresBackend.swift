import BulkUpdate
import Logging
import PostgresNIO

/// PostgreSQL as a ``BulkUpdateBackend``: the catalog from pg_catalog, chunks through ``PostgresChunkExecutor``.
struct PostgresBackend: BulkUpdateBackend {
    let client: PostgresClient

    var databaseName: String { "PostgreSQL" }

    // See `BulkUpdateBackend.resolve(_:logger:)`.
    func resolve(_ options: BulkUpdateOptions, logger: Logger) throws(BulkUpdateError) -> BulkUpdateOptions {
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
    func describe(_ table: BulkUpdateTableName, options: BulkUpdateOptions, logger: Logger) async throws -> TableSchema {
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
    func prepare(_ plan: UpdatePlan, logger: Logger) async throws -> PostgresChunkExecutor {
        PostgresChunkExecutor(client: self.client, plan: plan)
    }
}
