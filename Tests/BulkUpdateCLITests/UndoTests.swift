import BulkUpdateTestSupport
import Foundation
import Testing

/// Undo: every journaled apply keeps what its rows held; `runs revert` and `runs export --undo` use it.
@Suite("apply undo, runs revert and runs export", .timeLimit(.minutes(3)))
struct UndoTests {
    static let columns = "id integer PRIMARY KEY, name text NOT NULL, email text, score integer, active boolean"

    /// `rows` rows of the same shape, made by the database (too many for one command line).
    static func seedMany(_ target: ApplyTarget, rows: Int) throws {
        let select =
            "SELECT i, 'name ' || i, 'u' || i || '@example.com', i, \(target.backend == .postgres ? "true" : "1")"
        try target.execute(
            target.backend == .postgres
                ? "INSERT INTO \(target.table) \(select) FROM generate_series(1, \(rows)) AS i"
                : "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < \(rows))"
                    + " INSERT INTO \(target.table) \(select) FROM s"
        )
    }

    /// 300 rows of every kind of value: NULLs, quotes, commas, line breaks.
    static func seed(_ target: ApplyTarget, rows: Int = 300) throws {
        let values = (1...rows).map { id -> String in
            let email = id % 7 == 0 ? "NULL" : "'u\(id)@example.com'"
            let name = id % 11 == 0 ? "'O''Brien, \(id)'" : "'name \(id)'"
            let active = target.backend == .postgres ? (id % 2 == 0 ? "true" : "false") : (id % 2 == 0 ? "1" : "0")
            return "(\(id), \(name), \(email), \(id % 5 == 0 ? "NULL" : String(id)), \(active))"
        }
        try target.execute("INSERT INTO \(target.table) VALUES \(values.joined(separator: ", "))")
    }

    /// Ids 1…250 get new names, emails (every third NULL) and scores; ids 901…905 have no row; id 10 twice.
    static var changes: String {
        var csv = "id,name,email,score\n"
        for id in 1...250 {
            csv +=
                "\(id),\"new \(id), \"\"quoted\"\"\n line\",\(id % 3 == 0 ? "\\N" : "n\(id)@example.org"),\(id * 2)\n"
            if id == 10 { csv += "10,ten again,\\N,0\n" }
        }
        for id in 901...905 { csv += "\(id),ghost,\\N,0\n" }
        return csv
    }

    /// Seeds `target` (``seed(_:rows:)``) and applies ``changes`` as a new run with `arguments`: the table before the
    /// run, and the run's id.
    func seededRun(_ target: ApplyTarget, _ arguments: [String] = []) throws -> (before: [[String?]], runID: String) {
        try Self.seed(target)
        let before = try target.contents()
        let runID = "undo-\(UUID().uuidString.prefix(8))"
        let applied = try target.apply(
            ["--input", try target.write("fix.csv", Self.changes), "--run-id", runID] + arguments
        )
        #expect(applied.status == 0, streams(applied))
        return (before, runID)
    }

    /// Reverts run `runID` and expects the table to be `before` again, exactly.
    func expectRevertRestores(_ target: ApplyTarget, _ runID: String, to before: [[String?]]) throws {
        let reverted = try self.runs(target, ["revert", runID])
        #expect(reverted.status == 0, streams(reverted))
        #expect(try target.contents() == before, "the revert did not restore the table exactly")
    }

    func runs(_ target: ApplyTarget, _ arguments: [String]) throws -> Executable.Result {
        try Executable.run(["runs"] + arguments + ["--database", target.database])
    }

    static func undoRows(_ target: ApplyTarget, _ runID: String) throws -> Int {
        // One undo row per chunk (or part of one), with its number of changed rows.
        let sql = "SELECT coalesce(sum(rows), 0) FROM bulk_update_undo_chunks WHERE run_id = '\(runID)' AND worker >= 0"
        switch target.backend {
        case .postgres: return try PSQL.count(target.database, sql)
        case .sqlite: return Int((try PythonSQLite.query(target.database, sql).first?.first ?? nil) ?? "") ?? -1
        }
    }

