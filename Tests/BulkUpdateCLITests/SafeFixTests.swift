import Foundation
import Testing

/// Safe data fixes: the dry run's preview against what the run then does.
@Suite("Safe data fixes")
struct SafeFixTests {
    static let columns = "id integer PRIMARY KEY, name text NOT NULL, email text, n integer"

    /// 200 rows: `(i, 'name i', 'i@example.com' or NULL for every seventh, i)`.
    static var seed: String {
        (1...200).map { "(\($0), 'name \($0)', \($0 % 7 == 0 ? "NULL" : "'\($0)@example.com'"), \($0))" }
            .joined(separator: ", ")
    }

    /// 150 input lines: ids 1…140, of which every third keeps its values, every fifth sets email to NULL; 9 ids
    /// with no row; id 2 twice in a row (the later line wins, the earlier is dropped from its chunk).
    static var changes: String {
        var csv = "id,name,email,n\n"
        for id in 1...140 {
            if id % 3 == 0 {
                csv += "\(id),name \(id),\(id % 7 == 0 ? "\\N" : "\(id)@example.com"),\(id)\n"
            } else {
                csv += "\(id),new name \(id),\(id % 5 == 0 ? "\\N" : "\(id)@example.com"),\(id + 1000)\n"
            }
            if id == 2 { csv += "2,last wins,\\N,2\n" }
        }
        for id in 301...309 { csv += "\(id),ghost,\\N,0\n" }
        return csv
    }

