import BulkUpdate
import BulkUpdateTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

@testable import BulkUpdatePostgres

@Suite(
    "PostgreSQL: plans, timing, resume and sessions",
    .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason),
    .timeLimit(.minutes(3))
)
struct PostgresHardeningTests {
    /// The plan of one chunk's statement, as the chunk's transaction would run it.
    static func plan(
        of sql: SQL,
        binds: PostgresBindings,
        options: BulkUpdateOptions,
        indexJoins: Bool,
        on client: PostgresClient
    ) async throws -> String {
        try await client.withConnection { connection in
            let logger = Logger(label: "test")
            try await connection.query("BEGIN", logger: logger)
            let (settings, settingBinds) = PostgresChunkExecutor.transactionSettings(options, indexJoins: indexJoins)
            for try await _ in try await connection.query(
                PostgresStatement(settings).query(settingBinds),
                logger: logger
            ) {}
            var lines: [String] = []
            for try await line in try await connection.query(
                PostgresStatement("EXPLAIN \(sql)").query(binds),
                logger: logger
            ).decode(String.self) {
                lines.append(line)
            }
            try await connection.query("ROLLBACK", logger: logger)
            return lines.joined(separator: "\n")
        }
    }

    @Test("a chunk that is 10 % of the table is still written through the key's index, never a whole-table scan")
    func chunkPlanUsesTheIndex() async throws {
        try await TestDatabase.withTestTable("id int8 PRIMARY KEY, username text NOT NULL") { client, _, table in
            // Loaded in an order that does not follow the key, as a long-lived table's rows are.
            try await client.run(
                "INSERT INTO \(table) SELECT g, 'user_' || g FROM generate_series(1, 100000) g ORDER BY random()"
            )
            try await client.run("ANALYZE \(table)")
            let plan = try await PreparedUpdate.prepare(
                backend: PostgresBackend(client: client),
                table: table,
                keyColumns: nil,
                setColumns: { _ in ["username"] },
                options: .init(workers: 1, chunkSize: 10_000, strategy: .unnest),
                logger: Logger(label: "test")
            ).plan
            var chunk = Chunk(plan: plan, worker: 0, number: 0, capacity: 10_000)
            for id in stride(from: 1, through: 100_000, by: 10) {
                try chunk.append([.int(Int64(id)), .string("USER_\(id)")], line: id, plan: plan)
            }
            let statements = PostgresStatements(plan: plan)
            let sql = statements.update(from: statements.unnestSource)
            let binds = statements.arrayBinds(chunk)
            // Without the chunk's settings the planner picks a hash join over the whole table: the cliff is real.
            let unguarded = try await Self.plan(
                of: sql,
                binds: binds,
                options: plan.options,
                indexJoins: false,
                on: client
            )
            #expect(unguarded.contains("Seq Scan on"), "\(unguarded)")
            let guarded = try await Self.plan(
                of: sql,
                binds: binds,
                options: plan.options,
                indexJoins: true,
                on: client
            )
            #expect(guarded.contains("Index Scan using"), "\(guarded)")
            #expect(!guarded.contains("Seq Scan on") && !guarded.contains("Hash Join"), "\(guarded)")

            // The not-found lookup and the skipUnchanged statement get the same plan shape.
            let lookup = try await Self.plan(
                of: statements.notFoundLookup,
                binds: statements.arrayBinds(chunk, columns: 0..<1),
                options: plan.options,
                indexJoins: true,
                on: client
            )
            #expect(!lookup.contains("Seq Scan on \(table.replacingOccurrences(of: "\"", with: ""))"), "\(lookup)")
        }
    }

    @Test("an atomic run's elapsed time includes its final statement")
    func atomicElapsed() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            let function = table.replacingOccurrences(of: "\"", with: "").replacingOccurrences(
                of: "bu_test_",
                with: "bu_slow_"
            )
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 100) g")
            // The final UPDATE takes a second: a statement trigger sleeps.
            try await client.run(
                "CREATE FUNCTION \(function)() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$"
            )
            try await client.run(
                "CREATE TRIGGER slow AFTER UPDATE ON \(table) FOR EACH STATEMENT EXECUTE FUNCTION \(function)()"
            )
            var options = BulkUpdateOptions(workers: 2, chunkSize: 10)
            options.atomic = true
            let rows = (1...100).map { BulkUpdateRow([.int($0), "new"]) }
            let report: BulkUpdateReport
            do {
                report = try await updater.update(table, set: ["v"], rows: rows, options: options)
                try await client.run("DROP FUNCTION \(function)() CASCADE")
            } catch {
                try? await client.run("DROP FUNCTION IF EXISTS \(function)() CASCADE")
                throw error
            }
            #expect(report.rowsChanged == 100)
            #expect(report.elapsedSeconds >= 1.0, "elapsed \(report.elapsedSeconds) s")
        }
    }

    @Test("resuming a mostly committed run does not wait under the rate limit for the chunks it skips")
    func resumeSkipsAreNotThrottled() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 2000) g")
            let runID = "throttle-" + UUID().uuidString.prefix(8)
            var options = BulkUpdateOptions(workers: 1, chunkSize: 100)
            options.runID = runID
            // The first run dies at row 1,990: 18 or 19 chunks of 100 are committed (the last one may be stopped).
            let broken = AsyncStream<BulkUpdateRow> { continuation in
                for id in 1...2000 {
                    continuation.yield(id == 1990 ? [.int(id), .int(1), .int(2)] : [.int(id), "new"])
                }
                continuation.finish()
            }
            await #expect(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["v"], rows: broken, options: options)
            }
            // Resumed at 100 rows/s: the 1,800 or more skipped rows would take 18 s or more if they were paced; the
            // rest take 2 s at most.
            options.resume = true
            options.maximumRowsPerSecond = 100
            let rows = (1...2000).map { BulkUpdateRow([.int($0), "new"]) }
            let report = try await updater.update(table, set: ["v"], rows: rows, options: options)
            #expect(report.rowsAlreadyApplied >= 1800)
            #expect(report.rowsAlreadyApplied + report.rowsChanged == 2000)
            #expect(report.elapsedSeconds < 10, "elapsed \(report.elapsedSeconds) s")
            #expect(try await client.rows("SELECT count(*)::text FROM \(table) WHERE v = 'new'") == [["2000"]])
        }
    }

    @Test("sessions carry application_name: bulk-update by default, or the URL's")
    func applicationName() async throws {
        let url = try #require(TestPostgres.url)
        for (suffix, expected) in [("", "bulk-update"), ("&application_name=nightly-fix", "nightly-fix")] {
            let name = try await PostgresBulkUpdater.withUpdater(url: url + suffix) { updater in
                try await updater.client.query("SELECT current_setting('application_name')").decode(String.self)
                    .first { _ in true }
            }
            #expect(name == expected)
        }
    }
}
