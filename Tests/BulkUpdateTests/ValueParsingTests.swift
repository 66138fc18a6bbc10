import Foundation
import Testing

@testable import BulkUpdate

@Suite("ValueParsing")
struct ValueParsingTests {
    // MARK: Dates

    @Test func leapDayIsAcceptedInALeapYear() throws {
        let days = try #require(ValueParsing.date("2024-02-29"))
        #expect(days == 8_825)
        #expect(ValueParsing.formatDate(days) == "2024-02-29")
    }

    @Test(arguments: [
        "2023-02-29", "1900-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00", "2024-1-01",
        "20240101", "2024-01-01x", "", "abcd-ef-gh",
    ])
    func invalidDatesAreRejected(text: String) {
        #expect(ValueParsing.date(text) == nil)
    }

    @Test func epochsAndCenturyLeapYear() {
        #expect(ValueParsing.date("2000-01-01") == 0)
        #expect(ValueParsing.date("1970-01-01") == -10_957)
        #expect(ValueParsing.date("2000-02-29") == 59)
        #expect(ValueParsing.date("1999-12-31") == -1)
        #expect(ValueParsing.date(" 2000-01-02 ") == 1)
    }

    @Test(arguments: [
        "2024-02-29", "1970-01-01", "2000-01-01", "1999-12-31", "0001-01-01", "9999-12-31",
        "1900-03-01",
    ])
    func formatDateRoundTrips(text: String) throws {
        let days = try #require(ValueParsing.date(text))
        #expect(ValueParsing.formatDate(days) == text)
    }

    @Test func formatDateOfEveryDayInALeapYearParsesBack() throws {
        for days in Int32(8_766)...Int32(8_766 + 365) {
            let text = ValueParsing.formatDate(days)
            #expect(ValueParsing.date(text) == days, "\(text)")
        }
        #expect(ValueParsing.formatDate(8_766) == "2024-01-01")
        #expect(ValueParsing.formatDate(8_766 + 365) == "2024-12-31")
    }

    @Test func datesBeyondTheEverydayForms() throws {
        #expect(ValueParsing.date("infinity") == Int32.max)
        #expect(ValueParsing.date(" -Infinity ") == Int32.min)
        #expect(ValueParsing.formatDate(Int32.max) == "infinity")
        #expect(ValueParsing.formatDate(Int32.min) == "-infinity")
        // PostgreSQL's first and last dates; 1 BC is year 0, a leap year.
        for text in [
            "4714-11-24 BC", "5874897-12-31", "0001-12-31 BC", "0001-02-29 BC", "12345-06-07", "0044-03-15 BC",
        ] {
            let days = try #require(ValueParsing.date(text), "\(text)")
            #expect(ValueParsing.formatDate(days) == text)
        }
        #expect(ValueParsing.date("0001-01-01 BC").map { $0 + 366 } == ValueParsing.date("0001-01-01"))
        #expect(ValueParsing.date("12345-06-07 AD") == ValueParsing.date("12345-06-07"))
        for text in ["4714-11-23 BC", "5874898-01-01", "0000-01-01", "0002-02-29 BC", "123-01-01", "12345678-01-01"] {
            #expect(ValueParsing.date(text) == nil, "\(text)")
        }
    }

