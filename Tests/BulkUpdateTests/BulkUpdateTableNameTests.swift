import Testing

@testable import BulkUpdate

@Suite("BulkUpdateTableName")
struct BulkUpdateTableNameTests {
    @Test func unqualifiedNameHasNoSchema() throws {
        let name = try BulkUpdateTableName(parsing: "users")
        #expect(name.schema == nil)
        #expect(name.name == "users")
    }

    @Test func unquotedNamesAreFoldedToLowerCase() throws {
        let name = try BulkUpdateTableName(parsing: "Users")
        #expect(name == BulkUpdateTableName(name: "users"))

        let qualified = try BulkUpdateTableName(parsing: "Public.USERS")
        #expect(qualified == BulkUpdateTableName(schema: "public", name: "users"))
    }

    @Test func schemaQualifiedName() throws {
        let name = try BulkUpdateTableName(parsing: "public.users")
        #expect(name.schema == "public")
        #expect(name.name == "users")
        #expect(name.description == "public.users")
    }

    @Test func quotedPartsAreTakenExactlyWithDoubledQuotes() throws {
        let name = try BulkUpdateTableName(parsing: #""My Schema"."Order ""Lines""""#)
        #expect(name.schema == "My Schema")
        #expect(name.name == #"Order "Lines""#)
    }

    @Test func quotedPartKeepsCaseAndDots() throws {
        let name = try BulkUpdateTableName(parsing: #"app."Users.Archive""#)
        #expect(name.schema == "app")
        #expect(name.name == "Users.Archive")
    }

    @Test(arguments: [
        ("", "a part is empty"),
        (#""""#, "a quoted part is empty"),
        ("a.b.c", "expected table or schema.table"),
        (#""unterminated"#, "a quoted part is not closed"),
        ("a..b", "a part is empty"),
        (".users", "a part is empty"),
        ("public.", "a part is empty"),
        ("my table", "unquoted names cannot contain spaces"),
        (#""a"b"#, "expected '.' after a quoted part"),
    ])
    func invalidNamesAreRejected(text: String, reason: String) {
        let error = #expect(throws: BulkUpdateError.self) {
            try BulkUpdateTableName(parsing: text)
        }
        #expect(error?.code == .schema)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "no error")")
        #expect(error?.message.contains("is not valid") == true)
    }

    @Test func quoteInsideAnUnquotedPartIsRejected() {
        // PostgreSQL rejects `users"x"`; a quote may only start a part.
        #expect(throws: BulkUpdateError.self) {
            try BulkUpdateTableName(parsing: #"users"x""#)
        }
    }

    @Test func quotedDoublesEmbeddedQuotes() {
        let name = BulkUpdateTableName(schema: "My Schema", name: #"Order "Lines""#)
        #expect(name.quoted == #""My Schema"."Order ""Lines""""#)
        #expect(BulkUpdateTableName(name: "users").quoted == #""users""#)
        #expect(BulkUpdateTableName(name: #"""#).quoted == #""""""#)
    }

    @Test(arguments: [
        BulkUpdateTableName(name: "users"),
        BulkUpdateTableName(schema: "public", name: "Users"),
        BulkUpdateTableName(schema: "My Schema", name: #"Order "Lines""#),
        BulkUpdateTableName(schema: "a.b", name: #""""#),
    ])
    func quotedTextParsesBackToTheSameName(name: BulkUpdateTableName) throws {
        #expect(try BulkUpdateTableName(parsing: name.quoted) == name)
    }
}