    @Test(
        "revert puts the table back exactly, refuses to run twice, and can itself be reverted",
        arguments: ApplyBackend.enabled
    )
    func revertRestoresTheTable(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            try Self.seed(target)
            let before = try target.contents()
            let input = try target.write("fix.csv", Self.changes)
            let runID = "undo-\(UUID().uuidString.prefix(8))"
            let applied = try target.apply([
                "--input", input, "--run-id", runID, "--chunk-size", "40", "--report", target.path("apply.json"),
            ])
            #expect(applied.status == 0, streams(applied))
            #expect(applied.standardOutput.contains("run \(runID), undo kept"), streams(applied))
            let report = try readReport(target.path("apply.json"))
            #expect(report["undoKept"] as? Bool == true)
            let after = try target.contents()
            #expect(after != before)
            // One undo row per key written: 250 (a key written again in a later chunk keeps its first old values).
            #expect(try Self.undoRows(target, runID) == 250)
            let again = report["duplicateKeysAcrossChunks"] as? Int ?? 0
            #expect(report["rowsChanged"] as? Int == 250 + again, "\(report)")

            let reverted = try self.runs(
                target,
                [
                    "revert", runID, "--chunk-size", "30", "--report", target.path("r.json"), "--log-level", "debug",
                    "--metrics-port", "0",
                ]
            )
            #expect(reverted.status == 0, streams(reverted))
            // The revert's log and metrics endpoint, as for apply.
            #expect(reverted.standardError.contains("bulk_update.run_id=revert-\(runID)"), streams(reverted))
            #expect(reverted.standardError.contains("bulk update finished"), streams(reverted))
            #expect(reverted.standardError.contains("metrics: http://127.0.0.1:"), streams(reverted))
            #expect(try target.contents() == before, "the revert did not restore the table exactly")
            let revertReport = try readReport(target.path("r.json"))
            #expect(revertReport["rowsChanged"] as? Int == 250 && revertReport["rowsConflicting"] as? Int == 0)
            #expect(revertReport["runID"] as? String == "revert-\(runID)")

            let twice = try self.runs(target, ["revert", runID])
            #expect(twice.status == 64, streams(twice))
            #expect(twice.standardError.contains("reverted already"), streams(twice))
            #expect(try target.contents() == before)

            // The revert kept undo of its own: reverting it applies the fix again.
            let redo = try self.runs(target, ["revert", "revert-\(runID)"])
            #expect(redo.status == 0, streams(redo))
            #expect(try target.contents() == after)
            // runs lists the three runs with their undo.
            let listed = try self.runs(target, [])
            #expect(listed.standardOutput.contains("revert-revert-\(runID)"), streams(listed))
        }
    }

    @Test(
        "PostgreSQL: revert puts back infinities, BC dates, floats, bytea, text, arrays, XML, JSON whatever the role sets"
    )
    func revertWhateverTheRoleOutputSettings() throws {
        let columns =
            "id integer PRIMARY KEY, d date, ts timestamptz, local timestamp, f double precision, r real, b bytea,"
            + " name text, tags text[], x xml, j jsonb"
        let rows = """
            (1, 'infinity', 'infinity', 'infinity', 0.1::float8 + 0.2::float8, 0.1, '\\x00ff61', 'café ü',
             '{a,NULL}', 'text only', '{"big": 1e400, "tiny": 1e-400}'),
            (2, '-infinity', '-infinity', '-infinity', 1e-310, 3.4028235e38, '\\x', 'naïve — “quoted”', '{NULL}',
             '<a>1</a><b/>', '[1e308, 2e308]'),
            (3, '0044-03-15 BC', '0044-03-15 10:00:00.123456+00 BC', '4714-11-24 00:00:00 BC', pi(), -0.5, '\\x5c30',
             'Ωmega', '{"NULL",b}', NULL, NULL),
            (4, '12345-06-07', '1850-01-01 00:00:00+00', '294276-12-31 23:59:59.999999', 123456789.12345679, 1e-40,
             '\\x0a0d09', 'plain', '{}', 'x', '"\\ud83d\\ude00"'),
            (5, '2026-12-02', '2026-12-02 07:13:16+00', '2026-12-02 07:13:16', 'NaN', 'Infinity', NULL, NULL, NULL,
             NULL, 'null')
            """
        try ApplyTarget.with(.postgres, columns: columns, rows: rows) { target in
            let before = try target.contents()
            let schema = "bu_undo_\(UUID().uuidString.prefix(8).lowercased())"
            // Settings a role may carry: dates as 15/03/0044, floats rounded to 15 digits, bytea escaped, a zone
            // whose offsets before 1892 have seconds, text in LATIN1, an array's NULL read as the text "NULL", XML
            // that must be a document.
            try TestRole.with(grants: [
                "GRANT SELECT, UPDATE ON \(target.table) TO {role}",
                "CREATE SCHEMA \(schema) AUTHORIZATION {role}",
                "ALTER ROLE {role} SET DateStyle = 'SQL, DMY'",
                "ALTER ROLE {role} SET extra_float_digits = 0",
                "ALTER ROLE {role} SET bytea_output = 'escape'",
                "ALTER ROLE {role} SET TimeZone = 'Europe/Amsterdam'",
                "ALTER ROLE {role} SET client_encoding = 'LATIN1'",
                "ALTER ROLE {role} SET array_nulls = off",
                "ALTER ROLE {role} SET xmloption = document",
            ]) { role in
                // The file itself writes values beyond the everyday forms too.
                let input = try target.write(
                    "fix.csv",
                    """
                    id,d,ts,local,f,r,b,name,tags,x,j
                    1,2000-01-01,2000-01-01 00:00:00Z,2000-01-01 00:00:00,1,1,\\x01,é1,"{c,d}",<r/>,{}
                    2,2000-01-02,2000-01-02T00:00:00+01:00,2000-01-02 00:00:00,2,2,\\x02,é2,{e},<r/>,{}
                    3,2000-01-03,2000-01-03 00:00:00Z,2000-01-03 00:00:00,3,3,\\x03,é3,{f},<r/>,{}
                    4,2000-01-04,2000-01-04 00:00:00Z,2000-01-04 00:00:00,4,4,\\x04,é4,{g},<r/>,{}
                    5,infinity,0001-01-01 00:00:00+00:00 BC,12345-01-01 00:00:00,-infinity,5,\\x05,é5,{h},<r/>,1e400

                    """
                )
                let runID = "settings-\(UUID().uuidString.prefix(8))"
                let journal = ["--database", role.url, "--journal-schema", schema]
                let applied = try Executable.run(
                    ["apply", "--table", "public.\(target.table)", "--input", input, "--run-id", runID] + journal
                )
                #expect(applied.status == 0, streams(applied))
                let after = try target.contents()
                let written = try PSQL.count(
                    target.database,
                    "SELECT count(*) FROM \(target.table) WHERE id = 5 AND d = 'infinity'"
                        + " AND ts = '0001-01-01 00:00:00+00 BC' AND local = '12345-01-01 00:00:00' AND f = '-infinity'"
                        + " AND name = 'é5'"
                )
                #expect(written == 1, "\(after)")

                let reverted = try Executable.run(["runs", "revert", runID] + journal)
                #expect(reverted.status == 0, streams(reverted))
                #expect(try target.contents() == before, "the revert did not restore the table exactly")
                // The revert's own undo holds the values the run wrote: reverting it writes them again.
                let redone = try Executable.run(["runs", "revert", "revert-\(runID)"] + journal)
                #expect(redone.status == 0, streams(redone))
                #expect(try target.contents() == after)
            }
        }
    }

    @Test("SQLite: revert puts back every value with the storage class it had, whatever the column's declared type")
    func revertKeepsSQLiteStorageClasses() throws {
        // SQLite lets any column hold a value of any class: integers in a DATETIME column, text in a BLOB one.
        let columns = "id INTEGER PRIMARY KEY, f REAL, a, b BLOB, dt DATETIME, u UUID, n INTEGER, flag BOOL"
        let rows = """
            (1, 0.1 + 0.2, 5, 'text in a blob', 1700000000, x'00112233445566778899aabbccddeeff', 'abc', 'yes'),
            (2, 1e-310, x'0aff', 7, '2026-12-02T07:13:16Z', 'A1B2C3D4-0000-0000-0000-000000000000', 1.5, 2),
            (3, 9e999, 2.5, NULL, '2026-12-02 07:13:16+02:00', NULL, 9223372036854775807, NULL),
            (4, -9e999, 'x', x'', 'yesterday', '', -1, 0)
            """
        try ApplyTarget.with(.sqlite, columns: columns, rows: rows) { target in
            let names = ["f", "a", "b", "dt", "u", "n", "flag"]
            // Each value's class and exact value (a real with every digit).
            let select =
                "SELECT "
                + names.map {
                    "typeof(\($0)), CASE typeof(\($0)) WHEN 'real' THEN printf('%!.17g', \($0)) ELSE quote(\($0)) END"
                }.joined(separator: ", ") + " FROM \(target.table) ORDER BY id"
            let before = try PythonSQLite.query(target.database, select)
            var csv = "id," + names.joined(separator: ",") + "\n"
            for id in 1...4 {
                csv +=
                    "\(id),\(id).5,new,\\x0\(id),2020-01-0\(id) 00:00:00,00000000-0000-0000-0000-00000000000\(id),\(id),true\n"
            }
            let runID = "classes-\(UUID().uuidString.prefix(8))"
            let applied = try target.apply(["--input", try target.write("fix.csv", csv), "--run-id", runID])
            #expect(applied.status == 0, streams(applied))
            let after = try PythonSQLite.query(target.database, select)
            #expect(after != before)

            let reverted = try self.runs(target, ["revert", runID])
            #expect(reverted.status == 0, streams(reverted))
            #expect(try PythonSQLite.query(target.database, select) == before, "the revert did not restore every class")
            // Reverting the revert writes the run's values again, as they were written.
            let redone = try self.runs(target, ["revert", "revert-\(runID)"])
            #expect(redone.status == 0, streams(redone))
            #expect(try PythonSQLite.query(target.database, select) == after)
            // The export writes each value's text: integers and reals as numbers, blobs as hex.
            let export = try self.runs(target, ["export", runID, "--undo", target.path("undo.csv")])
            #expect(export.status == 0, streams(export))
            let exported = try String(contentsOfFile: target.path("undo.csv"), encoding: .utf8)
            #expect(exported.hasPrefix("id,f,a,b,dt,u,n,flag\n1,0.30000000000000004,5,text in a blob,1700000000,"))
        }
    }

    @Test("SQLite: a run an earlier version began keeps text undo when resumed, and reverts exactly")
    func resumedRunKeepsItsUndoForm() throws {
        try ApplyTarget.with(.sqlite, columns: "id INTEGER PRIMARY KEY, n INTEGER, f REAL, a") { target in
            try target.execute(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100)"
                    + " INSERT INTO \(target.table) SELECT i, i, i + 0.5, i FROM s"
            )
            let before = try target.contents()
            var csv = "id,n,f,a\n"
            for id in 1...100 { csv += "\(id),\(id * 10),\(id).25,x\(id)\n" }
            let input = try target.write("fix.csv", csv)
            // The chunk holding id 60 fails; the chunks before it commit.
            try target.execute(
                "CREATE TRIGGER \(target.table)_block BEFORE UPDATE ON \(target.table) WHEN NEW.id = 60"
                    + " BEGIN SELECT RAISE(ABORT, 'blocked'); END"
            )
            let runID = "form-\(UUID().uuidString.prefix(8))"
            let failed = try target.apply(["--input", input, "--run-id", runID, "--chunk-size", "20"])
            #expect(failed.status != 0, streams(failed))
            // An export of the unfinished run says it holds only what the run changed so far.
            let early = try self.runs(target, ["export", runID, "--undo", target.path("early.csv")])
            #expect(early.status == 0, streams(early))
            #expect(early.standardError.contains("warning: run \(runID) has not finished (failed)"), streams(early))
            #expect(early.standardError.contains("wrote 40 rows"), streams(early))
            // What an earlier version left: a first undo row without the mark.
            try target.execute(
                "DROP TRIGGER \(target.table)_block; UPDATE bulk_update_undo_chunks SET key_values = '[]'"
                    + " WHERE run_id = '\(runID)' AND worker = -1"
            )
            let resumed = try target.apply(["--input", input, "--resume", runID, "--chunk-size", "20"])
            #expect(resumed.status == 0, streams(resumed))
            // The chunks the resume wrote (from the third on) kept text, as the version that began the run does.
            func numbers(_ chunks: String) throws -> String? {
                try PythonSQLite.query(
                    target.database,
                    "SELECT count(*) FROM bulk_update_undo_chunks AS u, json_tree(u.old_values) AS j"
                        + " WHERE u.run_id = '\(runID)' AND u.worker >= 0 AND \(chunks)"
                        + " AND j.type IN ('integer', 'real')"
                ).first?.first ?? nil
            }
            #expect(try numbers("u.chunk >= 2") == "0")
            #expect(try numbers("u.chunk < 2") == "80")  // ids 1 to 40, n and f: written before the mark was lost
            try self.expectRevertRestores(target, runID, to: before)
        }
    }

    @Test(
        "runs revert takes apply's live flags: --lock-timeout gives up, --pause-when holds, --progress json shows it",
        arguments: ApplyBackend.enabled
    )
    func revertLiveFlags(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            let (before, runID) = try self.seededRun(target)
            let after = try target.contents()
            let revertID = "revert-\(runID)"

            // A row locked by another session: with --lock-timeout 0.2 and no retries the revert gives up at once
            // (a lock it waits for would otherwise hold it for the holder's 30 s), having changed nothing.
            let holder = try LockHolder(target, row: 1)
            let started = ContinuousClock.now
            let impatient = try self.runs(
                target,
                ["revert", runID, "--lock-timeout", "0.2", "--retries", "0", "--workers", "1", "--chunk-size", "400"]
            )
            #expect(impatient.status != 0, streams(impatient))
            #expect(ContinuousClock.now - started < .seconds(20), streams(impatient))
            #expect(impatient.standardError.contains("lock"), streams(impatient))
            holder.release()
            #expect(try target.contents() == after)

            // The flag table says hold: the resumed revert pauses before its first chunk, and says so.
            let flag = target.table + "_hold"
            let (yes, no) = backend == .postgres ? ("true", "false") : ("1", "0")
            try target.execute("CREATE TABLE \(flag) (hold boolean NOT NULL); INSERT INTO \(flag) VALUES (\(yes))")
            defer { if backend == .postgres { try? target.execute("DROP TABLE IF EXISTS \(flag)") } }
            let revert = try BackgroundApply(
                target,
                [
                    "revert", runID, "--workers", "1", "--chunk-size", "400", "--pause-when",
                    "SELECT hold FROM \(flag)",
                    "--check-interval", "0.2", "--progress", "json",
                ],
                runs: true
            )
            try revert.wait("the revert shows it is paused") {
                revert.progressLines.contains { ($0["state"] as? String) == "paused" }
            }
            usleep(1_000_000)
            #expect(try target.contents() == after, "the revert wrote while its pause-when query said hold")
            try target.execute("UPDATE \(flag) SET hold = \(no)")
            #expect(revert.finish() == 0, "\(revert.standardError)")
            #expect(try target.contents() == before, "the revert did not restore the table exactly")
            let first = try #require(revert.progressLines.first)
            // On SQLite the held write lock stopped the first revert before it began (marking the run needs it).
            let state = backend == .postgres ? "resuming" : "starting"
            #expect(first["runID"] as? String == revertID && first["state"] as? String == state, "\(first)")
            let last = try #require(revert.progressLines.last)
            #expect(last["state"] as? String == "finished" && last["runID"] as? String == revertID, "\(last)")
        }
    }

    @Test("PostgreSQL: a composite-type column is written, and reverted exactly, keys of every strategy alike")
    func compositeColumn() throws {
        let type = "bu_pair_\(UUID().uuidString.prefix(8).lowercased())"
        try PSQL.execute(ApplyTestEnvironment.postgresURL!, "CREATE TYPE \(type) AS (a integer, b text)")
        defer { try? PSQL.execute(ApplyTestEnvironment.postgresURL!, "DROP TYPE IF EXISTS \(type)") }
        try ApplyTarget.with(
            .postgres,
            columns: "id integer PRIMARY KEY, pair \(type), pairs \(type)[]",
            rows: "(1, '(1,x)', '{\"(1,x)\"}'), (2, NULL, NULL), (3, '(3,\"with, comma\")', '{}')"
        ) { target in
            let before = try target.contents()
            let input = try target.write(
                "fix.csv",
                "id,pair,pairs\n1,\"(5,z)\",\"{\"\"(5,z)\"\",\"\"(6,w)\"\"}\"\n2,\"(,)\",{}\n3,\\N,\\N\n"
            )
            for strategy in ["unnest", "copy"] {
                let runID = "pair-\(strategy)-\(UUID().uuidString.prefix(6))"
                let applied = try target.apply(["--input", input, "--run-id", runID, "--strategy", strategy])
                #expect(applied.status == 0, streams(applied))
                let written = try PSQL.count(
                    target.database,
                    "SELECT count(*) FROM \(target.table) WHERE (id = 1 AND pair = '(5,z)'::\(type)"
                        + " AND pairs = '{\"(5,z)\",\"(6,w)\"}'::\(type)[]) OR (id = 2 AND pair::text = '(,)'"
                        + " AND pairs = '{}') OR (id = 3 AND pair::text IS NULL AND pairs IS NULL)"
                )
                #expect(written == 3, "\(strategy)")
                try self.expectRevertRestores(target, runID, to: before)
            }
        }
    }

    @Test(
        "PostgreSQL: a chunk's undo is compressed with LZ4 where the server has it, and reverts to the exact table",
        .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason)
    )
    func undoCompression() throws {
        try ApplyTarget.with(.postgres, columns: Self.columns) { target in
            try Self.seedMany(target, rows: 5_000)
            let before = try target.contents()
            var csv = "id,name,score\n"
            for id in 1...5_000 { csv += "\(id),changed \(id),\(id + 7)\n" }
            let runID = "undo-\(UUID().uuidString.prefix(8))"
            let applied = try target.apply(["--input", try target.write("all.csv", csv), "--run-id", runID])
            #expect(applied.status == 0, streams(applied))
            let lz4 = try PSQL.count(
                target.database,
                "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
            )
            // One undo row (5,000 rows in one chunk); its values are large enough to be compressed.
            let method = try Tool.check([
                "psql", target.database, "-X", "-q", "-At", "-c",
                "SELECT string_agg(DISTINCT pg_column_compression(old_values), ',') FROM bulk_update_undo_chunks"
                    + " WHERE run_id = '\(runID)'",
            ]).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(method == (lz4 == 1 ? "lz4" : "pglz"))
            #expect(try Self.undoRows(target, runID) == 5_000)
            try self.expectRevertRestores(target, runID, to: before)
        }
    }

    @Test(
        "runs export replaces FILE only once the whole export is written; a failure leaves it as it was (exit 73)",
        arguments: ApplyBackend.enabled
    )
    func exportKeepsAnExistingFile(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            let (_, runID) = try self.seededRun(target)
            let kept = try target.write("before.csv", "precious\n")
            let directory = URL(fileURLWithPath: kept).deletingLastPathComponent().path
            func leftovers() throws -> [String] {
                try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".partial-") }
            }

            // A run id with no undo: refused before the file is touched.
            let unknown = try self.runs(target, ["export", "no-such-run", "--undo", kept])
            #expect(unknown.status == 64, streams(unknown))
            #expect(try String(contentsOfFile: kept, encoding: .utf8) == "precious\n")

            // A file that cannot be written: exit 73, naming it.
            let missing = directory + "/no-such-directory/undo.csv"
            let unwritable = try self.runs(target, ["export", runID, "--undo", missing])
            #expect(unwritable.status == 73, streams(unwritable))
            #expect(unwritable.standardError.contains("cannot write '\(missing)'"), streams(unwritable))
            // A device is written as it is, never replaced: /dev/full refuses every write.
            var status = stat()
            if stat("/dev/full", &status) == 0 && (status.st_mode & S_IFMT) == S_IFCHR {
                let full = try self.runs(target, ["export", runID, "--undo", "/dev/full"])
                #expect(full.status == 73, streams(full))
                #expect(full.standardError.contains("cannot write '/dev/full': No space left on device"), streams(full))
                #expect(stat("/dev/full", &status) == 0 && (status.st_mode & S_IFMT) == S_IFCHR)
            }
            // A symbolic link stays one: the file it names gets the export.
            let real = try target.write("real.csv", "old\n")
            let link = directory + "/link.csv"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
            let linked = try self.runs(target, ["export", runID, "--undo", link])
            #expect(linked.status == 0, streams(linked))
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == real)
            #expect(try String(contentsOfFile: real, encoding: .utf8).hasPrefix("id,name,email,score\n"))

            // A successful export replaces the file whole, and leaves nothing beside it.
            let exported = try self.runs(target, ["export", runID, "--undo", kept])
            #expect(exported.status == 0, streams(exported))
            let lines = try String(contentsOfFile: kept, encoding: .utf8).split(separator: "\n")
            #expect(lines.first == "id,name,email,score" && lines.count == 251, "\(lines.prefix(3))")
            #expect(try leftovers().isEmpty)
        }
    }

    @Test(
        "rows changed by another session after the run are left alone, listed and counted; the rest are restored",
        arguments: ApplyBackend.enabled
    )
    func revertLeavesLaterChangesAlone(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            let (before, runID) = try self.seededRun(target, ["--chunk-size", "40"])
            // The application changes 10 of the rows the run wrote, and one it did not touch.
            let touched = [3, 17, 40, 41, 99, 100, 128, 200, 249, 250]
            try target.execute(
                "UPDATE \(target.table) SET score = -1 WHERE id IN (\(touched.map(String.init).joined(separator: ",")));"
                    + " UPDATE \(target.table) SET email = 'late@example.com' WHERE id = 290;"
                    + " DELETE FROM \(target.table) WHERE id = 120"
            )
            let later = try target.contents()
            let conflicts = target.path("conflicts.csv")
            let dry = try self.runs(target, ["revert", runID, "--dry-run"])
            #expect(dry.status == 3, streams(dry))
            #expect(try target.contents() == later, "a dry run wrote")

            let reverted = try self.runs(target, ["revert", runID, "--conflicts", conflicts])
            #expect(reverted.status == 3, streams(reverted))
            #expect(reverted.standardOutput.contains("conflicts 10:"), streams(reverted))
            #expect(reverted.standardError.contains("1 row deleted since the run was not restored"), streams(reverted))
            let lines = try String(contentsOfFile: conflicts, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines.first == "id,column,expected,actual")
            // One line per column whose value differs from what the run wrote: only score.
            let listed = lines.dropFirst().map { Int($0.prefix { $0 != "," }) ?? 0 }
            #expect(listed.sorted() == touched, "\(lines)")
            for line in lines.dropFirst() {
                let id = Int(line.prefix { $0 != "," })!
                #expect(line == "\(id),score,\(id * 2),-1", "\(line)")
            }
            let now = try target.contents()
            #expect(now.count == before.count - 1 && !now.contains { $0[0] == "120" })
            for (old, now) in zip(before.filter { $0[0] != "120" }, now) {
                let id = Int(old[0]!)!
                if touched.contains(id) || id > 250 {
                    // Changed since the run (left alone), or never changed by it (not in its undo).
                    #expect(now == later.first { $0[0] == old[0] }, "row \(id)")
                } else {
                    #expect(now == old, "row \(id) was not restored")
                }
            }
        }
    }

    @Test(
        "keys written again in chunks 10 and later are merged in chunk order, not in the text order of chunk numbers",
        arguments: ApplyBackend.enabled
    )
    func keysWrittenAgainAfterChunkNine(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            try Self.seed(target)
            let before = try target.contents()
            // One worker, chunks of 20: ids 1…200 in chunks 0…9, then ids 1…100 again in chunks 10…14.
            var csv = "id,name\n"
            for id in 1...200 { csv += "\(id),first \(id)\n" }
            for id in 1...100 { csv += "\(id),second \(id)\n" }
            let runID = "again-\(UUID().uuidString.prefix(8))"
            let applied = try target.apply([
                "--input", try target.write("fix.csv", csv), "--run-id", runID, "--chunk-size", "20", "--workers", "1",
            ])
            #expect(applied.status == 0, streams(applied))
            let exported = target.path("undo.csv")
            let export = try self.runs(target, ["export", runID, "--undo", exported])
            #expect(export.status == 0, streams(export))
            let lines = try String(contentsOfFile: exported, encoding: .utf8).split(separator: "\n").dropFirst()
            #expect(lines.count == 200)
            #expect(!lines.contains { $0.contains("first ") || $0.contains("second ") }, "\(lines)")
            try self.expectRevertRestores(target, runID, to: before)
        }
    }

    @Test(
        "a key written by several chunks is reverted to what it held before the first; a conflict on it counts once",
        arguments: ApplyBackend.enabled
    )
    func keysWrittenAgain(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            try Self.seed(target)
            let before = try target.contents()
            // One worker, chunks of 40: ids 1…120, then ids 5, 6 and 7 again in chunk 3 and once more in chunk 5.
            var csv = "id,name,email,score\n"
            for id in 1...120 { csv += "\(id),first \(id),\\N,\(id * 3)\n" }
            for round in 1...2 {
                for id in 5...7 { csv += "\(id),round \(round) \(id),r\(round)@example.com,\(round)\n" }
                for id in (round == 1 ? 130...206 : 207...210) { csv += "\(id),filler \(id),\\N,0\n" }
            }
            let runID = "again-\(UUID().uuidString.prefix(8))"
            let applied = try target.apply([
                "--input", try target.write("fix.csv", csv), "--run-id", runID, "--chunk-size", "40", "--workers", "1",
                "--report", target.path("apply.json"),
            ])
            #expect(applied.status == 0, streams(applied))
            let report = try readReport(target.path("apply.json"))
            #expect(report["duplicateKeysAcrossChunks"] as? Int == 6, "\(report)")
            #expect(report["rowsChanged"] as? Int == 207, "\(report)")

            // The export holds each key once, with what it held before the run.
            let exported = target.path("undo.csv")
            let export = try self.runs(target, ["export", runID, "--undo", exported])
            #expect(export.status == 0, streams(export))
            #expect(export.standardError.contains("wrote 201 rows"), streams(export))
            let lines = try String(contentsOfFile: exported, encoding: .utf8).split(separator: "\n").map(String.init)
            for id in 5...7 {
                let old = before.first { $0[0] == String(id) }!
                let line = old[0...3].map { $0 ?? "\\N" }.joined(separator: ",")
                #expect(lines.filter { $0.hasPrefix("\(id),") } == [line], "\(lines)")
            }

            // Another session changes id 6 after the run: it conflicts once, with what the run wrote last.
            try target.execute("UPDATE \(target.table) SET score = -1 WHERE id = 6")
            let later = try target.contents()
            let conflicts = target.path("conflicts.csv")
            let reverted = try self.runs(
                target,
                ["revert", runID, "--conflicts", conflicts, "--chunk-size", "30", "--report", target.path("r.json")]
            )
            #expect(reverted.status == 3, streams(reverted))
            let revertReport = try readReport(target.path("r.json"))
            #expect(revertReport["rowsConflicting"] as? Int == 1, "\(revertReport)")
            #expect(revertReport["rowsChanged"] as? Int == 200, "\(revertReport)")
            let listed = try String(contentsOfFile: conflicts, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(listed == ["id,column,expected,actual", "6,score,2,-1"], "\(listed)")
            let now = try target.contents()
            for (old, now) in zip(before, now) {
                #expect(now == (old[0] == "6" ? later.first { $0[0] == "6" } : old), "row \(old[0] ?? "?")")
            }
        }
    }

    @Test(
        "a run whose undo an earlier version kept, a row per changed row, is listed, exported, reverted and cleaned",
        arguments: ApplyBackend.enabled
    )
    func undoOfEarlierVersions(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            try Self.seed(target)
            let before = try target.contents()
            // On PostgreSQL, a journal schema of its own: the table below is not shared with other tests.
            var schema = backend.defaultSchema
            var journal: [String] = []
            if backend == .postgres {
                schema = "bu_legacy_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
                try target.execute("CREATE SCHEMA \(schema)")
                journal = ["--journal-schema", schema]
            }
            defer { if backend == .postgres { try? target.execute("DROP SCHEMA \(schema) CASCADE") } }
            let runID = "legacy-\(UUID().uuidString.prefix(8))"
            let applied = try target.apply(
                ["--input", try target.write("fix.csv", Self.changes), "--run-id", runID, "--no-undo"] + journal
            )
            #expect(applied.status == 0, streams(applied))
            let after = try target.contents()
            // What an earlier version kept: bulk_update_undo, one row per changed row, and a first row naming the
            // table and columns.
            func json(_ values: [String?]) -> String {
                let data = try! JSONSerialization.data(withJSONObject: values.map { $0 ?? NSNull() as Any })
                return "'" + String(decoding: data, as: UTF8.self).replacingOccurrences(of: "'", with: "''") + "'"
            }
            var statements = [
                "CREATE TABLE \(schema).bulk_update_undo (run_id text NOT NULL, key_values text NOT NULL,"
                    + " worker bigint NOT NULL, chunk bigint NOT NULL, position bigint NOT NULL,"
                    + " old_values text NOT NULL, new_values text NOT NULL, PRIMARY KEY (run_id, key_values))",
                "INSERT INTO \(schema).bulk_update_undo VALUES ('\(runID)', '', -1, -1, 0,"
                    + " \(json(["\"\(backend.defaultSchema)\".\"\(target.table)\"", "id"])), \(json(["name", "email", "score"])))",
            ]
            for (old, new) in zip(before, after) where old != new {
                statements.append(
                    "INSERT INTO \(schema).bulk_update_undo VALUES ('\(runID)', \(json([old[0]])), 0, 0, 0,"
                        + " \(json(Array(old[1...3]))), \(json(Array(new[1...3]))))"
                )
            }
            #expect(statements.count == 252)
            try target.execute(statements.joined(separator: "; "))

            let list = try self.runs(target, journal)
            #expect(
                list.standardOutput.split(separator: "\n").contains { $0.hasPrefix(runID) && $0.hasSuffix("| kept") }
            )
            let export = try self.runs(target, ["export", runID, "--undo", target.path("undo.csv")] + journal)
            #expect(export.status == 0, streams(export))
            #expect(export.standardError.contains("wrote 250 rows"), streams(export))
            let reverted = try self.runs(target, ["revert", runID, "--chunk-size", "70"] + journal)
            #expect(reverted.status == 0, streams(reverted))
            #expect(try target.contents() == before, "the revert did not restore the table exactly")
            // The revert's own undo is in the undo table; --clean empties both.
            let clean = try self.runs(target, ["--clean"] + journal)
            #expect(clean.status == 0, streams(clean))
            for table in ["bulk_update_undo", "bulk_update_undo_chunks"] {
                let sql = "SELECT count(*) FROM \(schema).\(table)"
                let count =
                    backend == .postgres
                    ? try PSQL.count(target.database, sql)
                    : Int((try PythonSQLite.query(target.database, sql).first?.first ?? nil) ?? "") ?? -1
                #expect(count == 0, "\(table)")
            }
        }
    }

    @Test("runs export --undo writes a CSV that apply accepts; --no-undo keeps none", arguments: ApplyBackend.enabled)
    func exportAndNoUndo(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns) { target in
            try Self.seed(target)
            let before = try target.contents()
            let runID = "undo-\(UUID().uuidString.prefix(8))"
            let fix = try target.write("fix.csv", Self.changes)
            #expect(try target.apply(["--input", fix, "--run-id", runID]).status == 0)
            let exported = target.path("undo.csv")
            let export = try self.runs(target, ["export", runID, "--undo", exported])
            #expect(export.status == 0, streams(export))
            #expect(export.standardError.contains("wrote 250 rows"), streams(export))
            let text = try String(contentsOfFile: exported, encoding: .utf8)
            #expect(text.hasPrefix("id,name,email,score\n"), "\(text.prefix(100))")
            let back = try target.apply(["--input", exported, "--no-journal"])
            #expect(back.status == 0, streams(back))
            #expect(try target.contents() == before)

            let quiet = "plain-\(UUID().uuidString.prefix(8))"
            let plain = try target.apply(["--input", fix, "--run-id", quiet, "--no-undo"])
            #expect(plain.status == 0, streams(plain))
            #expect(!plain.standardOutput.contains("undo kept"), streams(plain))
            #expect(try Self.undoRows(target, quiet) == 0)
            let refused = try self.runs(target, ["revert", quiet])
            #expect(refused.status == 64, streams(refused))
            #expect(refused.standardError.contains("has no undo"), streams(refused))
            let noExport = try self.runs(target, ["export", quiet, "--undo", target.path("none.csv")])
            #expect(noExport.status == 64, streams(noExport))
        }
    }
}

