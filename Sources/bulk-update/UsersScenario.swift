import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateSQLite
import Foundation
import Logging
import PostgresNIO
import SQLiteNIO

/// The users scenario on either backend: a table shaped like Django's `auth_user`, filled with
/// `username = 'user_<i>'`, whose usernames are upper-cased with values computed on the client.
protocol UsersDatabase {
    /// The database for messages: `PostgreSQL 15.18`, `SQLite 3.54.1`.
    var name: String { get async throws }
    /// Creates `table`, marked as a scenario table, with its indexes and `rows` users, in one transaction.
    ///
    /// A table of that name left behind by an earlier demo or bench (it carries the mark) is dropped first. Any
    /// other table of that name is never touched: the call throws ``ScenarioTableError`` instead.
    func create(_ table: String, rows: Int) async throws
    /// ``create(_:rows:)`` with the rows inserted in random order, so that the table's physical order does not
    /// follow the key, as a long-lived table's does not (PostgreSQL; a SQLite rowid table is always in key order).
    func create(_ table: String, rows: Int, shuffled: Bool) async throws
    /// Every user's key and upper-cased username, read from the table.
    func upperCasedRows(_ table: String) async throws -> [BulkUpdateRow]
    /// Runs the update through BulkUpdate's public API.
    func update(_ table: String, rows: [BulkUpdateRow], options: BulkUpdateOptions) async throws -> BulkUpdateReport
    /// Users whose username is not `USER_<id>`.
    func wrongUsernames(_ table: String) async throws -> Int
    /// Drops `table` if it carries the scenario mark; a table without it is left alone.
    func drop(_ table: String) async throws
    /// Whether `table` exists, and whether it carries ``UsersScenario/mark``.
    func ownership(_ table: String) async throws -> ScenarioTableOwnership

    /// The database product for reports: `PostgreSQL`, `SQLite`.
    var product: String { get }
    /// The server or library version: `15.18`, `3.54.1`.
    var version: String { get async throws }
    /// Every strategy this backend has, in the order `bench` runs them; `copy` on PostgreSQL once the library has it.
    var strategies: [BulkUpdateOptions.Strategy] { get }
    /// Whether writers on several connections really run concurrently (PostgreSQL); SQLite has one writer.
    var hasConcurrentWriters: Bool { get }
    /// Puts `table` back where `create` left it: `username = 'user_<id>'`, then refreshes the statistics
    /// (`VACUUM ANALYZE` on PostgreSQL, `ANALYZE` and a WAL checkpoint on SQLite), so every timed run starts alike.
    func reset(_ table: String) async throws
    /// The same change done inside the database, as one statement: `UPDATE … SET username = upper(username)`.
    func floor(_ table: String) async throws
    /// The floor split into `workers` statements on disjoint ranges of `id` in `1...rows`, run concurrently on their
    /// own connections. Only where ``hasConcurrentWriters``.
    func parallelFloor(_ table: String, rows: Int, workers: Int) async throws
}

enum UsersScenario {
    /// The advisory lock space (`pg_try_advisory_lock(int4, int4)`'s first key) of scenario tables: "BULK".
    static let lockSpace: Int32 = 0x4255_4C4B

    /// `--table` as SQL names it: `users`, `public.users`, `"My Schema"."Users"`.
    static func name(_ table: String) -> BulkUpdateTableName {
        (try? BulkUpdateTableName(parsing: table)) ?? BulkUpdateTableName(schema: nil, name: table)
    }

    /// `--table`, quoted, for messages.
    static func quoted(_ table: String) -> String { Self.name(table).quoted }

    /// `--table` as SQL.
    static func sql(_ table: String) -> SQL { Self.name(table).sql }

