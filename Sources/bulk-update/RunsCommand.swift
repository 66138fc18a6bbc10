import ArgumentParser
import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateSQLite
import Foundation
import PostgresNIO
import SQLiteNIO

/// Lists journaled runs, removes the journal of finished ones, or prints the journal's DDL for an owner to run.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List journaled apply runs with their progress, or remove the journal of finished runs.",
        discussion: """
            Runs are journaled in the tables bulk_update_runs and bulk_update_journal of the target table's schema, \
            or of the schema given to apply --journal-schema: pass the same --journal-schema here. An unfinished run \
            can be completed with `bulk-update apply … --resume RUN_ID`.

            A role that may not create tables can still keep a journal: have the schema's owner run the statements \
            `bulk-update runs --create-sql --journal-schema S --grant-to ROLE` prints, which also grant ROLE what a run \
            needs.
            """
    )

    @Option(help: "PostgreSQL URL or SQLite file. Defaults to $DATABASE_URL.")
    var database: String?

    @Option(
        name: [.customLong("journal-schema"), .customLong("schema")],
        help: "The schema (SQLite: attached database) holding the journal. Defaults to public / main."
    )
    var journalSchema: String?

    @Flag(help: "Remove the journal of finished runs.")
    var clean = false

    @Flag(help: "Print the statements that create the journal tables (for a schema owner to run); connect to nothing.")
    var createSQL = false

    @Option(help: "With --create-sql: also grant the journal privileges to this role.")
    var grantTo: String?

    func validate() throws {
        if self.grantTo != nil && !self.createSQL { throw ValidationError("--grant-to goes with --create-sql") }
        if self.createSQL && self.clean { throw ValidationError("--create-sql and --clean do different things") }
    }

    func run() async throws {
        if self.createSQL {
            self.printCreateSQL()
            return
        }
        guard let location = try DatabaseLocation.fromCommandLine(self.database) else {
            throw ValidationError("no database: pass --database postgres://… or a SQLite file, or set DATABASE_URL")
        }
        let rows: [[String?]]
        switch location {
        case .postgres(let url):
            let schema = self.journalSchema ?? "public"
            let journal = RunJournal(runID: "", schema: schema)
            rows = try await DatabaseLocation.withPostgresClient(url, connections: 2) { client in
                do {
                    guard try await self.postgresHasJournal(client, schema: schema) else { return [] }
                    if self.clean {
                        for statement in journal.cleanFinished { try await client.run(statement) }
                    }
                    var rows: [[String?]] = []
                    for try await row in try await client.query(PostgresStatement(journal.listRuns).query()) {
                        let (id, target, started, finished, chunks, committed) =
                            try row.decode((String, String, String, String?, Int64, Int64).self)
                        rows.append([id, target, started, finished, String(chunks), String(committed)])
                    }
                    return rows
                } catch {
                    throw PostgresErrors.map(error, doing: "reading the run journal in schema \(schema)")
                }
            }
        case .sqlite(let url):
            let journal = RunJournal(runID: "", schema: self.journalSchema ?? "main")
            rows = try await SQLiteBulkUpdater.withUpdater(url: url.path ?? ":memory:") { updater in
                let connection = updater.connection
                let exists = try await connection.execute(
                    "SELECT 1 FROM \(identifier: self.journalSchema ?? "main").sqlite_schema"
                        + " WHERE type = 'table' AND name = 'bulk_update_runs'"
                )
                guard !exists.isEmpty else { return [] }
                if self.clean {
                    for statement in journal.cleanFinished { try await connection.execute(statement) }
                }
                return try await connection.execute(journal.listRuns).map { row in
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

    /// The journal's DDL for PostgreSQL, and the grants a run needs on it.
    private func printCreateSQL() {
        let schema = self.journalSchema ?? "public"
        let journal = RunJournal(runID: "", schema: schema)
        print(
            "-- The run journal of bulk-update apply, in schema \(schema). Run as a role that may create tables there."
        )
        var statements = journal.createStatements
        if let role = self.grantTo {
            let role = SQL.identifier(role)
            statements += [
                "GRANT USAGE ON SCHEMA \(identifier: schema) TO \(role)",
                "GRANT SELECT, INSERT, UPDATE ON \(journal.runsTable) TO \(role)",
                "GRANT SELECT, INSERT ON \(journal.journalTable) TO \(role)",
                "-- runs --clean also needs: GRANT DELETE ON \(journal.runsTable), \(journal.journalTable) TO \(role)",
            ]
        }
        for statement in statements { print(PostgresStatement(statement).text + ";") }
    }

    private func postgresHasJournal(_ client: PostgresClient, schema: String) async throws -> Bool {
        let query: SQL =
            "SELECT count(*)::int8 FROM pg_catalog.pg_tables"
            + " WHERE schemaname = \(parameter: 1) AND tablename = 'bulk_update_runs'"
        var binds = PostgresBindings(capacity: 1)
        binds.append(schema)
        for try await count in try await client.query(PostgresStatement(query).query(binds)).decode(Int64.self) {
            return count > 0
        }
        return false
    }
}