extension TimedRuns {
    @Suite("runs revert killed and resumed", .timeLimit(.minutes(3)))
    struct KilledRevertTests {
        @Test("a revert killed with SIGKILL resumes, run again, to the exact table", arguments: ApplyBackend.enabled)
        func killedRevertResumes(_ backend: ApplyBackend) throws {
            try ApplyTarget.with(backend, columns: UndoTests.columns) { target in
                try UndoTests.seedMany(target, rows: 8_000)
                let before = try target.contents()
                let runID = "undo-\(UUID().uuidString.prefix(8))"
                var csv = "id,name,score\n"
                for id in 1...8_000 { csv += "\(id),changed \(id),\(id + 7)\n" }
                let applied = try target.apply(["--input", try target.write("all.csv", csv), "--run-id", runID])
                #expect(applied.status == 0, streams(applied))
                // A resumed run cuts the same chunks: the same workers and chunk size (the rate may differ).
                let options = ["--workers", "1", "--chunk-size", "100"]
                let revert = try BackgroundApply(
                    target,
                    ["revert", runID, "--max-rows-per-second", "2000"] + options,
                    runs: true
                )
                try revert.wait("the revert's first chunks") { try Journal.chunks(target, "revert-\(runID)") >= 10 }
                revert.signal(SIGKILL)
                #expect(revert.finish() == 128 + SIGKILL)
                let done = try Journal.chunks(target, "revert-\(runID)")
                #expect(done < 80, "the revert finished before it was killed")
                let resumed = try Executable.run(["runs", "revert", runID, "--database", target.database] + options)
                #expect(resumed.status == 0, streams(resumed))
                #expect(resumed.standardError.contains("resuming run revert-\(runID)"), streams(resumed))
                #expect(try target.contents() == before, "the resumed revert did not restore the table exactly")
                // Every chunk of the revert is in its journal once: 80 chunks of 100 rows.
                #expect(try Journal.chunks(target, "revert-\(runID)") == 80)
                #expect(try UndoTests.undoRows(target, "revert-\(runID)") == 8_000)
            }
        }
    }
}

