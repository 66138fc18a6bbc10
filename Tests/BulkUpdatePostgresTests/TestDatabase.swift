import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

/// Tables and clients on the test server (``TestPostgres``).
enum TestDatabase {
    /// Runs `body` with a running client and an updater on it.
    static func withClient<Result: Sendable>(
        _ body: (PostgresClient, PostgresBulkUpdater) async throws -> Result
    ) async throws -> Result {
        let url = try TestPostgres.requireURL()
        var configuration = try PostgresURL(url).configuration
        configuration.options.maximumConnections = 8
        let client = PostgresClient(configuration: configuration)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client, PostgresBulkUpdater(client: client))
        }
    }

    /// Creates a uniquely named table from `columns` (the text inside `CREATE TABLE name (…)`), runs `body` with
    /// its quoted name, and drops it whether `body` succeeds or fails.
    static func withTestTable<Result: Sendable>(
        _ columns: String,
        name: String? = nil,
        _ body: (PostgresClient, PostgresBulkUpdater, String) async throws -> Result
    ) async throws -> Result {
        try await withClient { client, updater in
            let table = name ?? "bu_test_\(UUID().uuidString.prefix(8).lowercased())"
            let quoted = "\"" + table.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            try await client.run("CREATE TABLE \(quoted) (\(columns))")
            do {
                let result = try await body(client, updater, quoted)
                try await client.run("DROP TABLE \(quoted)")
                return result
            } catch {
                try? await client.run("DROP TABLE \(quoted)")
                throw error
            }
        }
    }
}

extension PostgresClient {
    /// Runs `sql` and returns every row as text cells (`NULL` as nil), in order.
    func rows(_ sql: String) async throws -> [[String?]] {
        var result: [[String?]] = []
        for try await row in try await self.query(PostgresQuery(unsafeSQL: sql)) {
            result.append(try row.map { try $0.decode(String?.self) })
        }
        return result
    }

    /// Runs a statement and discards its rows.
    func run(_ sql: String) async throws {
        for try await _ in try await self.query(PostgresQuery(unsafeSQL: sql)) {}
    }

    /// An order-independent fingerprint of a whole table's contents.
    func checksum(_ table: String) async throws -> String {
        let rows = try await self.rows(
            "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \(table) t"
        )
        return rows[0][0] ?? ""
    }
}

extension BulkUpdateRow {
    /// A row from plain Swift values, for brevity in tests.
    static func of(_ values: BulkUpdateValue...) -> BulkUpdateRow { BulkUpdateRow(values) }
}
