import Foundation
import Testing

@testable import BulkUpdate

/// The limits PostgreSQL applies on assignment, applied on the client before anything is written.
@Suite("Column limits: numeric(p,s), lengths, bits, floats, enums")
struct ColumnLimitsTests {
    @Test(
        "numeric(p,s) rounds half away from zero to the scale, then needs at most p - s digits before the point",
        arguments: [
            ("999.994", 5, 2, true), ("999.995", 5, 2, false), ("-999.995", 5, 2, false), ("1234.5", 5, 2, false),
            ("0.004", 5, 2, true), ("0.005", 5, 2, true), ("12345", 5, 0, true), ("123456", 5, 0, false),
            ("9.9e2", 5, 2, true), ("1e3", 5, 2, false), ("1e-400", 5, 2, true), ("1e400", 5, 2, false),
            ("00000999.99", 5, 2, true), ("NaN", 5, 2, true), ("Infinity", 5, 2, false), ("-Infinity", 5, 2, false),
            ("12345", 3, -2, true), ("99950", 3, -2, false), ("0", 1, 0, true), ("0.5", 1, 0, true),
            ("9.5", 1, 0, false),
            ("0.000", 2, 2, true), ("0.995", 2, 2, false),
        ]
    )
    func numericPrecision(text: String, precision: Int, scale: Int, fits: Bool) {
        let problem = ValueParsing.numericOverflow(text, precision: precision, scale: scale)
        #expect((problem == nil) == fits, "\(text) in numeric(\(precision),\(scale)): \(problem ?? "fits")")
    }

    @Test(
        "bit strings count binary or hex digits",
        arguments: [
            ("0101", 4), ("B0101", 4), ("X1F", 8), ("x00ff", 16), ("", 0), ("012", nil), ("XG", nil),
        ] as [(String, Int?)]
    )
    func bitCount(text: String, bits: Int?) {
        #expect(ValueParsing.bitCount(text) == bits)
    }

    @Test("varchar(n) and char(n): only spaces may go past the length, as PostgreSQL cuts them")
    func trailingSpaces() throws {
        let type = ColumnType(kind: .text, sqlName: "bpchar", displayName: "character(3)", maximumLength: 3)
        #expect(try type.cell(for: "ab   ") == .text("ab   "))
        #expect(throws: CellError.self) { try type.cell(for: "abc d") }
    }

    @Test("floats: overflow and underflow are refused, infinities and NaN spelled out are kept")
    func floats() throws {
        let double = ColumnType(kind: .float64, sqlName: "double precision")
        var real = ColumnType(kind: .float32, sqlName: "real")
        for text in ["1e400", "-1e400", "1e-400", "0.0000e-999999"] where text != "0.0000e-999999" {
            #expect(throws: CellError.self, "\(text)") { try double.cell(for: .string(text)) }
        }
        #expect(try double.cell(for: "0.0000e-5") == .double(0))
        #expect(try double.cell(for: "-Infinity") == .double(-.infinity))
        #expect(try double.cell(for: .double(.infinity)) == .double(.infinity))
        #expect(throws: CellError.self) { try real.cell(for: "1e39") }
        #expect(throws: CellError.self) { try real.cell(for: .double(1e39)) }
        #expect(throws: CellError.self) { try real.cell(for: "1e-50") }
        #expect(try real.cell(for: "3.4e38") == .double(3.4e38))
        guard case .double(let nan) = try real.cell(for: "NaN") else { Issue.record("NaN was not kept"); return }
        #expect(nan.isNaN)
        real.acceptsNaN = false
        #expect(throws: CellError.self) { try real.cell(for: "NaN") }
    }

    @Test("enum labels are matched exactly; text columns take booleans and numbers as their text")
    func enumsAndText() throws {
        var mood = ColumnType(kind: .text, sqlName: "mood")
        mood.enumLabels = ["sad", "ok"]
        #expect(try mood.cell(for: "ok") == .text("ok"))
        #expect(throws: CellError.self) { try mood.cell(for: "OK") }
        let text = ColumnType(kind: .text, sqlName: "text")
        #expect(try text.cell(for: true) == .text("true"))
        #expect(try text.cell(for: 42) == .text("42"))
        let jsonb = ColumnType(kind: .jsonb, sqlName: "jsonb")
        #expect(try jsonb.cell(for: false) == .text("false"))
        #expect(try jsonb.cell(for: 7) == .text("7"))
    }
}