extension TimedRuns {
    /// A revert and the run it takes back never write at the same time, and a run once reverted is never resumed.
    @Suite("runs revert and apply --resume never overlap", .timeLimit(.minutes(3)))
    struct RevertAndResumeTests {
        static let rows = 8_000
        /// One worker and 100-row chunks, so a resumed run cuts the same chunks.
        static let options = ["--workers", "1", "--chunk-size", "100"]

        /// The seeded table and a change to every row of it.
        static func prepare(_ target: ApplyTarget) throws -> String {
            try UndoTests.seedMany(target, rows: Self.rows)
            var csv = "id,name,score\n"
            for id in 1...Self.rows { csv += "\(id),changed \(id),\(id + 7)\n" }
            return try target.write("all.csv", csv)
        }

        /// Starts the apply of `input` at `rate` rows a second and waits for `chunks` of its chunks.
        static func start(_ target: ApplyTarget, _ input: String, _ runID: String, rate: Int, chunks: Int) throws
            -> BackgroundApply
        {
            let run = try BackgroundApply(
                target,
                ["--input", input, "--run-id", runID, "--max-rows-per-second", String(rate)] + Self.options
            )
            try run.wait("\(chunks) chunks of the run") { try Journal.chunks(target, runID) >= chunks }
            return run
        }

