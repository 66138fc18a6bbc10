import BulkUpdate
import BulkUpdatePostgres
import Foundation
import Logging
import PostgresNIO
import Testing

/// The test server: one URL from `BULK_UPDATE_TEST_POSTGRES_URL`, set by `scripts/with-postgres`.
///
/// Without it the suites are skipped locally; under `CI=true` they run and fail, because a missing database in CI
/// is an error, never a silent skip.
enum TestDatabase {
    static let url = ProcessInfo.processInfo.environment["BULK_UPDATE_TEST_POSTGRES_URL"]
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    /// Whether the PostgreSQL suites run.
    static let isEnabled = url != nil || isCI
    static let skipReason: Comment = "BULK_UPDATE_TEST_POSTGRES_URL is not set: run the tests with scripts/test"

    struct NotConfigured: Error, CustomStringConvertible {
        var description: String { "BULK_UPDATE_TEST_POSTGRES_URL is not set (run the tests with scripts/test)" }
    }

    /// Runs `body` with a running client and an updater on it.
    static func withClient<Result: Sendable>(
        _ body: (PostgresClient, PostgresBulkUpdater) async throws -> Result
    ) async throws -> Result {
        guard let url else { throw NotConfigured() }
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