    /// Opens `location`, runs `body` with it, and closes it.
    ///
    /// On PostgreSQL a session advisory lock named after `table` is held for the whole of `body`, so a second demo
    /// or bench on the same table refuses to start instead of taking the first one's live table for a leftover.
    static func withDatabase<Result: Sendable>(
        _ location: DatabaseLocation,
        connections: Int,
        table: String,
        _ body: (any UsersDatabase) async throws -> Result
    ) async throws -> Result {
        switch location {
        case .postgres(let url):
            return try await DatabaseLocation.withPostgresClient(url, connections: max(4, connections) + 1) { client in
                do {
                    return try await client.withConnection { holder in
                        let logger = Logger.silent
                        let key = Self.name(table).description
                        var binds = PostgresBindings(capacity: 2)
                        binds.append(Self.lockSpace)
                        binds.append(key)
                        let lock = PostgresStatement(
                            "SELECT pg_try_advisory_lock(\(parameter: 1), hashtext(\(parameter: 2)))"
                        ).query(binds)
                        var acquired = false
                        for try await granted in try await holder.query(lock, logger: logger).decode(Bool.self) {
                            acquired = granted
                        }
                        guard acquired else {
                            throw BenchFailure(
                                "table \(Self.quoted(table)) is in use by another bulk-update demo or bench; wait for it,"
                                    + " or choose another --table"
                            )
                        }
                        let unlock = PostgresStatement(
                            "SELECT pg_advisory_unlock(\(parameter: 1), hashtext(\(parameter: 2)))"
                        ).query(binds)
                        do {
                            let result = try await body(PostgresUsers(client: client))
                            _ = try? await holder.query(unlock, logger: logger).collect()
                            return result
                        } catch {
                            _ = try? await holder.query(unlock, logger: logger).collect()
                            throw error
                        }
                    }
                } catch let error as PSQLError {
                    throw PostgresErrors.map(error, doing: "the scenario on \(Self.quoted(table))")
                }
            }
        case .sqlite(let url):
            // The scenario may create the database file; one it created is removed again, with its WAL files.
            let path = url.path
            let existed = path.map { FileManager.default.fileExists(atPath: $0) } ?? true
            defer {
                if let path, !existed {
                    for suffix in ["", "-wal", "-shm", "-journal"] {
                        try? FileManager.default.removeItem(atPath: path + suffix)
                    }
                }
            }
            return try await SQLiteBulkUpdater.withUpdater(url: path ?? ":memory:", creating: true) { updater in
                // ANALYZE creates sqlite_stat1; a database that had none is left without one.
                let statistics: SQL = "SELECT 1 FROM main.sqlite_schema WHERE name = 'sqlite_stat1'"
                let hadStatistics = try await !updater.connection.execute(statistics).isEmpty
                func restore() async {
                    if !hadStatistics, (try? await !updater.connection.execute(statistics).isEmpty) == true {
                        _ = try? await updater.connection.execute("DROP TABLE main.sqlite_stat1")
                    }
                }
                do {
                    let result = try await body(SQLiteUsers(updater: updater))
                    await restore()
                    return result
                } catch {
                    await restore()
                    throw error
                }
            }
        }
    }

    static func columns(boolean: SQL, timestamp: SQL, now: SQL) -> SQL {
        """
        id integer PRIMARY KEY, password varchar(128) NOT NULL DEFAULT '', last_login \(timestamp) NULL,
        is_superuser \(boolean) NOT NULL DEFAULT false, username varchar(150) NOT NULL UNIQUE,
        first_name varchar(150) NOT NULL DEFAULT '', last_name varchar(150) NOT NULL DEFAULT '',
        email varchar(254) NOT NULL DEFAULT '', is_staff \(boolean) NOT NULL DEFAULT false,
        is_active \(boolean) NOT NULL DEFAULT true, date_joined \(timestamp) NOT NULL DEFAULT \(now)
        """
    }

