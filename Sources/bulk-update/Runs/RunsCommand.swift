import ArgumentParser
import BulkUpdate
import BulkUpdatePostgres
import Foundation

/// `bulk-update runs`: lists journaled runs (the default), steers a running one, removes the journal of finished
/// ones, or prints the journal's DDL for an owner to run.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List journaled apply runs; pause, continue, stop or retune a running one; revert or export one.",
        discussion: """
            Runs are journaled in the tables bulk_update_runs and bulk_update_journal of the target table's schema, \
            or of the schema given to apply --journal-schema: pass the same --journal-schema here. An unfinished run \
            can be completed with `bulk-update apply … --resume RUN_ID`.

            A running apply reads its row of bulk_update_runs twice a second: `runs pause RUN_ID`, `runs continue \
            RUN_ID`, `runs stop RUN_ID` and `runs set RUN_ID --max-rows-per-second N` take effect within a second, \
            between chunks (chunks in flight always finish). They need UPDATE on bulk_update_runs.

            Every journaled apply keeps its undo unless --no-undo: `runs revert RUN_ID` puts the previous values \
            back where nobody changed the rows since, and `runs export RUN_ID --undo FILE` writes them as a change \
            file (see their --help).

                        Exit codes: 0 done (the run took the request up); 64 bad options, no such unfinished run, a journal \
            schema that does not exist; 69 the database failed; 75 the request is recorded but no running process \
            took it up (the run is dead or interrupted, or did not answer within 3 s); 77 a privilege is missing \
            (the message gives the GRANT).
            """,
        subcommands: [
            RunsList.self, RunsRequest.Pause.self, RunsRequest.Continue.self, RunsRequest.Stop.self, RunsSet.self,
            RunsRevert.self, RunsExport.self,
        ],
        defaultSubcommand: RunsList.self
    )
}

/// Where the journal is: the options every `runs` command shares.
struct JournalOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL or SQLite file. Defaults to $DATABASE_URL.")
    var database: String?

    @Option(
        name: [.customLong("journal-schema"), .customLong("schema")],
        help: "The schema (SQLite: attached database) holding the journal. Defaults to public / main."
    )
    var journalSchema: String?

    func location() throws -> DatabaseLocation {
        guard let location = try DatabaseLocation.fromCommandLine(self.database) else {
            throw ValidationError("no database: pass --database postgres://… or a SQLite file, or set DATABASE_URL")
        }
        return location
    }
}

