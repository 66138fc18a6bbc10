import Foundation
import Testing

@testable import BulkUpdate

/// `ColumnType.cell(for:)`: checking a `BulkUpdateValue` against a column type into a one-row column of its family
/// (`ColumnElement.checked(_:for:)`, the path every row takes), read back as a `Cell`.
@Suite("ColumnType.cell(for:)")
struct CellTests {
    static let int16 = ColumnType(kind: .int16, sqlName: "smallint")
    static let int32 = ColumnType(kind: .int32, sqlName: "integer")
    static let int64 = ColumnType(kind: .int64, sqlName: "bigint")
    static let float64 = ColumnType(kind: .float64, sqlName: "double precision")
    static let numeric = ColumnType(kind: .numeric, sqlName: "numeric")
    static let text = ColumnType(kind: .text, sqlName: "text")
    static let varchar3 = ColumnType(
        kind: .text,
        sqlName: "character varying",
        displayName: "character varying(3)",
        maximumLength: 3
    )
    static let json = ColumnType(kind: .json, sqlName: "json")
    static let jsonb = ColumnType(kind: .jsonb, sqlName: "jsonb")
    static let bool = ColumnType(kind: .bool, sqlName: "boolean")
    static let bytea = ColumnType(kind: .bytea, sqlName: "bytea")
    static let uuid = ColumnType(kind: .uuid, sqlName: "uuid")
    static let date = ColumnType(kind: .date, sqlName: "date")
    static let timestamp = ColumnType(kind: .timestamp, sqlName: "timestamp without time zone")
    static let timestamptz = ColumnType(kind: .timestamptz, sqlName: "timestamp with time zone")

