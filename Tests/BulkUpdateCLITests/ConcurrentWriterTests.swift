import Foundation
import Testing

/// `--expect` beside another session that changes the same rows while the run goes.
extension TimedRuns {
    @Suite("apply --expect under a concurrent writer", .timeLimit(.minutes(3)))
    struct ConcurrentWriterTests {
        static let rows = 6_000

        /// Starts "the application": another session that changes each of `ids`, one transaction each, a few
        /// milliseconds apart: `version` + 1 and `email` prefixed with `app-`, so that the final email tells whether
        /// it came before the run's write (`app-e<id>`) or after it (`app-new<id>`).
        static func startWriter(_ target: ApplyTarget, ids: [Int]) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            let update = "UPDATE \(target.table) SET version = version + 1, email = 'app-' || email WHERE id ="
            switch target.backend {
            case .postgres:
                process.arguments = [
                    "psql", target.database, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    "DO $$ DECLARE i int; BEGIN FOREACH i IN ARRAY ARRAY[\(ids.map(String.init).joined(separator: ","))]"
                        + " LOOP \(update) i; COMMIT; PERFORM pg_sleep(0.008); END LOOP; END $$",
                ]
            case .sqlite:
                process.arguments = [
                    "python3", "-c",
                    """
                    import sqlite3, sys, time
                    connection = sqlite3.connect(sys.argv[1], timeout=60)
                    for i in sys.argv[2].split(","):
                        connection.execute("\(update) ?", (int(i),))
                        connection.commit()
                        time.sleep(0.008)
                    """,
                    target.database, ids.map(String.init).joined(separator: ","),
                ]
            }
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            return process
        }

        @Test(
            "no concurrent change is overwritten, and the conflicts file lists exactly the rows changed before the run wrote them",
            arguments: ApplyBackend.enabled
        )
        func concurrentWriter(_ backend: ApplyBackend) throws {
            try ApplyTarget.with(backend, columns: "id integer PRIMARY KEY, version integer NOT NULL, email text") {
                target in
                try target.execute(
                    backend == .postgres
                        ? "INSERT INTO \(target.table) SELECT i, 1, 'e' || i FROM generate_series(1, \(Self.rows)) AS i"
                        : "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < \(Self.rows))"
                            + " INSERT INTO \(target.table) SELECT i, 1, 'e' || i FROM s"
                )
                let input = try target.write(
                    "fix.csv",
                    "id,email,version\n" + (1...Self.rows).map { "\($0),new\($0),1\n" }.joined()
                )
                let touched = Array((1...Self.rows).shuffled().prefix(300))
                let writer = try Self.startWriter(target, ids: touched)
                let runID = "writer-\(UUID().uuidString.prefix(8))"
                let run = try target.apply([
                    "--input", input, "--expect", "version", "--chunk-size", "200", "--max-rows-per-second", "2000",
                    "--run-id", runID,
                    "--conflicts", target.path("conflicts.csv"), "--report", target.path("report.json"), "--quiet",
                ])
                writer.waitUntilExit()
                #expect(writer.terminationStatus == 0)

                let rows = try target.contents()
                #expect(rows.count == Self.rows)
                let changed = Set(touched)
                var before: Set<Int> = []
                for row in rows {
                    let id = Int(row[0]!)!
                    if changed.contains(id) {
                        // The application's change stands: it was never overwritten.
                        #expect(row[1] == "2" && row[2]?.hasPrefix("app-") == true, "row \(id): \(row)")
                        if row[2] == "app-e\(id)" { before.insert(id) }
                    } else {
                        #expect(row[1] == "1" && row[2] == "new\(id)", "row \(id): \(row)")
                    }
                }
                let lines = try String(contentsOfFile: target.path("conflicts.csv"), encoding: .utf8)
                    .split(separator: "\n").map(String.init)
                #expect(lines.first == "id,column,expected,actual")
                let listed = lines.dropFirst().map { line -> Int in
                    #expect(line.hasSuffix(",version,1,2"), "\(line)")
                    return Int(line.prefix { $0 != "," }) ?? 0
                }
                #expect(listed.count == Set(listed).count, "a conflict listed twice")
                #expect(Set(listed) == before, "listed \(listed.sorted()), changed before the run \(before.sorted())")
                #expect(!before.isEmpty, "the application changed no row before the run reached it")
                #expect(run.status == (before.isEmpty ? 0 : 3), streams(run))
                let report = try readReport(target.path("report.json"))
                #expect(report["rowsConflicting"] as? Int == before.count, "\(report)")
                #expect(report["rowsChanged"] as? Int == Self.rows - before.count, "\(report)")

                // The undo the run kept beside the writer is exact: a revert restores every row nobody touched since,
                // and leaves alone (as conflicts) exactly the rows the application changed after the run wrote them.
                let after = changed.subtracting(before)
                let reverted = try Executable.run([
                    "runs", "revert", runID, "--database", target.database, "--conflicts", target.path("back.csv"),
                ])
                #expect(reverted.status == (after.isEmpty ? 0 : 3), streams(reverted))
                let back = try String(contentsOfFile: target.path("back.csv"), encoding: .utf8).split(separator: "\n")
                let left = Set(back.dropFirst().map { Int($0.prefix { $0 != "," }) ?? 0 })
                #expect(left == after, "left alone \(left.sorted()), changed after the run \(after.sorted())")
                for row in try target.contents() {
                    let id = Int(row[0]!)!
                    if changed.contains(id) {
                        #expect(row[1] == "2" && row[2]?.hasPrefix("app-") == true, "row \(id): \(row)")
                    } else {
                        #expect(row[1] == "1" && row[2] == "e\(id)", "row \(id) was not restored: \(row)")
                    }
                }
            }
        }
    }
}
