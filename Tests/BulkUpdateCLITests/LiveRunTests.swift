import BulkUpdateTestSupport
import Foundation
import Testing

/// A live run steered from outside: SIGINT and SIGTERM stop it cleanly (exit 75, the resume command), a grace period
/// or a second signal stops it at once, `runs pause|continue|set|stop` reach it through the runs table, and
/// `--pause-when` holds it while the user's own query says so.
extension TimedRuns {
    @Suite("apply: live control", .timeLimit(.minutes(3)))
    struct LiveRunTests {
        static let columns = ApplyHardeningTests.columns
        static let rows = 100_000

        /// A table of ``rows`` users and the file that upper-cases all of them.
        static func prepare(_ target: ApplyTarget) throws -> String {
            try ApplyHardeningTests.fill(target, Self.rows)
            return try target.write("all.csv", ApplyHardeningTests.csv(1...Self.rows))
        }

        static func newRunID() -> String { "live-" + UUID().uuidString.prefix(8).lowercased() }

        /// Starts `apply` of `input` in chunks of 1,000 at `rate` rows a second as run `runID`, and waits until
        /// `chunks` chunks have committed.
        static func start(
            _ target: ApplyTarget,
            _ input: String,
            runID: String,
            rate: Int = 5_000,
            waitingFor chunks: Int = 2,
            _ extra: [String] = []
        ) throws -> BackgroundApply {
            let run = try BackgroundApply(
                target,
                ["--input", input, "--chunk-size", "1000", "--max-rows-per-second", String(rate), "--run-id", runID]
                    + extra
            )
            try run.wait("\(chunks) chunks committed") { try Journal.chunks(target, runID) >= chunks }
            return run
        }

