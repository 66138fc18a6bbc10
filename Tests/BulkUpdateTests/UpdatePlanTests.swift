import Testing

@testable import BulkUpdate

@Suite("UpdatePlan")
struct UpdatePlanTests {
    private static let integer = ColumnType(kind: .int32, sqlName: "integer")
    private static let text = ColumnType(kind: .text, sqlName: "text")

    /// `public.users(id, email, username, org, code, search tsvector, total generated)`.
    private static func users(primaryKey: [String] = ["id"]) -> TableSchema {
        TableSchema(
            name: BulkUpdateTableName(schema: "public", name: "users"),
            columns: [
                ColumnSchema(name: "id", type: integer, isNullable: false),
                ColumnSchema(name: "email", type: text, isNullable: false),
                ColumnSchema(name: "username", type: text, isNullable: true),
                ColumnSchema(name: "org", type: integer, isNullable: false),
                ColumnSchema(name: "code", type: text, isNullable: false),
                ColumnSchema(name: "search", type: text, isNullable: true, unsupportedType: "tsvector"),
                ColumnSchema(name: "total", type: integer, isNullable: true, isGenerated: true),
            ],
            primaryKey: primaryKey,
            uniqueKeys: (primaryKey.isEmpty ? [] : [primaryKey]) + [["email"], ["org", "code"]]
        )
    }