    @Test("a dry run counts and samples what the run then does, and writes nothing", arguments: ApplyBackend.enabled)
    func previewMatchesRun(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.columns, rows: Self.seed) { target in
            let before = try target.contents()
            let input = try target.write("changes.csv", Self.changes)
            let options = ["--input", input, "--chunk-size", "25", "--workers", "2"]
            let dryReport = target.path("dry.json")
            let dry = try target.apply(options + ["--dry-run", "--diff-sample", "7", "--report", dryReport])
            #expect(dry.status == 0, streams(dry))
            #expect(try target.contents() == before, "a dry run wrote")
            let preview = try readReport(dryReport)
            #expect(preview["dryRun"] as? Bool == true)
            #expect((preview["committedChunks"] as? [Any])?.isEmpty == true, "\(preview)")

            let realReport = target.path("real.json")
            let real = try target.apply(options + ["--skip-unchanged", "--report", realReport])
            #expect(real.status == 0, streams(real))
            let done = try readReport(realReport)
            for field in ["rowsRead", "rowsMatched", "rowsChanged", "rowsUnchanged", "keysNotFound", "duplicateKeys"] {
                #expect(preview[field] as? Int == done[field] as? Int, "\(field): \(preview) vs \(done)")
            }
            // 140 ids found, 9 not; ids divisible by 3 (46 of them, id 2 not among them) keep their values.
            #expect(done["rowsMatched"] as? Int == 140 && done["keysNotFound"] as? Int == 9, "\(done)")
            #expect(done["rowsChanged"] as? Int == 94 && done["rowsUnchanged"] as? Int == 46, "\(done)")

            // Every sampled difference is one the run made: the current value was there before, the new one after.
            let after = try target.contents()
            let names = ["id", "name", "email", "n"]
            func value(_ rows: [[String?]], key: String, column: String) -> String?? {
                rows.first { $0[0] == key }.map { $0[names.firstIndex(of: column)!] }
            }
            let samples = try #require(preview["diffSamples"] as? [[String: Any]])
            #expect(samples.count == 7, "\(samples)")
            for sample in samples {
                let key = try #require(sample["key"] as? String)
                let column = try #require(sample["column"] as? String)
                #expect(value(before, key: key, column: column) == .some(sample["current"] as? String), "\(sample)")
                #expect(value(after, key: key, column: column) == .some(sample["new"] as? String), "\(sample)")
                #expect(sample["current"] as? String != sample["new"] as? String, "\(sample)")
            }
            // Rows that differ between before and after: exactly the changed count.
            let changedRows = zip(before, after).filter { $0 != $1 }.count
            #expect(changedRows == 94)

            // The text shows the counts and the differences; id 1 is the first key of some chunk's sample.
            #expect(dry.standardOutput.contains("140 of 150 row(s) matched: 94 would change,"), streams(dry))
            #expect(dry.standardOutput.contains("46 already hold their new values"), streams(dry))
            #expect(dry.standardOutput.contains("9 key(s) not found, 1 duplicate key(s) dropped"), streams(dry))
            #expect(dry.standardOutput.contains("differences (7 shown; key  column: current -> new):"), streams(dry))
            #expect(!dry.standardError.contains("run 20"), "a dry run has no run id: \(streams(dry))")
        }
    }

    @Test(
        "a dry run shows NULLs and quotes, a blob as hex, and --diff-sample 0 shows none",
        arguments: ApplyBackend.enabled
    )
    func previewRendering(_ backend: ApplyBackend) throws {
        let blob = backend == .postgres ? "bytea" : "blob"
        let seed = backend == .postgres ? "'\\x00ff'::bytea" : "X'00ff'"
        try ApplyTarget.with(
            backend,
            columns: "id integer PRIMARY KEY, note text, data \(blob)",
            rows: "(1, 'it''s', \(seed)), (2, NULL, NULL)"
        ) { target in
            let input = try target.write("c.jsonl", "{\"id\":1,\"note\":null}\n{\"id\":2,\"note\":\"two\\nlines\"}\n")
            let dry = try target.apply([
                "--input", input, "--dry-run", "--columns", "note", "--report", target.path("dry.json"),
            ])
            #expect(dry.status == 0, streams(dry))
            // In the report, NULL is null, not a missing field.
            let samples = try #require(try readReport(target.path("dry.json"))["diffSamples"] as? [[String: Any]])
            #expect(samples.first { $0["key"] as? String == "1" }?["new"] is NSNull, "\(samples)")
            #expect(samples.first { $0["key"] as? String == "2" }?["current"] is NSNull, "\(samples)")
            #expect(dry.standardOutput.contains("  1  note: 'it''s' -> NULL"), streams(dry))
            #expect(dry.standardOutput.contains("  2  note: NULL -> 'two\\nlines'"), streams(dry))
            let none = try target.apply(["--input", input, "--dry-run", "--columns", "note", "--diff-sample", "0"])
            #expect(none.status == 0, streams(none))
            #expect(!none.standardOutput.contains("differences"), streams(none))
            #expect(none.standardOutput.contains("2 would change"), streams(none))

            let bytes = try target.write("b.csv", "id,data\n1,\\x01\n")
            let hex = try target.apply(["--input", bytes, "--dry-run"])
            #expect(hex.status == 0, streams(hex))
            #expect(hex.standardOutput.contains("  1  data: '\\x00ff' -> '\\x01'"), streams(hex))
        }
    }

    /// 40 rows `(i, version 1, 'e<i>', 'active' or 'gone' for every fourth)`; rows 5, 10, … 40 then changed by
    /// "another session" (version 2, email 'app').
    static func guardedTable(_ target: ApplyTarget) throws {
        try target.execute(
            "INSERT INTO \(target.table) VALUES "
                + (1...40).map { "(\($0), 1, 'e\($0)', '\($0 % 4 == 0 ? "gone" : "active")')" }.joined(separator: ", ")
                + "; UPDATE \(target.table) SET version = 2, email = 'app' WHERE id % 5 = 0"
        )
    }

    @Test(
        "--expect and --where: a dry run, the run and the conflicts file agree, per chunk and atomic",
        arguments: ApplyBackend.enabled
    )
    func guardedRun(_ backend: ApplyBackend) throws {
        for atomic in [false, true] {
            try ApplyTarget.with(
                backend,
                columns: "id integer PRIMARY KEY, version integer NOT NULL, email text, status text"
            ) { target in
                try Self.guardedTable(target)
                // Every row expects version 1 and asks for a new email; ids 41 and 42 have no row.
                let input = try target.write(
                    "fix.csv",
                    "id,email,version\n" + (1...42).map { "\($0),new\($0),1\n" }.joined()
                )
                let options =
                    ["--input", input, "--expect", "version", "--where", "t.status = 'active'", "--chunk-size", "7"]
                    + (atomic ? ["--atomic"] : [])
                let dry = try target.apply(
                    options + ["--dry-run", "--conflicts", target.path("dry.csv"), "--report", target.path("dry.json")]
                )
                #expect(dry.status == 3, streams(dry))
                #expect(dry.standardError.contains("would be left alone as conflicts"), streams(dry))
                let run = try target.apply(
                    options + ["--conflicts", target.path("run.csv"), "--report", target.path("run.json")]
                )
                #expect(run.status == 3, streams(run))
                let preview = try readReport(target.path("dry.json"))
                let done = try readReport(target.path("run.json"))
                for field in [
                    "rowsMatched", "rowsChanged", "rowsConflicting", "rowsSkippedByCondition", "keysNotFound",
                ] {
                    #expect(preview[field] as? Int == done[field] as? Int, "\(field): \(preview) vs \(done)")
                }
                // Ids 4, 8, … 40 are gone: skipped (20 and 40, changed too, among them). Ids 5, 10, 15, 25, 30, 35
                // were changed and are active: conflicts. The other 24 rows are written.
                #expect(done["rowsConflicting"] as? Int == 6, "\(done)")
                #expect(done["rowsSkippedByCondition"] as? Int == 10, "\(done)")
                #expect(done["rowsChanged"] as? Int == 24 && done["keysNotFound"] as? Int == 2, "\(done)")
                #expect(done["exitCode"] as? Int == 3)
                let expected =
                    "id,column,expected,actual\n" + [5, 10, 15, 25, 30, 35].map { "\($0),version,1,2\n" }.joined()
                let dryLines = try String(contentsOfFile: target.path("dry.csv"), encoding: .utf8)
                let runLines = try String(contentsOfFile: target.path("run.csv"), encoding: .utf8)
                // Chunks finish in any order: compare the lines as sets, the header first.
                #expect(runLines.hasPrefix("id,column,expected,actual\n"), "\(runLines)")
                #expect(Set(runLines.split(separator: "\n")) == Set(expected.split(separator: "\n")), "\(runLines)")
                #expect(Set(dryLines.split(separator: "\n")) == Set(expected.split(separator: "\n")), "\(dryLines)")
                // The table: conflicts and skipped rows untouched, the rest written.
                for row in try target.contents() {
                    let id = Int(row[0]!)!
                    let email = row[2]
                    if id % 5 == 0 {
                        #expect(email == "app", "row \(id): \(row)")
                    } else if id % 4 == 0 {
                        #expect(email == "e\(id)", "row \(id): \(row)")
                    } else {
                        #expect(email == "new\(id)", "row \(id): \(row)")
                    }
                }
            }
        }
    }

    @Test("--where that the database refuses, or that could leave its parentheses, stops before anything is written")
    func badConditions() throws {
        for backend in ApplyBackend.enabled {
            try ApplyTarget.with(backend, columns: "id integer PRIMARY KEY, email text", rows: "(1, 'a')") { target in
                let input = try target.write("c.csv", "id,email\n1,b\n")
                for (condition, message) in [
                    ("t.nope = 1", "nope"), ("t.email = 'a') OR (1 = 1", "closes a parenthesis it did not open"),
                    ("t.email = 'a'; DROP TABLE x", "holds a ';'"), ("t.email = 'a' -- x", "holds a comment"),
                    ("(t.email = 'a'", "leaves a parenthesis open"),
                ] {
                    let result = try target.apply(["--input", input, "--where", condition])
                    #expect(result.status == 64, "\(condition): \(streams(result))")
                    #expect(result.standardError.contains(message), "\(condition): \(streams(result))")
                    #expect(result.standardError.contains("nothing was written"), streams(result))
                }
                #expect(try target.contents() == [["1", "a"]])
                // An --expect whose input column is missing names it.
                let missing = try target.apply(["--input", input, "--expect", "email=old_email"])
                #expect(missing.status == 65, streams(missing))
                #expect(
                    missing.standardError.contains("has no column \"old_email\" (the expected values of \"email\""),
                    streams(missing)
                )
                // Quoted text may hold what would otherwise be refused.
                let quoted = try target.apply(["--input", input, "--where", "t.email <> ')--;' AND t.email <> 'x'"])
                #expect(quoted.status == 0, streams(quoted))
                #expect(try target.contents() == [["1", "b"]])
            }
        }
    }
}