    @Test func timestampsBeyondTheEverydayForms() throws {
        #expect(ValueParsing.timestamp("infinity", withTimeZone: true) == Int64.max)
        #expect(ValueParsing.timestamp("-infinity", withTimeZone: false) == Int64.min)
        #expect(ValueParsing.formatTimestamp(Int64.max, offset: "+00") == "infinity")
        let first = try #require(ValueParsing.timestamp("4714-11-24 00:00:00 BC", withTimeZone: false))
        #expect(first == -211_813_488_000_000_000)  // PostgreSQL's MIN_TIMESTAMP
        #expect(ValueParsing.timestamp("4714-11-23 23:59:59.999999 BC", withTimeZone: false) == nil)
        let last = try #require(ValueParsing.timestamp("294276-12-31 23:59:59.999999", withTimeZone: false))
        #expect(last == 9_223_371_331_199_999_999)  // PostgreSQL's END_TIMESTAMP - 1
        #expect(ValueParsing.timestamp("294277-01-01 00:00:00", withTimeZone: false) == nil)
        // PostgreSQL's own text of timestamptz: the era last, after the offset; offsets with seconds before 1900.
        let bc = try #require(ValueParsing.timestamp("0044-03-15 10:00:00.123456+00 BC", withTimeZone: true))
        #expect(ValueParsing.formatTimestamp(bc, offset: "+00") == "0044-03-15 10:00:00.123456+00 BC")
        #expect(ValueParsing.timestamp("0044-03-15T10:00:00.123456+00:00 BC", withTimeZone: true) == bc)
        #expect(
            ValueParsing.timestamp("1850-01-01 00:19:32+00:19:32", withTimeZone: true)
                == ValueParsing.timestamp("1850-01-01 00:00:00Z", withTimeZone: true)
        )
        #expect(ValueParsing.timestamp("2026-01-01 00:00:00+01:00:60", withTimeZone: true) == nil)
        // Rounding at the seventh digit does not carry past the last microsecond.
        #expect(ValueParsing.timestamp("294276-12-31 23:59:59.9999996", withTimeZone: false) == nil)
    }

    @Test func sqliteDatesAreYearsZeroToNineThousandNineHundredNinetyNine() throws {
        // SQLite's date functions read 0000-01-01 and no infinity, BC or longer year.
        #expect(ValueParsing.date("0000-01-01", extended: false) == ValueParsing.date("0001-01-01 BC"))
        #expect(ValueParsing.timestamp("0000-02-29 12:00:00", withTimeZone: true, extended: false) != nil)
        for text in ["infinity", "-infinity", "0044-03-15 BC", "12345-06-07"] {
            #expect(ValueParsing.date(text, extended: false) == nil, "\(text)")
            #expect(ValueParsing.timestamp(text, withTimeZone: false, extended: false) == nil, "\(text)")
        }
        #expect(ValueParsing.date("0000-01-01") == nil)  // PostgreSQL has no year 0
        // Written back to SQLite as it was read.
        let zero = try #require(ValueParsing.date("0000-01-01", extended: false))
        #expect(ValueParsing.formatDate(zero, extended: false) == "0000-01-01")
        let noon = try #require(ValueParsing.timestamp("0000-02-29 12:00:00", withTimeZone: true, extended: false))
        #expect(ValueParsing.formatTimestamp(noon, extended: false) == "0000-02-29 12:00:00")
    }

    // MARK: Timestamps

    @Test func postgresEpochIsZero() {
        #expect(ValueParsing.timestamp("2000-01-01 00:00:00", withTimeZone: false) == 0)
        #expect(ValueParsing.timestamp("2000-01-01 00:00:00", withTimeZone: true) == 0)
        #expect(ValueParsing.timestamp("2000-01-01", withTimeZone: false) == 0)
    }

    @Test func separatorMayBeTOrSpace() {
        let spaced = ValueParsing.timestamp("2024-05-01 12:34:56", withTimeZone: false)
        let iso = ValueParsing.timestamp("2024-05-01T12:34:56", withTimeZone: false)
        #expect(spaced != nil)
        #expect(spaced == iso)
        let expected: Int64 = (8_887 * 86_400 + 12 * 3_600 + 34 * 60 + 56) * 1_000_000
        #expect(spaced == expected)
    }

    @Test func secondsAreOptional() {
        #expect(ValueParsing.timestamp("2000-01-01T10:30", withTimeZone: false) == 37_800_000_000)
    }

    @Test(
        arguments: [
            (".1", 100_000),
            (".12", 120_000),
            (".123", 123_000),
            (".1234", 123_400),
            (".12345", 123_450),
            (".123456", 123_456),
            (".1234564", 123_456),
            (".1234565", 123_457),
            (".1234567", 123_457),
            (".12345678", 123_457),
            (".123456789", 123_457),
            (".000001", 1),
            (".0000005", 1),
            (".0000004", 0),
        ] as [(String, Int64)]
    )
    func fractionDigitsAreMicrosecondsRoundedAtTheSeventh(fraction: String, micros: Int64) {
        #expect(ValueParsing.timestamp("2000-01-01 00:00:00" + fraction, withTimeZone: false) == micros)
    }

    @Test func roundingUpCarriesIntoTheNextSecond() {
        #expect(ValueParsing.timestamp("2000-01-01 00:00:00.9999995", withTimeZone: false) == 1_000_000)
    }

    @Test func offsetsAreAppliedWithTimeZone() {
        let hour: Int64 = 3_600_000_000
        #expect(ValueParsing.timestamp("2000-01-01T00:00:00Z", withTimeZone: true) == 0)
        #expect(ValueParsing.timestamp("2000-01-01 00:00:00 UTC", withTimeZone: true) == 0)
        #expect(ValueParsing.timestamp("2000-01-01 00:00:00+02:00", withTimeZone: true) == -2 * hour)
        #expect(ValueParsing.timestamp("2000-01-01 00:00:00+02", withTimeZone: true) == -2 * hour)
        #expect(ValueParsing.timestamp("2000-01-01 00:00:00-0530", withTimeZone: true) == 11 * hour / 2)
        #expect(ValueParsing.timestamp("2000-01-01 00:00:00 -05:30", withTimeZone: true) == 11 * hour / 2)
    }

    @Test(arguments: [
        "2000-01-01 00:00:00Z", "2000-01-01 00:00:00+02:00", "2000-01-01T00:00:00-0530",
        "2000-01-01 00:00:00 +14",
    ])
    func offsetsAreIgnoredWithoutTimeZone(text: String) {
        #expect(ValueParsing.timestamp(text, withTimeZone: false) == 0)
    }

    @Test(arguments: [
        "2000-01-01 25:00:00", "2000-01-01 10:60:00", "2000-01-01 10:00:61", "2000-01-01 10",
        "2000-01-01T10:00:00.", "2000-01-01 10:00:00Zx", "2000-01-01 10:00:00+2", "2000-01-01 10:00:00+02:3",
        "2000-01-01 10:00:00 PST", "2000-02-30 00:00:00", "2000-01-01X10:00:00", "not a timestamp", "",
    ])
    func invalidTimestampsAreRejected(text: String) {
        #expect(ValueParsing.timestamp(text, withTimeZone: true) == nil)
    }

    @Test(arguments: [
        "2024-02-29 12:34:56.789000", "1999-12-31 23:59:59.500000", "2000-01-01 00:00:00",
        "1970-01-01 00:00:00", "2038-01-19 03:14:07.000001", "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999",
    ])
    func formatTimestampOfParseRoundTrips(text: String) throws {
        let micros = try #require(ValueParsing.timestamp(text, withTimeZone: false))
        #expect(ValueParsing.formatTimestamp(micros) == text)
    }

    @Test(
        arguments: [
            0, 1, -1, -500_000, 999_999, -86_400_000_000, -86_400_000_001, 8_825 * 86_400_000_000 + 7,
            -946_684_800_000_000,
        ] as [Int64]
    )
    func parseOfFormatTimestampRoundTrips(micros: Int64) {
        let text = ValueParsing.formatTimestamp(micros)
        #expect(ValueParsing.timestamp(text, withTimeZone: true) == micros, "\(text)")
    }

    @Test func timesBeforeTheEpochAreNegative() {
        #expect(ValueParsing.timestamp("1999-12-31 23:59:59.5", withTimeZone: false) == -500_000)
        #expect(ValueParsing.formatTimestamp(-500_000) == "1999-12-31 23:59:59.500000")
        #expect(ValueParsing.timestamp("1970-01-01 00:00:00", withTimeZone: false) == -946_684_800_000_000)
    }

    @Test func dateConversionsUseUTC() {
        let epoch = Date(timeIntervalSince1970: 0)
        #expect(ValueParsing.days(from: epoch) == -10_957)
        #expect(ValueParsing.microseconds(from: epoch) == -946_684_800_000_000)
        let justBefore = Date(timeIntervalSince1970: Double(ValueParsing.postgresEpochOffset) - 0.25)
        #expect(ValueParsing.days(from: justBefore) == -1)
        #expect(ValueParsing.microseconds(from: justBefore) == -250_000)
    }

    // MARK: Booleans

    @Test(arguments: ["t", "true", "TRUE", "True", "y", "yes", "on", "1", " true "])
    func trueForms(text: String) {
        #expect(ValueParsing.bool(text) == true)
    }

    @Test(arguments: ["f", "false", "FALSE", "n", "no", "off", "0", " off"])
    func falseForms(text: String) {
        #expect(ValueParsing.bool(text) == false)
    }

    @Test(arguments: ["", "maybe", "2", "tru e", "-1"])
    func notBooleans(text: String) {
        #expect(ValueParsing.bool(text) == nil)
    }

    // MARK: Numbers

    @Test(arguments: [
        "1", "-1.5e10", ".5", "NaN", "nan", "Infinity", "-Infinity", "+3", "1.", "1E+5", "2e-3",
        " 42 ", "007",
    ])
    func numericLiterals(text: String) {
        #expect(ValueParsing.isNumeric(text))
    }

    @Test(arguments: ["1e", "abc", "1.2.3", "", ".", "-", "+.", "e5", "1e+", "1,5", "0x10", "1 2", "inf"])
    func notNumericLiterals(text: String) {
        #expect(!ValueParsing.isNumeric(text))
    }

    @Test func integers() {
        #expect(ValueParsing.int("42") == 42)
        #expect(ValueParsing.int(" -7 ") == -7)
        #expect(ValueParsing.int("+5") == 5)
        #expect(ValueParsing.int("9223372036854775807") == Int64.max)
        #expect(ValueParsing.int("9223372036854775808") == nil)
        #expect(ValueParsing.int("1.0") == nil)
        #expect(ValueParsing.int("") == nil)
    }

    @Test func doubles() {
        #expect(ValueParsing.double("1.5") == 1.5)
        #expect(ValueParsing.double(" -2e3 ") == -2_000)
        #expect(ValueParsing.double("Infinity") == .infinity)
        #expect(ValueParsing.double("-inf") == -.infinity)
        #expect(ValueParsing.double("NaN")?.isNaN == true)
        #expect(ValueParsing.double("abc") == nil)
        #expect(ValueParsing.double("0x1p3") == nil)
        #expect(ValueParsing.double("") == nil)
    }

    // MARK: Bytes, UUIDs, JSON

    @Test func byteaHex() {
        #expect(ValueParsing.bytea(#"\x00ff"#) == [0, 255])
        #expect(ValueParsing.bytea(#"\X0A1b"#) == [10, 27])
        #expect(ValueParsing.bytea(#"\x"#) == [])
    }

    @Test(arguments: [#"\x0"#, #"\x00f"#, #"\x0g"#, "00ff", #"\"#, "", #"\y00"#])
    func invalidBytea(text: String) {
        #expect(ValueParsing.bytea(text) == nil)
    }

    @Test func uuidWithAndWithoutDashes() throws {
        let expected = try #require(UUID(uuidString: "123e4567-e89b-12d3-a456-426614174000"))
        #expect(ValueParsing.uuid("123e4567-e89b-12d3-a456-426614174000") == expected)
        #expect(ValueParsing.uuid("123E4567-E89B-12D3-A456-426614174000") == expected)
        #expect(ValueParsing.uuid("123e4567e89b12d3a456426614174000") == expected)
        #expect(ValueParsing.uuid("{123e4567-e89b-12d3-a456-426614174000}") == expected)
        #expect(ValueParsing.uuid(" 123e4567e89b12d3a456426614174000 ") == expected)
    }

    @Test(arguments: [
        "", "xyz", "123e4567e89b12d3a45642661417400", "123e4567e89b12d3a4564266141740000",
        "123e4567-e89b-12d3-a456-42661417400g",
    ])
    func invalidUUIDs(text: String) {
        #expect(ValueParsing.uuid(text) == nil)
    }

    @Test func json() {
        #expect(ValueParsing.isJSON(#"{"a": [1, 2, null]}"#))
        #expect(ValueParsing.isJSON("42"))
        #expect(ValueParsing.isJSON(#""text""#))
        #expect(!ValueParsing.isJSON("{"))
        #expect(!ValueParsing.isJSON("{'a': 1}"))
        #expect(!ValueParsing.isJSON(""))
    }

    /// What PostgreSQL 15 answered for `'…'::json` and `'…'::jsonb`.
    @Test(arguments: [
        // text, json, jsonb
        ("1e400", true, true), (#"{"big": 1e400, "small": -1e-400}"#, true, true), ("1e131071", true, true),
        ("1e131072", true, false), ("1e-16383", true, true), ("1e-16384", true, false), ("1e999999999999", true, false),
        (#""\u0000""#, true, false), (#""\ud800""#, true, false), (#""\udc00""#, true, false),
        (#""\ud800\udc00""#, true, true), ("01", false, false), ("-0", true, true), ("1.", false, false),
        (".5", false, false), ("+1", false, false), ("[1,]", false, false), (#"{"a":1,}"#, false, false),
        (" true ", true, true), ("nul", false, false), (#""a\tb""#, true, true), ("\"a\tb\"", false, false),
        (#""\x""#, false, false), ("1E+2", true, true), ("-", false, false), ("[]]", false, false),
        (#""\/""#, true, true), (#"{"a":{"b":[1,{"c":null}]},"d":[]}"#, true, true), (#"{"a" 1}"#, false, false),
        (#"{1:2}"#, false, false), ("[1 2]", false, false), ("{}", true, true), ("[[[]]]", true, true),
    ])
    func jsonAsPostgreSQLReadsIt(text: String, json: Bool, jsonb: Bool) {
        #expect(ValueParsing.isJSON(text, binary: false) == json, "json \(text)")
        #expect(ValueParsing.isJSON(text, binary: true) == jsonb, "jsonb \(text)")
    }

    @Test func deeplyNestedJSONDoesNotExhaustTheStack() {
        let depth = 200_000
        #expect(ValueParsing.isJSON(String(repeating: "[", count: depth) + String(repeating: "]", count: depth)))
        #expect(!ValueParsing.isJSON(String(repeating: "[", count: depth)))
    }
}
