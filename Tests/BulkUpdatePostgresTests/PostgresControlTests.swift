import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateTestSupport
import PostgresNIO
import Testing

/// ``BulkUpdateControl`` from a library caller: a stop ends the run between chunks, a pause holds it.
@Suite(
    "PostgreSQL: a run steered through BulkUpdateControl",
    .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason)
)
struct PostgresControlTests {
    @Test("stop(): no chunk starts after it, the error is interrupted, and its report is exactly what was written")
    func stopEndsTheRunBetweenChunks() async throws {
        try await TestDatabase.withTestTable("id int8 PRIMARY KEY, v int4 NOT NULL") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 0 FROM generate_series(1, 2000) g")
            let control = BulkUpdateControl()
            var options = BulkUpdateOptions(workers: 2, chunkSize: 10)
            options.control = control
            options.onProgress = { if $0.chunks >= 3 { control.stop(reason: "the test") } }
            let rows = (1...2000).map { BulkUpdateRow.of(.int($0), 7) }
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["v"], rows: rows, options: options)
            }
            #expect(error.code == .interrupted)
            #expect(error.message.hasPrefix("the run was stopped by the test after "), "\(error.message)")
            let report = try #require(error.partialReport)
            let written = try await client.rows("SELECT count(*)::text FROM \(table) WHERE v = 7")
            #expect(report.chunks >= 3 && report.chunks < 200, "\(report.chunks)")
            #expect(written == [["\(report.rowsChanged)"]] && report.rowsChanged == report.chunks * 10)
        }
    }

    @Test("pause() holds every chunk until continue(); the report counts the time paused")
    func pauseHoldsTheRun() async throws {
        try await TestDatabase.withTestTable("id int8 PRIMARY KEY, v int4 NOT NULL") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 0 FROM generate_series(1, 200) g")
            let control = BulkUpdateControl()
            control.pause(reason: "the test")
            var options = BulkUpdateOptions(workers: 2, chunkSize: 10)
            options.control = control
            let rows = (1...200).map { BulkUpdateRow.of(.int($0), 7) }
            async let run = updater.update(table, set: ["v"], rows: rows, options: options)
            try await Task.sleep(for: .milliseconds(600))
            #expect(control.isPaused && control.pauseCauses == [.requested: "the test"])
            #expect(try await client.rows("SELECT count(*)::text FROM \(table) WHERE v = 7") == [["0"]])
            control.continue()
            let report = try await run
            #expect(report.rowsChanged == 200)
            #expect((report.pausedSeconds["requested"] ?? 0) >= 0.5, "\(report.pausedSeconds)")
        }
    }
}
