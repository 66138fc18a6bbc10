import BulkUpdate
import BulkUpdateSQLite
import BulkUpdateTestSupport
import Foundation
import SQLiteNIO
import Testing

@Suite("SQLite updates", .timeLimit(.minutes(5)))
struct SQLiteUpdateTests {
    static let strategies: [BulkUpdateOptions.Strategy] = [.values, .tempTable, .caseWhen]

    static let allTypes = """
        id INTEGER PRIMARY KEY, b BOOLEAN, i INTEGER, f REAL, n NUMERIC, t TEXT, v VARCHAR(20), u UUID, d DATE,
        ts DATETIME, j JSON, by BLOB
        """
    static let allTypeColumns = ["b", "i", "f", "n", "t", "v", "u", "d", "ts", "j", "by"]

    /// Every column of `types` as `storage class:value`, row by row, ordered by id.
    static func typedValues(
        _ connection: SQLiteConnection,
        table: String = "types"
    ) async throws -> [[String]] {
        let select = Self.allTypeColumns.map { "typeof(\($0)), \($0)" }.joined(separator: ", ")
        return try await connection.rows("SELECT \(select) FROM \(table) ORDER BY id").map { row in
            stride(from: 0, to: row.count, by: 2).map { "\(row[$0] ?? "?"):\(row[$0 + 1] ?? "NULL")" }
        }
    }

    @Test("every type SQLite has round-trips, typed values and text forms, NULL included", arguments: strategies)
    func everyTypeRoundTrips(strategy: BulkUpdateOptions.Strategy) async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE types (\(Self.allTypes))")
            try await connection.run(
                "INSERT INTO types SELECT n, 0, 0, 0.0, 0, 'old', 'old', 'old', 'old', 'old', '{}', x'ee'"
                    + " FROM \(TestDatabase.series(1...3))"
            )
            let instant = Date(timeIntervalSince1970: 1_709_210_096.5)  // 2024-02-29 12:34:56.5 UTC
            let uuid = try #require(UUID(uuidString: "6F9619FF-8B86-D011-B42D-00C04FC964FF"))
            let rows: [BulkUpdateRow] = [
                .of(
                    1,
                    true,
                    .int(Int64.max),
                    1.5,
                    3.25,
                    "it's \"quoted\" ü \\ tab\t",
                    "short",
                    .uuid(uuid),
                    .date(instant),
                    .date(instant),
                    "{\"a\": [1, 2]}",
                    .bytes([0, 255, 16])
                ),
                .of(2, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil),
                .of(
                    3,
                    "f",
                    "-42",
                    "1e10",
                    "12345.6789",
                    "",
                    "",
                    "6F9619FF8B86D011B42D00C04FC964FF",
                    "1999-12-31",
                    "1999-12-31T23:59:59.000001",
                    "[]",
                    "\\x0a0B"
                ),
            ]
            let report = try await updater.update(
                "types",
                set: Self.allTypeColumns,
                rows: rows,
                options: .init(workers: 2, chunkSize: 2, strategy: strategy)
            )
            #expect(report.rowsMatched == 3)
            #expect(report.rowsChanged == 3)
            #expect(report.keysNotFound == 0)
            #expect(report.strategy == strategy.description)

