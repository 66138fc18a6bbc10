import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateSQLite
import Foundation
import PostgresNIO
import SQLiteNIO

/// The users scenario on either backend: a table shaped like Django's `auth_user`, filled with
/// `username = 'user_<i>'`, whose usernames are upper-cased with values computed on the client.
protocol UsersDatabase {
    /// The database for messages: `PostgreSQL 15.18`, `SQLite 3.54.1`.
    var name: String { get async throws }
    /// Drops `table` if it exists, creates it with its indexes and inserts `rows` users.
    func create(_ table: String, rows: Int) async throws
    /// Every user's key and upper-cased username, read from the table.
    func upperCasedRows(_ table: String) async throws -> [BulkUpdateRow]
    /// Runs the update through BulkUpdate's public API.
    func update(_ table: String, rows: [BulkUpdateRow], options: BulkUpdateOptions) async throws -> BulkUpdateReport
    /// Users whose username is not `USER_<id>`.
    func wrongUsernames(_ table: String) async throws -> Int
    func drop(_ table: String) async throws
}

enum UsersScenario {
    /// Opens `location`, runs `body` with it, and closes it.
    static func withDatabase<Result: Sendable>(
        _ location: DatabaseLocation,
        connections: Int,
        _ body: (any UsersDatabase) async throws -> Result
    ) async throws -> Result {
        switch location {
        case .postgres(let url):
            var configuration = url.configuration
            configuration.options.maximumConnections = max(4, connections)
            let client = PostgresClient(configuration: configuration)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                return try await body(PostgresUsers(client: client))
            }
        case .sqlite(let url):
            return try await SQLiteBulkUpdater.withUpdater(url: url.path ?? ":memory:") { updater in
                try await body(SQLiteUsers(updater: updater))
            }
        }
    }

    static func columns(boolean: String, timestamp: String, now: String) -> String {
        """
        id integer PRIMARY KEY, password varchar(128) NOT NULL DEFAULT '', last_login \(timestamp) NULL,
        is_superuser \(boolean) NOT NULL DEFAULT false, username varchar(150) NOT NULL UNIQUE,
        first_name varchar(150) NOT NULL DEFAULT '', last_name varchar(150) NOT NULL DEFAULT '',
        email varchar(254) NOT NULL DEFAULT '', is_staff \(boolean) NOT NULL DEFAULT false,
        is_active \(boolean) NOT NULL DEFAULT true, date_joined \(timestamp) NOT NULL DEFAULT \(now)
        """
    }

    static func rows(from pairs: [(Int64, String)]) -> [BulkUpdateRow] {
        pairs.map { BulkUpdateRow([.int($0.0), .string($0.1.uppercased())]) }
    }
}

struct PostgresUsers: UsersDatabase {
    let client: PostgresClient

    var name: String {
        get async throws { "PostgreSQL " + (try await self.scalar("SHOW server_version")) }
    }

    func create(_ table: String, rows: Int) async throws {
        let quoted = SQLIdentifier.quote(table)
        try await self.drop(table)
        let columns = UsersScenario.columns(boolean: "boolean", timestamp: "timestamptz", now: "now()")
        try await self.client.run("CREATE TABLE \(quoted) (\(columns))")
        // Django adds this index for LIKE lookups on username.
        try await self.client.run(
            "CREATE INDEX \(SQLIdentifier.quote(table + "_username_like")) ON \(quoted) (username varchar_pattern_ops)"
        )
        try await self.client.run(
            "INSERT INTO \(quoted) (id, username, email) "
                + "SELECT g, 'user_' || g, 'user_' || g || '@example.com' FROM generate_series(1, \(rows)) g"
        )
        try await self.client.run("VACUUM ANALYZE \(quoted)")
    }

    func upperCasedRows(_ table: String) async throws -> [BulkUpdateRow] {
        var pairs: [(Int64, String)] = []
        let query = PostgresQuery(unsafeSQL: "SELECT id::int8, username FROM \(SQLIdentifier.quote(table))")
        for try await pair in try await self.client.query(query).decode((Int64, String).self) {
            pairs.append(pair)
        }
        return UsersScenario.rows(from: pairs)
    }

    func update(_ table: String, rows: [BulkUpdateRow], options: BulkUpdateOptions) async throws -> BulkUpdateReport {
        try await PostgresBulkUpdater(client: self.client).update(
            SQLIdentifier.quote(table),
            set: ["username"],
            rows: rows,
            options: options
        )
    }

    func wrongUsernames(_ table: String) async throws -> Int {
        Int(
            try await self.scalar(
                "SELECT count(*)::text FROM \(SQLIdentifier.quote(table)) WHERE username <> 'USER_' || id"
            )
        ) ?? -1
    }

    func drop(_ table: String) async throws {
        try await self.client.run("DROP TABLE IF EXISTS \(SQLIdentifier.quote(table))")
    }

    func scalar(_ sql: String) async throws -> String {
        for try await row in try await self.client.query(PostgresQuery(unsafeSQL: sql)) {
            return try row.decode(String.self)
        }
        return ""
    }
}

struct SQLiteUsers: UsersDatabase {
    let updater: SQLiteBulkUpdater

    var name: String {
        get async throws { "SQLite " + SQLiteConnection.libraryVersionString() }
    }

    func create(_ table: String, rows: Int) async throws {
        let quoted = SQLIdentifier.quote(table)
        let connection = self.updater.connection
        try await self.drop(table)
        let columns = UsersScenario.columns(boolean: "bool", timestamp: "datetime", now: "CURRENT_TIMESTAMP")
        _ = try await connection.query("CREATE TABLE \(quoted) (\(columns))")
        _ = try await connection.query(
            "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?1) "
                + "INSERT INTO \(quoted) (id, username, email) SELECT i, 'user_' || i, 'user_' || i || '@example.com' FROM g",
            [.integer(SQLiteInt64(rows))]
        )
        _ = try await connection.query("ANALYZE \(quoted)")
    }

    func upperCasedRows(_ table: String) async throws -> [BulkUpdateRow] {
        let rows = try await self.updater.connection.query("SELECT id, username FROM \(SQLIdentifier.quote(table))")
        return UsersScenario.rows(
            from: rows.map { (Int64($0.column("id")?.integer ?? 0), $0.column("username")?.string ?? "") }
        )
    }

    func update(_ table: String, rows: [BulkUpdateRow], options: BulkUpdateOptions) async throws -> BulkUpdateReport {
        try await self.updater.update(SQLIdentifier.quote(table), set: ["username"], rows: rows, options: options)
    }

    func wrongUsernames(_ table: String) async throws -> Int {
        let rows = try await self.updater.connection.query(
            "SELECT count(*) FROM \(SQLIdentifier.quote(table)) WHERE username <> 'USER_' || id"
        )
        return Int(rows.first?.columns.first?.data.integer ?? -1)
    }

    func drop(_ table: String) async throws {
        _ = try await self.updater.connection.query("DROP TABLE IF EXISTS \(SQLIdentifier.quote(table))")
    }
}

extension PostgresClient {
    /// Runs a statement and discards its rows.
    func run(_ sql: String) async throws {
        for try await _ in try await self.query(PostgresQuery(unsafeSQL: sql)) {}
    }
}