        @Test(
            "SIGINT and SIGTERM: no new chunk, exit 75, the committed chunks are the journal's, the printed resume finishes",
            arguments: ApplyBackend.enabled,
            [SIGINT, SIGTERM]
        )
        func signalStopsCleanly(_ backend: ApplyBackend, _ signal: Int32) throws {
            try ApplyTarget.with(backend, columns: Self.columns) { target in
                let input = try Self.prepare(target)
                let runID = Self.newRunID()
                let run = try Self.start(target, input, runID: runID, rate: 20_000, waitingFor: 3)
                run.signal(signal)
                let status = run.finish()
                let errors = run.standardError
                #expect(status == 75, "\(errors)")
                let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
                #expect(errors.contains("\(name): stopping; chunks in flight finish"), "\(errors)")
                #expect(errors.contains("the run was stopped by \(name) after"), "\(errors)")
                #expect(errors.contains("resume with: --resume \(runID) (same input and options)"), "\(errors)")
                // What the process says it committed is what the journal holds, and no more rows changed.
                let listed = ListedChunk.parse(errors)
                #expect(listed.count == (try Journal.chunks(target, runID)), "\(errors)")
                #expect(
                    try ApplyHardeningTests.wrongRows(target, changed: "1 = 0") == listed.reduce(0) { $0 + $1.rows }
                )
                #expect(try Journal.state(target, runID) == "interrupted")
                // Nothing runs it now: a pause is recorded, and the command says no process took it up.
                let pause = try Executable.run(["runs", "pause", runID, "--database", target.database])
                #expect(pause.status == 75 && pause.standardError.contains("but it is not running"), streams(pause))

                let resumed = try target.apply(["--input", input, "--chunk-size", "1000", "--resume", runID, "--quiet"])
                #expect(resumed.status == 0, streams(resumed))
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)
                #expect(try Journal.state(target, runID) == "finished")
            }
        }

        @Test(
            "an atomic run stopped by SIGTERM applies nothing and leaves no staging table",
            arguments: ApplyBackend.enabled
        )
        func atomicSignal(_ backend: ApplyBackend) throws {
            try ApplyTarget.with(backend, columns: Self.columns) { target in
                let input = try Self.prepare(target)
                let run = try BackgroundApply(
                    target,
                    [
                        "--input", input, "--chunk-size", "1000", "--max-rows-per-second", "20000", "--atomic",
                        "--progress", "json",
                    ]
                )
                try run.wait("chunks staged") {
                    run.progressLines.last.map { ($0["chunks"] as? Int ?? 0) >= 3 } ?? false
                }
                run.signal(SIGTERM)
                let status = run.finish()
                #expect(status == 75, "\(run.standardError)")
                #expect(run.standardError.contains("the run is atomic: nothing was applied"), "\(run.standardError)")
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 0") == 0)
                if backend == .postgres {
                    // The stage is a temporary table of the run's session, which ended with the process.
                    try run.wait("no staging table") {
                        try PSQL.count(
                            target.database,
                            "SELECT count(*) FROM pg_class WHERE relname LIKE 'bulk_update_atomic_%'"
                        )
                            == 0
                    }
                } else {
                    let tables = try PythonSQLite.query(
                        target.database,
                        "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'bulk_update%'"
                    )
                    #expect(tables == [["0"]], "\(tables)")
                }
            }
        }

        @Test(
            "a chunk that outlasts the grace period, or a second signal: the process exits 75 at once, the chunk rolls back",
            arguments: ["grace period", "second signal"]
        )
        func stopAtOnce(_ how: String) throws {
            try ApplyTarget.with(.postgres, columns: Self.columns) { target in
                try ApplyHardeningTests.fill(target, 10_000)
                let input = try target.write("all.csv", ApplyHardeningTests.csv(1...10_000))
                // Every chunk takes 2 seconds.
                try target.execute(
                    "CREATE FUNCTION \(target.table)_slow() RETURNS trigger LANGUAGE plpgsql AS"
                        + " $$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$;"
                        + " CREATE TRIGGER slow AFTER UPDATE ON \(target.table) FOR EACH STATEMENT"
                        + " EXECUTE FUNCTION \(target.table)_slow()"
                )
                defer { try? target.execute("DROP FUNCTION IF EXISTS \(target.table)_slow() CASCADE") }
                let runID = Self.newRunID()
                let grace = how == "grace period" ? "0.5" : "30"
                let run = try BackgroundApply(
                    target,
                    ["--input", input, "--chunk-size", "1000", "--workers", "1", "--run-id", runID, "--grace", grace]
                )
                try run.wait("one chunk committed") { try Journal.chunks(target, runID) >= 1 }
                let signalled = ContinuousClock.now
                run.signal(SIGINT)
                if how == "second signal" {
                    usleep(200_000)
                    run.signal(SIGINT)
                }
                let status = run.finish()
                let errors = run.standardError
                #expect(status == 75, "\(errors)")
                #expect(ContinuousClock.now - signalled < .seconds(1.5), "it waited for the chunk in flight")
                let why =
                    how == "grace period"
                    ? "chunks in flight did not finish within the grace period of 0.5 s"
                    : "a second signal (SIGINT) came"
                #expect(errors.contains("stopped at once (\(why))"), "\(errors)")
                #expect(errors.contains("resume with: --resume \(runID)"), "\(errors)")
                // Once the server has seen the client go, the chunk in flight is rolled back: the table holds exactly
                // the journal's chunks.
                try run.wait("the server ended the run's session") {
                    try PSQL.count(
                        target.database,
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%\(target.table)%' AND pid <> pg_backend_pid()"
                    ) == 0
                }
                let journaled = try Journal.rows(target, runID)
                #expect(journaled >= 1000)
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 0") == journaled)
                let resumed = try target.apply([
                    "--input", input, "--chunk-size", "1000", "--workers", "1", "--resume", runID,
                ])
                #expect(resumed.status == 0, streams(resumed))
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)
            }
        }

        @Test(
            "runs pause, continue, set and stop reach a running apply within a second",
            arguments: ApplyBackend.enabled
        )
        func runsControl(_ backend: ApplyBackend) throws {
            try ApplyTarget.with(backend, columns: Self.columns) { target in
                let input = try Self.prepare(target)
                let runID = Self.newRunID()
                // 5,000 rows a second: 20 seconds for the whole file, unless the limit is lifted.
                let run = try Self.start(target, input, runID: runID)

                let paused = try Executable.run(["runs", "pause", runID, "--database", target.database])
                #expect(paused.status == 0 && paused.standardOutput.contains("run \(runID) is paused"), streams(paused))
                try Journal.expectHeld(target, runID, while: "the run was paused")
                let listed = try Executable.run(["runs", "--database", target.database])
                let line = listed.standardOutput.split(separator: "\n").first { $0.hasPrefix("\(runID) |") } ?? ""
                #expect(line.contains(" | paused: requested: bulk-update runs pause | "), streams(listed))

                // A second process may not take the run over while this one lives.
                let takeover = try target.apply(["--input", input, "--chunk-size", "1000", "--resume", runID])
                #expect(takeover.status == 64, streams(takeover))
                #expect(takeover.standardError.contains("run '\(runID)' is still paused"), streams(takeover))
                let fixed = try Executable.run([
                    "runs", "set", runID, "--target-chunk-seconds", "0.5", "--database", target.database,
                ])
                #expect(fixed.status == 64, streams(fixed))
                #expect(fixed.standardError.contains("was not started with --target-chunk-seconds"), streams(fixed))
                let noSchema = try Executable.run([
                    "runs", "--database", target.database, "--journal-schema", "no_such_schema",
                ])
                #expect(noSchema.status == 64, streams(noSchema))

                let continued = try Executable.run(["runs", "continue", runID, "--database", target.database])
                #expect(continued.standardOutput.contains("run \(runID) is running"), streams(continued))
                let lifted = ContinuousClock.now
                let set = try Executable.run([
                    "runs", "set", runID, "--max-rows-per-second", "0", "--database", target.database,
                ])
                #expect(set.status == 0, streams(set))
                // At 5,000 rows a second the rest would take 15 seconds or more.
                let status = run.finish()
                #expect(status == 0, "\(run.standardError)")
                #expect(ContinuousClock.now - lifted < .seconds(10), "the lifted limit was not taken up")
                #expect(run.standardOutput.contains("paused: "), "\(run.standardOutput)")
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)

                // Stopped from outside: as a signal does.
                try target.execute("UPDATE \(target.table) SET username = 'user' || id")
                let stopID = Self.newRunID()
                let second = try Self.start(target, input, runID: stopID)
                let stopped = try Executable.run(["runs", "stop", stopID, "--database", target.database])
                #expect(stopped.status == 0, streams(stopped))
                #expect(second.finish() == 75, "\(second.standardError)")
                #expect(
                    second.standardError.contains("the run was stopped by bulk-update runs stop"),
                    "\(second.standardError)"
                )
                #expect(try Journal.state(target, stopID) == "interrupted")
                let resumed = try target.apply([
                    "--input", input, "--chunk-size", "1000", "--resume", stopID, "--quiet",
                ])
                #expect(resumed.status == 0, streams(resumed))
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)

                for verb in ["pause", "stop", "continue"] {
                    let missing = try Executable.run(["runs", verb, "no-such-run", "--database", target.database])
                    #expect(missing.status != 0, streams(missing))
                    #expect(
                        missing.standardError.contains("there is no unfinished run 'no-such-run'"),
                        streams(missing)
                    )
                }
            }
        }

        @Test(
            "--pause-when holds the run while another session says so, shown in --progress json",
            arguments: ApplyBackend.enabled
        )
        func pauseWhen(_ backend: ApplyBackend) throws {
            try ApplyTarget.with(backend, columns: Self.columns) { target in
                let input = try Self.prepare(target)
                let flag = target.table + "_hold"
                let yes = backend == .postgres ? "true" : "1"
                let no = backend == .postgres ? "false" : "0"
                try target.execute("CREATE TABLE \(flag) (hold boolean NOT NULL); INSERT INTO \(flag) VALUES (\(yes))")
                defer { if backend == .postgres { try? target.execute("DROP TABLE IF EXISTS \(flag)") } }

                // A query that fails is refused before anything is written.
                let broken = try target.apply(["--input", input, "--pause-when", "SELECT hold FROM no_such_table"])
                #expect(broken.status == 64, streams(broken))
                #expect(broken.standardError.contains("the pause-when query"), streams(broken))
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 0") == 0)

                let runID = Self.newRunID()
                let run = try BackgroundApply(
                    target,
                    [
                        "--input", input, "--chunk-size", "1000", "--run-id", runID, "--pause-when",
                        "SELECT hold FROM \(flag)",
                        "--check-interval", "0.2", "--progress", "json",
                    ]
                )
                try run.wait("the run shows it is paused") {
                    run.progressLines.contains { ($0["state"] as? String) == "paused" }
                }
                usleep(1_500_000)
                // No chunk starts before the query has first answered: it said hold from the start.
                #expect(try Journal.chunks(target, runID) == 0)
                let pausedLine = try #require(run.progressLines.last { ($0["state"] as? String) == "paused" })
                #expect((pausedLine["pauses"] as? [String]) == ["health check: the pause-when query returned true"])
                try target.execute("UPDATE \(flag) SET hold = \(no)")
                let status = run.finish()
                #expect(status == 0, "\(run.standardError)")
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)
                let paused = run.standardOutput.split(separator: "\n").first { $0.hasPrefix("paused: ") } ?? ""
                let seconds = Double(paused.dropFirst("paused: ".count).prefix { $0 != " " }) ?? 0
                #expect(seconds >= 1.5 && paused.hasSuffix(" s for health check"), "\(run.standardOutput)")
                // Every line on standard error is JSON: the first names the run, the last says how it ended.
                let lines = run.standardError.split(separator: "\n")
                #expect(lines.count == run.progressLines.count, "\(run.standardError)")
                let first = try #require(run.progressLines.first)
                #expect(first["runID"] as? String == runID && first["state"] as? String == "starting", "\(first)")
                let last = try #require(run.progressLines.last)
                #expect(last["rowsTotal"] as? Int == Self.rows && last["state"] as? String == "finished", "\(last)")
                #expect(last["rowsCommitted"] as? Int == Self.rows && last["runID"] as? String == runID, "\(last)")
            }
        }
    }
}