            let stored = try await Self.typedValues(connection)
            #expect(
                stored[0] == [
                    "integer:1", "integer:9223372036854775807", "real:1.5", "real:3.25",
                    "text:it's \"quoted\" ü \\ tab\t", "text:short", "text:6f9619ff-8b86-d011-b42d-00c04fc964ff",
                    "text:2024-02-29", "text:2024-02-29 12:34:56.500000", "text:{\"a\": [1, 2]}", "blob:x'00ff10'",
                ]
            )
            #expect(stored[1] == Array(repeating: "null:NULL", count: Self.allTypeColumns.count))
            #expect(
                stored[2] == [
                    "integer:0", "integer:-42", "real:10000000000.0", "real:12345.6789", "text:", "text:",
                    "text:6f9619ff-8b86-d011-b42d-00c04fc964ff", "text:1999-12-31",
                    "text:1999-12-31 23:59:59.000001", "text:[]", "blob:x'0a0b'",
                ]
            )
            // SQLite's own date and JSON functions read what was stored.
            let understood = try await connection.rows(
                "SELECT date(d), datetime(ts), json_valid(j) FROM types WHERE id <> 2 ORDER BY id"
            )
            #expect(
                understood == [
                    ["2024-02-29", "2024-02-29 12:34:56", "1"], ["1999-12-31", "1999-12-31 23:59:59", "1"],
                ]
            )
        }
    }

    @Test("edge values: empty blob, integer into NUMERIC, timestamp with an offset", arguments: strategies)
    func edgeValues(strategy: BulkUpdateOptions.Strategy) async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE edges (id INTEGER PRIMARY KEY, by BLOB, n NUMERIC, ts DATETIME)")
            try await connection.run("INSERT INTO edges VALUES (1, x'ee', 0, 'old'), (2, x'ee', 0, 'old')")
            let rows: [BulkUpdateRow] = [
                .of(1, "\\x", 7, "2024-01-01T10:00:00Z"),
                .of(2, .bytes([]), "-0.0001", "2024-01-01T10:00:00+02:00"),
            ]
            let report = try await updater.update(
                "edges",
                set: ["by", "n", "ts"],
                rows: rows,
                options: .init(workers: 1, strategy: strategy)
            )
            #expect(report.rowsChanged == 2)
            let stored = try await connection.rows(
                "SELECT typeof(by), length(by), typeof(n), n, ts FROM edges ORDER BY id"
            )
            #expect(stored[0] == ["blob", "0", "integer", "7", "2024-01-01 10:00:00"])
            #expect(Array(stored[1].prefix(4)) == ["blob", "0", "real", "-0.0001"])
            // SQLite's own datetime() converts an offset to UTC; the stored text must agree with it.
            let sqliteSays = try await connection.column("SELECT datetime('2024-01-01T10:00:00+02:00')")
            #expect(sqliteSays == ["2024-01-01 08:00:00"])
            #expect(stored[1][4] == "2024-01-01 08:00:00")
        }
    }

    @Test("composite keys match on every key column", arguments: strategies)
    func compositeKeys(strategy: BulkUpdateOptions.Strategy) async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE pairs (a INTEGER, b TEXT, v INTEGER, PRIMARY KEY (a, b))")
            try await connection.run(
                "INSERT INTO pairs SELECT n % 5, 'k' || (n / 5), n FROM \(TestDatabase.series(0...24))"
            )
            let rows: [BulkUpdateRow] = [.of(1, "k0", 100), .of(1, "k1", 101), .of(4, "k4", 104), .of(9, "k0", 999)]
            let report = try await updater.update(
                "pairs",
                set: ["v"],
                rows: rows,
                options: .init(workers: 2, strategy: strategy)
            )
            #expect(report.keyColumns == ["a", "b"])
            #expect(report.rowsRead == 4)
            #expect(report.rowsMatched == 3)
            #expect(report.keysNotFound == 1)
            #expect(report.notFoundExamples == ["(9, 'k0')"])
            let stored = try await connection.rows("SELECT a, b, v FROM pairs WHERE v >= 100 ORDER BY a, b")
            #expect(stored == [["1", "k0", "100"], ["1", "k1", "101"], ["4", "k4", "104"]])
            #expect(try await connection.integer("SELECT count(*) FROM pairs WHERE v < 100") == 22)
            #expect(try await connection.integer("SELECT count(*) FROM pairs WHERE v = 999") == 0)
        }
    }

    @Test("keys not found are counted with examples, and nothing else changes", arguments: strategies)
    func keysNotFound(strategy: BulkUpdateOptions.Strategy) async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            try await connection.run("INSERT INTO items SELECT n, 'old' FROM \(TestDatabase.series(1...10))")
            let rows = (5...15).map { BulkUpdateRow.of(.int($0), "new") }
            let report = try await updater.update(
                "items",
                set: ["v"],
                rows: rows,
                options: .init(workers: 1, strategy: strategy)
            )
            #expect(report.rowsRead == 11)
            #expect(report.rowsMatched == 6)
            #expect(report.rowsChanged == 6)
            #expect(report.keysNotFound == 5)
            #expect(report.duplicateKeys == 0)
            #expect(report.notFoundExamples.sorted() == ["11", "12", "13", "14", "15"])
            let stored = try await connection.rows("SELECT id, v FROM items ORDER BY id")
            #expect(stored == (1...10).map { [String($0), $0 >= 5 ? "new" : "old"] })
        }
    }

    @Test("duplicate keys: the last row wins, or the run fails before writing", arguments: strategies)
    func duplicateKeys(strategy: BulkUpdateOptions.Strategy) async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)")
            try await connection.run("INSERT INTO items SELECT n, 'old' FROM \(TestDatabase.series(1...3))")
            let rows: [BulkUpdateRow] = [.of(1, "first"), .of(2, "two"), .of(1, "second"), .of(1, "third")]
            let report = try await updater.update(
                "items",
                set: ["v"],
                rows: rows,
                options: .init(workers: 2, strategy: strategy)
            )
            #expect(report.rowsRead == 4)
            #expect(report.duplicateKeys == 2)
            #expect(report.rowsMatched == 2)
            #expect(try await connection.column("SELECT v FROM items ORDER BY id") == ["third", "two", "old"])

            let before = try await connection.checksum("items")
            #expect(before == "3#1,'third'|2,'two'|3,'old'")
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(
                    "items",
                    set: ["v"],
                    rows: [.of(3, "x"), .of(2, "y"), .of(3, "z")],
                    options: .init(strategy: strategy, duplicateKeys: .error)
                )
            }
            #expect(error.code == .duplicateKey)
            #expect(error.key == "3")
            #expect(error.description.contains("key 3 appears more than once in the input (input lines 1 and 3)"))
            #expect(error.partialReport?.chunks == 0)
            #expect(try await connection.checksum("items") == before)
        }
    }

    @Test("skipUnchanged tells changed and unchanged rows apart, NULL included", arguments: strategies)
    func skipUnchanged(strategy: BulkUpdateOptions.Strategy) async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT, j JSON, b BOOLEAN, n NUMERIC)"
            )
            // Every rewrite is logged, so rows that were left alone can be told from rows written with equal values.
            try await connection.run("CREATE TABLE rewrites (id INTEGER)")
            try await connection.run(
                "CREATE TRIGGER items_rewritten AFTER UPDATE ON items BEGIN INSERT INTO rewrites VALUES (new.id); END"
            )
            try await connection.run(
                "INSERT INTO items SELECT n, 'v' || n, '{}', 1, 2.5 FROM \(TestDatabase.series(1...10))"
            )
            try await connection.run("INSERT INTO items VALUES (12, NULL, '{}', 1, 2.5)")
            var rows = (1...6).map { BulkUpdateRow.of(.int($0), .string("v\($0)"), "{}", true, "2.50") }
            rows += (7...9).map { BulkUpdateRow.of(.int($0), "changed", "{}", true, 2.5) }
            rows.append(.of(10, nil, "{}", true, 2.5))  // value → NULL: changed
            rows.append(.of(11, "missing", "{}", true, 2.5))
            rows.append(.of(12, nil, "{}", "t", "2.5"))  // NULL → NULL: unchanged
            let options = BulkUpdateOptions(workers: 2, chunkSize: 4, strategy: strategy, skipUnchanged: true)
            let report = try await updater.update("items", set: ["v", "j", "b", "n"], rows: rows, options: options)
            #expect(report.rowsRead == 12)
            #expect(report.rowsMatched == 11)
            #expect(report.rowsChanged == 4)
            #expect(report.rowsUnchanged == 7)
            #expect(report.keysNotFound == 1)
            #expect(report.notFoundExamples == ["11"])
            let stored = try await connection.column("SELECT v FROM items ORDER BY id")
            #expect(stored == (1...6).map { "v\($0)" } + ["changed", "changed", "changed", nil, nil])
            let rewritten = try await connection.column("SELECT id FROM rewrites ORDER BY id")
            #expect(rewritten == ["7", "8", "9", "10"])

            // The same input again: nothing differs any more, nothing is rewritten.
            let again = try await updater.update("items", set: ["v", "j", "b", "n"], rows: rows, options: options)
            #expect(again.rowsMatched == 11)
            #expect(again.rowsChanged == 0)
            #expect(again.rowsUnchanged == 11)
            #expect(try await connection.integer("SELECT count(*) FROM rewrites") == 4)

            // Without skipUnchanged every matched row is rewritten and counted as changed.
            var always = options
            always.skipUnchanged = false
            let all = try await updater.update("items", set: ["v", "j", "b", "n"], rows: rows, options: always)
            #expect(all.rowsMatched == 11)
            #expect(all.rowsChanged == 11)
            #expect(all.rowsUnchanged == 0)
            #expect(try await connection.integer("SELECT count(*) FROM rewrites") == 15)
        }
    }

    @Test("1, 2 and 4 workers leave the identical table, the last row of each key applied", arguments: strategies)
    func workerCountsAgree(strategy: BulkUpdateOptions.Strategy) async throws {
        var generator = SplitMix(seed: 42)
        let rows = (1...3000).map { line -> BulkUpdateRow in
            let id = Int(generator.next() % 1200) + 1  // ids above 1000 are not in the table
            return BulkUpdateRow([.int(id), .string("value \(line)")], line: line)
        }
        var expected: [Int: String] = [:]
        for (index, row) in rows.enumerated() {
            expected[Int(row.values[0].description)!] = "value \(index + 1)"
        }
        let distinctFound = expected.keys.filter { $0 <= 1000 }.count
        var tables: [[[String?]]] = []
        for workers in [1, 2, 4] {
            let stored = try await withTestDatabase { updater, connection, _ in
                try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)")
                try await connection.run("INSERT INTO items SELECT n, 'old' FROM \(TestDatabase.series(1...1000))")
                let report = try await updater.update(
                    "items",
                    set: ["v"],
                    rows: rows,
                    options: .init(workers: workers, chunkSize: 97, strategy: strategy)
                )
                #expect(report.rowsRead == 3000)
                // SQLite has one writer: more workers are accepted and run as one writing worker.
                #expect(report.workers == 1)
                #expect(report.chunks == report.committedChunks.count)
                #expect(report.rowsMatched >= distinctFound)
                return try await connection.rows("SELECT id, v FROM items ORDER BY id")
            }
            tables.append(stored)
        }
        #expect(tables[0] == tables[1])
        #expect(tables[0] == tables[2])
        let want = (1...1000).map { [String($0), expected[$0] ?? "old"] }
        #expect(tables[0] == want)
    }

    @Test("rowsRead = duplicateKeys + rowsMatched + keysNotFound when duplicates span chunks")
    func reportCountsAddUpAcrossChunks() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)")
            try await connection.run("INSERT INTO items SELECT n, 'old' FROM \(TestDatabase.series(1...4))")
            // chunkSize 2, one worker: key 1 is in chunks 0 and 1, key 9 (not in the table) in chunks 1 and 2.
            let rows: [BulkUpdateRow] = [.of(1, "a"), .of(2, "b"), .of(1, "c"), .of(9, "d"), .of(9, "e"), .of(3, "f")]
            let report = try await updater.update(
                "items",
                set: ["v"],
                rows: rows,
                options: .init(workers: 1, chunkSize: 2)
            )
            #expect(try await connection.column("SELECT v FROM items ORDER BY id") == ["c", "b", "f", "old"])
            #expect(report.rowsRead == 6)
            // Nothing is dropped within a chunk; keys 1 and 9 are written again by later chunks.
            #expect(report.duplicateKeys == 0)
            #expect(report.duplicateKeysAcrossChunks == 2)
            #expect(report.rowsMatched == 4)
            #expect(report.keysNotFound == 2)
            #expect(report.rowsRead == report.duplicateKeys + report.rowsMatched + report.keysNotFound)
        }
    }

    @Test("values are stored literally; odd identifiers are quoted", arguments: strategies)
    func injectionAndQuoting(strategy: BulkUpdateOptions.Strategy) async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
            try await connection.run("INSERT INTO users VALUES (1, 'alice')")
            try await connection.run(
                "CREATE TABLE \"Mixed \"\"Case\"\" T\" (\"Key Col\" INTEGER PRIMARY KEY, \"we\"\"ird\" TEXT)"
            )
            try await connection.run("INSERT INTO \"Mixed \"\"Case\"\" T\" VALUES (1, 'a'), (2, 'b'), (3, 'c')")
            let payload = "'); DROP TABLE users; --"
            let placeholders = "?1 :name $x @y \" ' \\"
            let report = try await updater.update(
                "\"Mixed \"\"Case\"\" T\"",
                set: ["we\"ird"],
                rows: [.of(1, .string(payload)), .of(2, .string(placeholders))],
                options: .init(strategy: strategy)
            )
            #expect(report.rowsChanged == 2)
            #expect(report.table == "main.Mixed \"Case\" T")
            #expect(report.keyColumns == ["Key Col"])
            #expect(report.setColumns == ["we\"ird"])
            let stored = try await connection.rows(
                "SELECT \"Key Col\", \"we\"\"ird\" FROM \"Mixed \"\"Case\"\" T\" ORDER BY 1"
            )
            #expect(stored == [["1", payload], ["2", placeholders], ["3", "c"]])
            #expect(try await connection.rows("SELECT id, name FROM users") == [["1", "alice"]])
        }
    }

    @Test("schema errors fail before any write")
    func schemaErrors() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run(
                "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, code INTEGER UNIQUE, note TEXT)"
            )
            try await connection.run(
                "INSERT INTO people SELECT n, 'e', n, 'n' FROM \(TestDatabase.series(1...5))"
            )
            try await connection.run("CREATE TABLE loose (a INTEGER, b TEXT)")
            try await connection.run("CREATE VIEW people_view AS SELECT * FROM people")
            let before = try await connection.checksum("people")

            let unknown = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("people", set: ["emial"], rows: [.of(1, "x")])
            }
            #expect(unknown.code == .schema)
            #expect(unknown.column == "emial")
            #expect(unknown.description.contains("column \"emial\" does not exist in main.people"))
            #expect(unknown.description.contains("did you mean \"email\""))
            #expect(unknown.partialReport?.chunks == 0)

            let notUnique = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("people", key: ["note"], set: ["email"], rows: [.of("n", "x")])
            }
            #expect(notUnique.code == .schema)
            #expect(notUnique.description.contains("key (note) is not unique in main.people"))

            let keySet = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("people", set: ["id"], rows: [.of(1, 2)])
            }
            #expect(keySet.code == .schema)
            #expect(keySet.description.contains("column \"id\" is part of the key"))

            let missing = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("no_such_table_anywhere", set: ["v"], rows: [.of(1, "x")])
            }
            #expect(missing.code == .schema)
            #expect(missing.description.contains("table no_such_table_anywhere does not exist"))

            let view = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("people_view", set: ["note"], rows: [.of(1, "x")])
            }
            #expect(view.description.contains("is a view"))

            let noPrimaryKey = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("loose", set: ["b"], rows: [.of(1, "x")])
            }
            #expect(noPrimaryKey.description.contains("has no primary key"))

            let unnest = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(
                    "people",
                    set: ["note"],
                    rows: [.of(1, "x")],
                    options: .init(strategy: .unnest)
                )
            }
            #expect(unnest.code == .configuration)
            #expect(unnest.description.contains("unnest is not available on SQLite"))

            let workers = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("people", set: ["note"], rows: [.of(1, "x")], options: .init(workers: 0))
            }
            #expect(workers.code == .configuration)
            #expect(try await connection.checksum("people") == before)

            // `auto` is `values` on SQLite.
            let auto = try await updater.update("people", set: ["note"], rows: [.of(1, "auto")])
            #expect(auto.strategy == "values")
            #expect(try await connection.column("SELECT note FROM people WHERE id = 1") == ["auto"])
        }
    }

    @Test("bad values name the line, column and key, and nothing is written")
    func inputErrors() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER, d DATE)"
            )
            try await connection.run(
                "INSERT INTO items SELECT n, 'x', n, '2024-01-01' FROM \(TestDatabase.series(1...5))"
            )
            let before = try await connection.checksum("items")

            let null = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("items", set: ["name"], rows: [.of(1, "a"), .of(2, nil)])
            }
            #expect(null.code == .input)
            #expect(null.inputLine == 2)
            #expect(null.column == "name")
            #expect(null.key == "2")
            #expect(null.description.contains("NOT NULL"))
            #expect(null.partialReport?.chunks == 0)

            let wrongType = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(
                    "items",
                    set: ["n"],
                    rows: [.of(1, 5), BulkUpdateRow([2, "twelve"], line: 41)]
                )
            }
            #expect(wrongType.code == .input)
            #expect(wrongType.inputLine == 41)
            #expect(wrongType.column == "n")
            #expect(wrongType.description.contains("'twelve'"))
            #expect(wrongType.description.contains("INTEGER"))
            #expect(wrongType.partialReport?.chunks == 0)

            let badDate = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("items", set: ["d"], rows: [.of(1, "2024-02-28"), .of(3, "2023-02-29")])
            }
            #expect(badDate.inputLine == 2)
            #expect(badDate.column == "d")
            #expect(badDate.description.contains("'2023-02-29'"))

            let nullKey = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("items", set: ["n"], rows: [.of(1, 1), .of(nil, 2)])
            }
            #expect(nullKey.inputLine == 2)
            #expect(nullKey.column == "id")

            let short = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("items", set: ["n", "d"], rows: [.of(1, 1)])
            }
            #expect(short.inputLine == 1)
            #expect(short.description.contains("expected 3"))
            #expect(try await connection.checksum("items") == before)
        }
    }

    @Test("a constraint violation rolls its chunk back and names it", arguments: strategies)
    func constraintViolation(strategy: BulkUpdateOptions.Strategy) async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, u TEXT UNIQUE)")
            try await connection.run("INSERT INTO items SELECT n, 'u' || n FROM \(TestDatabase.series(1...4))")
            let before = try await connection.checksum("items")
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update(
                    "items",
                    set: ["u"],
                    rows: [.of(1, "same"), .of(2, "same")],
                    options: .init(workers: 1, strategy: strategy)
                )
            }
            #expect(error.code == .constraint)
            #expect(error.description.contains("UNIQUE constraint failed"))
            #expect(error.chunk?.firstKey == "1")
            #expect(error.chunk?.lastKey == "2")
            #expect(error.partialReport?.chunks == 0)
            #expect(try await connection.checksum("items") == before)
            // The failed chunk's transaction was rolled back: the connection takes the next update.
            let report = try await updater.update(
                "items",
                set: ["u"],
                rows: [.of(1, "one")],
                options: .init(strategy: strategy)
            )
            #expect(report.rowsChanged == 1)
            #expect(try await connection.column("SELECT u FROM items ORDER BY id") == ["one", "u2", "u3", "u4"])
        }
    }

    @Test("an async sequence streams; a bad row stops the run and the report lists committed chunks")
    func streamingInput() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
            try await connection.run("INSERT INTO items SELECT n, 0 FROM \(TestDatabase.series(1...100))")
            let good = AsyncStream<BulkUpdateRow> { continuation in
                for id in 1...100 { continuation.yield(.of(.int(id), .int(id * 2))) }
                continuation.finish()
            }
            let report = try await updater.update(
                "items",
                set: ["v"],
                rows: good,
                options: .init(workers: 2, chunkSize: 10)
            )
            #expect(report.rowsRead == 100)
            #expect(report.rowsChanged == 100)
            #expect(report.chunks == report.committedChunks.count)
            #expect(try await connection.integer("SELECT sum(v) FROM items") == 10_100)

            let bad = AsyncStream<BulkUpdateRow> { continuation in
                for id in 1...50 { continuation.yield(.of(.int(id), 7)) }
                continuation.yield(.of(51, "not a number"))
                continuation.finish()
            }
            let error = try await #require(throws: BulkUpdateError.self) {
                try await updater.update("items", set: ["v"], rows: bad, options: .init(workers: 1, chunkSize: 10))
            }
            #expect(error.inputLine == 51)
            let committed = try #require(error.partialReport)
            #expect(try await connection.integer("SELECT count(*) FROM items WHERE v = 7") == committed.rowsChanged)
            #expect(committed.committedChunks.reduce(0) { $0 + $1.rows } == committed.rowsChanged)
            #expect(committed.rowsChanged % 10 == 0)
        }
    }

    @Test("rowid, WITHOUT ROWID and UNIQUE-keyed tables all work", arguments: strategies)
    func tableShapes(strategy: BulkUpdateOptions.Strategy) async throws {
        try await withTestDatabase { updater, connection, _ in
            let options = BulkUpdateOptions(workers: 2, chunkSize: 3, strategy: strategy)

            try await connection.run("CREATE TABLE with_rowid (id INTEGER PRIMARY KEY, v TEXT)")
            try await connection.run("INSERT INTO with_rowid SELECT n, 'old' FROM \(TestDatabase.series(1...5))")
            let rowid = try await updater.update(
                "with_rowid",
                set: ["v"],
                rows: [.of(2, "two"), .of(4, "four"), .of(6, "six")],
                options: options
            )
            #expect(rowid.rowsMatched == 2)
            #expect(rowid.notFoundExamples == ["6"])
            let byRowid = try await connection.rows("SELECT rowid, v FROM with_rowid ORDER BY rowid")
            #expect(byRowid == [["1", "old"], ["2", "two"], ["3", "old"], ["4", "four"], ["5", "old"]])

            try await connection.run("CREATE TABLE without_rowid (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID")
            try await connection.run("INSERT INTO without_rowid VALUES ('a', 1), ('b', 2), ('c', 3), ('é', 4)")
            let text = try await updater.update(
                "without_rowid",
                set: ["v"],
                rows: [.of("b", 20), .of("é", 40), .of("A", 99), .of("a", 10)],
                options: options
            )
            #expect(text.keyColumns == ["k"])
            #expect(text.rowsMatched == 3)
            #expect(text.notFoundExamples == ["'A'"])
            let keyed = try await connection.rows("SELECT k, v FROM without_rowid ORDER BY k")
            #expect(keyed == [["a", "10"], ["b", "20"], ["c", "3"], ["é", "40"]])

            try await connection.run(
                "CREATE TABLE coded (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, note TEXT)"
            )
            try await connection.run(
                "INSERT INTO coded SELECT n, 'C-' || n, 'n' FROM \(TestDatabase.series(1...5))"
            )
            let byCode = try await updater.update(
                "coded",
                key: ["code"],
                set: ["note"],
                rows: [.of("C-3", "by code"), .of("C-5", "five"), .of("C-9", "missing")],
                options: options
            )
            #expect(byCode.keyColumns == ["code"])
            #expect(byCode.rowsMatched == 2)
            #expect(byCode.notFoundExamples == ["'C-9'"])
            let notes = try await connection.rows("SELECT id, note FROM coded ORDER BY id")
            #expect(notes == [["1", "n"], ["2", "n"], ["3", "by code"], ["4", "n"], ["5", "five"]])
        }
    }

    @Test("the users scenario: 20,000 usernames upper-cased with 2 workers")
    func usersScenario() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE auth_user (\(UsersTable.columns))")
            try await connection.run(UsersTable.fill(rows: 20_000))
            let names = try await connection.rows("SELECT id, username FROM auth_user")
            #expect(names.count == 20_000)
            let rows = try names.map { row in
                BulkUpdateRow([.int(try #require(Int64(row[0] ?? ""))), .string(try #require(row[1]).uppercased())])
            }
            let report = try await updater.update(
                "auth_user",
                set: ["username"],
                rows: rows,
                options: .init(workers: 2)
            )
            #expect(report.strategy == "values")
            #expect(report.rowsRead == 20_000)
            #expect(report.rowsChanged == 20_000)
            #expect(report.keysNotFound == 0)
            #expect(try await connection.integer("SELECT count(*) FROM auth_user") == 20_000)
            let wrong = try await connection.integer(
                "SELECT count(*) FROM auth_user WHERE username IS NOT upper('user_' || id)"
            )
            #expect(wrong == 0)
            #expect(try await connection.column("SELECT username FROM auth_user WHERE id = 12345") == ["USER_12345"])
        }
    }
}