    /// The reason the conversion failed; records an issue when it did not fail.
    private func reason(
        _ type: ColumnType,
        _ value: BulkUpdateValue,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> String? {
        let error = #expect(throws: CellError.self, "\(value) into \(type.displayName)", sourceLocation: sourceLocation)
        {
            try type.cell(for: value)
        }
        return error?.reason
    }

    // MARK: Integers

    @Test func integerOutOfRangeForSmallintNamesTheRange() {
        let reason = self.reason(Self.int16, .int(40_000))
        #expect(reason?.contains("-32768 to 32767") == true, "\(reason ?? "")")
        #expect(reason?.contains("smallint") == true)
        #expect(self.reason(Self.int16, .int(-32_769))?.contains("out of range") == true)
    }

    @Test func integerRangeBoundsFit() throws {
        #expect(try Self.int16.cell(for: .int(Int16.max)) == .int(32_767))
        #expect(try Self.int16.cell(for: .int(Int16.min)) == .int(-32_768))
        #expect(try Self.int32.cell(for: .int(Int32.max)) == .int(2_147_483_647))
        #expect(try Self.int64.cell(for: .int(Int64.min)) == .int(Int64.min))
        #expect(self.reason(Self.int32, .int(Int64(Int32.max) + 1))?.contains("-2147483648 to 2147483647") == true)
    }

    @Test func stringIsParsedAsInteger() throws {
        #expect(try Self.int32.cell(for: "42") == .int(42))
        #expect(try Self.int32.cell(for: " -7 ") == .int(-7))
    }

    @Test func stringOutOfRangeIsRejected() {
        #expect(self.reason(Self.int32, "2147483648")?.contains("out of range") == true)
        #expect(self.reason(Self.int16, "32768")?.contains("out of range") == true)
    }

    @Test(arguments: ["abc", "1.5", "", "12abc"])
    func nonIntegerStringIsRejected(text: String) {
        #expect(self.reason(Self.int32, .string(text))?.contains("expected an integer") == true)
    }

    @Test func doubleMustBeAWholeNumberForIntegers() throws {
        #expect(self.reason(Self.int64, .double(1.5))?.contains("whole number") == true)
        #expect(try Self.int64.cell(for: .double(2.0)) == .int(2))
        #expect(try Self.int16.cell(for: .double(-3)) == .int(-3))
        #expect(self.reason(Self.int64, .double(.nan)) != nil)
        #expect(self.reason(Self.int64, .double(1e30)) != nil)
        #expect(self.reason(Self.int16, .double(70_000))?.contains("out of range") == true)
    }

    @Test func integersFitFloatAndNumericColumns() throws {
        #expect(try Self.float64.cell(for: .int(3)) == .double(3))
        #expect(try Self.numeric.cell(for: .int(-12)) == .text("-12"))
        #expect(try Self.numeric.cell(for: .double(.nan)) == .text("NaN"))
        #expect(try Self.numeric.cell(for: .double(-.infinity)) == .text("-Infinity"))
        #expect(try Self.numeric.cell(for: " 1.50 ") == .text("1.50"))
        #expect(self.reason(Self.numeric, "1.2.3")?.contains("decimal number") == true)
    }

    @Test func integersBecomeTextForTextColumns() throws {
        #expect(try Self.text.cell(for: .int(12345)) == .text("12345"))
    }

    @Test func mismatchedValueKindsAreRejected() {
        #expect(self.reason(Self.int32, .bool(true)) == "expected integer, got a boolean")
        // A text column takes a boolean as its text ("true"); see ColumnLimitsTests.enumsAndText.
        #expect(self.reason(Self.uuid, .bool(true)) == "expected uuid, got a boolean")
        #expect(self.reason(Self.bool, .bytes([1])) == "expected boolean, got bytes")
    }

    // MARK: Text

    @Test func textLongerThanTheLimitIsRejected() {
        let reason = self.reason(Self.varchar3, "abcd")
        #expect(reason?.contains("too long for character varying(3)") == true, "\(reason ?? "")")
        #expect(reason?.contains("4 characters") == true)
    }

    @Test func limitCountsUnicodeScalarsNotBytes() throws {
        // "héé" is 5 UTF-8 bytes but 3 characters, as PostgreSQL counts them.
        #expect(try Self.varchar3.cell(for: "héé") == .text("héé"))
        #expect(try Self.varchar3.cell(for: "abc") == .text("abc"))
        // "e" + combining accent is one grapheme but two scalars, and two characters for PostgreSQL.
        #expect(self.reason(Self.varchar3, "ee\u{301}e") != nil)
    }

    @Test func textWithNULIsRejected() {
        #expect(self.reason(Self.text, "a\u{0}b")?.contains("NUL") == true)
        #expect(self.reason(Self.json, "\"a\u{0}\"")?.contains("NUL") == true)
    }

    @Test func uuidFitsTextColumns() throws {
        let uuid = try #require(UUID(uuidString: "123E4567-E89B-12D3-A456-426614174000"))
        #expect(try Self.text.cell(for: .uuid(uuid)) == .text("123e4567-e89b-12d3-a456-426614174000"))
        #expect(try Self.uuid.cell(for: .uuid(uuid)) == .uuid(uuid))
        #expect(try Self.uuid.cell(for: "123e4567e89b12d3a456426614174000") == .uuid(uuid))
    }

    // MARK: JSON

    @Test(arguments: [CellTests.json, CellTests.jsonb])
    func invalidJSONIsRejected(type: ColumnType) {
        #expect(self.reason(type, "{not json")?.contains("JSON document") == true)
    }

    @Test(arguments: [CellTests.json, CellTests.jsonb])
    func validJSONIsKeptAsText(type: ColumnType) throws {
        #expect(try type.cell(for: #"{"a": 1}"#) == .text(#"{"a": 1}"#))
    }

    // MARK: Other types

    @Test func otherTypesParseTheirTextForms() throws {
        #expect(try Self.bool.cell(for: "yes") == .bool(true))
        #expect(try Self.bool.cell(for: .bool(false)) == .bool(false))
        #expect(try Self.bytea.cell(for: #"\x00ff"#) == .bytes([0, 255]))
        #expect(try Self.date.cell(for: "1970-01-01") == .date(-10_957))
        #expect(try Self.timestamp.cell(for: "2000-01-01 01:00:00+01:00") == .timestamp(3_600_000_000))
        #expect(try Self.timestamptz.cell(for: "2000-01-01 01:00:00+01:00") == .timestamp(0))
        #expect(self.reason(Self.bool, "maybe") != nil)
        #expect(self.reason(Self.date, "2023-02-29") != nil)
    }

    @Test func datesFitDateAndTimestampColumns() throws {
        let epoch = Date(timeIntervalSince1970: 0)
        #expect(try Self.date.cell(for: .date(epoch)) == .date(-10_957))
        #expect(try Self.timestamptz.cell(for: .date(epoch)) == .timestamp(-946_684_800_000_000))
        #expect(self.reason(Self.text, .date(epoch)) != nil)
    }

    // MARK: NULL

    @Test(arguments: [
        CellTests.int16, CellTests.text, CellTests.varchar3, CellTests.json, CellTests.bool,
        CellTests.bytea, CellTests.uuid, CellTests.date, CellTests.timestamptz, CellTests.numeric,
    ])
    func nilIsNull(type: ColumnType) throws {
        #expect(try type.cell(for: nil) == .null)
        #expect(try type.cell(for: .null) == .null)
    }
}
