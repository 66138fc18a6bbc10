import BulkUpdate
import BulkUpdateSQLite
import BulkUpdateTestSupport
import Foundation
import SQLiteNIO
import Testing

/// Fixtures shared by the SQLite suites: every test gets its own database file in its own temporary directory.
enum TestDatabase {
    /// Whether the tests run in continuous integration, where a missing tool is an error, never a silent skip.

    /// A fresh, empty temporary directory; the caller removes it.
    static func makeDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("bulk-update-sqlite-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// `"name"`, with any double quote inside doubled, for SQL text written by the tests.
    static func quote(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A subquery `(…) AS g` yielding one column `n` with every integer of `range`, for seeding tables.
    static func series(_ range: ClosedRange<Int>) -> String {
        "(WITH RECURSIVE s(n) AS (SELECT \(range.lowerBound) UNION ALL SELECT n + 1 FROM s"
            + " WHERE n < \(range.upperBound)) SELECT n FROM s) AS g"
    }
}

/// Opens a fresh SQLite file (WAL) in a fresh temporary directory through ``SQLiteBulkUpdater/withUpdater``, runs
/// `body` with the updater, its connection and the file's path, then closes it and removes the directory, whether
/// `body` succeeds or fails.
func withTestDatabase<Result: Sendable>(
    busyTimeout: Duration = .seconds(5),
    _ body: (SQLiteBulkUpdater, SQLiteConnection, String) async throws -> Result
) async throws -> Result {
    let directory = try TestDatabase.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("test.db").path
    return try await SQLiteBulkUpdater.withUpdater(url: path, busyTimeout: busyTimeout, creating: true) { updater in
        try await body(updater, updater.connection, path)
    }
}

extension SQLiteConnection {
    /// Runs a statement and discards its rows.
    func run(_ sql: String, _ binds: [SQLiteData] = []) async throws {
        _ = try await self.query(sql, binds)
    }

    /// Runs `sql` and returns every row as text cells, in order: integers and reals in Swift's spelling, blobs as
    /// `x'00ff'`, NULL as nil.
    func rows(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [[String?]] {
        try await self.query(sql, binds).map { row in row.columns.map { $0.data.rendered } }
    }

    /// The first column of every row, as ``rows(_:_:)`` renders it.
    func column(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [String?] {
        try await self.rows(sql, binds).map { $0.first ?? nil }
    }

    /// The single integer `sql` returns (a count, a sum).
    func integer(_ sql: String, _ binds: [SQLiteData] = []) async throws -> Int? {
        try await self.query(sql, binds).first?.columns.first?.data.integer.map { Int($0) }
    }

    /// An order-independent fingerprint of a whole table, every value with its storage class (`quote()`), so a
    /// change from `1` to `'1'` is a change too. `table` is the table's exact, unquoted name.
    func checksum(_ table: String) async throws -> String {
        let names = try await self.column("SELECT name FROM pragma_table_info(?1) ORDER BY cid", [.text(table)])
        let quoted = names.compactMap { $0 }.map { "quote(\(TestDatabase.quote($0)))" }
        #expect(!quoted.isEmpty, "table \(table) has no columns")
        let row = quoted.joined(separator: " || ',' || ")
        let sql =
            "SELECT count(*) || '#' || coalesce(group_concat(r, '|' ORDER BY r), '')"
            + " FROM (SELECT \(row) AS r FROM \(TestDatabase.quote(table)))"
        return try await self.column(sql).first.flatMap { $0 } ?? ""
    }
}

extension SQLiteData {
    /// The value as text for assertions: see ``SQLiteConnection/rows(_:_:)``.
    var rendered: String? {
        switch self {
        case .integer(let value): String(value)
        case .float(let value): String(value)
        case .text(let value): value
        case .blob(let buffer):
            "x'" + buffer.readableBytesView.map { String($0, radix: 16).leftPadded(to: 2) }.joined() + "'"
        case .null: nil
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        self.count >= width ? self : String(repeating: "0", count: width - self.count) + self
    }
}

extension BulkUpdateRow {
    /// A row from plain Swift values, for brevity in tests.
    static func of(_ values: BulkUpdateValue...) -> BulkUpdateRow { BulkUpdateRow(values) }
}

/// A small deterministic random generator for test inputs.
