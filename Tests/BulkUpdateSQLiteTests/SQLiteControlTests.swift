import BulkUpdate
import BulkUpdateSQLite
import Testing

/// ``BulkUpdateControl`` on SQLite: a stop ends the run between chunks; a pause holds it.
@Suite("SQLite: a run steered through BulkUpdateControl")
struct SQLiteControlTests {
    @Test("stop(): the error is interrupted and its report is exactly what was written; pause() holds the run")
    func stopAndPause() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
            try await connection.run(
                "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 2000) INSERT INTO t SELECT i, 0 FROM g"
            )
            let stopping = BulkUpdateControl()
            var options = BulkUpdateOptions(workers: 1, chunkSize: 10)
            options.control = stopping
            options.onProgress = { if $0.chunks >= 3 { stopping.stop(reason: "the test") } }
            let rows = (1...2000).map { BulkUpdateRow.of(.int($0), 7) }
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("t", set: ["v"], rows: rows, options: options)
            }
            #expect(error.code == .interrupted)
            let report = try #require(error.partialReport)
            #expect(report.chunks >= 3 && report.chunks < 200, "\(report.chunks)")
            #expect(try await connection.integer("SELECT count(*) FROM t WHERE v = 7") == report.rowsChanged)

            let pausing = BulkUpdateControl()
            pausing.pause()
            options = BulkUpdateOptions(workers: 1, chunkSize: 10)
            options.control = pausing
            async let run = updater.update("t", set: ["v"], rows: [.of(.int(1), 8)], options: options)
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await connection.integer("SELECT count(*) FROM t WHERE v = 8") == 0)
            pausing.continue()
            #expect(try await run.rowsMatched == 1)
            #expect(try await connection.integer("SELECT count(*) FROM t WHERE v = 8") == 1)
        }
    }
}