/// Django's `auth_user` as Django creates it on SQLite.
enum UsersTable {
    static let columns = """
        "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL DEFAULT '',
        "last_login" datetime NULL, "is_superuser" bool NOT NULL DEFAULT 0,
        "username" varchar(150) NOT NULL UNIQUE, "first_name" varchar(150) NOT NULL DEFAULT '',
        "last_name" varchar(150) NOT NULL DEFAULT '', "email" varchar(254) NOT NULL DEFAULT '',
        "is_staff" bool NOT NULL DEFAULT 0, "is_active" bool NOT NULL DEFAULT 1,
        "date_joined" datetime NOT NULL DEFAULT CURRENT_TIMESTAMP
        """

    static func fill(rows: Int) -> String {
        "INSERT INTO auth_user (id, username) SELECT n, 'user_' || n FROM \(TestDatabase.series(1...rows))"
    }
}

@Suite("SQLiteURL")
struct SQLiteURLTests {
    @Test(
        "accepted forms and the path each names",
        arguments: [
            ("sqlite:///tmp/a.db", "/tmp/a.db"),
            ("sqlite:rel.db", "rel.db"),
            ("sqlite://rel/dir/b.db", "rel/dir/b.db"),
            ("sqlite:no-extension", "no-extension"),
            ("x.sqlite3", "x.sqlite3"),
            ("data/App.SQLITE", "data/App.SQLITE"),
            ("/abs/path.db", "/abs/path.db"),
            ("sqlite:///tmp/my%20db.db", "/tmp/my db.db"),
        ]
    )
    func accepted(text: String, path: String) throws {
        let url = try SQLiteURL(text)
        #expect(url.path == path)
        #expect(url.description == "sqlite:\(path)")
        #expect(SQLiteURL.isSQLite(text))
    }

