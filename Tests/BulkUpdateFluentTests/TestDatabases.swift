import BulkUpdatePostgres
import BulkUpdateTestSupport
import FluentKit
import FluentPostgresDriver
import FluentSQL
import FluentSQLiteDriver
import Foundation
import Logging
import NIOPosix
import Testing

/// Fluent set up without Vapor, on PostgreSQL (the test server from `BULK_UPDATE_TEST_POSTGRES_URL`, set by
/// `scripts/with-postgres`) or on a SQLite file in a fresh temporary directory.
///
/// Without the URL the PostgreSQL suites are skipped locally; under `CI=true` they run and fail, because a missing
/// database in CI is an error, never a silent skip.
enum TestDatabases {
    /// A driver error with the details its own description hides.
    struct DriverError: Error, CustomStringConvertible {
        var description: String
    }

    /// How Fluent reaches the database.
    enum Setup: Sendable, CustomTestStringConvertible {
        /// fluent-sqlite-driver on a new file.
        case sqlite
        /// fluent-postgres-driver with `SQLPostgresConfiguration`: AsyncKit's pool, this many connections per event
        /// loop.
        case postgres(connectionsPerEventLoop: Int)
        /// fluent-postgres-driver with a `PostgresClient.Configuration`: PostgresNIO's pool of this many connections.
        case postgresClient(connections: Int)

        var testDescription: String {
            switch self {
            case .sqlite: "SQLite"
            case .postgres(let connections): "PostgreSQL, \(connections) connection(s) per event loop"
            case .postgresClient(let connections): "PostgreSQL through a PostgresClient of \(connections) connection(s)"
            }
        }

        var isSQLite: Bool {
            if case .sqlite = self { return true }
            return false
        }
    }

    /// Runs `body` with a Fluent database, then shuts every database down, whether `body` succeeds or fails.
    static func with<Result: Sendable>(
        _ setup: Setup,
        _ body: (any Database) async throws -> Result
    ) async throws -> Result {
        let databases = Databases(threadPool: .singleton, on: MultiThreadedEventLoopGroup.singleton)
        let logger = Logger(label: "bulk-update-fluent-tests", factory: { _ in SwiftLogNoOpLogHandler() })
        var directory: URL?
        defer { if let directory { try? FileManager.default.removeItem(at: directory) } }
        switch setup {
        case .sqlite:
            let created = FileManager.default.temporaryDirectory
                .appendingPathComponent("bulk-update-fluent-tests-\(UUID().uuidString)", isDirectory: true)
            try FileManager.default.createDirectory(at: created, withIntermediateDirectories: true)
            directory = created
            databases.use(.sqlite(.file(created.appendingPathComponent("test.db").path)), as: .sqlite)
        case .postgres(let connections):
            let postgresURL = try TestPostgres.requireURL()
            databases.use(
                .postgres(
                    configuration: try SQLPostgresConfiguration(url: postgresURL),
                    maxConnectionsPerEventLoop: connections
                ),
                as: .psql
            )
        case .postgresClient(let connections):
            let postgresURL = try TestPostgres.requireURL()
            var configuration = try PostgresURL(postgresURL).configuration
            configuration.options.maximumConnections = connections
            databases.use(.postgres(configuration: configuration, logger: logger), as: .psql)
        }
        let database = databases.database(logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())!
        do {
            let result = try await body(database)
            await databases.shutdownAsync()
            return result
        } catch let error as PSQLError {
            await databases.shutdownAsync()
            throw DriverError(description: String(reflecting: error))  // its description hides the server's words
        } catch {
            await databases.shutdownAsync()
            throw error
        }
    }
}

extension Database {
    /// The same database through SQLKit, for checks written in SQL.
    var sql: any SQLDatabase { self as! any SQLDatabase }

    /// Runs a statement and discards its rows.
    func run(_ text: String) async throws {
        try await self.sql.raw(SQLQueryString(text)).run()
    }

    /// The first column of every row, decoded as `T`, in order.
    func column<T: Decodable & Sendable>(_ text: String, as type: T.Type) async throws -> [T] {
        try await self.sql.raw(SQLQueryString(text)).all().map { row in
            try row.decode(column: row.allColumns[0], as: T.self)
        }
    }
}
