import ArgumentParser
import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateSQLite
import Foundation
import PostgresNIO
import SQLiteNIO

/// The run journal of one database, as the `runs` commands read and change it: statements of ``RunJournal`` whose
/// parameters and columns are all text (or NULL), on PostgreSQL or SQLite.
struct RunsJournal {
    let journal: RunJournal
    let schema: String
    let isPostgres: Bool
    /// The role the commands log in as, quoted for a GRANT (see ``DatabaseLocation/role``).
    let role: String
    private let execute: (SQL, [String?]) async throws -> [[String?]]
    /// Whether the journal's tables exist.
    let exists: Bool

    /// The journal's undo tables, as the `legacy` argument of ``RunJournal`` names them: `false` for the undo table,
    /// `true` for that of earlier versions (journals of earlier versions, and of runs that all kept none, may have
    /// either, both or neither).
    func undoTables() async throws -> [Bool] {
        let names = [RunJournal.undoTableName, RunJournal.legacyUndoTableName]
        let query: SQL =
            self.isPostgres
            ? "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = \(parameter: 1)"
                + " AND tablename IN (\(literal: names[0]), \(literal: names[1]))"
            : "SELECT name FROM \(identifier: self.schema).sqlite_schema WHERE type = 'table'"
                + " AND name IN (\(literal: names[0]), \(literal: names[1]))"
        let found = Set(try await self.rows(query, self.isPostgres ? [self.schema] : []).compactMap { $0.first ?? nil })
        return [false, true].filter { found.contains(names[$0 ? 1 : 0]) }
    }

    /// Opens `location` and runs `body` with its journal in `schema` (default: public, main). A database error is
    /// printed and becomes the exit code `apply` uses for it: 77 a missing privilege (with the grants the runs
    /// commands need, unless the error names its grant already), 64 a schema that does not exist, 69 anything else.
    static func with<Result: Sendable>(
        _ location: DatabaseLocation,
        schema: String?,
        runID: String = "",
        _ body: (RunsJournal) async throws -> Result
    ) async throws -> Result {
        do {
            return try await Self.open(location, schema: schema, runID: runID, body)
        } catch let error as BulkUpdateError {
            var text = "error: \(error.description)"
            let code: Int32
            switch error.code {
            case .privilege where error.message.contains("GRANT "):
                // It names the grant already (the undo's: see UndoLog.open).
                code = 77
            case .privilege:
                code = 77
                let runs = RunJournal(runID: "", schema: schema ?? (location.isPostgres ? "public" : "main")).runsTable
                text +=
                    "\nthe runs commands read bulk_update_runs and bulk_update_journal (SELECT) and steer a run through"
                    + " bulk_update_runs (UPDATE): GRANT SELECT, UPDATE ON \(PostgresStatement(runs).text)"
                    + " TO \(location.role)"
            case .configuration: code = 64
            default: code = 69
            }
            FileHandle.standardError.write(Data((text + "\n").utf8))
            throw ExitCode(code)
        }
    }

    /// Opens `location` and runs `body` with its journal in `schema`, database errors left as they are. On SQLite a
    /// statement waits up to `busyTimeout` for another process's write lock.
    static func open<Result: Sendable>(
        _ location: DatabaseLocation,
        schema: String?,
        runID: String,
        busyTimeout: Duration = .seconds(5),
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
                        throw PostgresErrors.map(error, doing: "the run journal in schema \(schema)")
                    }
                    return rows
                }
                guard
                    !(try await execute(
                        "SELECT 'yes' FROM pg_catalog.pg_namespace WHERE nspname = \(parameter: 1)",
                        [schema]
                    )
                    .isEmpty)
                else {
                    throw BulkUpdateError(
                        .configuration,
                        "the journal schema \(SQLText.literal(schema)) does not exist"
                    )
                }
                let exists = try await execute(
                    "SELECT 'yes' FROM pg_catalog.pg_tables"
                        + " WHERE schemaname = \(parameter: 1) AND tablename = 'bulk_update_runs'",
                    [schema]
                )
                return try await body(
                    RunsJournal(
                        journal: journal,
                        schema: schema,
                        isPostgres: true,
                        role: location.role,
                        execute: execute,
                        exists: !exists.isEmpty
                    )
                )
            }
        case .sqlite(let url):
            let schema = schema ?? "main"
            let journal = RunJournal(runID: runID, schema: schema)
            return try await SQLiteBulkUpdater.withUpdater(url: url.path ?? ":memory:", busyTimeout: busyTimeout) {
                updater in
                let connection = updater.connection
                let execute: (SQL, [String?]) async throws -> [[String?]] = { sql, values in
                    try await connection.execute(sql, values.map { $0.map { .text($0) } ?? .null }).map { row in
                        row.columns.map { $0.data.isNull ? nil : $0.data.string }
                    }
                }
                let databases = try await connection.execute("SELECT name FROM pragma_database_list")
                guard databases.contains(where: { $0.column("name")?.string == schema }) else {
                    throw BulkUpdateError(
                        .configuration,
                        "the journal schema \(SQLText.literal(schema)) is not a database of this connection"
                            + " (SQLite names them main, temp or the name given to ATTACH)"
                    )
                }
                let exists = try await connection.execute(
                    "SELECT 1 FROM \(identifier: schema).sqlite_schema WHERE type = 'table' AND name = 'bulk_update_runs'"
                )
                return try await body(
                    RunsJournal(
                        journal: journal,
                        schema: schema,
                        isPostgres: false,
                        role: location.role,
                        execute: execute,
                        exists: !exists.isEmpty
                    )
                )
            }
        }
    }

    /// Runs `sql` with text parameters; every column comes back as text.
    func rows(_ sql: SQL, _ binds: [String?] = []) async throws -> [[String?]] {
        try await self.execute(sql, binds)
    }
}
