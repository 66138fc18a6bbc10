import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

@Suite(
    "PostgreSQL faults",
    .serialized,  // terminates other sessions of the test user
    .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason),
    .timeLimit(.minutes(5))
)
struct PostgresFaultTests {
    @Test(
        "terminated backends are retried on fresh connections; the final table is exact",
        arguments: [
            BulkUpdateOptions.Strategy.unnest, .copy,
        ]
    )
    func terminatedBackends(strategy: BulkUpdateOptions.Strategy) async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 20000) g")
            let rows = (1...20000).map { BulkUpdateRow([.int($0), .string("new \($0)")]) }
            // Slow the writers down so the terminations land mid-run.
            try await client.run("ALTER TABLE \(table) SET (autovacuum_enabled = false)")
            let marker = "bu_fault_\(UUID().uuidString.prefix(6))"
            try await client.run(
                """
                CREATE FUNCTION \(marker)() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $$
                """
            )
            try await client.run(
                "CREATE TRIGGER \(marker) BEFORE UPDATE ON \(table) FOR EACH STATEMENT EXECUTE FUNCTION \(marker)()"
            )
            async let terminations: Int = {
                var count = 0
                for _ in 0..<6 {
                    try await Task.sleep(for: .milliseconds(60))
                    let killed = try await client.rows(
                        """
                        SELECT count(*)::text FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                        WHERE datname = current_database() AND pid <> pg_backend_pid()
                          AND backend_type = 'client backend' AND query ILIKE '%\(table)%'
                          AND query NOT ILIKE '%pg_terminate_backend%') AS k
                        """
                    )
                    count += Int(killed.first?[0] ?? "0") ?? 0
                }
                return count
            }()
            let report = try await updater.update(
                table,
                set: ["v"],
                rows: rows,
                options: .init(workers: 2, chunkSize: 500, strategy: strategy)
            )
            let killed = try await terminations
            try await client.run("DROP FUNCTION \(marker)() CASCADE")
            #expect(report.rowsMatched >= 20000)
            let wrong = try await client.rows("SELECT count(*)::text FROM \(table) WHERE v <> 'new ' || id")
            #expect(wrong == [["0"]])
            if killed > 0 {
                #expect(report.retries.values.reduce(0, +) > 0, "\(killed) backends were terminated")
            }
        }
    }

    @Test("a non-transient error is not retried and names the chunk")
    func notRetried() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, u text UNIQUE") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'u' || g FROM generate_series(1, 10) g")
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["u"], rows: [[1, "same"], [2, "same"]])
            }
            #expect(error.code == .constraint)
            #expect(error.partialReport?.retries.isEmpty == true)
        }
    }
}

@Suite("PostgreSQL timeouts", .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason))
struct PostgresTimeoutTests {
    @Test("a row lock held by another transaction: lockTimeout fails the chunk with 55P03 after retries")
    func lockTimeout() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 10) g")
            try await client.withConnection { holder in
                let logger = Logger(label: "test")
                try await holder.query("BEGIN", logger: logger)
                try await holder.query(
                    PostgresQuery(unsafeSQL: "SELECT * FROM \(table) WHERE id = 5 FOR UPDATE"),
                    logger: logger
                )
                var options = BulkUpdateOptions(workers: 1)
                options.lockTimeout = .milliseconds(100)
                options.maximumRetries = 2
                let error = try await #require(throws: BulkUpdateError.self) {
                    try await updater.update(
                        table,
                        set: ["v"],
                        rows: (1...10).map { [.int($0), "new"] },
                        options: options
                    )
                }
                #expect(error.sqlState == "55P03")
                #expect(error.code == .conflict)
                #expect(error.partialReport?.retries["55P03"] == 2)
                try await holder.query("ROLLBACK", logger: logger)
            }
            #expect(try await client.rows("SELECT count(*)::text FROM \(table) WHERE v = 'old'") == [["10"]])
        }
    }

    @Test("statementTimeout is applied on the server: a statement that runs longer is stopped (57014)")
    func statementTimeout() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 10) g")
            let marker = "bu_slow_\(UUID().uuidString.prefix(6))"
            try await client.run(
                "CREATE FUNCTION \(marker)() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$"
            )
            try await client.run(
                "CREATE TRIGGER \(marker) BEFORE UPDATE ON \(table) FOR EACH STATEMENT EXECUTE FUNCTION \(marker)()"
            )
            var options = BulkUpdateOptions(workers: 1)
            options.statementTimeout = .milliseconds(300)
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["v"], rows: [[1, "new"]], options: options)
            }
            try await client.run("DROP FUNCTION \(marker)() CASCADE")
            #expect(error.code == .timeout)
            #expect(error.sqlState == "57014", "\(error)")
            #expect(try await client.rows("SELECT v FROM \(table) WHERE id = 1") == [["old"]])
        }
    }
}

// The limit outlasts the command-line suites' synchronous tests holding every shared thread (see FluentSQLiteTests).
@Suite("PostgreSQL deadlocks", .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason), .timeLimit(.minutes(10)))
struct PostgresDeadlockTests {
    @Test("an outside transaction locking rows in the opposite order: the deadlock is resolved and the table is exact")
    func deadlock() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 2000) g")
            let logger = Logger(label: "test")
            let outcome: (report: BulkUpdateReport, outsiderDeadlocked: Bool) = try await client.withConnection {
                outsider in
                // The outsider holds the last row; the chunk (sorted by key) locks row 1 first and then waits for
                // it; the outsider then asks for row 1: a deadlock PostgreSQL breaks by aborting one of the two.
                try await outsider.query("BEGIN", logger: logger)
                try await outsider.query(
                    PostgresQuery(unsafeSQL: "UPDATE \(table) SET v = 'outsider' WHERE id = 2000"),
                    logger: logger
                )
                async let report = updater.update(
                    table,
                    set: ["v"],
                    rows: (1...2000).map { [.int($0), .string("new \($0)")] },
                    options: .init(workers: 1, chunkSize: 2000)
                )
                // Wait until the chunk is blocked on the outsider's row, however slow the machine is.
                for _ in 0..<200 {
                    let waiting = try await client.rows(
                        """
                        SELECT count(*)::text FROM pg_stat_activity WHERE wait_event_type = 'Lock'
                        AND query ILIKE '%\(table)%' AND query NOT ILIKE '%pg_stat_activity%'
                        """
                    )
                    if waiting != [["0"]] { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                var outsiderDeadlocked = false
                do {
                    try await outsider.query(
                        PostgresQuery(unsafeSQL: "UPDATE \(table) SET v = 'outsider' WHERE id = 1"),
                        logger: logger
                    )
                    try await outsider.query("COMMIT", logger: logger)
                } catch let error as PSQLError {
                    outsiderDeadlocked = error.serverInfo?[.sqlState] == "40P01"
                    try await outsider.query("ROLLBACK", logger: logger)
                }
                return (try await report, outsiderDeadlocked)
            }
            // Either the chunk was the victim and was retried, or the outsider was.
            let retried = outcome.report.retries["40P01", default: 0]
            #expect(retried > 0 || outcome.outsiderDeadlocked)
            let wrong = try await client.rows("SELECT count(*)::text FROM \(table) WHERE v <> 'new ' || id")
            #expect(wrong == [["0"]], "retried \(retried), outsider deadlocked: \(outcome.outsiderDeadlocked)")
        }
    }
}
