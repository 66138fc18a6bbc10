import BulkUpdate
import BulkUpdateFluent
import FluentKit
import Foundation
import Testing

/// The behaviour every driver must show, written once; the SQLite and PostgreSQL suites run each scenario.
enum FluentScenarios {
    /// Drops and creates every test table.
    static func resetTables(_ db: any Database, isSQLite: Bool) async throws {
        try? await db.run("DROP TABLE IF EXISTS \(Account.schema)")
        if !isSQLite { try? await db.run("DROP TYPE IF EXISTS bu_fluent_status") }
        try? await db.run("DROP TABLE IF EXISTS \(Member.schema)")
        try? await db.run("DROP TABLE IF EXISTS \(PlanetTag.schema)")
        try? await db.run("DROP TABLE IF EXISTS \(Parcel.schema)")
        try? await db.run("DROP TABLE IF EXISTS \(Shipment.schema)")
        if !isSQLite { try? await db.run("DROP TYPE IF EXISTS bu_fluent_size") }
        // Fluent's record of its enums, left behind when an earlier run stopped before dropping them.
        try? await db.run("DELETE FROM _fluent_enums WHERE name IN ('bu_fluent_status', 'bu_fluent_size')")
        try await Account.create(on: db)
        try await Member.create(on: db)
        try await PlanetTag.create(on: db)
        try await Parcel.create(on: db)
        try await Shipment.create(on: db)
    }

    static func dropTables(_ db: any Database) async throws {
        try await Account.drop(on: db)
        try await Member.drop(on: db)
        try await PlanetTag.drop(on: db)
        try await Parcel.drop(on: db)
        try await Shipment.drop(on: db)
    }

    /// Runs `body` on freshly created tables, dropping them afterwards whether `body` succeeds or fails.
    static func withTables<Result: Sendable>(
        _ setup: TestDatabases.Setup,
        _ body: (any Database) async throws -> Result
    ) async throws -> Result {
        try await TestDatabases.with(setup) { db in
            try await Self.resetTables(db, isSQLite: setup.isSQLite)
            do {
                let result = try await body(db)
                try await Self.dropTables(db)
                return result
            } catch {
                try? await Self.dropTables(db)
                throw error
            }
        }
    }

    static func seedAccounts(_ db: any Database, count: Int) async throws -> [Account] {
        let accounts = (1...count).map {
            Account(username: "user_\($0)", email: "user\($0)@example.com", status: .active, level: .low)
        }
        try await accounts.create(on: db)
        return try await Account.query(on: db).sort(\.$username).all()
    }

    static func seedMembers(_ db: any Database, ids: ClosedRange<Int>) async throws {
        let members = ids.map { Member(id: $0, nick: "member_\($0)", points: $0, note: "note \($0)") }
        for batch in stride(from: 0, to: members.count, by: 500) {
            try await Array(members[batch..<min(batch + 500, members.count)]).create(on: db)
        }
    }

    // MARK: Scenarios