    /// What marks a table as one `demo` or `bench` created, so that only such tables are ever dropped: the
    /// table's comment on PostgreSQL, a comment inside its `CREATE TABLE` text on SQLite (which keeps that text).
    static let mark = "bulk-update scenario table: created by bulk-update demo or bench, which drop it when they finish"

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
        try await self.create(table, rows: rows, shuffled: false)
    }

    func create(_ table: String, rows: Int, shuffled: Bool) async throws {
        let quoted = UsersScenario.sql(table)
        try await self.dropLeftover(table)
        let columns = UsersScenario.columns(boolean: "boolean", timestamp: "timestamptz", now: "now()")
        let order: SQL = shuffled ? " ORDER BY random()" : ""
        try await self.client.withConnection { connection in
            let logger = Logger.silent
            try await connection.query(PostgresStatement("BEGIN").query(), logger: logger)
            do {
                // Without IF NOT EXISTS: a table created by someone else in the meantime makes this fail, and nothing
                // of theirs is touched.
                try await connection.query(
                    PostgresStatement("CREATE TABLE \(quoted) (\(columns))").query(),
                    logger: logger
                )
                try await connection.query(
                    PostgresStatement("COMMENT ON TABLE \(quoted) IS \(literal: UsersScenario.mark)").query(),
                    logger: logger
                )
                // Django adds this index for LIKE lookups on username; PostgreSQL picks a name that is free.
                try await connection.query(
                    PostgresStatement("CREATE INDEX ON \(quoted) (username varchar_pattern_ops)").query(),
                    logger: logger
                )
                var count = PostgresBindings(capacity: 1)
                count.append(Int64(rows))
                let insert: SQL =
                    "INSERT INTO \(quoted) (id, username, email)"
                    + " SELECT g, 'user_' || g, 'user_' || g || '@example.com'"
                    + " FROM generate_series(1, \(parameter: 1, type: "int8")) g\(order)"
                try await connection.query(PostgresStatement(insert).query(count), logger: logger)
                try await connection.query(PostgresStatement("COMMIT").query(), logger: logger)
            } catch {
                _ = try? await connection.query(PostgresStatement("ROLLBACK").query(), logger: logger)
                throw error
            }
        }
        try await self.client.run("VACUUM ANALYZE \(quoted)")
    }

    /// Whether `table` exists, and whether it carries the scenario mark.
    func ownership(_ table: String) async throws -> ScenarioTableOwnership {
        var binds = PostgresBindings(capacity: 1)
        binds.append(UsersScenario.quoted(table))
        let query = PostgresStatement(
            "SELECT pg_catalog.obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c"
                + " WHERE c.oid = pg_catalog.to_regclass(\(parameter: 1))"
        ).query(binds)
        for try await comment in try await self.client.query(query).decode(String?.self) {
            return comment == UsersScenario.mark ? .ours : .someoneElses
        }
        return .absent
    }

    func upperCasedRows(_ table: String) async throws -> [BulkUpdateRow] {
        var pairs: [(Int64, String)] = []
        let query = PostgresStatement("SELECT id::int8, username FROM \(UsersScenario.sql(table))").query()
        for try await pair in try await self.client.query(query).decode((Int64, String).self) {
            pairs.append(pair)
        }
        return UsersScenario.rows(from: pairs)
    }

    func update(_ table: String, rows: [BulkUpdateRow], options: BulkUpdateOptions) async throws -> BulkUpdateReport {
        try await PostgresBulkUpdater(client: self.client).update(
            UsersScenario.quoted(table),
            set: ["username"],
            rows: rows,
            options: options
        )
    }

    func wrongUsernames(_ table: String) async throws -> Int {
        Int(
            try await self.scalar(
                "SELECT count(*)::text FROM \(UsersScenario.sql(table)) WHERE username <> 'USER_' || id"
            )
        ) ?? -1
    }

    func drop(_ table: String) async throws {
        guard try await self.ownership(table) == .ours else { return }
        try await self.client.run("DROP TABLE IF EXISTS \(UsersScenario.sql(table))")
    }

    func scalar(_ sql: SQL) async throws -> String {
        for try await row in try await self.client.query(PostgresStatement(sql).query()) {
            return try row.decode(String.self)
        }
        return ""
    }

    var product: String { "PostgreSQL" }

    var version: String {
        get async throws { try await self.scalar("SHOW server_version") }
    }

    var strategies: [BulkUpdateOptions.Strategy] { Self.strategies }

    /// `copy` is looked up by name, so it is benchmarked as soon as the library has it.
    static var strategies: [BulkUpdateOptions.Strategy] {
        [.unnest, .values, .caseWhen] + [BulkUpdateOptions.Strategy(name: "copy")].compactMap { $0 }
    }

    var hasConcurrentWriters: Bool { true }

    func reset(_ table: String) async throws {
        let quoted = UsersScenario.sql(table)
        try await self.client.run("UPDATE \(quoted) SET username = 'user_' || id")
        try await self.client.run("VACUUM ANALYZE \(quoted)")
    }

    func floor(_ table: String) async throws {
        try await self.client.run("UPDATE \(UsersScenario.sql(table)) SET username = upper(username)")
    }

    func parallelFloor(_ table: String, rows: Int, workers: Int) async throws {
        let quoted = UsersScenario.sql(table)
        let size = (rows + workers - 1) / workers
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                let low = worker * size + 1
                let high = min(rows, (worker + 1) * size)
                guard low <= high else { continue }
                group.addTask {
                    try await self.client.run(
                        "UPDATE \(quoted) SET username = upper(username)"
                            + " WHERE id BETWEEN \(integer: low) AND \(integer: high)"
                    )
                }
            }
            try await group.waitForAll()
        }
    }
}

struct SQLiteUsers: UsersDatabase {
    let updater: SQLiteBulkUpdater

    var name: String {
        get async throws { "SQLite " + SQLiteConnection.libraryVersionString() }
    }

    func create(_ table: String, rows: Int, shuffled: Bool) async throws {
        try await self.create(table, rows: rows)
    }

