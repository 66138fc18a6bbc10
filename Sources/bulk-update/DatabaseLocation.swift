import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateSQLite
import Foundation
import Logging
import PostgresNIO

/// A database named on the command line: a PostgreSQL URL or a SQLite URL or path.
enum DatabaseLocation: CustomStringConvertible {
    case postgres(PostgresURL)
    case sqlite(SQLiteURL)

    /// Parses `text`; SQLite forms are recognised first, anything else must be a PostgreSQL URL.
    init(_ text: String) throws {
        if SQLiteURL.isSQLite(text) {
            self = .sqlite(try SQLiteURL(text))
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(try PostgresURL(text))
        } else {
            throw BulkUpdateError(
                .configuration,
                "\(SQLText.literal(SQLText.redactingPassword(text))) is not a database URL: use postgres://user:password@host:port/database"
                    + " or a SQLite file (sqlite:path.db, path.db, path.sqlite)"
            )
        }
    }

    /// `--database` if given, else `$DATABASE_URL`.
    static func fromCommandLine(_ option: String?) throws -> DatabaseLocation? {
        guard let text = option ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !text.isEmpty else {
            return nil
        }
        return try DatabaseLocation(text)
    }

    /// `--database` if given, else `$DATABASE_URL`, else a new SQLite file `name` in a new temporary directory,
    /// which `body` may use and which is removed afterwards.
    static func withDefault<Result>(
        _ option: String?,
        temporaryName name: String,
        _ body: (DatabaseLocation) async throws -> Result
    ) async throws -> Result {
        if let given = try Self.fromCommandLine(option) { return try await body(given) }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("bulk-update-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(.sqlite(try SQLiteURL(directory.appendingPathComponent("\(name).db").path)))
    }

    /// Checks that the server takes a connection (once, failing fast with its own message), then runs `body` with
    /// a client of at most `connections` connections, and shuts the client down. The one place the command-line tool
    /// opens PostgreSQL.
    static func withPostgresClient<Result>(
        _ url: PostgresURL,
        connections: Int,
        _ body: (PostgresClient) async throws -> Result
    ) async throws -> Result {
        try await url.checkConnection()
        var configuration = url.configuration
        configuration.options.maximumConnections = max(2, connections)
        let client = PostgresClient(configuration: configuration)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// Opens the database and runs `body` with its backend (PostgreSQL with at most `connections` connections).
    func withBackend(
        connections: Int,
        _ body: (any BulkUpdateBackend) async throws -> Void
    ) async throws {
        switch self {
        case .postgres(let url):
            try await Self.withPostgresClient(url, connections: connections) { client in
                try await body(PostgresBackend(client: client))
            }
        case .sqlite(let url):
            try await SQLiteBulkUpdater.withUpdater(url: url.path ?? ":memory:") { updater in
                try await body(updater.backend)
            }
        }
    }

    /// The role the tool logs in as, quoted for a GRANT (PostgreSQL); `role` where there is none.
    var role: String {
        if case .postgres(let url) = self { return SQLIdentifier.quote(url.username) }
        return "role"
    }

    var isPostgres: Bool {
        if case .postgres = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .postgres(let url): url.description
        case .sqlite(let url): url.description
        }
    }
}
