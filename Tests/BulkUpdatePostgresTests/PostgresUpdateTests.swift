import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("PostgreSQL updates", .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason), .timeLimit(.minutes(5)))
struct PostgresUpdateTests {
    static let strategies: [BulkUpdateOptions.Strategy] = [.unnest, .values, .caseWhen, .copy]

    static let allTypes = """
        id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, f4 float4, f8 float8, n numeric(12,4), t text,
        v varchar(20), c char(5), u uuid, d date, ts timestamp, tz timestamptz, j json, jb jsonb, by bytea,
        m bu_test_mood
        """
    static let allTypeColumns = [
        "b", "i2", "i4", "f4", "f8", "n", "t", "v", "c", "u", "d", "ts", "tz", "j", "jb", "by", "m",
    ]

    @Test("every supported type round-trips, NULL included", arguments: strategies)
    func everyTypeRoundTrips(strategy: BulkUpdateOptions.Strategy) async throws {
        let mood = "bu_test_mood_\(strategy)"
        try await TestDatabase.withClient { client, _ in
            try await client.run("DROP TYPE IF EXISTS \(mood) CASCADE")
            try await client.run("CREATE TYPE \(mood) AS ENUM ('sad', 'happy')")
        }
        try await TestDatabase.withTestTable(Self.allTypes.replacingOccurrences(of: "bu_test_mood", with: mood)) {
            client,
            updater,
            table in
            try await client.run("INSERT INTO \(table) (id, t) SELECT g, 'old' FROM generate_series(1, 3) g")
            let instant = Date(timeIntervalSince1970: 1_709_210_096.5)  // 2024-02-29 12:34:56.5 UTC
            let rows: [BulkUpdateRow] = [
                .of(
                    1,
                    true,
                    -32768,
                    2_147_483_647,
                    1.5,
                    3.25,
                    "12345.6789",
                    "it's \"quoted\" ü \\ tab\t line\nbreak\r\n\\N",
                    "short",
                    "ab",
                    "6F9619FF-8B86-D011-B42D-00C04FC964FF",
                    "2024-02-29",
                    "2024-02-29 12:34:56.123456",
                    .date(instant),
                    "{\"a\": [1, 2]}",
                    "{\"b\": null}",
                    .bytes([0, 255, 16]),
                    "happy"
                ),
                .of(2, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil),
                .of(
                    3,
                    "f",
                    "32767",
                    "-1",
                    "-0.25",
                    "1e10",
                    "-0.0001",
                    "",
                    "",
                    "",
                    .uuid(UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1))),
                    .date(Date(timeIntervalSince1970: 0)),
                    "1999-12-31T23:59:59",
                    "2024-01-01T10:00:00+02:00",
                    "[]",
                    "\"x\"",
                    "\\x",
                    "sad"
                ),
            ]
            var options = BulkUpdateOptions(workers: 2, chunkSize: 2, strategy: strategy)
            options.skipUnchanged = false
            let report = try await updater.update(table, set: Self.allTypeColumns, rows: rows, options: options)
            #expect(report.rowsMatched == 3)
            #expect(report.rowsChanged == 3)
            #expect(report.keysNotFound == 0)

