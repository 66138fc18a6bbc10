import BulkUpdate
import BulkUpdateFluent
import BulkUpdateTestSupport
import FluentKit
import Testing

/// Serialized: the test models' tables have fixed names (`Model.schema` is static).
@Suite(
    "Fluent models on PostgreSQL",
    .serialized,
    .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason),
    .timeLimit(.minutes(3))
)
struct FluentPostgresTests {
    /// Both configurations of fluent-postgres-driver.
    static let setups: [TestDatabases.Setup] = [.postgres(connectionsPerEventLoop: 4), .postgresClient(connections: 4)]

    @Test(arguments: setups) func updatesChangedAndUnchangedModels(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.updatesChangedAndUnchangedModels(setup)
    }

    @Test(arguments: setups) func writesFieldsByTheirKeys(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.writesFieldsByTheirKeys(setup)
    }

    @Test(arguments: setups) func leavesModelsSaved(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.leavesModelsSaved(setup)
    }

    @Test(arguments: setups) func touchesUpdateTimestamps(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.touchesUpdateTimestamps(setup)
    }

    @Test(arguments: setups) func workersAgree(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.workersAgree(setup)
    }

    @Test(arguments: setups) func reportsMissingRows(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.reportsMissingRows(setup)
    }

    @Test(arguments: setups) func matchesCompositeIDs(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.matchesCompositeIDs(setup)
    }

    @Test(arguments: setups) func writesGroupsAndParents(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.writesGroupsAndParents(setup)
    }

    @Test(arguments: setups) func rejectsWhatItCannotWrite(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.rejectsWhatItCannotWrite(setup)
    }

    /// Eight workers on a pool of one connection (AsyncKit's, per event loop) or two (PostgresClient's) take turns
    /// chunk by chunk instead of deadlocking.
    @Test(arguments: [TestDatabases.Setup.postgres(connectionsPerEventLoop: 1), .postgresClient(connections: 2)])
    func moreWorkersThanConnections(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.withTables(setup) { db in
            try await FluentScenarios.seedMembers(db, ids: 1...2_000)
            let members = try await Member.query(on: db).all()
            for member in members { member.points = -member.points }
            let report = try await members.bulkUpdate(
                on: db,
                fields: \.$points,
                options: .init(workers: 8, chunkSize: 50)
            )
            #expect(report.workers == 8)
            #expect(report.rowsChanged == 2_000)
            #expect(report.chunks >= 40)
            #expect(try await Member.query(on: db).filter(\.$points < 0).count() == 2_000)
        }
    }

    /// Inside Fluent's `transaction` the update runs on the transaction's connection and commits or rolls back
    /// with it.
    @Test(arguments: setups) func runsInsideATransaction(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.withTables(setup) { db in
            try await FluentScenarios.seedMembers(db, ids: 1...100)
            let members = try await Member.query(on: db).all()
            for member in members { member.points += 1_000 }
            let report = try await db.transaction { transaction in
                try await members.bulkUpdate(on: transaction, fields: \.$points, options: .init(workers: 4))
            }
            #expect(report.workers == 1)
            #expect(try await Member.query(on: db).filter(\.$points > 1_000).count() == 100)

            struct Abandon: Error {}
            for member in members { member.points = 0 }
            await #expect(throws: Abandon.self) {
                try await db.transaction { transaction in
                    _ = try await members.bulkUpdate(on: transaction, fields: \.$points)
                    throw Abandon()
                }
            }
            #expect(try await Member.query(on: db).filter(\.$points == 0).count() == 0)
        }
    }

    /// `atomic`: a unique violation in a late chunk leaves every row as it was; without it, earlier chunks stay.
    @Test(arguments: setups) func atomicRunsAllOrNothing(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.withTables(setup) { db in
            let accounts = try await FluentScenarios.seedAccounts(db, count: 20)
            for account in accounts { account.username = account.username.uppercased() }
            accounts[19].username = accounts[0].username  // unique(user_name) fails
            var options = BulkUpdateOptions(workers: 4, chunkSize: 5)
            options.atomic = true
            let error = await #expect(throws: BulkUpdateError.self) {
                try await accounts.bulkUpdate(on: db, fields: \.$username, options: options)
            }
            #expect(error?.code == .constraint)
            #expect(error?.partialReport?.rowsChanged == 0)
            #expect(try await Account.query(on: db).filter(\.$username =~ "USER_").count() == 0)
            #expect(accounts[1].hasChanges)  // nothing was saved, so the change is still pending
        }
    }

    /// `lockTimeout` and `statementTimeout` are set per chunk: a row locked by another transaction fails the chunk
    /// with a conflict (55P03) instead of waiting.
    @Test(arguments: setups) func stopsWaitingForLocks(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.withTables(setup) { db in
            try await FluentScenarios.seedMembers(db, ids: 1...10)
            let members = try await Member.query(on: db).all()
            for member in members { member.points = -1 }
            let options = {
                var options = BulkUpdateOptions(workers: 1)
                options.lockTimeout = .milliseconds(200)
                options.maximumRetries = 0
                return options
            }()
            let error = try await db.transaction { transaction in
                try await transaction.run("SELECT 1 FROM \(Member.schema) WHERE member_id = 3 FOR UPDATE")
                return await #expect(throws: BulkUpdateError.self) {
                    try await members.bulkUpdate(on: db, fields: \.$points, options: options)
                }
            }
            #expect(error?.code == .conflict)
            #expect(error?.sqlState == "55P03")
            #expect(try await Member.query(on: db).filter(\.$points < 0).count() == 0)
        }
    }

    /// `skipUnchanged` counts rows whose values already match as unchanged.
    @Test(arguments: setups) func skipsUnchangedRows(_ setup: TestDatabases.Setup) async throws {
        try await FluentScenarios.withTables(setup) { db in
            try await FluentScenarios.seedMembers(db, ids: 1...40)
            let members = try await Member.query(on: db).all()
            for member in members where member.id!.isMultiple(of: 4) { member.points = 0 }
            var options = BulkUpdateOptions(workers: 2, chunkSize: 8)
            options.skipUnchanged = true
            let report = try await members.bulkUpdate(on: db, fields: \.$points, options: options)
            #expect(report.rowsMatched == 40)
            #expect(report.rowsChanged == 10)
            #expect(report.rowsUnchanged == 30)
        }
    }
}
