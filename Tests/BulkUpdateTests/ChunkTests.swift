import Testing

@testable import BulkUpdate

@Suite("Chunk.sortAndDeduplicate")
struct ChunkTests {
    private static let integer = ColumnType(kind: .int64, sqlName: "bigint")
    private static let text = ColumnType(kind: .text, sqlName: "text")

    /// A plan on `public.items(id bigint, code text, org integer, name text, note text)`.
    private static func plan(key: [String], set: [String] = ["note"]) throws -> UpdatePlan {
        let table = TableSchema(
            name: BulkUpdateTableName(schema: "public", name: "items"),
            columns: [
                ColumnSchema(name: "id", type: integer, isNullable: false),
                ColumnSchema(name: "code", type: text, isNullable: false),
                ColumnSchema(name: "org", type: ColumnType(kind: .int32, sqlName: "integer"), isNullable: false),
                ColumnSchema(name: "name", type: text, isNullable: true),
                ColumnSchema(name: "note", type: text, isNullable: true),
            ],
            primaryKey: ["id"],
            uniqueKeys: [["id"], ["code"], ["org", "code"]]
        )
        return try UpdatePlan(table: table, keyColumns: key, setColumns: set, options: BulkUpdateOptions())
    }

    /// A chunk holding `rows` (cells in plan order), with input lines `lines`.
    private static func chunk(_ plan: UpdatePlan, _ rows: [[Cell]], lines: [Int]) -> Chunk {
        var chunk = Chunk(plan: plan, worker: 1, number: 7, capacity: rows.count)
        for (cells, line) in zip(rows, lines) {
            try! chunk.append(BulkUpdateRow(cells.map(\.value)), line: line, plan: plan)
        }
        return chunk
    }

    private static func ints(_ values: any ChunkColumn) -> [Int64?]? {
        (values as? IntegerColumn)?.values
    }

    private static func texts(_ values: any ChunkColumn) -> [String?]? {
        (values as? TextColumn)?.values
    }

    /// Each row's hash recomputed from its key cells, to check hashes moved with their rows.
    private static func expectedHashes(_ keys: [[Cell]]) -> [UInt64] {
        keys.map { KeyHash.hash($0[...]) }
    }

    @Test func aRowRefusedHalfwayLeavesNoValueBehind() throws {
        let plan = try Self.plan(key: ["org", "code"], set: ["name", "id"])
        var chunk = Chunk(plan: plan, worker: 0, number: 0, capacity: 4)
        try chunk.append([1, "a", "first", 10], line: 2, plan: plan)
        // Refused at its last value (id is NOT NULL), at its third (a value that does not fit), at its second (a NULL
        // key): the values already appended for it are taken back.
        #expect(throws: BulkUpdateError.self) { try chunk.append([2, "b", "second", nil], line: 3, plan: plan) }
        #expect(throws: BulkUpdateError.self) { try chunk.append([3, "c", .bytes([1]), 30], line: 4, plan: plan) }
        #expect(throws: BulkUpdateError.self) { try chunk.append([4, nil, "fourth", 40], line: 5, plan: plan) }
        try chunk.append([5, "e", nil, 50], line: 6, plan: plan)
        #expect(chunk.count == 2)
        #expect(chunk.columns.allSatisfy { $0.count == 2 })
        #expect(chunk.lines == [2, 6])
        #expect(Self.ints(chunk.columns[0]) == [1, 5])
        #expect(Self.texts(chunk.columns[1]) == ["a", "e"])
        #expect(Self.texts(chunk.columns[2]) == ["first", nil])
        #expect(Self.ints(chunk.columns[3]) == [10, 50])
        #expect(chunk.hashes == Self.expectedHashes([[.int(1), .text("a")], [.int(5), .text("e")]]))
    }

    @Test func integerKeysAreSortedWithTheirValues() throws {
        let plan = try Self.plan(key: ["id"])
        var chunk = Self.chunk(
            plan,
            [[.int(30), .text("c")], [.int(-5), .text("minus")], [.int(10), .null], [.int(20), .text("b")]],
            lines: [1, 2, 3, 4]
        )
        let dropped = chunk.sortAndDeduplicate()
        #expect(dropped.isEmpty)
        #expect(chunk.count == 4)
        #expect(Self.ints(chunk.columns[0]) == [-5, 10, 20, 30])
        #expect(Self.texts(chunk.columns[1]) == ["minus", nil, "b", "c"])
        #expect(chunk.lines == [2, 3, 4, 1])
        #expect(chunk.hashes == Self.expectedHashes([[.int(-5)], [.int(10)], [.int(20)], [.int(30)]]))
        #expect(chunk.worker == 1)
        #expect(chunk.number == 7)
    }

    @Test func sortedChunkWithoutDuplicatesIsUnchanged() throws {
        let plan = try Self.plan(key: ["id"])
        var chunk = Self.chunk(plan, [[.int(1), .text("a")], [.int(2), .text("b")]], lines: [5, 6])
        #expect(chunk.sortAndDeduplicate().isEmpty)
        #expect(Self.ints(chunk.columns[0]) == [1, 2])
        #expect(Self.texts(chunk.columns[1]) == ["a", "b"])
        #expect(chunk.lines == [5, 6])
    }

    @Test func emptyChunkDropsNothing() throws {
        var chunk = Chunk(plan: try Self.plan(key: ["id"]), worker: 0, number: 0, capacity: 0)
        #expect(chunk.sortAndDeduplicate().isEmpty)
        #expect(chunk.count == 0)
        #expect(chunk.record().firstKey == "")
    }