extension TimedRuns.LiveRunTests {
    @Test(
        "a pause holds a chunk that was waiting for its turn under the rate limit",
        arguments: ApplyBackend.enabled
    )
    func pauseDuringTheRateLimitWait(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            try ApplyHardeningTests.fill(target, 8_000)
            let input = try target.write("all.csv", ApplyHardeningTests.csv(1...8_000))
            let runID = Self.newRunID()
            // 1,000 rows a second and chunks of 2,000: each chunk waits 2 seconds for its turn.
            let run = try BackgroundApply(
                target,
                [
                    "--input", input, "--chunk-size", "2000", "--workers", "1", "--max-rows-per-second", "1000",
                    "--run-id", runID,
                ]
            )
            try run.wait("the first chunk committed") { try Journal.chunks(target, runID) >= 1 }
            let paused = try Executable.run(["runs", "pause", runID, "--database", target.database])
            #expect(paused.status == 0, streams(paused))
            let atPause = try Journal.chunks(target, runID)
            usleep(3_000_000)  // the next chunk's turn came meanwhile
            #expect(try Journal.chunks(target, runID) == atPause, "a chunk waiting for its turn started while paused")
            _ = try Executable.run(["runs", "set", runID, "--max-rows-per-second", "0", "--database", target.database])
            _ = try Executable.run(["runs", "continue", runID, "--database", target.database])
            #expect(run.finish() == 0, "\(run.standardError)")
            #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)
        }
    }

    @Test("a pause-when query that hangs pauses the run within a second, and the heartbeat goes on")
    func hangingPauseQuery() throws {
        try ApplyTarget.with(.postgres, columns: Self.columns) { target in
            let input = try Self.prepare(target)
            let flag = target.table + "_slow"
            try target.execute("CREATE TABLE \(flag) (slow boolean NOT NULL); INSERT INTO \(flag) VALUES (false)")
            defer { try? target.execute("DROP TABLE IF EXISTS \(flag)") }
            let runID = Self.newRunID()
            let run = try BackgroundApply(
                target,
                [
                    "--input", input, "--chunk-size", "1000", "--max-rows-per-second", "10000", "--run-id", runID,
                    "--check-interval", "0.2", "--progress", "json", "--pause-when",
                    "SELECT CASE WHEN slow THEN pg_sleep(5)::text = '' ELSE false END FROM \(flag)",
                ]
            )
            try run.wait("two chunks committed") { try Journal.chunks(target, runID) >= 2 }
            try target.execute("UPDATE \(flag) SET slow = true")
            try run.wait("the run to pause for the silent check") {
                run.progressLines.contains { line in
                    ((line["pauses"] as? [String]) ?? []).contains { pause in
                        pause == "health check: the pause-when query has not answered within 1.0 s"
                    }
                }
            }
            let atPause = try Journal.chunks(target, runID)
            usleep(2_500_000)
            #expect(try Journal.chunks(target, runID) - atPause <= 2, "chunks went on while the check was silent")
            // The heartbeat goes on while the check hangs: the run is paused, not dead.
            let listed = try Executable.run(["runs", "--database", target.database])
            let line = listed.standardOutput.split(separator: "\n").first { $0.hasPrefix("\(runID) |") } ?? ""
            #expect(line.contains(" | paused: health check: the pause-when query has not answered"), "\(line)")
            try target.execute("UPDATE \(flag) SET slow = false")
            #expect(run.finish() == 0, "\(run.standardError)")
            #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)
        }
    }

    @Test("runs pause by a role that may not UPDATE the runs table: exit 77 with the GRANT")
    func steeringNeedsUpdate() throws {
        try ApplyTarget.with(.postgres, columns: Self.columns, rows: ApplyHardeningTests.seed(2)) { target in
            let schema = "bu_steer_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
            try target.execute("CREATE SCHEMA \(schema)")
            defer { try? target.execute("DROP SCHEMA \(schema) CASCADE") }
            let input = try target.write("c.csv", ApplyHardeningTests.csv(1...2))
            let applied = try target.apply(["--input", input, "--journal-schema", schema, "--run-id", "steer"])
            #expect(applied.status == 0, streams(applied))
            try TestRole.with(grants: [
                "GRANT USAGE ON SCHEMA \(schema) TO {role}",
                "GRANT SELECT ON \(schema).bulk_update_runs, \(schema).bulk_update_journal TO {role}",
            ]) { role in
                let listed = try Executable.run(["runs", "--database", role.url, "--journal-schema", schema])
                #expect(listed.status == 0, streams(listed))
                let paused = try Executable.run([
                    "runs", "pause", "steer", "--database", role.url, "--journal-schema", schema,
                ])
                #expect(paused.status == 77, streams(paused))
                #expect(paused.standardError.contains("GRANT SELECT, UPDATE ON"), streams(paused))
                // The grant names the role that lacks it.
                #expect(paused.standardError.contains(" TO \"\(role.name)\""), streams(paused))
            }
        }
    }

    /// The journal's tables as the first version made them.
    static let oldJournal = [
        "CREATE TABLE {s}bulk_update_runs (run_id text PRIMARY KEY, target text NOT NULL, fingerprint text NOT NULL,"
            + " started_at text NOT NULL, finished_at text, rows_committed bigint NOT NULL DEFAULT 0)",
        "CREATE TABLE {s}bulk_update_journal (run_id text NOT NULL, worker bigint NOT NULL, chunk bigint NOT NULL,"
            + " first_key text NOT NULL, last_key text NOT NULL, rows bigint NOT NULL, fingerprint text NOT NULL,"
            + " committed_at text NOT NULL, PRIMARY KEY (run_id, worker, chunk))",
    ]

    @Test(
        "journal tables of an earlier version get the new columns from their owner; another role is told the statements",
        arguments: ApplyBackend.enabled
    )
    func olderJournalTables(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns, rows: ApplyHardeningTests.seed(4)) { target in
            let input = try target.write("c.csv", ApplyHardeningTests.csv(1...4))
            var schemaArguments: [String] = []
            switch backend {
            case .sqlite:
                for statement in Self.oldJournal {
                    try target.execute(statement.replacingOccurrences(of: "{s}", with: ""))
                }
            case .postgres:
                let schema =
                    "bu_old_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
                try target.execute("CREATE SCHEMA \(schema)")
                for statement in Self.oldJournal {
                    try target.execute(statement.replacingOccurrences(of: "{s}", with: schema + "."))
                }
                schemaArguments = ["--journal-schema", schema]
                defer { try? target.execute("DROP SCHEMA \(schema) CASCADE") }
                // A role that may use the tables but does not own them cannot add the columns: it is told how.
                try TestRole.with(grants: [
                    "GRANT USAGE ON SCHEMA \(schema) TO {role}",
                    "GRANT SELECT, INSERT, UPDATE ON \(schema).bulk_update_runs, \(schema).bulk_update_journal TO {role}",
                    "GRANT SELECT, UPDATE ON \(target.table) TO {role}",
                ]) { role in
                    // The undo table is new too: the role may not create it.
                    let withUndo = try Executable.run(
                        ["apply", "--database", role.url, "--table", target.table, "--input", input] + schemaArguments
                    )
                    #expect(withUndo.status == 77, streams(withUndo))
                    #expect(
                        withUndo.standardError.contains("\"\(schema)\".\"bulk_update_undo_chunks\" does not exist yet"),
                        streams(withUndo)
                    )
                    #expect(withUndo.standardError.contains("(--no-undo)"), streams(withUndo))
                    let refused = try Executable.run(
                        ["apply", "--database", role.url, "--table", target.table, "--input", input, "--no-undo"]
                            + schemaArguments
                    )
                    #expect(refused.status == 77, streams(refused))
                    #expect(
                        refused.standardError.contains(
                            "ALTER TABLE \"\(schema)\".\"bulk_update_runs\" ADD COLUMN \"state\" text;"
                        ),
                        streams(refused)
                    )
                    #expect(
                        refused.standardError.contains("ADD COLUMN \"input_rows\" bigint;"),
                        streams(refused)
                    )
                    #expect(try target.contents().map { $0[1] } == ["user1", "user2", "user3", "user4"])
                }
                let runID = Self.newRunID()
                let applied = try target.apply(["--input", input, "--run-id", runID] + schemaArguments)
                #expect(applied.status == 0, streams(applied))
                #expect(
                    try PSQL.count(
                        target.database,
                        "SELECT count(*) FROM \(schema).bulk_update_runs WHERE run_id = '\(runID)' AND state = 'finished'"
                    ) == 1
                )
                #expect(try target.contents().map { $0[1] } == ["USER1", "USER2", "USER3", "USER4"])
                return
            }
            let runID = Self.newRunID()
            let applied = try target.apply(["--input", input, "--run-id", runID])
            #expect(applied.status == 0, streams(applied))
            #expect(try Journal.state(target, runID) == "finished")
            let columns = try PythonSQLite.query(
                target.database,
                "SELECT name FROM pragma_table_info('bulk_update_journal')"
            )
            #expect(columns.contains(["input_rows"]), "\(columns)")
            #expect(try target.contents().map { $0[1] } == ["USER1", "USER2", "USER3", "USER4"])
        }
    }
}

