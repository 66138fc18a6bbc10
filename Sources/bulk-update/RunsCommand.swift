import ArgumentParser
import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateSQLite
import Foundation
import PostgresNIO
import SQLiteNIO

/// Lists journaled runs and removes the journal of finished ones.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List journaled apply runs with their progress, or remove the journal of finished runs.",
        discussion: """
            Runs are journaled in the tables bulk_update_runs and bulk_update_journal of the target table's schema.
            An unfinished run can be completed with `bulk-update apply … --resume RUN_ID`.
            """
    )

    @Option(help: "PostgreSQL URL or SQLite file. Defaults to $DATABASE_URL.")
    var database: String?

    @Option(help: "The schema holding the journal (the target table's schema). Defaults to public / main.")
    var schema: String?

    @Flag(help: "Remove the journal of finished runs.")
    var clean = false

    func run() async throws {
        guard let location = try DatabaseLocation.fromCommandLine(self.database) else {
            throw ValidationError("no database: pass --database postgres://… or a SQLite file, or set DATABASE_URL")
        }
        let rows: [[String?]]
        switch location {
        case .postgres(let url):
            let journal = RunJournal(runID: "", schema: self.schema ?? "public", dialect: PostgresBackend.dialect)
            let client = PostgresClient(configuration: url.configuration)
            rows = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                guard try await self.postgresHasJournal(client) else { return [] }
                if self.clean {
                    for statement in journal.cleanFinished { try await client.run(statement) }
                }
                var rows: [[String?]] = []
                for try await row in try await client.query(PostgresQuery(unsafeSQL: journal.listRuns)) {
                    let (id, target, started, finished, chunks, committed) =
                        try row.decode((String, String, String, String?, Int64, Int64).self)
                    rows.append([id, target, started, finished, String(chunks), String(committed)])
                }
                return rows
            }
        case .sqlite(let url):
            let journal = RunJournal(runID: "", schema: self.schema ?? "main", dialect: SQLiteBackend.dialect)
            rows = try await SQLiteBulkUpdater.withUpdater(url: url.path ?? ":memory:") { updater in
                let connection = updater.connection
                let exists = try await connection.query(
                    "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'bulk_update_runs'"
                )
                guard !exists.isEmpty else { return [] }
                if self.clean {
                    for statement in journal.cleanFinished { _ = try await connection.query(statement) }
                }
                return try await connection.query(journal.listRuns).map { row in
                    row.columns.map { $0.data.isNull ? nil : $0.data.string }
                }
            }
        }
        if self.clean { print("removed the journal of finished runs") }
        guard !rows.isEmpty else {
            print("no journaled runs")
            return
        }
        print("run id | table | started (UTC) | finished (UTC) | chunks | rows committed")
        for row in rows {
            print(row.map { $0 ?? "unfinished" }.joined(separator: " | "))
        }
    }

    private func postgresHasJournal(_ client: PostgresClient) async throws -> Bool {
        let schema = self.schema ?? "public"
        let query: PostgresQuery =
            "SELECT count(*)::int8 FROM pg_catalog.pg_tables WHERE schemaname = \(schema) AND tablename = 'bulk_update_runs'"
        for try await count in try await client.query(query).decode(Int64.self) { return count > 0 }
        return false
    }
}
