import Foundation
import Testing

/// What a careful, hostile new user tries: finding and resuming a quiet run, a report path that cannot be written,
/// inputs that can only be read once, SQLite files that do not exist or are locked, and guard rails for scripts.
@Suite("apply: hardening", .timeLimit(.minutes(3)))
struct ApplyHardeningTests {
    static let columns = "id integer primary key, username varchar(150) not null, email text"
    static func seed(_ count: Int) -> String {
        (1...count).map { "(\($0), 'user\($0)', NULL)" }.joined(separator: ", ")
    }
    static func csv(_ ids: ClosedRange<Int>) -> String {
        "id,username,email\n" + ids.map { "\($0),USER\($0),\\N\n" }.joined()
    }

    // MARK: runs

    @Test(
        "runs lists unfinished and finished runs with their chunks and rows; --clean removes finished ones",
        arguments: ApplyBackend.enabled
    )
    func runsCommand(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns, rows: Self.seed(20)) { target in
            // A journal of this test's own, so other tests' runs do not show (PostgreSQL shares one database).
            let schema: String
            switch backend {
            case .postgres:
                schema = "bu_runs_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
                try target.execute("CREATE SCHEMA \(schema)")
            case .sqlite:
                schema = "main"
            }
            defer { if backend == .postgres { try? target.execute("DROP SCHEMA \(schema) CASCADE") } }
            // A quiet run that dies at a bad line after some chunks: its id is on standard error, and it is unfinished.
            var broken = Self.csv(1...10)
            broken += "oops,x,\\N\n"
            let died = try target.apply(
                ["--input", "-", "--quiet", "--chunk-size", "2", "--workers", "1", "--journal-schema", schema],
                standardInput: Data(broken.utf8)
            )
            #expect(died.status == 75, streams(died))
            let runID = try #require(
                died.standardError.split(separator: "\n").first { $0.hasPrefix("run ") }.map {
                    String($0.dropFirst(4))
                },
                streams(died)
            )
            let committed = ListedChunk.parse(died.standardError)
            #expect(!committed.isEmpty, streams(died))

            let finished = try target.apply([
                "--input", try target.write("all.csv", Self.csv(1...20)), "--run-id", "finished-run",
                "--chunk-size", "5", "--workers", "1", "--journal-schema", schema,
            ])
            #expect(finished.status == 0, streams(finished))

            let listed = try Executable.run(["runs", "--database", target.database, "--journal-schema", schema])
            #expect(listed.status == 0, streams(listed))
            let lines = listed.standardOutput.split(separator: "\n").map(String.init)
            let unfinished = try #require(lines.first { $0.hasPrefix(runID + " |") }, streams(listed))
            let cells = unfinished.components(separatedBy: " | ")
            #expect(cells[1] == target.qualifiedName && cells[3] == "unfinished", "\(cells)")
            #expect(cells[4] == String(committed.count) && cells[5] == String(committed.count * 2), "\(cells)")
            #expect(cells[6] == "failed", "\(cells)")
            let done = try #require(lines.first { $0.hasPrefix("finished-run |") }, streams(listed))
            let doneCells = done.components(separatedBy: " | ")
            #expect(doneCells[4...6] == ["4", "20", "finished"] && !done.contains("unfinished"), "\(done)")
            // The total is known for a file; a finished run has no rate, no ETA.
            #expect(doneCells[7...9] == ["20", "-", "-"], "\(done)")
            // No conflicts, nothing skipped by a condition; both runs kept undo.
            #expect(doneCells[11...13] == ["0", "0", "kept"], "\(done)")
            #expect(cells[11...13] == ["-", "-", "kept"], "\(cells)")

            let cleaned = try Executable.run([
                "runs", "--database", target.database, "--journal-schema", schema, "--clean",
            ])
            #expect(cleaned.status == 0, streams(cleaned))
            #expect(cleaned.standardOutput.contains(runID + " |"), streams(cleaned))
            #expect(!cleaned.standardOutput.contains("finished-run"), streams(cleaned))