    @Test("in-memory forms have no path", arguments: [":memory:", "sqlite::memory:", "sqlite://:memory:"])
    func memory(text: String) throws {
        let url = try SQLiteURL(text)
        #expect(url.path == nil)
        #expect(url.description == ":memory:")
        #expect(SQLiteURL.isSQLite(text))
    }

    @Test(
        "server URLs and other files are rejected with the accepted forms listed",
        arguments: ["postgres://user@localhost:5432/app", "postgresql://host/x.db", "notes.txt", "mysql://h/db"]
    )
    func rejected(text: String) throws {
        #expect(!SQLiteURL.isSQLite(text))
        let error = try #require(throws: BulkUpdateError.self) { try SQLiteURL(text) }
        #expect(error.code == .configuration)
        #expect(error.message.contains("is not a SQLite database"))
        #expect(error.message.contains("sqlite:///absolute/path.db"))
        #expect(error.message.contains("sqlite:relative.db"))
        #expect(error.message.contains(".db, .sqlite or .sqlite3"))
        #expect(error.message.contains(":memory:"))
    }

    @Test("a URL without a path is rejected", arguments: ["sqlite:", "sqlite://"])
    func noPath(text: String) throws {
        let error = try #require(throws: BulkUpdateError.self) { try SQLiteURL(text) }
        #expect(error.code == .configuration)
        #expect(error.message.contains("has no path"))
    }