// MARK: - Helpers

/// An `apply` running in the background, its output in files.
final class BackgroundApply {
    let process = Process()
    let errors: String
    let output: String

    /// Starts `bulk-update apply --database … --table … arguments`, or, with `runs`, `bulk-update runs arguments
    /// --database …`.
    init(_ target: ApplyTarget, _ arguments: [String], runs: Bool = false) throws {
        self.errors = target.path("stderr-\(UUID().uuidString.prefix(6)).txt")
        self.output = target.path("stdout-\(UUID().uuidString.prefix(6)).txt")
        for path in [self.errors, self.output] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        self.process.executableURL = Executable.url
        self.process.arguments =
            runs
            ? ["runs"] + arguments + ["--database", target.database]
            : ["apply", "--database", target.database, "--table", target.table] + arguments
        self.process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
            .merging(["DATABASE_URL": ""]) { $1 }
        self.process.standardInput = FileHandle.nullDevice
        self.process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: self.output))
        self.process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: self.errors))
        try self.process.run()
    }

    deinit {
        if self.process.isRunning { self.process.terminate() }
    }

    var standardError: String { (try? String(contentsOfFile: self.errors, encoding: .utf8)) ?? "" }
    var standardOutput: String { (try? String(contentsOfFile: self.output, encoding: .utf8)) ?? "" }

    /// The lines of `--progress json` so far.
    var progressLines: [[String: Any]] {
        self.standardError.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func signal(_ number: Int32) { kill(self.process.processIdentifier, number) }

    /// Waits for the process to end; its exit status (by a signal: 128 + the signal).
    func finish() -> Int32 {
        self.process.waitUntilExit()
        return self.process.terminationReason == .exit
            ? self.process.terminationStatus : 128 + self.process.terminationStatus
    }

    /// Polls `condition` every 50 ms for up to a minute; fails naming `what` and showing standard error.
    func wait(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if try condition() { return }
            usleep(50_000)
        }
        throw ApplyTestEnvironment.Missing(description: "timed out waiting for \(what); stderr: \(self.standardError)")
    }
}

