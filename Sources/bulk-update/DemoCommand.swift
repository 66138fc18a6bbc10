import ArgumentParser
import BulkUpdate
import BulkUpdateSQLite
import Foundation

/// Runs the users scenario end to end and prints what happened.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the users scenario end to end: create users, upper-case every username, verify.",
        discussion: """
            Creates a table shaped like Django's auth_user (--table, default bulk_update_demo_users), inserts --rows \
            users (username = 'user_<i>'), reads them back, upper-cases every username on the client, applies the \
            change through BulkUpdate, and verifies it by reading the table again.

            With no --database (and no $DATABASE_URL) it uses an embedded SQLite database in a temporary directory, \
            removed afterwards, so it needs no server. With --database it uses that PostgreSQL or SQLite database.

            The demo only ever drops the table it created: the table is marked as a bulk-update scenario table \
            (a table comment on PostgreSQL, a comment in its CREATE TABLE on SQLite) and dropped at the end. If a \
            table of that name exists without the mark, the demo stops before writing anything; a marked one left \
            behind by a killed demo or bench is replaced.
            """
    )

    @Option(help: "PostgreSQL URL or SQLite file. Defaults to $DATABASE_URL, else an embedded SQLite database.")
    var database: String?

    @Option(help: "The table the demo creates and drops; an existing table that bulk-update did not create is refused.")
    var table: String = "bulk_update_demo_users"

    @Option(help: "Users to create.")
    var rows: Int = 100_000

    @Option(help: "Workers writing in parallel (SQLite writes one chunk at a time).")
    var workers: Int = 2

    @Option(help: "Rows per chunk; each chunk is one transaction.")
    var chunkSize: Int = 10_000

    @Option(help: "auto, unnest (PostgreSQL), values, tempTable (SQLite) or caseWhen (Django's statement).")
    var strategy: String = "auto"

    func validate() throws {
        guard self.rows >= 1 else { throw ValidationError("--rows must be at least 1") }
        guard !self.table.isEmpty else { throw ValidationError("--table must not be empty") }
        do {
            _ = try BulkUpdateTableName(parsing: self.table)
        } catch {
            throw ValidationError("\(error)")
        }
        guard BulkUpdateOptions.Strategy(name: self.strategy) != nil else {
            throw ValidationError(
                "unknown strategy '\(self.strategy)'; choose from "
                    + BulkUpdateOptions.Strategy.all.map(\.description).joined(separator: ", ")
            )
        }
    }

    func run() async throws {
        let options = BulkUpdateOptions(
            workers: self.workers,
            chunkSize: self.chunkSize,
            strategy: BulkUpdateOptions.Strategy(name: self.strategy)!
        )
        try options.validate()
        let table = self.table
        try await DatabaseLocation.withDefault(self.database, temporaryName: "demo") { location in
            try await UsersScenario.withDatabase(location, connections: self.workers + 1, table: self.table) {
                database in
                print("BulkUpdate demo: the users scenario on \(try await database.name) (\(location))")
                let clock = ContinuousClock()
                var started = clock.now
                try await database.create(table, rows: self.rows)
                print("  created \(table) with \(self.rows) users in \(Self.seconds(clock.now - started)) s")
                let report: BulkUpdateReport
                let elapsed: Duration
                let wrong: Int
                do {
                    let input = try await database.upperCasedRows(table)
                    started = clock.now
                    report = try await database.update(table, rows: input, options: options)
                    elapsed = clock.now - started
                    wrong = try await database.wrongUsernames(table)
                } catch {
                    try? await database.drop(table)
                    throw error
                }
                try await database.drop(table)
                let rate = Int(Double(self.rows) / max(Self.value(elapsed), 1e-9))
                print("  upper-cased \(report.rowsChanged) usernames in \(Self.seconds(elapsed)) s (\(rate) rows/s)")
                guard wrong == 0, report.rowsChanged == self.rows else {
                    throw DemoFailure(
                        "verification failed: \(wrong) usernames are not upper-case, \(report.rowsChanged) rows changed"
                    )
                }
                print("  verified: all \(self.rows) usernames read back upper-case")
                print("")
                print(report)
            }
        }
    }

    static func value(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func seconds(_ duration: Duration) -> String { String(format: "%.3f", Self.value(duration)) }
}

struct DemoFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
