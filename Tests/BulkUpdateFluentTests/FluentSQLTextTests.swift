import BulkUpdate
import FluentKit
import Foundation
import Testing

@testable import BulkUpdateFluent

/// The SQL the PostgreSQL executor sends, as text, and how model values become BulkUpdate values: no database.
@Suite struct FluentSQLTextTests {
    static func plan(skipUnchanged: Bool) throws -> UpdatePlan {
        let table = TableSchema(
            name: BulkUpdateTableName(schema: "public", name: "users"),
            columns: [
                ColumnSchema(name: "id", type: ColumnType(kind: .int32, sqlName: "integer"), isNullable: false),
                ColumnSchema(
                    name: "user_name",
                    type: ColumnType(kind: .text, sqlName: "character varying"),
                    isNullable: false
                ),
            ],
            primaryKey: ["id"],
            uniqueKeys: [["id"]]
        )
        var options = BulkUpdateOptions()
        options.skipUnchanged = skipUnchanged
        return try UpdatePlan(table: table, keyColumns: nil, setColumns: ["user_name"], options: options)
    }

    static func sql(skipUnchanged: Bool) throws -> UpdateSQL {
        UpdateSQL(plan: try Self.plan(skipUnchanged: skipUnchanged), dialect: FluentPostgresExecutor.dialect)
    }

    @Test func updateReturnsItsCounts() throws {
        #expect(
            FluentPostgresExecutor.updateText(try Self.sql(skipUnchanged: false))
                == #"WITH w AS (UPDATE "public"."users" AS t SET "user_name" = u."user_name""#
                + #" FROM unnest($1::integer[], $2::character varying[]) AS u("id", "user_name")"#
                + #" WHERE t."id" = u."id" RETURNING 1)"#
                + " SELECT count(*)::int8 AS changed, count(*)::int8 AS matched FROM w"
        )
    }

    @Test func skipUnchangedCountsMatchedRowsApart() throws {
        #expect(
            FluentPostgresExecutor.updateText(try Self.sql(skipUnchanged: true))
                == #"WITH u AS (SELECT * FROM unnest($1::integer[], $2::character varying[]) AS u("id", "user_name")),"#
                + #" w AS (UPDATE "public"."users" AS t SET "user_name" = u."user_name" FROM u"#
                + #" WHERE t."id" = u."id" AND (t."user_name" IS DISTINCT FROM u."user_name") RETURNING 1)"#
                + " SELECT (SELECT count(*) FROM w)::int8 AS changed,"
                + #" (SELECT count(*) FROM "public"."users" AS t JOIN u ON t."id" = u."id")::int8 AS matched"#
        )
    }

    @Test func notFoundLookupBindsOnlyTheKeys() throws {
        #expect(
            FluentPostgresExecutor.notFoundText(try Self.sql(skipUnchanged: false))
                == #"SELECT u."bulk_update ordinal"::int8 AS position FROM unnest($1::integer[]) WITH ORDINALITY"#
                + #" AS u("id", "bulk_update ordinal")"#
                + #" WHERE NOT EXISTS (SELECT 1 FROM "public"."users" AS t WHERE t."id" = u."id")"#
                + #" ORDER BY u."bulk_update ordinal" LIMIT 10"#
        )
    }

    enum Size: Int, Codable, Sendable { case small = 1, large = 2 }
    enum Mood: String, Codable, Sendable { case happy }

    @Test func valuesAreEncodedAsEachDriverStoresThem() throws {
        let id = UUID(uuidString: "6F1C2B3A-0000-4000-8000-00000000002A")!
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)
        let postgres = FluentValueEncoding.postgres
        let sqlite = FluentValueEncoding.sqlite
        #expect(try postgres.value(.bind(true)) == .bool(true))
        #expect(try sqlite.value(.bind(true)) == .int(1))
        #expect(try postgres.value(.bind(id)) == .uuid(id))
        #expect(try sqlite.value(.bind(id)) == .string("6F1C2B3A-0000-4000-8000-00000000002A"))
        #expect(try postgres.value(.bind(date)) == .date(date))
        #expect(try sqlite.value(.bind(date)) == .double(1_700_000_000.5))
        #expect(try postgres.value(.bind(Optional<String>.none)) == .null)
        #expect(try postgres.value(.bind(Optional<Int>.some(3))) == .int(3))
        #expect(try postgres.value(.null) == .null)
        #expect(try postgres.value(.enumCase("happy")) == .string("happy"))
        #expect(try postgres.value(.bind(Mood.happy)) == .string("happy"))
        #expect(try postgres.value(.bind(Size.large)) == .int(2))
        #expect(try postgres.value(.bind(Decimal(string: "12.50")!)) == .string("12.5"))
        #expect(try postgres.value(.bind(Float(1.5))) == .double(1.5))
        #expect(try postgres.value(.bind(Data([0, 255]))) == .bytes([0, 255]))
        #expect(try postgres.value(.bind(UInt64(7))) == .int(7))
        #expect(throws: FluentValueError.self) { try postgres.value(.bind(UInt64.max)) }
        #expect(throws: FluentValueError.self) { try postgres.value(.bind(["a"])) }
        #expect(throws: FluentValueError.self) { try postgres.value(.default) }
    }
}
