import Testing

@testable import BulkUpdate

/// The SQL value type: what each kind of part becomes when a driver renders it.
@Suite("SQL values")
struct SQLValueTests {
    static func postgres(_ sql: SQL) -> String {
        sql.rendered { number, type in type.map { "$\(number)::\($0)" } ?? "$\(number)" }
    }

    static func sqlite(_ sql: SQL) -> String {
        sql.rendered { number, _ in "?\(number)" }
    }

    @Test func everyPartRendersInItsOwnWay() {
        let name = #"say "hi""#
        let sql: SQL =
            "SELECT \(identifier: name), \(parameter: 1, type: "int8"), \(parameter: 2) FROM \(identifier: "t")"
            + " WHERE x::\(type: #"public."My Type""#) = \(literal: "it's") LIMIT \(integer: 10)"
        #expect(
            Self.postgres(sql)
                == #"SELECT "say ""hi""", $1::int8, $2 FROM "t" WHERE x::public."My Type" = 'it''s' LIMIT 10"#
        )
        #expect(
            Self.sqlite(sql) == #"SELECT "say ""hi""", ?1, ?2 FROM "t" WHERE x::public."My Type" = 'it''s' LIMIT 10"#
        )
    }

    @Test func listsJoinAndTableNamesQualify() {
        let names = SQL.list(["a", "b\"c"].map(SQL.identifier))
        #expect(Self.sqlite("(\(names))") == #"("a", "b""c")"#)
        #expect(Self.sqlite(SQL.list([SQL](), separator: " AND ")) == "")
        #expect(Self.sqlite(BulkUpdateTableName(schema: "My Schema", name: "t").sql) == #""My Schema"."t""#)
        #expect(Self.sqlite(BulkUpdateTableName(name: "t").sql) == #""t""#)
    }

    @Test func theEscapeTakesTextAsItIs() {
        #expect(Self.sqlite("x \(SQL.unsafeRaw("/* as is */")) y") == "x /* as is */ y")
    }
}