/// The journal of a run, read back from the target's database.
enum Journal {
    static func chunks(_ target: ApplyTarget, _ runID: String) throws -> Int {
        try Self.count(target, "SELECT count(*) FROM bulk_update_journal WHERE run_id = '\(runID)'")
    }

    /// Expects a run that has just paused to stay paused: in the next 1.5 s at most the chunks in flight (one per
    /// worker) commit, and in the `seconds` after that none.
    static func expectHeld(_ target: ApplyTarget, _ runID: String, while what: String, seconds: Double = 1) throws {
        let atPause = try Self.chunks(target, runID)
        usleep(1_500_000)
        let settled = try Self.chunks(target, runID)
        #expect(settled - atPause <= 2, "only the chunks in flight (one per worker) may commit")
        usleep(useconds_t(seconds * 1_000_000))
        #expect(try Self.chunks(target, runID) == settled, "a chunk started while \(what)")
    }

    static func rows(_ target: ApplyTarget, _ runID: String) throws -> Int {
        try Self.count(target, "SELECT coalesce(sum(rows), 0) FROM bulk_update_journal WHERE run_id = '\(runID)'")
    }

    static func state(_ target: ApplyTarget, _ runID: String) throws -> String? {
        let sql = "SELECT state FROM bulk_update_runs WHERE run_id = '\(runID)'"
        switch target.backend {
        case .sqlite: return try PythonSQLite.query(target.database, sql).first?.first ?? nil
        case .postgres:
            let text = try Tool.check(["psql", target.database, "-X", "-q", "-At", "-c", sql])
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// A count, 0 while the journal's tables do not exist yet.
    private static func count(_ target: ApplyTarget, _ sql: String) throws -> Int {
        switch target.backend {
        case .sqlite:
            let exists = try PythonSQLite.query(
                target.database,
                "SELECT count(*) FROM sqlite_schema WHERE name = 'bulk_update_journal'"
            )
            guard exists.first?.first == "1" else { return 0 }
            return Int(try PythonSQLite.query(target.database, sql)[0][0] ?? "") ?? -1
        case .postgres:
            guard
                try PSQL.count(
                    target.database,
                    "SELECT count(*) FROM pg_tables WHERE tablename = 'bulk_update_journal'"
                ) > 0
            else { return 0 }
            return try PSQL.count(target.database, sql)
        }
    }
}

extension PSQL {
    /// The first column of the first row of `sql`, as an integer.
    static func count(_ url: String, _ sql: String) throws -> Int {
        let text = try Tool.check(["psql", url, "-X", "-q", "-At", "-c", sql])
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}

/// Another session holding a lock until released: on PostgreSQL a row lock (`FOR UPDATE` on the row with `id` =
/// `row`), on SQLite the write lock; for at most 30 s.
final class LockHolder {
    let process = Process()

    init(_ target: ApplyTarget, row: Int) throws {
        let name = "bu_holder_" + UUID().uuidString.prefix(8).lowercased()
        self.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        switch target.backend {
        case .postgres:
            self.process.arguments = [
                "psql", target.database, "-X", "-q", "-c", "BEGIN", "-c",
                "SELECT 1 FROM \(target.table) WHERE id = \(row) FOR UPDATE", "-c", "SELECT pg_sleep(30)",
            ]
            self.process.environment = ProcessInfo.processInfo.environment.merging(["PGAPPNAME": name]) { $1 }
        case .sqlite:
            self.process.arguments = [
                "python3", "-c",
                "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                    + "c.execute('BEGIN IMMEDIATE')\nopen(sys.argv[2], 'w').close()\ntime.sleep(30)",
                target.database, target.path(name),
            ]
        }
        self.process.standardOutput = FileHandle.nullDevice
        try self.process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            switch target.backend {
            case .postgres:
                let sql =
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = '\(name)'"
                    + " AND wait_event = 'PgSleep'"
                if try PSQL.count(target.database, sql) == 1 { return }
            case .sqlite:
                if FileManager.default.fileExists(atPath: target.path(name)) { return }
            }
            usleep(50_000)
        }
        self.release()
        throw ApplyTestEnvironment.Missing(description: "the lock holder did not take its lock")
    }

    /// Ends the holder: its session ends and the lock goes with it.
    func release() {
        if self.process.isRunning { self.process.terminate() }
        self.process.waitUntilExit()
    }

    deinit { self.release() }
}