        /// Starts `runs revert runID` at 500 rows a second and stops it with SIGINT after its first chunks.
        static func stopRevertHalfway(_ target: ApplyTarget, _ runID: String) throws {
            let revert = try BackgroundApply(
                target,
                ["revert", runID, "--max-rows-per-second", "500"] + Self.options,
                runs: true
            )
            try revert.wait("the revert's first chunks") { try Journal.chunks(target, "revert-\(runID)") >= 2 }
            revert.signal(SIGINT)
            #expect(revert.finish() == 75, "\(revert.standardError)")
        }

        @Test(
            "a run stopped halfway and reverted is refused by apply --resume, during the revert and after it",
            arguments: ApplyBackend.enabled
        )
        func resumeAfterRevertIsRefused(_ backend: ApplyBackend) throws {
            try ApplyTarget.with(backend, columns: UndoTests.columns) { target in
                let input = try Self.prepare(target)
                let before = try target.contents()
                let runID = "undo-\(UUID().uuidString.prefix(8))"
                let run = try Self.start(target, input, runID, rate: 2_000, chunks: 20)
                run.signal(SIGINT)
                #expect(run.finish() == 75, "\(run.standardError)")
                #expect(try Journal.chunks(target, runID) < Self.rows / 100, "the run finished before it was stopped")
                let resume = ["--input", input, "--resume", runID] + Self.options

                // A revert stopped halfway: resuming the run would write over it.
                try Self.stopRevertHalfway(target, runID)
                let halfway = try target.contents()
                #expect(halfway != before, "the revert finished before it was stopped")
                let during = try target.apply(resume)
                #expect(during.status == 64, streams(during))
                #expect(
                    during.standardError.contains("is being reverted by run 'revert-\(runID)', which has not finished"),
                    streams(during)
                )
                #expect(try target.contents() == halfway, "the refused resume wrote")
                let listedDuring = try Executable.run(["runs", "--database", target.database]).standardOutput
                #expect(
                    listedDuring.contains(
                        "; being reverted by revert-\(runID), unfinished (bulk-update runs revert \(runID))"
                    ),
                    "\(listedDuring)"
                )

