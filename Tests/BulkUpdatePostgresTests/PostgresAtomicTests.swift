import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateTestSupport
import Foundation
import InMemoryLogging
import Logging
import PostgresNIO
import Testing

@Suite(
    "PostgreSQL atomic runs and COPY",
    .serialized,  // the tests look at every staging table in the database
    .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason),
    .timeLimit(.minutes(5))
)
struct PostgresAtomicTests {
    static func atomic(workers: Int = 2, chunkSize: Int = 10, skipUnchanged: Bool = false) -> BulkUpdateOptions {
        var options = BulkUpdateOptions(workers: workers, chunkSize: chunkSize, skipUnchanged: skipUnchanged)
        options.atomic = true
        return options
    }

    /// Staging tables of atomic runs that are not temporary: there must never be any.
    static func persistentStages(_ client: PostgresClient) async throws -> [String] {
        try await client.rows(
            "SELECT relname::text FROM pg_class WHERE relname LIKE 'bulk\\_update\\_atomic\\_%'"
                + " AND relpersistence <> 't' ORDER BY 1"
        ).map { $0[0] ?? "" }
    }

    /// Terminates the session that holds the temporary table `stage`: every statement it runs names the stage
    /// (create, COPY, analyze, update), so its last statement in pg_stat_activity does.
    static func terminateSession(holding stage: String) -> String {
        """
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND query LIKE '%\(stage)%'
        """
    }

