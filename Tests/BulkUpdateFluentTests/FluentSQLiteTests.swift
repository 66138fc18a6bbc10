import BulkUpdate
import BulkUpdateFluent
import FluentKit
import Testing

// The limit runs while the command-line suites' synchronous tests hold every thread the tests share (one per core),
// during which these asynchronous tests cannot go on: it is long enough to outlast that, short enough to catch a hang.
@Suite("Fluent models on SQLite", .timeLimit(.minutes(10)))
struct FluentSQLiteTests {
    @Test func updatesChangedAndUnchangedModels() async throws {
        try await FluentScenarios.updatesChangedAndUnchangedModels(.sqlite)
    }

    @Test func writesFieldsByTheirKeys() async throws {
        try await FluentScenarios.writesFieldsByTheirKeys(.sqlite)
    }

    @Test func leavesModelsSaved() async throws {
        try await FluentScenarios.leavesModelsSaved(.sqlite)
    }

    @Test func touchesUpdateTimestamps() async throws {
        try await FluentScenarios.touchesUpdateTimestamps(.sqlite)
    }

    @Test func workersAgree() async throws {
        try await FluentScenarios.workersAgree(.sqlite)
    }

    @Test func reportsMissingRows() async throws {
        try await FluentScenarios.reportsMissingRows(.sqlite)
    }

    @Test func matchesCompositeIDs() async throws {
        try await FluentScenarios.matchesCompositeIDs(.sqlite)
    }

    @Test func writesGroupsAndParents() async throws {
        try await FluentScenarios.writesGroupsAndParents(.sqlite)
    }

    @Test func rejectsWhatItCannotWrite() async throws {
        try await FluentScenarios.rejectsWhatItCannotWrite(.sqlite)
    }

    /// SQLite does not nest transactions, and BulkUpdate's SQLite backend commits each chunk itself.
    @Test func refusesToRunInsideATransaction() async throws {
        try await FluentScenarios.withTables(.sqlite) { db in
            try await FluentScenarios.seedMembers(db, ids: 1...3)
            let members = try await Member.query(on: db).all()
            let error = await #expect(throws: BulkUpdateError.self) {
                try await db.transaction { transaction in
                    _ = try await members.bulkUpdate(on: transaction, fields: \.$points)
                }
            }
            #expect(error?.code == .configuration)
        }
    }
}
