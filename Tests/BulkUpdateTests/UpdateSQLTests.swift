import Testing

@testable import BulkUpdate

/// The dialect-neutral statement parts, with a SQLite-like dialect (`?N` parameters, `IS NOT`).
@Suite("UpdateSQL")
struct UpdateSQLTests {
    private static let dialect = UpdateSQL.Dialect(
        parameter: { number, _ in .parameter(number) },
        differs: { lhs, rhs, _ in "\(lhs) IS NOT \(rhs)" },
        text: { value, _ in "CAST(\(value) AS TEXT)" }
    )

    /// The text of `sql` with `?N` parameters.
    private static func text(_ sql: SQL) -> String {
        sql.rendered { number, _ in "?\(number)" }
    }

    private static func sql(key: [String] = ["id"], set: [String] = ["name"]) throws -> UpdateSQL {
        let integer = ColumnType(kind: .int64, sqlName: "INTEGER")
        let text = ColumnType(kind: .text, sqlName: "TEXT")
        let table = TableSchema(
            name: BulkUpdateTableName(name: "items"),
            columns: [
                ColumnSchema(name: "id", type: integer, isNullable: false),
                ColumnSchema(name: "org", type: integer, isNullable: false),
                ColumnSchema(name: "name", type: text, isNullable: true),
                ColumnSchema(name: #"od"d"#, type: text, isNullable: true),
            ],
            primaryKey: ["id"],
            uniqueKeys: [["id"], ["org", "name"]]
        )
        let plan = try UpdatePlan(table: table, keyColumns: key, setColumns: set, options: BulkUpdateOptions())
        return UpdateSQL(plan: plan, dialect: Self.dialect)
    }

    @Test func partsAreQuoted() throws {
        let sql = try Self.sql(set: ["name", #"od"d"#])
        #expect(Self.text(sql.table) == #""items""#)
        #expect(sql.allNames.map(Self.text) == [#""id""#, #""name""#, #""od""d""#])
        #expect(Self.text(sql.match) == #"t."id" = u."id""#)
        #expect(Self.text(sql.assignments) == #""name" = u."name", "od""d" = u."od""d""#)
        #expect(Self.text(sql.changed) == #"t."name" IS NOT u."name" OR t."od""d" IS NOT u."od""d""#)
    }

    @Test func update() throws {
        let sql = try Self.sql()
        #expect(
            Self.text(sql.update(from: "src", onlyChanged: false))
                == #"UPDATE "items" AS t SET "name" = u."name" FROM src WHERE t."id" = u."id""#
        )
        #expect(
            Self.text(sql.update(from: "src", onlyChanged: true))
                == #"UPDATE "items" AS t SET "name" = u."name" FROM src WHERE t."id" = u."id""#
                + #" AND (t."name" IS NOT u."name")"#
        )
    }

    @Test func valuesSourceNumbersParametersRowByRow() throws {
        let sql = try Self.sql()
        #expect(
            Self.text(sql.valuesSource(rows: 3))
                == #"(SELECT column1 AS "id", column2 AS "name" FROM (VALUES (?1, ?2), (?3, ?4), (?5, ?6)) AS v) AS u"#
        )
    }

    @Test func caseWhenWithCompositeKey() throws {
        let sql = try Self.sql(key: ["org", "name"], set: [#"od"d"#])
        let (statementSQL, filterSQL) = sql.caseWhen(rows: 2, onlyChanged: true)
        let (statement, filter) = (Self.text(statementSQL), Self.text(filterSQL))
        let value =
            #"CASE WHEN ("org" = ?1 AND "name" = ?2) THEN ?3 WHEN ("org" = ?4 AND "name" = ?5) THEN ?6"#
            + #" ELSE "od""d" END"#
        #expect(filter == #"("org", "name") IN ((?1, ?2), (?4, ?5))"#)
        #expect(
            statement
                == #"UPDATE "items" SET "od""d" = \#(value) WHERE \#(filter) AND ("od""d" IS NOT (\#(value)))"#
        )
    }

    @Test func rowsPerStatementNeverDropsBelowOne() throws {
        let sql = try Self.sql()
        #expect(sql.rowsPerStatement(maximumParameters: 999) == 499)
        #expect(sql.rowsPerStatement(maximumParameters: 1) == 1)
    }
}