    @Test func duplicateIntegerKeysKeepTheLastAppendedRow() throws {
        let plan = try Self.plan(key: ["id"])
        var chunk = Self.chunk(
            plan,
            [
                [.int(5), .text("first")], [.int(3), .text("three")], [.int(5), .text("second")],
                [.int(1), .text("one")], [.int(5), .text("third")],
            ],
            lines: [10, 11, 12, 13, 14]
        )
        let dropped = chunk.sortAndDeduplicate()
        #expect(dropped.map(\.dropped) == [10, 12])
        #expect(dropped.map(\.keptLine) == [14, 14])
        #expect(Self.ints(chunk.columns[0]) == [1, 3, 5])
        #expect(Self.texts(chunk.columns[1]) == ["one", "three", "third"])
        #expect(chunk.lines == [13, 11, 14])
        #expect(chunk.hashes == Self.expectedHashes([[.int(1)], [.int(3)], [.int(5)]]))
    }

    @Test func droppedRowsAreListedInKeyOrder() throws {
        let plan = try Self.plan(key: ["id"])
        var chunk = Self.chunk(
            plan,
            [[.int(9), .text("a")], [.int(2), .text("b")], [.int(9), .text("c")], [.int(2), .text("d")]],
            lines: [1, 2, 3, 4]
        )
        let dropped = chunk.sortAndDeduplicate()
        #expect(dropped.map(\.dropped) == [2, 1])
        #expect(dropped.map(\.keptLine) == [4, 3])
        #expect(Self.texts(chunk.columns[1]) == ["d", "c"])
    }

    @Test func textKeysAreSortedByUTF8Bytes() throws {
        let plan = try Self.plan(key: ["code"])
        var chunk = Self.chunk(
            plan,
            [
                [.text("b"), .text("1")], [.text("B"), .text("2")], [.text("a"), .text("3")], [.text("ä"), .text("4")],
            ],
            lines: [1, 2, 3, 4]
        )
        #expect(chunk.sortAndDeduplicate().isEmpty)
        // "B" (0x42) < "a" (0x61) < "b" (0x62) < "ä" (0xC3 0xA4)
        #expect(Self.texts(chunk.columns[0]) == ["B", "a", "b", "ä"])
        #expect(chunk.lines == [2, 3, 1, 4])
    }

    @Test func canonicallyEquivalentTextsAreDifferentKeys() throws {
        let precomposed = "\u{E9}"
        let decomposed = "e\u{301}"
        #expect(precomposed == decomposed)  // Swift's String equality says they are equal; the database does not.
        let plan = try Self.plan(key: ["code"])
        var chunk = Self.chunk(
            plan,
            [[.text(precomposed), .text("1")], [.text(decomposed), .text("2")]],
            lines: [1, 2]
        )
        let dropped = chunk.sortAndDeduplicate()
        #expect(dropped.isEmpty)
        #expect(chunk.count == 2)
        // "e\u{301}" (0x65 …) sorts before "\u{E9}" (0xC3 0xA9).
        #expect(chunk.lines == [2, 1])
        let keys = try #require(Self.texts(chunk.columns[0]))
        #expect(keys.map { Array($0?.utf8 ?? "".utf8) } == [Array(decomposed.utf8), Array(precomposed.utf8)])
        #expect(chunk.hashes[0] != chunk.hashes[1])
    }

    @Test func duplicateTextKeysKeepTheLastRow() throws {
        let plan = try Self.plan(key: ["code"])
        var chunk = Self.chunk(
            plan,
            [[.text("x"), .text("old")], [.text("y"), .text("only")], [.text("x"), .text("new")]],
            lines: [21, 22, 23]
        )
        let dropped = chunk.sortAndDeduplicate()
        #expect(dropped.count == 1)
        #expect(dropped.first?.dropped == 21)
        #expect(dropped.first?.keptLine == 23)
        #expect(Self.texts(chunk.columns[1]) == ["new", "only"])
    }

    @Test func compositeKeysSortByEachColumnInTurn() throws {
        let plan = try Self.plan(key: ["org", "code"], set: ["name"])
        var chunk = Self.chunk(
            plan,
            [
                [.int(1), .text("b"), .text("r1")],
                [.int(1), .text("a"), .text("r2")],
                [.int(0), .text("z"), .text("r3")],
                [.int(1), .text("a"), .text("r4")],
                [.int(2), .text("a"), .text("r5")],
            ],
            lines: [1, 2, 3, 4, 5]
        )
        let dropped = chunk.sortAndDeduplicate()
        #expect(dropped.map(\.dropped) == [2])
        #expect(dropped.map(\.keptLine) == [4])
        #expect(Self.ints(chunk.columns[0]) == [0, 1, 1, 2])
        #expect(Self.texts(chunk.columns[1]) == ["z", "a", "b", "a"])
        #expect(Self.texts(chunk.columns[2]) == ["r3", "r4", "r1", "r5"])
        #expect(chunk.lines == [3, 4, 1, 5])
        #expect(
            chunk.hashes
                == Self.expectedHashes([
                    [.int(0), .text("z")], [.int(1), .text("a")], [.int(1), .text("b")], [.int(2), .text("a")],
                ])
        )
    }

    @Test func recordNamesFirstAndLastKeysAfterSorting() throws {
        let plan = try Self.plan(key: ["org", "code"], set: ["name"])
        var chunk = Self.chunk(
            plan,
            [[.int(2), .text("it's"), .null], [.int(1), .text("a"), .null]],
            lines: [1, 2]
        )
        _ = chunk.sortAndDeduplicate()
        let record = chunk.record()
        #expect(record.worker == 1)
        #expect(record.number == 7)
        #expect(record.rows == 2)
        #expect(record.firstKey == "(1, 'a')")
        #expect(record.lastKey == "(2, 'it''s')")
    }
}
