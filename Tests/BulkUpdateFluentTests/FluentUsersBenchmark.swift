import BulkUpdate
import BulkUpdateFluent
import BulkUpdatePostgres
import BulkUpdateTestSupport
import FluentKit
import Foundation
import PostgresNIO
import Testing

/// The users scenario (a table shaped like Django's `auth_user`, every username upper-cased) with Fluent models on
/// PostgreSQL, timed three ways in one run: `bulkUpdate` on the models, the same models saved one by one with
/// `save`, and BulkUpdate's core API on the same rows.
///
/// Not a test of speed (tests never assert timings): it runs only when asked, and prints the figures.
///
/// ```sh
/// swift build -c release --build-tests
/// BULK_UPDATE_FLUENT_BENCH=100000 scripts/with-postgres swift test -c release --skip-build \
///     --filter FluentUsersBenchmark
/// ```
@Suite(
    "Users scenario with Fluent models",
    .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["BULK_UPDATE_FLUENT_BENCH"] != nil,
        "set BULK_UPDATE_FLUENT_BENCH=<rows> to time the users scenario with Fluent models"
    )
)
struct FluentUsersBenchmark {
    static let rows = Int(ProcessInfo.processInfo.environment["BULK_UPDATE_FLUENT_BENCH"] ?? "") ?? 100_000
    static let workers = 2

    @Test(.timeLimit(.minutes(60))) func usersScenario() async throws {
        let rows = Self.rows
        let clock = ContinuousClock()
        var lines = [
            "users scenario, \(rows) Fluent models, PostgreSQL, \(Self.workers) worker(s), chunk 10,000,"
                + " Fluent pool of \(Self.workers) connection(s) per event loop"
        ]
        try await TestDatabases.with(.postgres(connectionsPerEventLoop: Self.workers)) { db in
            try await BenchUser.create(on: db, rows: rows)
            defer { lines.forEach { print($0) } }

            // (a) bulkUpdate on the models.
            var start = clock.now
            let users = try await BenchUser.query(on: db).all()
            let fetched = clock.now - start
            for user in users { user.username = user.username.uppercased() }
            start = clock.now
            let report = try await users.bulkUpdate(
                on: db,
                fields: \.$username,
                options: .init(workers: Self.workers, chunkSize: 10_000)
            )
            let bulk = clock.now - start
            #expect(report.rowsChanged == rows)
            #expect(try await BenchUser.wrongUsernames(on: db) == 0)
            #expect(users.allSatisfy { !$0.hasChanges })
            lines.append("fetching the models (not timed below): \(Self.format(fetched))")
            lines.append("(a) users.bulkUpdate(on:fields: \\.$username): \(Self.format(bulk))")

            // (b) The same models saved one by one.
            try await BenchUser.reset(on: db)
            let again = try await BenchUser.query(on: db).all()
            for user in again { user.username = user.username.uppercased() }
            start = clock.now
            for user in again { try await user.save(on: db) }
            let saves = clock.now - start
            #expect(try await BenchUser.wrongUsernames(on: db) == 0)
            lines.append("(b) for user in users { try await user.save(on: db) }: \(Self.format(saves))")

            // (c) The core API on the same rows, through its own PostgresClient.
            try await BenchUser.reset(on: db)
            let changes: [BulkUpdateRow] = again.map { [.int($0.id!), .string($0.username)] }
            let core = try await Self.withCoreUpdater { updater in
                let start = clock.now
                let report = try await updater.update(
                    BenchUser.schema,
                    set: ["username"],
                    rows: changes,
                    options: .init(workers: Self.workers, chunkSize: 10_000)
                )
                #expect(report.rowsChanged == rows)
                return clock.now - start
            }
            #expect(try await BenchUser.wrongUsernames(on: db) == 0)
            lines.append("(c) PostgresBulkUpdater.update on prebuilt rows: \(Self.format(core))")
            lines.append(
                "save loop / bulkUpdate: \(Self.ratio(saves, bulk))x; bulkUpdate / core API: \(Self.ratio(bulk, core))x"
            )
            try await db.run("DROP TABLE \(BenchUser.schema)")
        }
    }

    static func withCoreUpdater<Result: Sendable>(
        _ body: (PostgresBulkUpdater) async throws -> Result
    ) async throws -> Result {
        let url = try TestPostgres.requireURL()
        return try await PostgresBulkUpdater.withUpdater(url: url, maximumConnections: Self.workers, body)
    }

    static func format(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.3f s", seconds)
    }

    static func ratio(_ lhs: Duration, _ rhs: Duration) -> String {
        String(format: "%.1f", (lhs / rhs))
    }
}

/// Django's `auth_user` as a Fluent model.
final class BenchUser: Model, @unchecked Sendable {
    static let schema = "bu_fluent_bench_users"

    @ID(custom: "id") var id: Int?
    @Field(key: "password") var password: String
    @OptionalField(key: "last_login") var lastLogin: Date?
    @Field(key: "is_superuser") var isSuperuser: Bool
    @Field(key: "username") var username: String
    @Field(key: "first_name") var firstName: String
    @Field(key: "last_name") var lastName: String
    @Field(key: "email") var email: String
    @Field(key: "is_staff") var isStaff: Bool
    @Field(key: "is_active") var isActive: Bool
    @Field(key: "date_joined") var dateJoined: Date

    init() {}

    /// Creates the table and fills it with `rows` users named `user_<id>`.
    static func create(on db: any Database, rows: Int) async throws {
        try await db.run("DROP TABLE IF EXISTS \(Self.schema)")
        try await db.run(
            """
            CREATE TABLE \(Self.schema) (
                id integer PRIMARY KEY, password varchar(128) NOT NULL DEFAULT '', last_login timestamptz NULL,
                is_superuser boolean NOT NULL DEFAULT false, username varchar(150) NOT NULL UNIQUE,
                first_name varchar(150) NOT NULL DEFAULT '', last_name varchar(150) NOT NULL DEFAULT '',
                email varchar(254) NOT NULL DEFAULT '', is_staff boolean NOT NULL DEFAULT false,
                is_active boolean NOT NULL DEFAULT true, date_joined timestamptz NOT NULL DEFAULT now())
            """
        )
        try await db.run(
            "INSERT INTO \(Self.schema) (id, username, email, first_name, last_name)"
                + " SELECT i, 'user_' || i, 'user_' || i || '@example.com', 'First' || i, 'Last' || i"
                + " FROM generate_series(1, \(rows)) AS i"
        )
        try await db.run("VACUUM ANALYZE \(Self.schema)")
    }

    /// Puts every username back to `user_<id>` and refreshes the statistics, so every timed run starts alike.
    static func reset(on db: any Database) async throws {
        try await db.run("UPDATE \(Self.schema) SET username = 'user_' || id")
        try await db.run("VACUUM ANALYZE \(Self.schema)")
    }

    /// Users whose username is not `USER_<id>`.
    static func wrongUsernames(on db: any Database) async throws -> Int {
        try await db.column(
            "SELECT count(*) FROM \(Self.schema) WHERE username <> 'USER_' || id",
            as: Int.self
        )[0]
    }
}