    @Test("an atomic run applies every row, the last row of a key winning, and drops its stage")
    func atomicApplies() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 200) g")
            // Keys repeat far apart, so repeats land in different chunks of the worker that owns them.
            var rows = (1...150).map { BulkUpdateRow([.int($0), .string("first \($0)")], line: $0) }
            rows += (1...50).map { BulkUpdateRow([.int($0 * 3), .string("second \($0 * 3)")], line: 150 + $0) }
            rows.append(BulkUpdateRow([999, "missing"], line: 201))
            let report = try await updater.update(table, set: ["v"], rows: rows, options: Self.atomic())
            #expect(report.atomic)
            #expect(report.strategy == "copy")
            #expect(report.rowsRead == 201)
            #expect(report.rowsMatched == 150)
            #expect(report.keysNotFound == 1)
            #expect(report.notFoundExamples == ["999"])
            #expect(report.rowsRead == report.duplicateKeys + report.rowsMatched + report.keysNotFound)
            let stored = try await client.rows("SELECT id::text AS key, v FROM \(table) ORDER BY id")
            let want = (1...200).map { id -> [String?] in
                if id <= 150 && id % 3 == 0 { return [String(id), "second \(id)"] }
                return [String(id), id <= 150 ? "first \(id)" : "old"]
            }
            #expect(stored == want)
            #expect(try await Self.persistentStages(client).isEmpty)
        }
    }

    @Test("a failure in the final statement leaves the table byte for byte unchanged and no stage behind")
    func failureInFinalStatement() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, u text UNIQUE, note text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'u' || g, 'n' FROM generate_series(1, 100) g")
            let before = try await client.checksum(table)
            // Valid for the client, but the last row collides with another row's unique value.
            var rows = (1...99).map { BulkUpdateRow([.int($0), .string("new \($0)"), "changed"]) }
            rows.append([100, "new 1", "changed"])
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["u", "note"], rows: rows, options: Self.atomic())
            }
            #expect(error.code == .constraint)
            #expect(error.partialReport?.chunks == 0)
            #expect(error.description.contains("nothing was written"))
            #expect(try await client.checksum(table) == before)
            #expect(try await Self.persistentStages(client).isEmpty)
        }
    }

    @Test("a bad row in the last chunk of a stream fails the run with the table unchanged")
    func badRowInLastChunk() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v int NOT NULL") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 0 FROM generate_series(1, 100) g")
            let before = try await client.checksum(table)
            let rows = AsyncStream<BulkUpdateRow> { continuation in
                for id in 1...99 { continuation.yield([.int(id), .int(id)]) }
                continuation.yield([100, "one hundred"])
                continuation.finish()
            }
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["v"], rows: rows, options: Self.atomic(chunkSize: 7))
            }
            #expect(error.code == .input)
            #expect(error.inputLine == 100)
            #expect(error.partialReport?.chunks == 0)
            #expect(try await client.checksum(table) == before)
            #expect(try await Self.persistentStages(client).isEmpty)
        }
    }

    @Test("the stage is a temporary table: no table is created in any schema, and none is left behind")
    func stageIsTemporary() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 50) g")
            let recorder = InMemoryLogHandler()
            var logger = Logger(label: "test", factory: { _ in recorder })
            logger.logLevel = .debug
            let rows = (1...50).map { BulkUpdateRow([.int($0), "new"]) }
            let report = try await updater.update(table, set: ["v"], rows: rows, options: Self.atomic(), logger: logger)
            #expect(report.rowsChanged == 50)
            let created = recorder.entries.filter { $0.message.description == "atomic stage created" }
            let stage = try #require(created.first?.metadata["bulk_update.stage"]?.description)
            #expect(stage.hasPrefix("bulk_update_atomic_"))
            // The stage lived in a temporary schema and was dropped at the end; nothing persistent was ever made.
            #expect(try await client.rows("SELECT relname::text FROM pg_class WHERE relname = '\(stage)'").isEmpty)
            #expect(try await Self.persistentStages(client).isEmpty)
        }
    }

    @Test("a killed atomic run leaves the target untouched and no stage behind")
    func killedRun() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 2000) g")
            let before = try await client.checksum(table)
            // The run's staging session is terminated while chunks are still being staged.
            let rows = AsyncStream<BulkUpdateRow> { continuation in
                Task {
                    for id in 1...2000 {
                        continuation.yield([.int(id), "new"])
                        if id == 1000 { try? await Task.sleep(for: .milliseconds(500)) }
                    }
                    continuation.finish()
                }
            }
            let recorder = InMemoryLogHandler()
            var logger = Logger(label: "test", factory: { _ in recorder })
            logger.logLevel = .debug
            async let killer: Void = {
                // Once the run has made its stage and staged some chunks, its staging session is terminated.
                var stage: String?
                while stage == nil {
                    try await Task.sleep(for: .milliseconds(20))
                    stage =
                        recorder.entries.first { $0.message.description == "atomic stage created" }?
                        .metadata["bulk_update.stage"]?.description
                }
                try await Task.sleep(for: .milliseconds(200))
                try await client.run(Self.terminateSession(holding: stage!))
            }()
            await #expect(throws: BulkUpdateError.self) {
                try await updater.update(
                    table,
                    set: ["v"],
                    rows: rows,
                    options: Self.atomic(chunkSize: 100),
                    logger: logger
                )
            }
            try await killer
            #expect(try await client.checksum(table) == before)
            let created = recorder.entries.filter { $0.message.description == "atomic stage created" }
            let stage = try #require(created.first?.metadata["bulk_update.stage"]?.description)
            // The server drops a session's temporary tables as the session ends.
            var left = true
            for _ in 0..<100 where left {
                left = try await !client.rows("SELECT 1 FROM pg_class WHERE relname = '\(stage)'").isEmpty
                if left { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(!left, "the temporary stage \(stage) outlived its session")
        }
    }

    @Test("atomic with skipUnchanged counts changed and unchanged rows from the final statement")
    func atomicSkipUnchanged() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'v' || g FROM generate_series(1, 30) g")
            let rows = (1...30).map { BulkUpdateRow([.int($0), .string($0 <= 10 ? "changed" : "v\($0)")]) }
            let report = try await updater.update(
                table,
                set: ["v"],
                rows: rows,
                options: Self.atomic(skipUnchanged: true)
            )
            #expect(report.rowsMatched == 30)
            #expect(report.rowsChanged == 10)
            #expect(report.rowsUnchanged == 20)
            #expect(try await client.rows("SELECT count(*)::text FROM \(table) WHERE v = 'changed'") == [["10"]])
        }
    }

    @Test("atomic runs reject strategies that cannot stage")
    func atomicNeedsCopy() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { _, updater, table in
            var options = Self.atomic()
            options.strategy = .unnest
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["v"], rows: [[1, "x"]], options: options)
            }
            #expect(error.code == .configuration)
            #expect(error.description.contains("COPY"))
        }
    }
}