            let text = Self.allTypeColumns.map { "\($0)::text" }.joined(separator: ", ")
            let utc = try await client.withConnection { connection in
                try await connection.query("SET TIME ZONE 'UTC'", logger: .init(label: "test"))
                var result: [[String?]] = []
                for try await row in try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT \(text) FROM \(table) ORDER BY id"),
                    logger: .init(label: "test")
                ) {
                    result.append(try row.map { try $0.decode(String?.self) })
                }
                return result
            }
            #expect(
                utc[0] == [
                    "true", "-32768", "2147483647", "1.5", "3.25", "12345.6789",
                    "it's \"quoted\" ü \\ tab\t line\nbreak\r\n\\N", "short",
                    "ab", "6f9619ff-8b86-d011-b42d-00c04fc964ff", "2024-02-29", "2024-02-29 12:34:56.123456",
                    "2024-02-29 12:34:56.5+00", "{\"a\": [1, 2]}", "{\"b\": null}", "\\x00ff10", "happy",
                ]
            )
            #expect(utc[1] == Array(repeating: nil, count: Self.allTypeColumns.count))
            #expect(
                utc[2] == [
                    "false", "32767", "-1", "-0.25", "10000000000", "-0.0001", "", "", "",
                    "00000000-0000-0000-0000-000000000001", "1970-01-01", "1999-12-31 23:59:59",
                    "2024-01-01 08:00:00+00", "[]", "\"x\"", "\\x", "sad",
                ]
            )
        }
    }

    @Test("composite keys match on every key column", arguments: strategies)
    func compositeKeys(strategy: BulkUpdateOptions.Strategy) async throws {
        try await TestDatabase.withTestTable("a int, b text, v int, PRIMARY KEY (a, b)") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g % 5, 'k' || (g / 5), g FROM generate_series(0, 24) g")
            let rows: [BulkUpdateRow] = [.of(1, "k0", 100), .of(1, "k1", 101), .of(4, "k4", 104), .of(9, "k0", 999)]
            let report = try await updater.update(
                table,
                set: ["v"],
                rows: rows,
                options: .init(workers: 2, strategy: strategy)
            )
            #expect(report.rowsMatched == 3)
            #expect(report.keysNotFound == 1)
            #expect(report.notFoundExamples == ["(9, 'k0')"])
            let stored = try await client.rows("SELECT a::text, b, v::text FROM \(table) WHERE v >= 100 ORDER BY a, b")
            #expect(stored == [["1", "k0", "100"], ["1", "k1", "101"], ["4", "k4", "104"]])
            let untouched = try await client.rows("SELECT count(*)::text FROM \(table) WHERE v < 100")
            #expect(untouched == [["22"]])
        }
    }

    @Test("keys not found are counted and nothing else changes", arguments: strategies)
    func keysNotFound(strategy: BulkUpdateOptions.Strategy) async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text NOT NULL") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 10) g")
            let rows = (5...15).map { BulkUpdateRow.of(.int($0), "new") }
            let report = try await updater.update(
                table,
                set: ["v"],
                rows: rows,
                options: .init(workers: 1, strategy: strategy)
            )
            #expect(report.rowsRead == 11)
            #expect(report.rowsMatched == 6)
            #expect(report.keysNotFound == 5)
            #expect(report.notFoundExamples.sorted() == ["11", "12", "13", "14", "15"])
            let stored = try await client.rows("SELECT id::text AS key, v FROM \(table) ORDER BY id")
            #expect(stored == (1...10).map { [String($0), $0 >= 5 ? "new" : "old"] })
        }
    }

    @Test("duplicate keys: the last row wins, or the run fails before writing")
    func duplicateKeys() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 3) g")
            let rows: [BulkUpdateRow] = [.of(1, "first"), .of(2, "two"), .of(1, "second"), .of(1, "third")]
            let report = try await updater.update(table, set: ["v"], rows: rows, options: .init(workers: 2))
            #expect(report.duplicateKeys == 2)
            #expect(report.rowsMatched == 2)
            #expect(try await client.rows("SELECT v FROM \(table) ORDER BY id") == [["third"], ["two"], ["old"]])

            let before = try await client.checksum(table)
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(
                    table,
                    set: ["v"],
                    rows: [.of(3, "x"), .of(2, "y"), .of(3, "z")],
                    options: .init(duplicateKeys: .error)
                )
            }
            #expect(error.code == .duplicateKey)
            #expect(error.description.contains("key 3 appears more than once in the input (input lines 1 and 3)"))
            #expect(try await client.checksum(table) == before)
        }
    }

    @Test("skipUnchanged tells changed and unchanged rows apart", arguments: strategies)
    func skipUnchanged(strategy: BulkUpdateOptions.Strategy) async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text, j json") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'v' || g, '{}' FROM generate_series(1, 10) g")
            var rows = (1...6).map { BulkUpdateRow.of(.int($0), .string("v\($0)"), "{}") }
            rows += (7...9).map { BulkUpdateRow.of(.int($0), "changed", "{}") }
            rows.append(.of(10, nil, "{}"))
            rows.append(.of(11, "missing", "{}"))
            let report = try await updater.update(
                table,
                set: ["v", "j"],
                rows: rows,
                options: .init(workers: 2, chunkSize: 4, strategy: strategy, skipUnchanged: true)
            )
            #expect(report.rowsMatched == 10)
            #expect(report.rowsChanged == 4)
            #expect(report.rowsUnchanged == 6)
            #expect(report.keysNotFound == 1)
            let stored = try await client.rows("SELECT v FROM \(table) ORDER BY id")
            #expect(stored.map { $0[0] } == (1...6).map { "v\($0)" } + ["changed", "changed", "changed", nil])
        }
    }

    @Test("1, 2 and 4 workers leave the identical table", arguments: strategies)
    func workerCountsAgree(strategy: BulkUpdateOptions.Strategy) async throws {
        var generator = SplitMix(seed: 42)
        let rows = (1...3000).map { line -> BulkUpdateRow in
            let id = Int(generator.next() % 1200) + 1
            return BulkUpdateRow([.int(id), .string("value \(line)")], line: line)
        }
        var expected: [Int: String] = [:]
        for row in rows {
            expected[Int(row.values[0].description)!] = "value \(row.line!)"
        }
        var tables: [[[String?]]] = []
        for workers in [1, 2, 4] {
            let stored = try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
                try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 1000) g")
                let report = try await updater.update(
                    table,
                    set: ["v"],
                    rows: rows,
                    options: .init(workers: workers, chunkSize: 97, strategy: strategy)
                )
                #expect(report.rowsRead == 3000)
                return try await client.rows("SELECT id::text AS key, v FROM \(table) ORDER BY id")
            }
            tables.append(stored)
        }
        #expect(tables[0] == tables[1])
        #expect(tables[0] == tables[2])
        let want = (1...1000).map { [String($0), expected[$0] ?? "old"] }
        #expect(tables[0] == want)
    }

    @Test("values are stored literally; odd identifiers are quoted", arguments: strategies)
    func injectionAndQuoting(strategy: BulkUpdateOptions.Strategy) async throws {
        let schema = "Odd Schema \(strategy)"
        let name = "Mixed \"Case\" \(UUID().uuidString.prefix(6))"
        let qualified = "\"\(schema)\".\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        try await TestDatabase.withClient { client, updater in
            try await client.run("CREATE SCHEMA IF NOT EXISTS \"\(schema)\"")
            try await client.run("CREATE TABLE \(qualified) (\"Key Col\" int PRIMARY KEY, \"we\"\"ird\" text)")
            do {
                try await client.run("INSERT INTO \(qualified) VALUES (1, 'a'), (2, 'b')")
                let payload = "'); DROP TABLE users; --"
                let report = try await updater.update(
                    qualified,
                    set: ["we\"ird"],
                    rows: [.of(1, .string(payload)), .of(2, "$1 \\N ::text")],
                    options: .init(strategy: strategy)
                )
                #expect(report.rowsChanged == 2)
                #expect(report.table == "\(schema).\(name)")
                let stored = try await client.rows("SELECT \"we\"\"ird\" FROM \(qualified) ORDER BY 1")
                #expect(stored.map { $0[0] }.sorted { ($0 ?? "") < ($1 ?? "") } == ["$1 \\N ::text", payload])
                try await client.run("DROP SCHEMA \"\(schema)\" CASCADE")
            } catch {
                try? await client.run("DROP SCHEMA \"\(schema)\" CASCADE")
                throw error
            }
        }
    }

    @Test("schema errors fail before any write")
    func schemaErrors() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, email text, code int UNIQUE, note text") {
            client,
            updater,
            table in
            try await client.run("INSERT INTO \(table) SELECT g, 'e', g, 'n' FROM generate_series(1, 5) g")
            let before = try await client.checksum(table)
            let unknown = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["emial"], rows: [.of(1, "x")])
            }
            #expect(unknown.code == .schema)
            #expect(unknown.description.contains("column \"emial\" does not exist in public.bu_test_"))
            #expect(unknown.description.contains("did you mean \"email\""))

            let notUnique = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, key: ["note"], set: ["email"], rows: [.of("n", "x")])
            }
            #expect(notUnique.description.contains("is not unique"))

            let keySet = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["id"], rows: [.of(1, 2)])
            }
            #expect(keySet.description.contains("part of the key"))

            let missing = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("no_such_table_anywhere", set: ["v"], rows: [.of(1, "x")])
            }
            #expect(missing.description.contains("table no_such_table_anywhere does not exist"))
            #expect(try await client.checksum(table) == before)

            // A unique column other than the primary key can be the key.
            let byCode = try await updater.update(table, key: ["code"], set: ["note"], rows: [.of(3, "by code")])
            #expect(byCode.rowsChanged == 1)
            #expect(try await client.rows("SELECT note FROM \(table) WHERE code = 3") == [["by code"]])
            #expect(try await client.rows("SELECT count(*)::text FROM \(table) WHERE note = 'n'") == [["4"]])
        }
    }

    @Test("bad values name the line, column and key, and nothing is written")
    func inputErrors() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, name varchar(5) NOT NULL, n int") {
            client,
            updater,
            table in
            try await client.run("INSERT INTO \(table) SELECT g, 'x', g FROM generate_series(1, 5) g")
            let before = try await client.checksum(table)
            let null = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["name"], rows: [.of(1, "a"), .of(2, nil)])
            }
            #expect(null.code == .input)
            #expect(null.inputLine == 2)
            #expect(null.key == "2")
            #expect(null.description.contains("NOT NULL"))

            let long = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["name"], rows: [.of(1, "a"), .of(2, "b"), .of(3, "toolong")])
            }
            #expect(long.inputLine == 3)
            #expect(long.column == "name")
            #expect(long.description.contains("character varying(5)"))

            let wrongType = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["n"], rows: [BulkUpdateRow([1, "twelve"], line: 41)])
            }
            #expect(wrongType.inputLine == 41)
            #expect(wrongType.description.contains("'twelve'"))
            #expect(wrongType.description.contains("integer"))
            #expect(wrongType.partialReport?.chunks == 0)
            #expect(try await client.checksum(table) == before)
        }
    }

    @Test("a constraint violation names the chunk and keeps earlier chunks' report")
    func constraintViolation() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, u text UNIQUE") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'u' || g FROM generate_series(1, 4) g")
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(
                    table,
                    set: ["u"],
                    rows: [.of(1, "same"), .of(2, "same")],
                    options: .init(workers: 1)
                )
            }
            #expect(error.code == .constraint)
            #expect(error.sqlState == "23505")
            #expect(error.chunk?.firstKey == "1")
            #expect(error.chunk?.lastKey == "2")
            #expect(error.partialReport?.chunks == 0)
            #expect(try await client.rows("SELECT u FROM \(table) ORDER BY id") == [["u1"], ["u2"], ["u3"], ["u4"]])
        }
    }

    @Test("an async sequence streams; a bad row stops the run and the report lists committed chunks")
    func streamingInput() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v int NOT NULL") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 0 FROM generate_series(1, 100) g")
            let good = AsyncStream<BulkUpdateRow> { continuation in
                for id in 1...100 { continuation.yield(.of(.int(id), .int(id * 2))) }
                continuation.finish()
            }
            let report = try await updater.update(
                table,
                set: ["v"],
                rows: good,
                options: .init(workers: 2, chunkSize: 10)
            )
            #expect(report.rowsChanged == 100)
            #expect(report.chunks == report.committedChunks.count)
            #expect(try await client.rows("SELECT sum(v)::text FROM \(table)") == [["10100"]])

            let bad = AsyncStream<BulkUpdateRow> { continuation in
                for id in 1...50 { continuation.yield(.of(.int(id), 7)) }
                continuation.yield(.of(51, "not a number"))
                continuation.finish()
            }
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["v"], rows: bad, options: .init(workers: 1, chunkSize: 10))
            }
            #expect(error.inputLine == 51)
            let committed = try #require(error.partialReport)
            let sevens = try await client.rows("SELECT count(*)::text FROM \(table) WHERE v = 7")
            #expect(sevens == [[String(committed.rowsChanged)]])
            #expect(committed.committedChunks.reduce(0) { $0 + $1.rows } == committed.rowsChanged)
        }
    }

    @Test("with 2 workers, a bad row mid-stream: the chunks sent hold exactly the rows before it, cut per worker")
    func streamingInputFailsMidBatch() async throws {
        try await TestDatabase.withTestTable("id int8 PRIMARY KEY, v int4 NOT NULL") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 0 FROM generate_series(1, 300) g")
            // Row 251 does not fit; it falls inside the router's 1,024-row batch, so the chunks rows 1 to 250 filled
            // are sent from the batch when the error is met.
            let bad = AsyncStream<BulkUpdateRow> { continuation in
                for id in 1...250 { continuation.yield(.of(.int(id), 7)) }
                continuation.yield(.of(251, "not a number"))
                for id in 252...300 { continuation.yield(.of(.int(id), 7)) }
                continuation.finish()
            }
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(table, set: ["v"], rows: bad, options: .init(workers: 2, chunkSize: 10))
            }
            #expect(error.inputLine == 251)
            // Each worker's rows in input order, cut every 10: chunk n of worker w holds exactly rows
            // 10n ..< 10(n + 1) of w. (Which of the full chunks were written before the run stopped may vary; the
            // report names exactly those.)
            var rowsOf: [[Int64]] = [[], []]
            for id in Int64(1)...250 { rowsOf[Int(KeyHash.hash(integerKey: id) % 2)].append(id) }
            let report = try #require(error.partialReport)
            #expect(report.workers == 2)
            #expect(!report.committedChunks.isEmpty)
            var committedIDs: [Int64] = []
            for chunk in report.committedChunks {
                let expected = rowsOf[chunk.worker].dropFirst(chunk.number * 10).prefix(10).sorted()
                #expect(expected.count == 10, "chunk \(chunk.worker)/\(chunk.number) was never full")
                #expect(chunk.rows == 10)
                #expect(
                    chunk.firstKey == "\(expected.first ?? 0)" && chunk.lastKey == "\(expected.last ?? 0)",
                    "chunk \(chunk.worker)/\(chunk.number): \(chunk.firstKey)..\(chunk.lastKey), expected \(expected)"
                )
                committedIDs += expected
            }
            let written = try await client.rows("SELECT id::text FROM \(table) WHERE v = 7 ORDER BY id")
                .compactMap { $0[0].flatMap { Int64($0) } }.sorted()
            #expect(written == committedIDs.sorted())
            #expect(report.rowsChanged == written.count)
        }
    }

    @Test("the users scenario: every username upper-cased with unnest and 2 workers")
    func usersScenario() async throws {
        try await TestDatabase.withTestTable(UsersTable.columns) { client, updater, table in
            try await client.run(UsersTable.fill(table, rows: 20_000))
            let names = try await client.rows("SELECT id::text, username FROM \(table)")
            let rows = names.map { BulkUpdateRow([.int(Int64($0[0]!)!), .string($0[1]!.uppercased())]) }
            let report = try await updater.update(
                table,
                set: ["username"],
                rows: rows,
                options: .init(workers: 2, strategy: .unnest)
            )
            #expect(report.rowsChanged == 20_000)
            let wrong = try await client.rows(
                "SELECT count(*)::text FROM \(table) WHERE username <> upper('user_' || id)"
            )
            #expect(wrong == [["0"]])
        }
    }
}

/// Django's `auth_user`, as the users scenario uses it.
enum UsersTable {
    static let columns = """
        id serial PRIMARY KEY, password varchar(128) NOT NULL DEFAULT '', last_login timestamptz NULL,
        is_superuser bool NOT NULL DEFAULT false, username varchar(150) NOT NULL UNIQUE,
        first_name varchar(150) NOT NULL DEFAULT '', last_name varchar(150) NOT NULL DEFAULT '',
        email varchar(254) NOT NULL DEFAULT '', is_staff bool NOT NULL DEFAULT false,
        is_active bool NOT NULL DEFAULT true, date_joined timestamptz NOT NULL DEFAULT now()
        """

    static func fill(_ table: String, rows: Int) -> String {
        "INSERT INTO \(table) (id, username) SELECT g, 'user_' || g FROM generate_series(1, \(rows)) g"
    }
}

/// A small deterministic random generator for test inputs.