    private static func failure(
        table: TableSchema = users(),
        key: [String]?,
        set: [String],
        options: BulkUpdateOptions = BulkUpdateOptions(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> BulkUpdateError? {
        #expect(throws: BulkUpdateError.self, sourceLocation: sourceLocation) {
            try UpdatePlan(table: table, keyColumns: key, setColumns: set, options: options)
        }
    }

    @Test func validPlanOrdersKeyColumnsBeforeSetColumns() throws {
        let plan = try UpdatePlan(
            table: Self.users(),
            keyColumns: ["id"],
            setColumns: ["username", "email"],
            options: BulkUpdateOptions()
        )
        #expect(plan.keyColumns.map(\.name) == ["id"])
        #expect(plan.setColumns.map(\.name) == ["username", "email"])
        #expect(plan.columns.map(\.name) == ["id", "username", "email"])
        #expect(plan.table.name.description == "public.users")
    }

    @Test func primaryKeyIsTheDefaultKey() throws {
        let plan = try UpdatePlan(
            table: Self.users(),
            keyColumns: nil,
            setColumns: ["username"],
            options: BulkUpdateOptions()
        )
        #expect(plan.keyColumns.map(\.name) == ["id"])
        #expect(plan.keyColumns.first?.type == Self.integer)
    }

    @Test func withoutPrimaryKeyTheKeyMustBeNamed() throws {
        let error = Self.failure(table: Self.users(primaryKey: []), key: nil, set: ["username"])
        #expect(error?.code == .schema)
        #expect(error?.message.contains("public.users has no primary key") == true)

        let plan = try UpdatePlan(
            table: Self.users(primaryKey: []),
            keyColumns: ["email"],
            setColumns: ["username"],
            options: BulkUpdateOptions()
        )
        #expect(plan.keyColumns.map(\.name) == ["email"])
    }

    @Test func compositeKeyMatchesAUniqueKeyInAnyOrder() throws {
        let plan = try UpdatePlan(
            table: Self.users(),
            keyColumns: ["code", "org"],
            setColumns: ["username"],
            options: BulkUpdateOptions()
        )
        #expect(plan.keyColumns.map(\.name) == ["code", "org"])
    }

    @Test func unknownColumnSuggestsTheClosestName() {
        let error = Self.failure(key: ["id"], set: ["emial"])
        #expect(error?.code == .schema)
        #expect(error?.column == "emial")
        #expect(error?.message.contains(#"column "emial" does not exist in public.users"#) == true)
        #expect(error?.message.contains(#"(did you mean "email"?)"#) == true, "\(error?.message ?? "")")
    }

    @Test func unknownKeyColumnIsReportedToo() {
        let error = Self.failure(key: ["ID"], set: ["email"])
        #expect(error?.message.contains(#"column "ID" does not exist"#) == true)
        #expect(error?.message.contains(#"did you mean "id""#) == true)
    }

    @Test func farOffNamesGetNoSuggestion() {
        let error = Self.failure(key: ["id"], set: ["completely_different"])
        #expect(error?.message.contains("does not exist") == true)
        #expect(error?.message.contains("did you mean") == false)
    }

    @Test func closestPicksTheNearestCandidateWithinTwoEdits() {
        #expect(UpdatePlan.closest(to: "emial", among: ["id", "email", "username"]) == "email")
        #expect(UpdatePlan.closest(to: "usrname", among: ["id", "email", "username"]) == "username")
        #expect(UpdatePlan.closest(to: "e-mail", among: ["mail", "email"]) == "email")
        #expect(UpdatePlan.closest(to: "xyzxyz", among: ["id", "email", "username"]) == nil)
        #expect(UpdatePlan.closest(to: "name", among: []) == nil)
    }

    @Test func closestSuggestsTheFirstOfEquallyCloseCandidates() {
        #expect(UpdatePlan.closest(to: "ab", among: ["aa", "bb"]) == "aa")
    }

    @Test func setColumnMayNotBePartOfTheKey() {
        let error = Self.failure(key: ["id"], set: ["username", "id"])
        #expect(error?.code == .schema)
        #expect(error?.column == "id")
        #expect(error?.message.contains(#"column "id" is part of the key and cannot also be set"#) == true)
    }

    @Test func atLeastOneSetColumnIsRequired() {
        let error = Self.failure(key: ["id"], set: [])
        #expect(error?.code == .schema)
        #expect(error?.message.contains("at least one column to set is required") == true)
    }

    @Test func atLeastOneKeyColumnIsRequired() {
        let error = Self.failure(key: [], set: ["email"])
        #expect(error?.message.contains("at least one key column is required") == true)
    }

    @Test func columnsNamedTwiceAreRejected() {
        #expect(Self.failure(key: ["id"], set: ["email", "email"])?.message.contains("named twice") == true)
        #expect(Self.failure(key: ["org", "org"], set: ["email"])?.message.contains("named twice") == true)
    }

    @Test(arguments: [
        (["username"], ["email"]),
        (["org"], ["email"]),
        (["org", "code", "id"], ["email"]),
        (["code", "email"], ["username"]),
    ])
    func keyWithoutMatchingUniqueIndexIsNotUnique(key: [String], set: [String]) {
        let error = Self.failure(key: key, set: set)
        #expect(error?.code == .schema)
        #expect(error?.message.contains("is not unique in public.users") == true, "\(error?.message ?? "")")
    }

    @Test func unsupportedTypeIsRejectedOnlyWhenUsed() throws {
        // The table has a tsvector column; a plan that does not use it is fine.
        _ = try UpdatePlan(table: Self.users(), keyColumns: ["id"], setColumns: ["email"], options: BulkUpdateOptions())

        let asSet = Self.failure(key: ["id"], set: ["search"])
        #expect(asSet?.code == .schema)
        #expect(asSet?.column == "search")
        #expect(asSet?.message.contains("has type tsvector, which BulkUpdate does not support") == true)

        let asKey = Self.failure(key: ["search"], set: ["email"])
        #expect(asKey?.message.contains("tsvector") == true)
    }

    @Test func generatedColumnCannotBeSet() {
        let error = Self.failure(key: ["id"], set: ["total"])
        #expect(error?.column == "total")
        #expect(error?.message.contains("is generated and cannot be set") == true)
    }

    @Test func invalidOptionsAreRejectedFirst() {
        let error = Self.failure(key: ["nope"], set: [], options: BulkUpdateOptions(workers: 0))
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("workers") == true)
    }
}