    /// Custom field keys, an optional set to NULL, enums (`@Enum` and an Int-backed `@Field`), doubles, booleans,
    /// dates and UUID ids, read back through Fluent and, by column name, through SQL.
    static func writesFieldsByTheirKeys(_ setup: TestDatabases.Setup) async throws {
        try await Self.withTables(setup) { db in
            let accounts = try await Self.seedAccounts(db, count: 50)
            let login = Date(timeIntervalSince1970: 1_700_000_000.25)
            for (index, account) in accounts.enumerated() {
                account.username = account.username.uppercased()
                account.email = index.isMultiple(of: 2) ? nil : "changed\(index)@example.com"
                account.status = index.isMultiple(of: 3) ? .banned : .pending
                account.level = .high
                account.score = Double(index) + 0.5
                account.isActive = index.isMultiple(of: 2)
                account.lastLogin = login.addingTimeInterval(Double(index))
            }
            let report = try await accounts.bulkUpdate(
                on: db,
                fields: \.$username,
                \.$email,
                \.$status,
                \.$level,
                \.$score,
                \.$isActive,
                \.$lastLogin,
                options: .init(workers: 2, chunkSize: 16)
            )
            #expect(report.rowsRead == 50)
            #expect(report.rowsChanged == 50)
            #expect(report.keysNotFound == 0)
            #expect(report.keyColumns == ["id"])
            #expect(
                report.setColumns
                    == ["user_name", "email", "status", "level", "score", "is_active", "last_login", "updated_at"]
            )

            let stored = Dictionary(uniqueKeysWithValues: try await Account.query(on: db).all().map { ($0.id!, $0) })
            #expect(stored.count == 50)
            for (index, account) in accounts.enumerated() {
                let row = try #require(stored[account.id!])
                #expect(row.username == "USER_" + account.username.dropFirst(5))
                #expect(row.email == (index.isMultiple(of: 2) ? nil : "changed\(index)@example.com"))
                #expect(row.status == (index.isMultiple(of: 3) ? .banned : .pending))
                #expect(row.level == .high)
                #expect(row.score == Double(index) + 0.5)
                #expect(row.isActive == index.isMultiple(of: 2))
                let expected = login.addingTimeInterval(Double(index)).timeIntervalSince1970
                #expect(abs((row.lastLogin?.timeIntervalSince1970 ?? 0) - expected) < 0.001)
            }
            let names = try await db.column("SELECT user_name FROM \(Account.schema)", as: String.self)
            #expect(names.count == 50 && names.allSatisfy { $0.hasPrefix("USER_") })
            let nulls = try await db.column(
                "SELECT count(*) FROM \(Account.schema) WHERE email IS NULL",
                as: Int.self
            )
            #expect(nulls == [25])
        }
    }

    /// After the update the written fields are saved (no change pending), changes to other fields stay pending
    /// and are written by a later `save`; models built with an existing id become known to exist.
    static func leavesModelsSaved(_ setup: TestDatabases.Setup) async throws {
        try await Self.withTables(setup) { db in
            let accounts = try await Self.seedAccounts(db, count: 6)
            for account in accounts { account.username = account.username.uppercased() }
            accounts[0].email = "pending@example.com"  // not among the fields written
            #expect(accounts.allSatisfy { $0.hasChanges })

            _ = try await accounts.bulkUpdate(on: db, fields: \.$username)

            #expect(accounts.dropFirst().allSatisfy { !$0.hasChanges })
            #expect(accounts[0].hasChanges)
            #expect(accounts.allSatisfy { $0.username.hasPrefix("USER_") && $0._$idExists })
            let before = try #require(try await Account.find(accounts[0].id, on: db))
            #expect(before.email == "user1@example.com")
            try await accounts[0].save(on: db)
            let after = try #require(try await Account.find(accounts[0].id, on: db))
            #expect(after.email == "pending@example.com")
            #expect(after.username == "USER_1")
            #expect(!accounts[0].hasChanges)

            // A model built with the id of an existing row, never fetched.
            try await Self.seedMembers(db, ids: 1...3)
            let detached = Member()
            detached.id = 2
            detached.nick = "DETACHED"
            detached.points = 42
            #expect(!detached._$idExists)
            let report = try await [detached].bulkUpdate(on: db, fields: \.$nick, \.$points)
            #expect(report.rowsChanged == 1)
            #expect(detached._$idExists)
            #expect(!detached.hasChanges)
            detached.points = 43
            try await detached.save(on: db)  // an UPDATE, not an INSERT of a duplicate id
            let stored = try await Member.query(on: db).sort(\.$id).all()
            #expect(stored.map(\.nick) == ["member_1", "DETACHED", "member_3"])
            #expect(stored.map(\.points) == [1, 43, 3])
        }
    }

    /// `@Timestamp(on: .update)`: set to now on models with changes in the written fields, kept on the others,
    /// left alone with `touchTimestamps: false`, and the caller's value when named.
    static func touchesUpdateTimestamps(_ setup: TestDatabases.Setup) async throws {
        try await Self.withTables(setup) { db in
            var accounts = try await Self.seedAccounts(db, count: 8)
            let old = Date(timeIntervalSince1970: 1_600_000_000)
            for account in accounts { account.updatedAt = old }
            // Named: the caller's value is written, not now.
            let named = try await accounts.bulkUpdate(on: db, fields: \.$updatedAt)
            #expect(named.setColumns == ["updated_at"])

            accounts = try await Account.query(on: db).sort(\.$username).all()
            #expect(accounts.allSatisfy { $0.updatedAt == old })
            let start = Date()
            for (index, account) in accounts.enumerated() where index.isMultiple(of: 2) {
                account.username = account.username.uppercased()
            }
            let touched = try await accounts.bulkUpdate(on: db, fields: \.$username)
            #expect(touched.setColumns == ["user_name", "updated_at"])
            let stored = Dictionary(uniqueKeysWithValues: try await Account.query(on: db).all().map { ($0.id!, $0) })
            for (index, account) in accounts.enumerated() {
                let row = try #require(stored[account.id!])
                if index.isMultiple(of: 2) {
                    #expect(try #require(account.updatedAt) >= start)
                    #expect(abs(row.updatedAt!.timeIntervalSince(account.updatedAt!)) < 0.001)
                } else {
                    #expect(account.updatedAt == old)
                    #expect(row.updatedAt == old)
                }
                #expect(!account.hasChanges)
            }

            // Not touched: the stored timestamps stay as they were.
            let storedBefore = stored
            for account in accounts { account.username = account.username.lowercased() }
            let untouched = try await accounts.bulkUpdate(on: db, fields: \.$username, touchTimestamps: false)
            #expect(untouched.setColumns == ["user_name"])
            for row in try await Account.query(on: db).all() {
                #expect(row.updatedAt == storedBefore[row.id!]?.updatedAt)
                #expect(row.username.hasPrefix("user_"))
            }
        }
    }

    /// One worker and four workers (with small chunks) leave the table in the same state.
    static func workersAgree(_ setup: TestDatabases.Setup) async throws {
        try await Self.withTables(setup) { db in
            func run(workers: Int) async throws -> [String] {
                try await Member.query(on: db).delete()
                try await Self.seedMembers(db, ids: 1...300)
                let members = try await Member.query(on: db).all()
                for member in members {
                    member.nick = member.nick.uppercased()
                    member.points *= 3
                    member.note = member.id!.isMultiple(of: 2) ? "even" : nil
                }
                let report = try await members.bulkUpdate(
                    on: db,
                    fields: \.$nick,
                    \.$points,
                    \.$note,
                    options: .init(workers: workers, chunkSize: 32)
                )
                #expect(report.rowsChanged == 300)
                #expect(report.workers == (setup.isSQLite ? 1 : workers))
                return try await Member.query(on: db).sort(\.$id).all().map {
                    "\($0.id!)|\($0.nick)|\($0.points)|\($0.note ?? "NULL")"
                }
            }
            let one = try await run(workers: 1)
            let four = try await run(workers: 4)
            #expect(one == four)
            #expect(one.first == "1|MEMBER_1|3|NULL")
            #expect(one.last == "300|MEMBER_300|900|even")
        }
    }

    /// Models whose rows are gone are counted as not found, as `save` would silently update nothing; the rest
    /// are written.
    static func reportsMissingRows(_ setup: TestDatabases.Setup) async throws {
        try await Self.withTables(setup) { db in
            try await Self.seedMembers(db, ids: 1...10)
            let members = try await Member.query(on: db).all()
            let missing = (100_001...100_003).map { Member(id: $0, nick: "ghost", points: 0) }
            for member in members { member.points += 100 }
            let report = try await (members + missing).bulkUpdate(on: db, fields: \.$nick, \.$points)
            #expect(report.rowsRead == 13)
            #expect(report.rowsMatched == 10)
            #expect(report.keysNotFound == 3)
            #expect(report.notFoundExamples.sorted() == ["100001", "100002", "100003"])
            #expect(try await Member.query(on: db).count() == 10)
            #expect(try await Member.query(on: db).filter(\.$points > 100).count() == 10)
            #expect(missing.allSatisfy { !$0._$idExists })
        }
    }

    /// `@CompositeID`: every id column is part of the key.
    static func matchesCompositeIDs(_ setup: TestDatabases.Setup) async throws {
        try await Self.withTables(setup) { db in
            var tags: [PlanetTag] = []
            for planet in 1...3 { for tag in 1...4 { tags.append(PlanetTag(planetID: planet, tagID: tag, weight: 0)) } }
            try await tags.create(on: db)
            let stored = try await PlanetTag.query(on: db).all()
            for tag in stored { tag.weight = tag.id!.planetID * 10 + tag.id!.tagID }
            let report = try await (stored + [PlanetTag(planetID: 9, tagID: 9, weight: 1)]).bulkUpdate(
                on: db,
                fields: \.$weight
            )
            #expect(report.keyColumns == ["planet_id", "tag_id"])
            #expect(report.rowsChanged == 12)
            #expect(report.keysNotFound == 1)
            #expect(report.notFoundExamples == ["(9, 9)"])
            let weights = try await PlanetTag.query(on: db).all().map {
                ($0.id!.planetID * 10 + $0.id!.tagID, $0.weight)
            }
            #expect(weights.count == 12 && weights.allSatisfy { $0.0 == $0.1 })
            #expect(stored.allSatisfy { !$0.hasChanges })
        }
    }

    /// `@Group` writes every column of the group (`to_street`, `to_city`), `@Parent` its id column.
    static func writesGroupsAndParents(_ setup: TestDatabases.Setup) async throws {
        try await Self.withTables(setup) { db in
            try await Self.seedMembers(db, ids: 1...3)
            try await (1...4).map { Parcel(id: $0, street: "street \($0)", city: "city", memberID: 1) }.create(on: db)
            let parcels = try await Parcel.query(on: db).sort(\.$id).all()
            for parcel in parcels {
                parcel.destination.street = parcel.destination.street.uppercased()
                parcel.destination.city = nil
                parcel.$member.id = parcel.id! % 3 + 1
            }
            let report = try await parcels.bulkUpdate(on: db, fields: \.$destination, \.$member)
            #expect(report.setColumns == ["to_street", "to_city", "member_id"])
            #expect(report.rowsChanged == 4)
            #expect(parcels.allSatisfy { !$0.hasChanges })
            let stored = try await Parcel.query(on: db).sort(\.$id).all()
            #expect(stored.map(\.destination.street) == ["STREET 1", "STREET 2", "STREET 3", "STREET 4"])
            #expect(stored.allSatisfy { $0.destination.city == nil })
            #expect(stored.map(\.$member.id) == [2, 3, 1, 2])
        }
    }

    /// Models fetched from the database, some changed and some not, written together (as Django's `bulk_update`
    /// writes every object it is given): unchanged models keep their values, for every kind of property,
    /// `@Enum` and `@OptionalEnum` included (Fluent hands an unmodified enum's input over as `.default`).
    static func updatesChangedAndUnchangedModels(_ setup: TestDatabases.Setup) async throws {
        try await Self.withTables(setup) { db in
            try await Self.seedMembers(db, ids: 1...3)
            try await (1...6).map { Shipment(id: $0, senderID: 1) }.create(on: db)
            let shipments = try await Shipment.query(on: db).sort(\.$id).all()
            for shipment in shipments where shipment.id!.isMultiple(of: 2) {
                shipment.note = shipment.note.uppercased()
                shipment.memo = nil
                shipment.size = .large
                shipment.wrap = nil
                shipment.$sender.id = 2
                shipment.$courier.id = 3
                shipment.box.size = .large
                shipment.box.label = shipment.box.label.uppercased()
            }
            let fetchedTimes = shipments.map(\.updatedAt)
            let report = try await shipments.bulkUpdate(
                on: db,
                fields: \.$note,
                \.$memo,
                \.$size,
                \.$wrap,
                \.$sender,
                \.$courier,
                \.$box
            )
            #expect(report.rowsMatched == 6)
            #expect(shipments.allSatisfy { !$0.hasChanges })
            let stored = try await Shipment.query(on: db).sort(\.$id).all()
            for (index, shipment) in stored.enumerated() {
                let id = shipment.id!
                let changed = id.isMultiple(of: 2)
                #expect(shipment.note == (changed ? "NOTE \(id)" : "note \(id)"))
                #expect(shipment.memo == (changed ? nil : "memo \(id)"))
                #expect(shipment.size == (changed ? .large : .small))
                #expect(shipment.wrap == (changed ? nil : .large))
                #expect(shipment.$sender.id == (changed ? 2 : 1))
                #expect(shipment.$courier.id == (changed ? 3 : nil))
                #expect(shipment.box.size == (changed ? .large : .small))
                #expect(shipment.box.label == (changed ? "BOX \(id)" : "box \(id)"))
                // Only a changed model gets a new update time, as with `save`.
                let expectedTime = changed ? shipments[index].updatedAt : fetchedTimes[index]
                let storedTime = try #require(shipment.updatedAt)
                #expect(abs(storedTime.timeIntervalSince(try #require(expectedTime))) < 0.001)
                #expect(changed == (shipments[index].updatedAt != fetchedTimes[index]))
            }

            // UUID ids: only some usernames change; the enums are written unchanged.
            let accounts = try await Self.seedAccounts(db, count: 6)
            for account in accounts.prefix(3) { account.username = account.username.uppercased() }
            let accountReport = try await accounts.bulkUpdate(on: db, fields: \.$username, \.$status, \.$level)
            #expect(accountReport.rowsMatched == 6)
            let storedAccounts = try await Account.query(on: db).all()
            #expect(Set(storedAccounts.map(\.username)) == Set(accounts.map(\.username)))
            #expect(storedAccounts.filter { $0.username.hasPrefix("USER_") }.count == 3)
            #expect(storedAccounts.allSatisfy { $0.status == .active && $0.level == .low })

            // Composite ids: only some weights change.
            try await (1...4).map { PlanetTag(planetID: 1, tagID: $0, weight: $0) }.create(on: db)
            let tags = try await PlanetTag.query(on: db).all()
            for tag in tags where tag.id!.tagID > 2 { tag.weight = -tag.weight }
            let tagReport = try await tags.bulkUpdate(on: db, fields: \.$weight)
            #expect(tagReport.rowsMatched == 4)
            let weights = try await PlanetTag.query(on: db).all().map { ($0.id!.tagID, $0.weight) }.sorted {
                $0.0 < $1.0
            }
            #expect(weights.map(\.1) == [1, 2, -3, -4])
        }
    }

    /// Values and requests that cannot be written fail before anything is written, naming the model and field.
    static func rejectsWhatItCannotWrite(_ setup: TestDatabases.Setup) async throws {
        try await Self.withTables(setup) { db in
            let array = await #expect(throws: BulkUpdateError.self) {
                try await [Tagged(id: 7, tags: ["a"])].bulkUpdate(on: db, fields: \.$tags)
            }
            #expect(array?.code == .input)
            #expect(array?.column == "tags")
            #expect(array?.description.contains("id 7") == true)
            #expect(array?.description.contains("Array<String>") == true)

            let noID = await #expect(throws: BulkUpdateError.self) {
                try await [Member(nick: "new", points: 1)].bulkUpdate(on: db, fields: \.$nick)
            }
            #expect(noID?.code == .input)
            #expect(noID?.message.contains("has no id") == true)

            let unset = Member()
            unset.id = 5
            let neverSet = await #expect(throws: BulkUpdateError.self) {
                try await [unset].bulkUpdate(on: db, fields: \.$nick)
            }
            #expect(neverSet?.code == .input)
            #expect(neverSet?.message.contains("neither set nor fetched") == true)

            let id = await #expect(throws: BulkUpdateError.self) {
                try await [Member(id: 1, nick: "a", points: 1)].bulkUpdate(on: db, fields: \.$id)
            }
            #expect(id?.code == .configuration)

            try await Self.seedMembers(db, ids: 1...2)
            let members = try await Member.query(on: db).all()
            for member in members { member.nick = String(repeating: "x", count: 10) }
            // A strategy of the other database.
            let strategy: BulkUpdateOptions.Strategy = setup.isSQLite ? .copy : .tempTable
            let badStrategy = await #expect(throws: BulkUpdateError.self) {
                try await members.bulkUpdate(on: db, fields: \.$nick, options: .init(strategy: strategy))
            }
            #expect(badStrategy?.code == .configuration)
            #expect(try await Member.query(on: db).filter(\.$nick == "xxxxxxxxxx").count() == 0)
        }
    }
}