                // The revert resumed to its end puts the table back; the run still cannot be resumed over it.
                let finished = try Executable.run(
                    ["runs", "revert", runID, "--database", target.database] + Self.options
                )
                #expect(finished.status == 0, streams(finished))
                #expect(try target.contents() == before, "the revert did not restore the table exactly")
                let after = try target.apply(resume)
                #expect(after.status == 64, streams(after))
                #expect(after.standardError.contains("was reverted by run 'revert-\(runID)'"), streams(after))
                #expect(after.standardError.contains("apply the input as a new run"), streams(after))
                #expect(try target.contents() == before, "the refused resume wrote")
                let listedAfter = try Executable.run(["runs", "--database", target.database]).standardOutput
                #expect(listedAfter.contains("interrupted; reverted by revert-\(runID)"), "\(listedAfter)")
            }
        }

        @Test(
            "runs --clean removes a reverted run with its revert, and keeps the run of an unfinished revert",
            arguments: ApplyBackend.enabled
        )
        func cleanKeepsRevertsWhole(_ backend: ApplyBackend) throws {
            try ApplyTarget.with(backend, columns: UndoTests.columns) { target in
                let input = try Self.prepare(target)
                let before = try target.contents()
                func listed() throws -> String {
                    try Executable.run(["runs", "--database", target.database]).standardOutput
                }
                // A run stopped halfway and reverted: both go, so the run can no longer be resumed over the revert.
                let stopped = "undo-\(UUID().uuidString.prefix(8))"
                let run = try Self.start(target, input, stopped, rate: 2_000, chunks: 10)
                run.signal(SIGINT)
                #expect(run.finish() == 75, "\(run.standardError)")
                let reverted = try Executable.run(["runs", "revert", stopped, "--database", target.database])
                #expect(reverted.status == 0, streams(reverted))
                let clean = try Executable.run(["runs", "--clean", "--database", target.database])
                #expect(clean.status == 0, streams(clean))
                #expect(!(try listed()).contains(stopped))
                let resumed = try target.apply(["--input", input, "--resume", stopped] + Self.options)
                #expect(resumed.status == 64, streams(resumed))
                #expect(resumed.standardError.contains("there is no run '\(stopped)' to resume"), streams(resumed))
                #expect(try target.contents() == before, "the refused resume wrote")

                // A finished run whose revert stopped halfway: the run's undo stays, and the revert finishes.
                let finished = "undo-\(UUID().uuidString.prefix(8))"
                let applied = try target.apply(["--input", input, "--run-id", finished] + Self.options)
                #expect(applied.status == 0, streams(applied))
                try Self.stopRevertHalfway(target, finished)
                let cleanAgain = try Executable.run(["runs", "--clean", "--database", target.database])
                #expect(cleanAgain.status == 0, streams(cleanAgain))
                #expect(try listed().contains(finished))
                let rest = try Executable.run(
                    ["runs", "revert", finished, "--database", target.database] + Self.options
                )
                #expect(rest.status == 0, streams(rest))
                #expect(try target.contents() == before, "the revert did not restore the table exactly")
                #expect(try UndoTests.undoRows(target, "revert-\(finished)") == Self.rows)
            }
        }

        @Test(
            "a run frozen between chunks is reverted; when it wakes, its next chunk is rolled back and it stops",
            arguments: ApplyBackend.enabled
        )
        func frozenRunIsStoppedByTheRevert(_ backend: ApplyBackend) throws {
            try ApplyTarget.with(backend, columns: UndoTests.columns) { target in
                let input = try Self.prepare(target)
                let before = try target.contents()
                let runID = "undo-\(UUID().uuidString.prefix(8))"
                // 100-row chunks at 500 rows a second: the process waits 200 ms between chunks.
                let run = try Self.start(target, input, runID, rate: 500, chunks: 2)
                // A heartbeat that stops looks like a killed process: the revert goes ahead after watching it.
                var reverted: Executable.Result?
                for _ in 1...3 where reverted?.status != 0 {
                    // Frozen just after a chunk committed, while it waits for its next turn.
                    let committed = try Journal.chunks(target, runID)
                    try run.wait("the next chunk") { try Journal.chunks(target, runID) > committed }
                    run.signal(SIGSTOP)
                    reverted = try Executable.run(["runs", "revert", runID, "--database", target.database])
                    // Frozen in the middle of a chunk after all: the revert is refused; try the next gap.
                    if reverted?.status != 0 { run.signal(SIGCONT) }
                }
                #expect(reverted?.status == 0, "\(reverted.map(streams) ?? "")")
                #expect(try target.contents() == before, "the revert did not restore the table exactly")
                run.signal(SIGCONT)
                let status = run.finish()
                #expect(status == 64, "\(run.standardError)")
                #expect(run.standardError.contains("run '\(runID)' is being reverted"), "\(run.standardError)")
                #expect(run.standardError.contains("are the revert's to take back"), "\(run.standardError)")
                #expect(!run.standardError.contains("resume with"), "\(run.standardError)")
                #expect(try target.contents() == before, "the run wrote after its revert")
            }
        }

        @Test("runs revert refuses a run whose process is still writing it", arguments: ApplyBackend.enabled)
        func revertOfALiveRunIsRefused(_ backend: ApplyBackend) throws {
            try ApplyTarget.with(backend, columns: UndoTests.columns) { target in
                let input = try Self.prepare(target)
                let before = try target.contents()
                let runID = "undo-\(UUID().uuidString.prefix(8))"
                // 8 seconds of run: the refused revert has time to watch its heartbeat.
                let run = try Self.start(target, input, runID, rate: 1_000, chunks: 3)
                let refused = try Executable.run(["runs", "revert", runID, "--database", target.database])
                #expect(refused.status == 64, streams(refused))
                #expect(
                    refused.standardError.contains(
                        "run '\(runID)' is still running: its process is writing its heartbeat"
                    ),
                    streams(refused)
                )
                #expect(refused.standardError.contains("revert it once it has exited"), streams(refused))
                #expect(try Journal.chunks(target, "revert-\(runID)") == 0)
                #expect(try Journal.state(target, "revert-\(runID)") ?? "" == "", "the refused revert registered a run")
                run.signal(SIGINT)
                #expect(run.finish() == 75, "\(run.standardError)")
                let reverted = try Executable.run(["runs", "revert", runID, "--database", target.database])
                #expect(reverted.status == 0, streams(reverted))
                #expect(try target.contents() == before, "the revert did not restore the table exactly")
            }
        }
    }
}
