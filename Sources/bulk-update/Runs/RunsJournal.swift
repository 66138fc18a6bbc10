import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateSQLite
import PostgresNIO
import SQLiteNIO

/// The run journal of one database, as the `runs` commands read and change it: statements of ``RunJournal`` whose
/// parameters and columns are all text (or NULL), on PostgreSQL or SQLite.
struct RunsJournal {
    let journal: RunJournal
    let schema: String
    private let execute: (SQL, [String?]) async throws -> [[String?]]
    /// Whether the journal's tables exist.
    let exists: Bool

    /// Opens `location` and runs `body` with its journal in `schema` (default: public, main).
    static func with<Result: Sendable>(
        _ location: DatabaseLocation,
        schema: String?,
        runID: String = "",
        _ body: (RunsJournal) async throws -> Result
    ) async throws -> Result {
        switch location {
        case .postgres(let url):
            let schema = schema ?? "public"
            let journal = RunJournal(runID: runID, schema: schema)
            return try await DatabaseLocation.withPostgresClient(url, connections: 2) { client in
                let execute: (SQL, [String?]) async throws -> [[String?]] = { sql, values in
                    var binds = PostgresBindings(capacity: values.count)
                    for value in values { binds.append(value) }
                    var rows: [[String?]] = []
                    do {
                        for try await row in try await client.query(PostgresStatement(sql).query(binds)) {
                            rows.append(try row.map { try $0.decode(String?.self) })
                        }
                    } catch {
                        throw PostgresErrors.map(error, doing: "reading the run journal in schema \(schema)")
                    }
                    return rows
                }
                let exists = try await execute(
                    "SELECT 'yes' FROM pg_catalog.pg_tables"
                        + " WHERE schemaname = \(parameter: 1) AND tablename = 'bulk_update_runs'",
                    [schema]
                )
                return try await body(
                    RunsJournal(journal: journal, schema: schema, execute: execute, exists: !exists.isEmpty)
                )
            }
        case .sqlite(let url):
            let schema = schema ?? "main"
            let journal = RunJournal(runID: runID, schema: schema)
            return try await SQLiteBulkUpdater.withUpdater(url: url.path ?? ":memory:") { updater in
                let connection = updater.connection
                let execute: (SQL, [String?]) async throws -> [[String?]] = { sql, values in
                    try await connection.execute(sql, values.map { $0.map { .text($0) } ?? .null }).map { row in
                        row.columns.map { $0.data.isNull ? nil : $0.data.string }
                    }
                }
                let exists = try await connection.execute(
                    "SELECT 1 FROM \(identifier: schema).sqlite_schema WHERE type = 'table' AND name = 'bulk_update_runs'"
                )
                return try await body(
                    RunsJournal(journal: journal, schema: schema, execute: execute, exists: !exists.isEmpty)
                )
            }
        }
    }

    /// Runs `sql` with text parameters; every column comes back as text.
    func rows(_ sql: SQL, _ binds: [String?] = []) async throws -> [[String?]] {
        try await self.execute(sql, binds)
    }
}
