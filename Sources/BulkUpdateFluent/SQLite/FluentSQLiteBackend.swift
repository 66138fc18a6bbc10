import BulkUpdate
import BulkUpdateSQLite
import Logging

/// SQLite through a connection leased from Fluent's pool: ``BulkUpdateSQLite``'s backend, reading columns the way
/// fluent-sqlite-driver stores values rather than by their declared type.
///
/// fluent-sqlite-driver writes booleans as 0 and 1, UUIDs as their `Codable` text (upper case) and dates as Unix
/// seconds (REAL), whatever a column is declared as (Fluent's own schema declares `UUID`, `DATE`, `TIMESTAMP`, and
/// `INTEGER` for booleans). A model's values are encoded the same way (see ``FluentValueEncoding/sqlite``) and these
/// columns are treated as text, real and integer, so keys match the stored rows and written values read back
/// through Fluent unchanged.
struct FluentSQLiteBackend: BulkUpdateBackend {
    let base: SQLiteBackend

    var databaseName: String { self.base.databaseName }

    // See `BulkUpdateBackend.resolve(_:logger:)`.
    func resolve(_ options: BulkUpdateOptions, logger: Logger) throws(BulkUpdateError) -> BulkUpdateOptions {
        try self.base.resolve(options, logger: logger)
    }

    // See `BulkUpdateBackend.describe(_:options:logger:)`.
    func describe(_ table: BulkUpdateTableName, options: BulkUpdateOptions, logger: Logger) async throws -> TableSchema
    {
        var schema = try await self.base.describe(table, options: options, logger: logger)
        for index in schema.columns.indices {
            switch schema.columns[index].type.kind {
            case .uuid: schema.columns[index].type.kind = .text
            case .bool: schema.columns[index].type.kind = .int64
            case .date, .timestamp, .timestamptz: schema.columns[index].type.kind = .float64
            default: break
            }
        }
        return schema
    }

    // See `BulkUpdateBackend.preflight(_:logger:)`.
    func preflight(_ plan: UpdatePlan, logger: Logger) async throws {
        try await self.base.preflight(plan, logger: logger)
    }

    // See `BulkUpdateBackend.statementText(_:rows:)`.
    func statementText(_ plan: UpdatePlan, rows: Int) -> String {
        self.base.statementText(plan, rows: rows)
    }

    // See `BulkUpdateBackend.withRun(_:logger:_:)`.
    func withRun(
        _ plan: UpdatePlan,
        logger: Logger,
        _ body: (SQLiteBackend.Executor, (any RunProbe)?) async throws -> BulkUpdateReport
    ) async throws -> BulkUpdateReport {
        try await self.base.withRun(plan, logger: logger, body)
    }
}
