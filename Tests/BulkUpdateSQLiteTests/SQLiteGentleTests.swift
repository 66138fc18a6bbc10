import BulkUpdate
import BulkUpdateSQLite
import Foundation
import SQLiteNIO
import Testing

@Suite("Rate limit")
struct SQLiteGentleTests {
    @Test("maximumRowsPerSecond holds the average rate within 10 % over a run of a few seconds")
    func rateLimit() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)")
            try await connection.run("INSERT INTO items SELECT n, 'old' FROM \(TestDatabase.series(1...3000))")
            var options = BulkUpdateOptions(workers: 2, chunkSize: 100)
            options.maximumRowsPerSecond = 1000
            let rows = (1...3000).map { BulkUpdateRow([.int($0), "new"]) }
            let report = try await updater.update("items", set: ["v"], rows: rows, options: options)
            #expect(report.rowsChanged == 3000)
            // A measurement with generous bounds, not a tight timing assertion: at most 10 % over the limit, and
            // not so slow that the limit is no longer what governs the run.
            #expect(report.rowsPerSecond <= 1100, "achieved \(report.rowsPerSecond) rows/s")
            #expect(report.rowsPerSecond >= 100, "achieved \(report.rowsPerSecond) rows/s")
            #expect(try await connection.integer("SELECT count(*) FROM items WHERE v = 'new'") == 3000)
        }
    }
}
