import Foundation
import Testing

/// `--target-chunk-seconds`: chunk sizes follow what rows cost, and a killed adaptive run resumes to the same chunks.
extension TimedRuns {
    @Suite("apply: adaptive chunk sizes", .timeLimit(.minutes(3)))
    struct AdaptiveChunkTests {
        /// Rows 1 to 3,000 cost almost nothing; rows 3,001 to 6,000 sleep 0.3 ms each in a trigger (about 1 ms with the
        /// sleep's own cost).
        static func slowTable(_ target: ApplyTarget) throws -> String {
            try ApplyHardeningTests.fill(target, 6_000)
            try target.execute(
                "CREATE FUNCTION \(target.table)_slow() RETURNS trigger LANGUAGE plpgsql AS"
                    + " $$ BEGIN IF NEW.id > 3000 THEN PERFORM pg_sleep(0.0003); END IF; RETURN NEW; END $$;"
                    + " CREATE TRIGGER slow BEFORE UPDATE ON \(target.table) FOR EACH ROW"
                    + " EXECUTE FUNCTION \(target.table)_slow()"
            )
            return try target.write("all.csv", ApplyHardeningTests.csv(1...6_000))
        }

        /// The journal's chunks of `runID` in order: rows, first and last key, and commit time in seconds.
        static func chunks(_ target: ApplyTarget, _ runID: String) throws -> [(
            rows: Int, first: Int, last: Int, at: Double
        )] {
            let text = try Tool.check([
                "psql", target.database, "-X", "-q", "-At", "-F", ",", "-c",
                "SELECT rows, first_key, last_key, extract(epoch FROM replace(committed_at, 'Z', '')::timestamp)"
                    + " FROM bulk_update_journal WHERE run_id = '\(runID)' ORDER BY chunk",
            ])
            return text.split(separator: "\n").map { line in
                let cells = line.split(separator: ",").map(String.init)
                return (Int(cells[0]) ?? -1, Int(cells[1]) ?? -1, Int(cells[2]) ?? -1, Double(cells[3]) ?? -1)
            }
        }

        @Test("chunks grow where rows are cheap and shrink to the target where a trigger makes them slow")
        func sizesFollowTheCost() throws {
            try ApplyTarget.with(.postgres, columns: ApplyHardeningTests.columns) { target in
                let input = try Self.slowTable(target)
                defer { try? target.execute("DROP FUNCTION IF EXISTS \(target.table)_slow() CASCADE") }
                let runID = LiveRunTests.newRunID()
                let result = try target.apply([
                    "--input", input, "--chunk-size", "200", "--workers", "1", "--target-chunk-seconds", "0.1",
                    "--run-id", runID, "--quiet",
                ])
                #expect(result.status == 0, streams(result))
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)
                let chunks = try Self.chunks(target, runID)
                #expect(chunks.reduce(0) { $0 + $1.rows } == 6_000)
                let cheap = chunks.filter { $0.last <= 3_000 }
                #expect((cheap.map(\.rows).max() ?? 0) > 200, "cheap chunks did not grow: \(chunks.map(\.rows))")
                // The last five whole chunks of the slow part: near the target, in size and in time.
                let slow = Array(chunks.dropLast().filter { $0.first > 3_000 }.suffix(6))
                #expect(slow.count == 6, "\(chunks.map(\.rows))")
                let sizes = slow.dropFirst().map(\.rows)
                let seconds = zip(slow, slow.dropFirst()).map { $1.at - $0.at }
                #expect(sizes.allSatisfy { $0 < 400 }, "slow chunks did not shrink: \(chunks.map(\.rows))")
                #expect(seconds.allSatisfy { (0.03...0.35).contains($0) }, "chunk times \(seconds), sizes \(sizes)")
            }
        }

        @Test("an adaptive run killed with SIGKILL resumes to an exact table, each chunk journaled once")
        func killedAndResumed() throws {
            try ApplyTarget.with(.postgres, columns: ApplyHardeningTests.columns) { target in
                let input = try Self.slowTable(target)
                defer { try? target.execute("DROP FUNCTION IF EXISTS \(target.table)_slow() CASCADE") }
                let runID = LiveRunTests.newRunID()
                let arguments = [
                    "--input", input, "--chunk-size", "200", "--workers", "1", "--target-chunk-seconds", "0.1",
                ]
                let run = try BackgroundApply(target, arguments + ["--run-id", runID])
                try run.wait("twelve chunks committed") { try Journal.chunks(target, runID) >= 12 }
                run.signal(SIGKILL)
                #expect(run.finish() == 128 + SIGKILL)
                let before = try Self.chunks(target, runID)
                #expect(before.reduce(0) { $0 + $1.rows } < 6_000, "the run finished before it was killed")

                let resumed = try target.apply(arguments + ["--resume", runID])
                #expect(resumed.status == 0, streams(resumed))
                #expect(resumed.standardOutput.contains("resumed, \(before.count) chunk(s)"), streams(resumed))
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)
                let after = try Self.chunks(target, runID)
                #expect(Array(after.prefix(before.count).map(\.rows)) == before.map(\.rows))
                // One worker, keys in order: the chunks tile 1 … 6,000 without a gap or an overlap.
                #expect(after.first?.first == 1 && after.last?.last == 6_000)
                for (earlier, later) in zip(after, after.dropFirst()) {
                    #expect(later.first == earlier.last + 1, "chunks \(earlier) and \(later)")
                }
                #expect(after.reduce(0) { $0 + $1.rows } == 6_000)
            }
        }
    }
}
