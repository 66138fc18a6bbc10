import BulkUpdate
import BulkUpdateSQLite
import Foundation
import SQLiteNIO
import Testing

@Suite("SQLite atomic runs")
struct SQLiteAtomicTests {
    static func atomic(chunkSize: Int = 7, strategy: BulkUpdateOptions.Strategy = .auto) -> BulkUpdateOptions {
        var options = BulkUpdateOptions(workers: 2, chunkSize: chunkSize, strategy: strategy)
        options.atomic = true
        return options
    }

    @Test(
        "an atomic run is one transaction: all rows applied",
        arguments: [BulkUpdateOptions.Strategy.values, .tempTable, .caseWhen]
    )
    func applies(strategy: BulkUpdateOptions.Strategy) async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)")
            try await connection.run("INSERT INTO items SELECT n, 'old' FROM \(TestDatabase.series(1...50))")
            let rows = (1...50).map { BulkUpdateRow([.int($0), .string("new \($0)")]) }
            let report = try await updater.update(
                "items",
                set: ["v"],
                rows: rows,
                options: Self.atomic(strategy: strategy)
            )
            #expect(report.atomic)
            #expect(report.rowsChanged == 50)
            #expect(try await connection.integer("SELECT count(*) FROM items WHERE v = 'new ' || id") == 50)
        }
    }

    @Test("a bad row in the last chunk rolls everything back")
    func badRowInLastChunk() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
            try await connection.run("INSERT INTO items SELECT n, 0 FROM \(TestDatabase.series(1...100))")
            let before = try await connection.checksum("items")
            let rows = AsyncStream<BulkUpdateRow> { continuation in
                for id in 1...99 { continuation.yield([.int(id), .int(id)]) }
                continuation.yield([100, "one hundred"])
                continuation.finish()
            }
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("items", set: ["v"], rows: rows, options: Self.atomic())
            }
            #expect(error.inputLine == 100)
            #expect(error.partialReport?.chunks == 0)
            #expect(try await connection.checksum("items") == before)
        }
    }

    @Test("a constraint violation in a late chunk rolls everything back")
    func constraintViolation() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, u TEXT UNIQUE)")
            try await connection.run("INSERT INTO items SELECT n, 'u' || n FROM \(TestDatabase.series(1...60))")
            let before = try await connection.checksum("items")
            var rows = (1...59).map { BulkUpdateRow([.int($0), .string("new \($0)")]) }
            rows.append([60, "new 1"])
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("items", set: ["u"], rows: rows, options: Self.atomic(chunkSize: 5))
            }
            #expect(error.code == .constraint)
            #expect(error.description.contains("nothing was written"))
            #expect(try await connection.checksum("items") == before)
        }
    }
}