/// Lists journaled runs with their state and progress.
struct RunsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract:
            "List journaled runs: state, rows done and total, rate, ETA, last heartbeat, conflicts, undo (the default).",
        discussion: """
            A run is running, paused (and why), stopping, interrupted (stopped by a signal or `runs stop`), failed \
            or finished. A run said to be running whose heartbeat is older than \(Int(RunsList.deadAfter)) seconds \
            is shown as dead: its process is gone (killed, or its machine lost); resume it.

            A role that may not create tables can still keep a journal: have the schema's owner run the statements \
            `bulk-update runs --create-sql --journal-schema S --grant-to ROLE` prints, which also grant ROLE what a run \
            needs.
            """
    )

    /// Seconds without a heartbeat after which a running run is taken for dead (it beats twice a second).
    static let deadAfter = RunJournal.deadAfterSeconds

    @OptionGroup var journal: JournalOptions

    @Flag(
        help:
            "Remove the journal and undo of finished runs and of reverted ones (not of a run whose revert is unfinished)."
    )
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
        let rows = try await RunsJournal.with(try self.journal.location(), schema: self.journal.journalSchema) {
            journal in
            guard journal.exists else { return [[String?]]() }
            let undoTables = try await journal.undoTables()
            if self.clean {
                // The undo first: it names the finished runs through the runs table.
                for legacy in undoTables {
                    _ = try await journal.rows(journal.journal.cleanFinishedUndo(legacy: legacy))
                }
                for statement in journal.journal.cleanFinished { _ = try await journal.rows(statement) }
            }
            // Which runs kept undo; unknown ("?") to a role that may not read the undo table.
            var undo: Set<String>? = []
            for legacy in undoTables {
                let runs = (try? await journal.rows(journal.journal.selectRunsWithUndo(legacy: legacy))).map {
                    Set($0.compactMap { $0.first ?? nil })
                }
                undo = runs.flatMap { runs in undo.map { $0.union(runs) } }
            }
            return try await journal.rows(journal.journal.listRuns).map { row in
                row + [undo.map { $0.contains(row[0] ?? "") ? "kept" : "-" } ?? "?"]
            }
        }
        if self.clean { print("removed the journal of finished and reverted runs") }
        guard !rows.isEmpty else {
            print("no journaled runs")
            return
        }
        print(
            "run id | table | started (UTC) | finished (UTC) | chunks | rows committed | state | rows total | rows/s"
                + " | ETA | last heartbeat | conflicts | skipped | undo"
        )
        let columns = RunJournal.listedColumns + ["undo"]
        func cells(_ row: [String?]) -> (String) -> String? {
            { name in columns.firstIndex(of: name).flatMap { row[$0] } }
        }
        // Each revert run, by the run it takes back, and whether it finished.
        var reverts: [String: (id: String, finished: Bool)] = [:]
        for row in rows {
            let cell = cells(row)
            guard let id = cell("run_id"), id.hasPrefix(RunJournal.revertPrefix) else { continue }
            reverts[String(id.dropFirst(RunJournal.revertPrefix.count))] = (id, cell("finished_at") != nil)
        }
        for row in rows {
            let cell = cells(row)
            print(Self.line(cell, revert: reverts[cell("run_id") ?? ""]))
        }
    }

    /// One run's line of the listing; `revert` is the run that takes it back, if there is one.
    static func line(_ cell: (String) -> String?, revert: (id: String, finished: Bool)? = nil) -> String {
        let finished = cell("finished_at")
        let rows = Int(cell("rows") ?? "") ?? 0
        let total = cell("rows_total").flatMap { Int($0) }
        let rate = cell("rows_per_second").flatMap { Double($0) } ?? 0
        let age = cell("heartbeat_at").flatMap(RunJournal.age)
        var state = cell("state") ?? (finished == nil ? "unfinished" : "finished")
        if ["running", "paused", "stopping"].contains(state), finished == nil {
            if let age, age > Self.deadAfter {
                // A process that was stopping and went silent exited at once (grace over, a second signal).
                state =
                    state == "stopping"
                    ? "interrupted (exited while stopping; resume it)"
                    : "dead (no heartbeat for \(Int(age)) s; resume it)"
            } else if state == "paused", let pauses = cell("pauses") {
                state = "paused: \(pauses)"
            }
        }
        if let revert {
            // A run a revert has started to take back is never resumed.
            state = state.replacingOccurrences(of: "; resume it", with: "")
            state +=
                revert.finished
                ? "; reverted by \(revert.id)"
                : "; being reverted by \(revert.id), unfinished (bulk-update runs revert \(cell("run_id") ?? ""))"
        } else if cell("revert_marked") != nil {
            // Marked by a revert that stopped before it began writing (its run is not registered yet).
            state = state.replacingOccurrences(of: "; resume it", with: "")
            state += "; being reverted, not begun (bulk-update runs revert \(cell("run_id") ?? ""))"
        }
        let live = finished == nil && (state.hasPrefix("running") || state.hasPrefix("paused"))
        var eta = "-"
        if state.hasPrefix("paused") {
            eta = "paused"
        } else if live, let total, rate > 0, total > rows {
            eta = "\(Int((Double(total - rows) / rate).rounded())) s"
        }
        let cells = [
            cell("run_id") ?? "", cell("target") ?? "", cell("started_at") ?? "", finished ?? "unfinished",
            cell("chunks") ?? "0", String(rows), state, total.map(String.init) ?? "-",
            live ? String(Int(rate.rounded())) : "-", eta,
            age.map { "\(Int($0.rounded())) s ago" } ?? "-", cell("rows_conflicting") ?? "-",
            cell("rows_skipped") ?? "-", cell("undo") ?? "-",
        ]
        return cells.joined(separator: " | ")
    }

    /// The journal's DDL for PostgreSQL, and the grants a run needs on it.
    private func printCreateSQL() {
        let schema = self.journal.journalSchema ?? "public"
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
                "GRANT SELECT, INSERT ON \(journal.undoTable) TO \(role)",
                "-- runs --clean also needs: GRANT DELETE ON \(journal.runsTable), \(journal.journalTable),"
                    + " \(journal.undoTable) TO \(role)",
            ]
        }
        for statement in statements { print(PostgresStatement(statement).text + ";") }
    }
}
