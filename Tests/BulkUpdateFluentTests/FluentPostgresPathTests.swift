import BulkUpdate
import BulkUpdateFluent
import FluentKit
import Foundation
import InMemoryLogging
import Logging
import Testing

/// Fluent models on PostgreSQL run on `BulkUpdatePostgres`'s own path: every strategy, atomic staging, journaled
/// runs, and the connection of a Fluent transaction or `withConnection`, on both driver configurations. (Part of the
/// serialized suite: the test models' table names are fixed.)
extension FluentPostgresTests {
    /// Sets every member's points to `-id * factor` with `options`, and checks the table and the report.
    static func negatePoints(
        _ db: any Database,
        on target: any Database,
        factor: Int,
        options: BulkUpdateOptions,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> BulkUpdateReport {
        let members = try await Member.query(on: db).sort(\.$id).all()
        for member in members { member.points = -member.id! * factor }
        let report = try await members.bulkUpdate(on: target, fields: \.$points, options: options)
        #expect(report.rowsChanged + report.rowsAlreadyApplied == members.count, sourceLocation: sourceLocation)
        return report
    }

    static func points(_ db: any Database) async throws -> [Int] {
        try await Member.query(on: db).sort(\.$id).all().map(\.points)
    }

    /// Whether the table `name` exists in any session.
    static func exists(_ db: any Database, table name: String) async throws -> Bool {
        try await db.column("SELECT count(*)::int8 FROM pg_class WHERE relname = '\(name)'", as: Int.self) != [0]
    }

    /// unnest, copy, values, caseWhen and an atomic run, each over several chunks and workers.
    @Test(arguments: setups) func runsEveryStrategy(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.withTables(setup) { db in
            try await FluentScenarios.seedMembers(db, ids: 1...60)
            let strategies: [BulkUpdateOptions.Strategy] = [.unnest, .copy, .values, .caseWhen]
            for (factor, strategy) in strategies.enumerated() {
                let options = BulkUpdateOptions(workers: 3, chunkSize: 16, strategy: strategy)
                let report = try await Self.negatePoints(db, on: db, factor: factor + 1, options: options)
                #expect(report.strategy == strategy.description)
                #expect(report.chunks >= 4)
                #expect(try await Self.points(db) == (1...60).map { -$0 * (factor + 1) })
            }
            var atomic = BulkUpdateOptions(workers: 3, chunkSize: 16)
            atomic.atomic = true
            let recorder = InMemoryLogHandler()
            var logger = Logger(label: "test", factory: { _ in recorder })
            logger.logLevel = .debug
            let members = try await Member.query(on: db).sort(\.$id).all()
            for member in members { member.points = -member.id! * 9 }
            let report = try await members.bulkUpdate(on: db, fields: \.$points, options: atomic, logger: logger)
            #expect(report.atomic && report.strategy == "copy" && report.rowsChanged == 60)
            #expect(try await Self.points(db) == (1...60).map { -$0 * 9 })
            let stage = recorder.entries.first { $0.message.description == "atomic stage created" }?
                .metadata["bulk_update.stage"]?.description
            #expect(try await !Self.exists(db, table: try #require(stage)))
        }
    }

    /// Inside Fluent's `transaction`: chunks are savepoints released into it (the copy stage emptied between them),
    /// an atomic run stages in it, the settings a chunk changes are put back, and a failed run rolls back only its
    /// own part, leaving the caller's transaction usable.
    @Test(arguments: setups) func runsInsideTheCallersTransaction(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.withTables(setup) { db in
            try await FluentScenarios.seedMembers(db, ids: 1...40)
            var copy = BulkUpdateOptions(workers: 4, chunkSize: 8, strategy: .copy)
            copy.lockTimeout = .milliseconds(1_500)
            copy.skipUnchanged = true
            var atomic = BulkUpdateOptions(chunkSize: 8)
            atomic.atomic = true
            let (copyOptions, atomicOptions) = (copy, atomic)
            try await db.transaction { transaction in
                let before = try await transaction.column(
                    "SELECT current_setting('lock_timeout') || ' ' || current_setting('enable_hashjoin')",
                    as: String.self
                )
                let report = try await Self.negatePoints(db, on: transaction, factor: 1, options: copyOptions)
                #expect(report.workers == 1)
                #expect(report.chunks == 5)
                #expect(report.rowsUnchanged == 0)
                _ = try await Self.negatePoints(db, on: transaction, factor: 2, options: atomicOptions)
                #expect(
                    try await transaction.column(
                        "SELECT current_setting('lock_timeout') || ' ' || current_setting('enable_hashjoin')",
                        as: String.self
                    ) == before
                )
            }
            #expect(try await Self.points(db) == (1...40).map { -$0 * 2 })

            // A unique violation in the third chunk: the first two stay in the caller's transaction, which goes on.
            try await (1...24).map { Account(username: "user_\($0)", email: nil) }.create(on: db)
            let accounts = try await Account.query(on: db).sort(\.$username).all()
            for account in accounts { account.username = account.username.uppercased() }
            accounts[20].username = accounts[0].username
            try await db.transaction { transaction in
                let error = await #expect(throws: BulkUpdateError.self) {
                    try await accounts.bulkUpdate(on: transaction, fields: \.$username, options: .init(chunkSize: 8))
                }
                #expect(error?.code == .constraint)
                #expect(error?.partialReport?.committedChunks.count == 2)
                let usable = try await transaction.column("SELECT 1::int8", as: Int.self)
                #expect(usable == [1])
            }
            #expect(try await Account.query(on: db).filter(\.$username =~ "USER_").count() == 16)
        }
    }

    /// Values only the server can judge (a domain's CHECK) are checked inside the caller's transaction without
    /// breaking it: the run fails before writing, and the transaction goes on.
    @Test(arguments: setups) func checksValuesInsideTheCallersTransaction(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.withTables(setup) { db in
            try await db.run("DROP DOMAIN IF EXISTS bu_fluent_points CASCADE")
            try await db.run("CREATE DOMAIN bu_fluent_points AS bigint CHECK (VALUE >= 0)")
            try await db.run("ALTER TABLE \(Member.schema) ALTER COLUMN points TYPE bu_fluent_points")
            try await FluentScenarios.seedMembers(db, ids: 1...10)
            let members = try await Member.query(on: db).sort(\.$id).all()
            for member in members { member.points = member.id! == 7 ? -7 : 100 }
            try await db.transaction { transaction in
                let error = await #expect(throws: BulkUpdateError.self) {
                    try await members.bulkUpdate(on: transaction, fields: \.$points)
                }
                #expect(error?.code == .input)
                #expect(error?.column == "points")
                #expect(error?.inputLine == 7, "\(String(describing: error))")
                let usable = try await transaction.column("SELECT count(*)::int8 FROM \(Member.schema)", as: Int.self)
                #expect(usable == [10])
            }
            #expect(try await Self.points(db) == Array(1...10))
            try await db.run("DROP DOMAIN bu_fluent_points CASCADE")
        }
    }

    /// A database from `withConnection`, bound to one connection with no transaction open: chunks commit on their
    /// own, with one worker. (With the `PostgresClient` configuration Fluent does not say it is bound.)
    @Test(arguments: setups) func runsOnABoundConnection(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.withTables(setup) { db in
            try await FluentScenarios.seedMembers(db, ids: 1...30)
            let report = try await db.withConnection { connection in
                try await Self.negatePoints(db, on: connection, factor: 3, options: .init(workers: 4, chunkSize: 7))
            }
            #expect(report.workers == 1)
            #expect(try await Self.points(db) == (1...30).map { -$0 * 3 })
        }
    }

    /// A journaled run records its chunks in the journal schema; one that failed part-way is resumed from its
    /// journal; inside a caller's transaction one is refused before anything is written.
    @Test(arguments: setups) func journalsRuns(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.withTables(setup) { db in
            let schema = "bu_fluent_journal_\(UUID().uuidString.prefix(8).lowercased())"
            try await db.run("CREATE SCHEMA \(schema)")
            do {
                try await Self.journalRuns(db, schema: schema)
            } catch {
                try? await db.run("DROP SCHEMA IF EXISTS \(schema) CASCADE")
                throw error
            }
            try await db.run("DROP SCHEMA \(schema) CASCADE")
        }
    }

    static func journalRuns(_ db: any Database, schema: String) async throws {
        try await (1...24).map { Account(username: "user_\($0)", email: nil) }.create(on: db)
        let accounts = try await Account.query(on: db).sort(\.$username).all()
        for account in accounts { account.username = account.username.uppercased() }
        // A row that holds the new name of an account in the third chunk: a unique violation there.
        try await Account(username: accounts[20].username, email: nil).create(on: db)
        var options = BulkUpdateOptions(workers: 1, chunkSize: 8)
        options.runID = "fluent-run"
        options.journalSchema = schema
        let failure = await #expect(throws: BulkUpdateError.self) {
            try await accounts.bulkUpdate(on: db, fields: \.$username, touchTimestamps: false, options: options)
        }
        #expect(failure?.code == .constraint)
        let journaled = try await db.column(
            "SELECT count(*)::int8 FROM \(schema).bulk_update_journal WHERE run_id = 'fluent-run'",
            as: Int.self
        )
        #expect(journaled == [2])

        // Another input is refused, saying once that nothing was written.
        options.resume = true
        let other = Array(accounts.dropLast())
        let otherInput = await #expect(throws: BulkUpdateError.self) {
            try await other.bulkUpdate(on: db, fields: \.$username, touchTimestamps: false, options: options)
        }
        #expect(otherInput?.description.components(separatedBy: "nothing was written").count == 2)

        try await Account.query(on: db).filter(\.$username == accounts[20].username).delete()
        options.resume = true
        // The same input: update timestamps would differ from the first call's, so they are not touched.
        let resumed = try await accounts.bulkUpdate(
            on: db,
            fields: \.$username,
            touchTimestamps: false,
            options: options
        )
        #expect(resumed.chunksAlreadyApplied == 2)
        #expect(resumed.rowsAlreadyApplied == 16)
        #expect(resumed.rowsChanged == 8)
        #expect(try await Account.query(on: db).filter(\.$username =~ "USER_").count() == 24)
        #expect(try await Account.query(on: db).count() == 24)
        #expect(
            try await db.column(
                "SELECT rows_committed FROM \(schema).bulk_update_runs WHERE finished_at IS NOT NULL",
                as: Int.self
            ) == [24]
        )

        options.resume = false
        options.runID = "fluent-run-in-transaction"
        let inTransaction = options
        try await FluentScenarios.seedMembers(db, ids: 1...5)
        let refused = try await db.transaction { transaction in
            await #expect(throws: BulkUpdateError.self) {
                try await Self.negatePoints(db, on: transaction, factor: 2, options: inTransaction)
            }
        }
        #expect(refused?.code == .configuration)
        #expect(try await Self.points(db) == [1, 2, 3, 4, 5])
    }
}