    @Test("every form opens the database it names")
    func formsOpenTheSameFile() async throws {
        let directory = try TestDatabase.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("forms.sqlite").path
        try await SQLiteBulkUpdater.withUpdater(url: "sqlite://" + path, creating: true) { updater in
            try await updater.connection.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            try await updater.connection.run("INSERT INTO t VALUES (1, 'old')")
            let report = try await updater.update("t", set: ["v"], rows: [.of(1, "via sqlite:///")])
            #expect(report.rowsChanged == 1)
        }
        #expect(FileManager.default.fileExists(atPath: path))
        let stored = try await SQLiteBulkUpdater.withUpdater(url: path) { updater in
            try await updater.connection.column("SELECT v FROM t")
        }
        #expect(stored == ["via sqlite:///"])
    }

    @Test("an in-memory database can be updated")
    func inMemory() async throws {
        let stored = try await SQLiteBulkUpdater.withUpdater(url: ":memory:") { updater in
            try await updater.connection.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            try await updater.connection.run("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
            let report = try await updater.update(
                "t",
                set: ["v"],
                rows: [.of(2, "B"), .of(3, "C")],
                options: .init(workers: 2)
            )
            #expect(report.rowsMatched == 1)
            #expect(report.keysNotFound == 1)
            return try await updater.connection.rows("SELECT id, v FROM t ORDER BY id")
        }
        #expect(stored == [["1", "a"], ["2", "B"]])
    }
}
