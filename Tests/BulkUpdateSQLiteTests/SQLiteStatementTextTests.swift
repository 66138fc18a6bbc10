import BulkUpdate
import Testing

@testable import BulkUpdateSQLite

/// The text of the statements a SQLite chunk sends: no database needed.
@Suite("SQLite statement text")
struct SQLiteStatementTextTests {
    static func sql(guarded: Bool) throws -> UpdateSQL {
        let integer = ColumnType(kind: .int64, sqlName: "integer")
        let text = ColumnType(kind: .text, sqlName: "text")
        let schema = TableSchema(
            name: BulkUpdateTableName(schema: "main", name: "users"),
            columns: [
                ColumnSchema(name: "id", type: integer, isNullable: false),
                ColumnSchema(name: "username", type: text, isNullable: false),
                ColumnSchema(name: "version", type: integer, isNullable: false),
            ],
            primaryKey: ["id"],
            uniqueKeys: [["id"]]
        )
        var options = BulkUpdateOptions(skipUnchanged: true)
        if guarded { options.expectedColumns = ["version"] }
        let plan = try UpdatePlan(table: schema, keyColumns: ["id"], setColumns: ["username"], options: options)
        return UpdateSQL(plan: plan, dialect: SQLiteChunkExecutor.dialect)
    }

    /// The `?N` parameters of `text`, in the order the text uses them.
    static func parameters(_ text: String) -> [Int] {
        var numbers: [Int] = []
        var rest = Substring(text)
        while let mark = rest.firstIndex(of: "?") {
            rest = rest[rest.index(after: mark)...]
            let digits = rest.prefix { $0.isNumber }
            if let number = Int(digits) { numbers.append(number) }
        }
        return numbers
    }

    @Test(
        "every statement of a chunk numbers its parameters 1, 2, 3, … in the order it uses them",
        arguments: [false, true]
    )
    func parametersInTextOrder(guarded: Bool) throws {
        let sql = try Self.sql(guarded: guarded)
        let rows = 500
        let source = sql.valuesSource(rows: rows, ordinal: true)
        let statements: [(String, SQL, Int)] = [
            (
                "undo",
                SQLiteChunkExecutor.undoInsert(sql, rows: rows, journal: RunJournal(runID: "r", schema: "main")),
                rows * (sql.plan.columns.count + 1) + 5
            ),
            (
                "update", sql.update(from: sql.valuesSource(rows: rows), onlyChanged: true),
                rows * sql.plan.columns.count
            ),
            (
                "classification", sql.classification(from: source, filter: sql.leftAlone(onlyChanged: true)),
                rows * (sql.plan.columns.count + 1)
            ),
            ("preview", sql.previewCounts(from: source), rows * (sql.plan.columns.count + 1)),
        ]
        for (name, statement, count) in statements {
            // SQLite finds a ?N below the highest number seen so far by a linear search: a statement that named
            // its last parameter first took a second to prepare per 10,000-row chunk.
            let numbers = Self.parameters(SQLiteStatement(statement).text)
            let inOrder = numbers == Array(1...count)
            #expect(inOrder, "\(name): \(numbers.count) parameters, the first \(numbers.prefix(4))")
        }
    }
}