    func create(_ table: String, rows: Int) async throws {
        let quoted = UsersScenario.sql(table)
        let connection = self.updater.connection
        try await self.dropLeftover(table)
        let columns = UsersScenario.columns(boolean: "bool", timestamp: "datetime", now: "CURRENT_TIMESTAMP")
        try await connection.execute("BEGIN IMMEDIATE")
        do {
            // SQLite keeps the text of CREATE TABLE, comment included: that is the mark. The escape takes a constant
            // of this file, which holds no `*/`.
            let mark = SQL.unsafeRaw("/* \(UsersScenario.mark) */")
            try await connection.execute("CREATE TABLE \(quoted) (\(mark) \(columns))")
            try await connection.execute(
                "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < \(parameter: 1)) "
                    + "INSERT INTO \(quoted) (id, username, email)"
                    + " SELECT i, 'user_' || i, 'user_' || i || '@example.com' FROM g",
                [.integer(SQLiteInt64(rows))]
            )
            try await connection.execute("COMMIT")
        } catch {
            _ = try? await connection.execute("ROLLBACK")
            throw error
        }
        try await connection.execute("ANALYZE \(quoted)")
    }

    /// Whether `table` exists in the main database, and whether it carries the scenario mark.
    func ownership(_ table: String) async throws -> ScenarioTableOwnership {
        let name = UsersScenario.name(table)
        let rows = try await self.updater.connection.execute(
            "SELECT sql FROM \(identifier: name.schema ?? "main").sqlite_schema WHERE name = \(parameter: 1) COLLATE NOCASE",
            [.text(name.name)]
        )
        guard let row = rows.first else { return .absent }
        let sql = row.column("sql")?.string ?? ""
        return sql.contains("/* \(UsersScenario.mark) */") ? .ours : .someoneElses
    }

    func upperCasedRows(_ table: String) async throws -> [BulkUpdateRow] {
        let rows = try await self.updater.connection.execute("SELECT id, username FROM \(UsersScenario.sql(table))")
        return UsersScenario.rows(
            from: rows.map { (Int64($0.column("id")?.integer ?? 0), $0.column("username")?.string ?? "") }
        )
    }

    func update(_ table: String, rows: [BulkUpdateRow], options: BulkUpdateOptions) async throws -> BulkUpdateReport {
        try await self.updater.update(UsersScenario.quoted(table), set: ["username"], rows: rows, options: options)
    }

    func wrongUsernames(_ table: String) async throws -> Int {
        let rows = try await self.updater.connection.execute(
            "SELECT count(*) FROM \(UsersScenario.sql(table)) WHERE username <> 'USER_' || id"
        )
        return Int(rows.first?.columns.first?.data.integer ?? -1)
    }

    func drop(_ table: String) async throws {
        guard try await self.ownership(table) == .ours else { return }
        try await self.updater.connection.execute("DROP TABLE IF EXISTS \(UsersScenario.sql(table))")
    }

    var product: String { "SQLite" }

    var version: String {
        get async throws { SQLiteConnection.libraryVersionString() }
    }

    var strategies: [BulkUpdateOptions.Strategy] { Self.strategies }

    static var strategies: [BulkUpdateOptions.Strategy] { [.values, .tempTable, .caseWhen] }

    var hasConcurrentWriters: Bool { false }

    func reset(_ table: String) async throws {
        let quoted = UsersScenario.sql(table)
        let connection = self.updater.connection
        try await connection.execute("UPDATE \(quoted) SET username = 'user_' || id")
        try await connection.execute("ANALYZE \(quoted)")
        // An empty write-ahead log for every run (a no-op for databases not in WAL mode).
        try await connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    func floor(_ table: String) async throws {
        // One statement outside an explicit transaction is one transaction.
        try await self.updater.connection.execute("UPDATE \(UsersScenario.sql(table)) SET username = upper(username)")
    }

    func parallelFloor(_ table: String, rows: Int, workers: Int) async throws {
        throw BenchFailure("SQLite has one writer: there is no parallel floor")
    }
}

/// Whether a scenario table exists and who made it.
enum ScenarioTableOwnership {
    case absent
    /// It carries ``UsersScenario/mark``: `demo` or `bench` made it (a run that was killed left it behind).
    case ours
    case someoneElses
}

/// A table the scenario would use exists and was not made by `demo` or `bench`.
struct ScenarioTableError: Error, CustomStringConvertible {
    var table: String
    var description: String {
        "table \(SQLIdentifier.quote(self.table)) already exists and was not created by bulk-update demo or bench,"
            + " which never drop or change a table they did not create: choose another --table"
    }
}

extension UsersDatabase {
    /// Drops a table of this name that an earlier, killed demo or bench left behind; throws when a table of this
    /// name exists that they did not make.
    func dropLeftover(_ table: String) async throws {
        switch try await self.ownership(table) {
        case .absent: return
        case .ours: try await self.drop(table)
        case .someoneElses: throw ScenarioTableError(table: table)
        }
    }
}

extension PostgresClient {
    /// Runs a statement and discards its rows.
    func run(_ sql: SQL) async throws {
        for try await _ in try await self.query(PostgresStatement(sql).query()) {}
    }
}