            // The unfinished run resumes to the end.
            let resumed = try target.apply(
                ["--input", "-", "--resume", runID, "--chunk-size", "2", "--workers", "1", "--journal-schema", schema],
                standardInput: Data(Self.csv(1...10).utf8)
            )
            #expect(resumed.status == 0, streams(resumed))
            #expect(resumed.standardOutput.contains("\(committed.count) chunk(s) with"), streams(resumed))
        }
    }

    @Test(
        "resuming a file run with a different file (a truncated copy) is refused before anything is written",
        arguments: ApplyBackend.enabled
    )
    func resumeWithOtherInput(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns, rows: Self.seed(40)) { target in
            // Key 41 has no row yet: --fail-on-missing-keys stops the run after its first chunks.
            var csv = Self.csv(1...40)
            csv += "41,USER41,\\N\n"
            let full = try target.write("full.csv", csv)
            let arguments = [
                "--chunk-size", "10", "--workers", "1", "--fail-on-missing-keys", "--run-id", "r-\(target.table)",
            ]
            let died = try target.apply(["--input", full] + arguments)
            #expect(died.status == 75, streams(died))
            let committed = ListedChunk.parse(died.standardError).count
            #expect(committed == 4, streams(died))

            // The same first chunks, fewer rows: the journal's digest of the whole file tells them apart.
            try target.execute("INSERT INTO \(target.table) VALUES (41, 'user41', NULL)")
            let truncated = try target.write("truncated.csv", Self.csv(1...30))
            let resumeArguments = [
                "--chunk-size", "10", "--workers", "1", "--fail-on-missing-keys", "--resume", "r-\(target.table)",
            ]
            let refused = try target.apply(["--input", truncated] + resumeArguments)
            #expect(refused.status == 65, streams(refused))
            #expect(refused.standardError.contains("it held 41 rows, this one holds 30"), streams(refused))
            let resumed = try target.apply(["--input", full] + resumeArguments)
            #expect(resumed.status == 0, streams(resumed))
            #expect(try target.contents().map { $0[1] } == (1...41).map { "USER\($0)" })
        }
    }

    @Test("a URL that does not parse is echoed without its password")
    func passwordNotEchoed() throws {
        for url in ["postgress://app:S3CRET@127.0.0.1/db", "mysql://app:S3CRET@h/db", "postgres//app:S3CRET@h/db"] {
            let result = try Executable.run(
                ["apply", "--database", url, "--table", "t", "--input", "-"],
                standardInput: Data()
            )
            #expect(result.status == 64, streams(result))
            #expect(!result.standardError.contains("S3CRET") && result.standardError.contains("***"), streams(result))
        }
    }

    @Test("bad timeouts, a directory as input, an identity column: the documented exit codes, nothing written")
    func moreExitCodes() throws {
        try ApplyTarget.with(
            .postgres,
            columns: "id integer primary key, n integer generated always as identity, v text",
            rows: "(1, DEFAULT, 'a')"
        ) { target in
            let input = try target.write("c.csv", "id,v\n1,b\n")
            for value in ["nan", "inf", "1e300", "-1"] {
                let result = try target.apply(["--input", input, "--statement-timeout=\(value)"])
                #expect(result.status == 64, streams(result))
                #expect(
                    result.standardError.contains("--statement-timeout must be a number of seconds"),
                    streams(result)
                )
            }
            let directory = try target.apply(["--input", target.directory.path, "--format", "csv"])
            #expect(directory.status == 66, streams(directory))
            let identity = try target.apply(["--input", try target.write("n.csv", "id,n\n1,7\n")])
            #expect(identity.status == 65, streams(identity))
            #expect(
                identity.standardError.contains("column \"n\" of public.\(target.table) is generated"),
                streams(identity)
            )
            #expect(try target.contents() == [["1", "1", "a"]])
        }
    }

    /// Fills the target with `count` rows `(id, 'user<id>', NULL)` in the database itself.
    static func fill(_ target: ApplyTarget, _ count: Int) throws {
        switch target.backend {
        case .sqlite:
            try target.execute(
                "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < \(count))"
                    + " INSERT INTO \(target.table) SELECT i, 'user' || i, NULL FROM g"
            )
        case .postgres:
            try target.execute(
                "INSERT INTO \(target.table) SELECT g, 'user' || g, NULL FROM generate_series(1, \(count)) g"
            )
        }
    }

    /// How many rows do not read `USER<id>` when `changed(id)` holds, or `user<id>` (as `fill` wrote) when not;
    /// `changed` is SQL over `id`.
    static func wrongRows(_ target: ApplyTarget, changed: String) throws -> Int {
        let sql =
            "SELECT count(*) FROM \(target.table)"
            + " WHERE username <> CASE WHEN \(changed) THEN 'USER' ELSE 'user' END || id"
        switch target.backend {
        case .sqlite:
            return Int(try PythonSQLite.query(target.database, sql)[0][0] ?? "") ?? -1
        case .postgres:
            let text = try Tool.check(["psql", target.database, "-X", "-q", "-At", "-c", sql])
            return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
    }

    @Test("a table far bigger than the input: only the input's rows change", arguments: ApplyBackend.enabled)
    func bigTableSmallInput(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            try Self.fill(target, 300_000)
            let ids = Array(stride(from: 1_500, through: 300_000, by: 1_500))  // 200 keys over the whole table
            let input = try target.write(
                "few.csv",
                "id,username,email\n" + ids.map { "\($0),USER\($0),\\N\n" }.joined()
            )
            for extra in [["--no-journal"], ["--atomic"]] {
                let result = try target.apply(["--input", input, "--quiet", "--skip-unchanged"] + extra)
                #expect(result.status == 0, streams(result))
                let expected =
                    extra == ["--atomic"] ? "matched 200, changed 0, unchanged 200" : "matched 200, changed 200"
                #expect(result.standardOutput.contains(expected), streams(result))
            }
            #expect(try Self.wrongRows(target, changed: "id % 1500 = 0") == 0)
        }
    }

    @Test(
        "Ctrl-C halfway: the run stops cleanly with exit 75 and the resume command, which finishes exactly",
        arguments: ApplyBackend.enabled
    )
    func interruptAndResume(_ backend: ApplyBackend) throws {
        let count = backend == .postgres ? 200_000 : 100_000
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            try Self.fill(target, count)
            var csv = "id,username,email\n"
            csv.reserveCapacity(count * 24)
            for id in 1...count { csv += "\(id),USER\(id),\\N\n" }
            let input = try target.write("all.csv", csv)
            let process = try BackgroundApply(target, ["--input", input, "--chunk-size", "2000", "--quiet"])
            // Wait until the run is under way (its id is printed), then interrupt it as Ctrl-C does.
            var runID: String?
            try process.wait("the run id on standard error") {
                runID = process.standardError.split(separator: "\n").first { $0.hasPrefix("run ") }
                    .map { String($0.dropFirst(4)) }
                return runID != nil || !process.process.isRunning
            }
            usleep(300_000)
            process.signal(SIGINT)
            let status = process.finish()
            let id = try #require(runID, "no run id on standard error")
            // The run takes seconds; interrupted a third of a second in, it stops between chunks, as documented.
            let text = process.standardError
            #expect(status == 75, "\(text)")
            #expect(text.contains("the run was stopped by SIGINT") && text.contains("resume with: --resume \(id)"))
            #expect(try Self.wrongRows(target, changed: "1 = 0") > 0, "the run finished before the interrupt")
            let resumed = try target.apply(["--input", input, "--chunk-size", "2000", "--resume", id, "--quiet"])
            #expect(resumed.status == 0, streams(resumed))
            #expect(resumed.standardOutput.contains("resumed, "), streams(resumed))
            #expect(try Self.wrongRows(target, changed: "1 = 1") == 0)
        }
    }

    // MARK: --report

    @Test("an unwritable --report path: exit 73 before anything else, nothing written", arguments: ApplyBackend.enabled)
    func unwritableReport(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns, rows: Self.seed(3)) { target in
            let input = try target.write("changes.csv", Self.csv(1...3))
            for path in [target.directory.path, target.path("missing-directory/report.json")] {
                let result = try target.apply(["--input", input, "--report", path])
                #expect(result.status == 73, streams(result))
                #expect(result.standardError.contains("cannot write the report to '\(path)'"), streams(result))
                #expect(result.standardOutput.isEmpty, streams(result))
            }
            // Checked before the database: a database that does not exist does not come first.
            let first = try Executable.run([
                "apply", "--database", target.path("nope.db"), "--table", "t", "--input", input, "--report",
                target.directory.path,
            ])
            #expect(first.status == 73, streams(first))
            #expect(try target.contents() == (1...3).map { ["\($0)", "user\($0)", nil] })
        }
    }

    @Test("a report that cannot be written after a successful run (a full disk) exits 73")
    func reportOnFullDisk() throws {
        try ApplyTarget.with(.sqlite, columns: Self.columns, rows: Self.seed(3)) { target in
            let result = try target.apply([
                "--input", try target.write("c.csv", Self.csv(1...3)), "--report", "/dev/full",
            ])
            #expect(result.status == 73, streams(result))
            #expect(result.standardError.contains("could not write the report"), streams(result))
            #expect(result.standardOutput.contains("rows read 3, matched 3, changed 3"), streams(result))
        }
    }

    @Test("--report is written for every outcome, with the exit code: invalid input, a failed connection, a dry run")
    func reportOnEveryOutcome() throws {
        try ApplyTarget.with(.sqlite, columns: Self.columns, rows: Self.seed(3)) { target in
            let report = target.path("report.json")
            let bad = try target.apply([
                "--input", try target.write("bad.csv", "id,username,email\nx,y,z\n"), "--report", report,
            ])
            #expect(bad.status == 65, streams(bad))
            var written = try readReport(report)
            #expect(written["exitCode"] as? Int == 65)
            #expect((written["error"] as? String)?.contains("invalid line") == true, "\(written)")

            let dry = try target.apply([
                "--input", try target.write("good.csv", Self.csv(1...3)), "--dry-run", "--report", report,
            ])
            #expect(dry.status == 0, streams(dry))
            written = try readReport(report)
            #expect(written["dryRun"] as? Bool == true && written["exitCode"] as? Int == 0, "\(written)")
            #expect(written["rowsRead"] as? Int == 3 && written["rowsMatched"] as? Int == 3, "\(written)")
        }
        let unreachable = "postgres://nobody@127.0.0.1:\(unusedPort())/x?sslmode=disable"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("c.csv").path
        try Self.csv(1...3).write(toFile: input, atomically: true, encoding: .utf8)
        let report = directory.appendingPathComponent("report.json").path
        let failed = try Executable.run([
            "apply", "--database", unreachable, "--table", "t", "--input", input, "--report", report,
        ])
        #expect(failed.status == 69, streams(failed))
        let written = try readReport(report)
        #expect(written["exitCode"] as? Int == 69)
        #expect((written["error"] as? String)?.contains("could not connect") == true, "\(written)")
    }

    // MARK: Inputs read once

    @Test("/dev/stdin and a named pipe are read once, like -", arguments: ApplyBackend.enabled)
    func pipes(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns, rows: Self.seed(30)) { target in
            let viaDevice = try target.apply(
                ["--input", "/dev/stdin", "--quiet"],  // no extension: CSV, as for `-`
                standardInput: Data(Self.csv(1...15).utf8)
            )
            #expect(viaDevice.status == 0, streams(viaDevice))
            #expect(viaDevice.standardOutput.contains("rows read 15, matched 15, changed 15"), streams(viaDevice))

            let fifo = target.path("changes.csv")
            #expect(mkfifo(fifo, 0o600) == 0)
            let text = Self.csv(16...30)
            let writer = Thread {
                // Opening a FIFO for writing waits for its reader.
                if let handle = FileHandle(forWritingAtPath: fifo) {
                    handle.write(Data(text.utf8))
                    try? handle.close()
                }
            }
            writer.start()
            let viaFIFO = try target.apply(["--input", fifo, "--quiet"])
            #expect(viaFIFO.status == 0, streams(viaFIFO))
            #expect(viaFIFO.standardOutput.contains("rows read 15, matched 15, changed 15"), streams(viaFIFO))
            #expect(try target.contents().map { $0[1] } == (1...30).map { "USER\($0)" })
        }
    }

    // MARK: SQLite

    @Test("SQLite: a path that does not exist is refused and no file is created")
    func sqliteMissingFile() throws {
        try ApplyTarget.with(.sqlite, columns: Self.columns, rows: Self.seed(1)) { target in
            let missing = target.path("typo.db")
            let input = try target.write("c.csv", Self.csv(1...1))
            let result = try Executable.run(["apply", "--database", missing, "--table", target.table, "--input", input])
            #expect(result.status == 64, streams(result))
            #expect(result.standardError.contains("typo.db does not exist"), streams(result))
            #expect(!FileManager.default.fileExists(atPath: missing))
            let runs = try Executable.run(["runs", "--database", missing])
            #expect(runs.status != 0, streams(runs))
            #expect(!FileManager.default.fileExists(atPath: missing))
        }
    }

    @Test(
        "SQLite: a table named like the journal that is not one is left alone, unaltered, and named (exit 64)",
        arguments: ["bulk_update_runs", "bulk_update_journal", "bulk_update_undo_chunks"]
    )
    func foreignJournalTable(_ name: String) throws {
        try ApplyTarget.with(.sqlite, columns: Self.columns) { target in
            try target.execute(
                "INSERT INTO \(target.table) VALUES (1, 'alice', NULL); CREATE TABLE \(name) (x text);"
                    + " INSERT INTO \(name) VALUES ('mine')"
            )
            let before = try target.contents()
            let refused = try target.apply(["--input", try target.write("c.csv", "id,username,email\n1,ALICE,\\N\n")])
            #expect(refused.status == 64, streams(refused))
            #expect(
                refused.standardError.contains("\"main\".\"\(name)\" exists but is not a bulk-update journal table"),
                streams(refused)
            )
            #expect(refused.standardError.contains("--no-journal"), streams(refused))
            #expect(try target.contents() == before)
            let columns = try PythonSQLite.query(target.database, "SELECT name FROM pragma_table_info('\(name)')")
            #expect(columns == [["x"]], "the table was altered: \(columns)")
            #expect(try PythonSQLite.query(target.database, "SELECT * FROM \(name)") == [["mine"]])
        }
    }

    @Test("SQLite: the database's journal mode is left as it was")
    func sqliteJournalMode() throws {
        try ApplyTarget.with(.sqlite, columns: Self.columns, rows: Self.seed(5)) { target in
            #expect(try PythonSQLite.query(target.database, "PRAGMA journal_mode") == [["delete"]])
            let result = try target.apply(["--input", try target.write("c.csv", Self.csv(1...5))])
            #expect(result.status == 0, streams(result))
            #expect(try PythonSQLite.query(target.database, "PRAGMA journal_mode") == [["delete"]])
            #expect(try target.contents().map { $0[1] } == (1...5).map { "USER\($0)" })
        }
    }

    @Test("SQLite: --lock-timeout is the busy timeout (another process holds the write lock)")
    func sqliteLockTimeout() throws {
        try ApplyTarget.with(.sqlite, columns: Self.columns, rows: Self.seed(5)) { target in
            let input = try target.write("c.csv", Self.csv(1...5))
            // python3 takes the write lock for 3 seconds; it prints once it holds it.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            holder.arguments = [
                "python3", "-c",
                "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                    + "c.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(3)\nc.execute('ROLLBACK')",
                target.database,
            ]
            let output = Pipe()
            holder.standardOutput = output
            try holder.run()
            _ = output.fileHandleForReading.availableData  // "locked"
            let impatient = try target.apply(["--input", input, "--lock-timeout", "0.2", "--no-journal"])
            #expect(impatient.status == 69, streams(impatient))
            #expect(impatient.standardError.contains("locked by another connection"), streams(impatient))
            let patient = try target.apply(["--input", input, "--lock-timeout", "30", "--no-journal"])
            #expect(patient.status == 0, streams(patient))
            holder.waitUntilExit()
            #expect(try target.contents().map { $0[1] } == (1...5).map { "USER\($0)" })
        }
    }

    // MARK: Guard rails and exit codes

    @Test(
        "--fail-on-missing-keys: the chunk with the missing key rolls back; atomic applies nothing",
        arguments: ApplyBackend.enabled
    )
    func failOnMissingKeys(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns, rows: Self.seed(9)) { target in
            // Keys 1 to 4 fill the first chunk; the second holds key 99, which has no row.
            var csv = Self.csv(1...4)
            csv += "5,USER5,\\N\n99,USER99,\\N\n"
            let input = try target.write("c.csv", csv)
            let atomic = try target.apply(["--input", input, "--fail-on-missing-keys", "--atomic", "--chunk-size", "4"])
            #expect(atomic.status == 65, streams(atomic))
            #expect(
                atomic.standardError.contains("1 key of the input has no row in the table (for example 99)"),
                streams(atomic)
            )
            #expect(try target.contents().map { $0[1] } == (1...9).map { "user\($0)" })

            let perChunk = try target.apply([
                "--input", input, "--fail-on-missing-keys", "--chunk-size", "4", "--workers", "1",
            ])
            #expect(perChunk.status == 75, streams(perChunk))
            #expect(ListedChunk.parse(perChunk.standardError).map(\.rows) == [4], streams(perChunk))
            #expect(try target.contents().map { $0[1] } == (1...4).map { "USER\($0)" } + (5...9).map { "user\($0)" })

            // Without the flag the missing key is counted, and the run succeeds.
            let counted = try target.apply(["--input", input, "--no-journal"])
            #expect(counted.status == 0, streams(counted))
            #expect(counted.standardOutput.contains("keys not found 1"), streams(counted))
        }
    }

    @Test(
        "--expect-rows: a file is counted before writing; a stream stops before the first extra row",
        arguments: ApplyBackend.enabled
    )
    func expectRows(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns, rows: Self.seed(12)) { target in
            let file = try target.write("c.csv", Self.csv(1...10))
            let short = try target.apply(["--input", file, "--expect-rows", "11"])
            #expect(short.status == 65, streams(short))
            #expect(short.standardError.contains("the input holds 10 rows, not the 11 expected"), streams(short))
            #expect(try target.contents().map { $0[1] } == (1...12).map { "user\($0)" })

            let long = try target.apply(
                ["--input", "-", "--expect-rows", "10", "--chunk-size", "5", "--workers", "1"],
                standardInput: Data(Self.csv(1...12).utf8)
            )
            #expect(long.status == 75, streams(long))
            #expect(long.standardError.contains("more than 10 rows, not the 10 expected"), streams(long))
            let stored = try target.contents().map { $0[1] }
            #expect(stored[10...] == ["user11", "user12"], "\(stored)")

            let exact = try target.apply(["--input", file, "--expect-rows", "10", "--no-journal"])
            #expect(exact.status == 0, streams(exact))
        }
    }

    @Test("what the database rejects exits 65 when nothing was written, whatever the kind of rejection")
    func serverRejectionExitCode() throws {
        try ApplyTarget.with(
            .postgres,
            columns: "id integer primary key, v integer check (v > 0)",
            rows: "(1, 1), (2, 2)"
        ) { target in
            let input = try target.write("c.csv", "id,v\n1,5\n2,-1\n")
            let result = try target.apply(["--input", input, "--no-journal", "--workers", "1"])
            #expect(result.status == 65, streams(result))
            #expect(result.standardError.contains("violates check constraint"), streams(result))
            #expect(try target.contents() == [["1", "1"], ["2", "2"]])
        }
    }

    @Test("--statement-timeout 0 means no timeout, as in PostgreSQL", arguments: ApplyBackend.enabled)
    func noStatementTimeout(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns, rows: Self.seed(3)) { target in
            let input = try target.write("c.csv", Self.csv(1...3))
            let result = try target.apply(["--input", input, "--statement-timeout", "0", "--lock-timeout", "0"])
            #expect(result.status == 0, streams(result))
            #expect(try target.contents().map { $0[1] } == ["USER1", "USER2", "USER3"])
        }
    }
}
