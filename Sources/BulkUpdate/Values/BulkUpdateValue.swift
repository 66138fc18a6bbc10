public import struct Foundation.Date
public import struct Foundation.UUID

/// One new value for one column, as the caller has it.
///
/// Values are checked against the column's real type from the catalog before anything is written. A
/// ``string(_:)`` is accepted for every column type and parsed the way the database would parse its text form
/// (`"42"` for an integer column, `"2024-05-01"` for a date, `"\\x00ff"` for bytea); other values must fit the
/// column's type (an integer fits integer, float and numeric columns).
///
/// Literals work too: `[1, "USER_1", nil]` is a row of an integer, a string and a NULL.
public struct BulkUpdateValue: Sendable, Hashable {
    enum Storage: Sendable, Hashable {
        case null
        case bool(Bool)
        case int(Int64)
        case double(Double)
        case string(String)
        case bytes([UInt8])
        case uuid(UUID)
        case date(Date)
    }

    let storage: Storage

    init(_ storage: Storage) { self.storage = storage }

    /// SQL NULL.
    public static let null = BulkUpdateValue(.null)
    /// A boolean.
    public static func bool(_ value: Bool) -> BulkUpdateValue { .init(.bool(value)) }
    /// An integer.
    public static func int(_ value: some BinaryInteger) -> BulkUpdateValue { .init(.int(Int64(value))) }
    /// A floating-point number.
    public static func double(_ value: Double) -> BulkUpdateValue { .init(.double(value)) }
    /// Text; for non-text columns, the value's text form.
    public static func string(_ value: String) -> BulkUpdateValue { .init(.string(value)) }
    /// Raw bytes, for bytea columns.
    public static func bytes(_ value: [UInt8]) -> BulkUpdateValue { .init(.bytes(value)) }
    /// A UUID.
    public static func uuid(_ value: UUID) -> BulkUpdateValue { .init(.uuid(value)) }
    /// A point in time, for timestamp, timestamptz and date columns (dates and `timestamp` use its UTC calendar
    /// day and time).
    public static func date(_ value: Date) -> BulkUpdateValue { .init(.date(value)) }

    /// Whether this is SQL NULL.
    public var isNull: Bool { self.storage == .null }
}

extension BulkUpdateValue: ExpressibleByNilLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByStringLiteral
{
    public init(nilLiteral: ()) { self.init(.null) }
    public init(integerLiteral value: Int64) { self.init(.int(value)) }
    public init(floatLiteral value: Double) { self.init(.double(value)) }
    public init(booleanLiteral value: Bool) { self.init(.bool(value)) }
    public init(stringLiteral value: String) { self.init(.string(value)) }
}

extension BulkUpdateValue: CustomStringConvertible {
    /// The value as it appears in error messages: SQL-like literal syntax.
    public var description: String {
        // As the checked value would show in a report (``ColumnElement/rendered``), but a date as it was given.
        switch self.storage {
        case .null: "NULL"
        case .bool(let value): value.rendered
        case .int(let value): value.rendered
        case .double(let value): value.rendered
        case .string(let value): value.rendered
        case .bytes(let value): value.rendered
        case .uuid(let value): value.rendered
        case .date(let value): "'\(value)'"
        }
    }
}

/// One input row: the key values, then the new values, in the order the columns were named.
///
/// ```swift
/// let row: BulkUpdateRow = [42, "USER_42"]   // id, username
/// ```
public struct BulkUpdateRow: Sendable, Hashable, ExpressibleByArrayLiteral {
    /// Key values first, then set values, in the order of the key and set column lists.
    public var values: [BulkUpdateValue]
    /// Where the row came from, for error messages (a file's line number). When `nil`, errors give the row's
    /// 1-based position in the input.
    public var line: Int?

    /// Creates a row from its values in column order.
    public init(_ values: [BulkUpdateValue], line: Int? = nil) {
        self.values = values
        self.line = line
    }

    public init(arrayLiteral elements: BulkUpdateValue...) {
        self.init(elements)
    }
}

/// Small helpers for rendering values in messages. Never used to build executable SQL.
package enum SQLText {
    /// `'it''s'`, shortened to 60 characters with an ellipsis so messages stay readable.
    package static func literal(_ text: String) -> String {
        var shown = text
        if shown.count > 60 { shown = String(shown.prefix(57)) + "..." }
        return "'" + shown.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'"
    }

    /// `text` with anything that may be a password replaced by `***`: what stands between `:` and the last `@` of
    /// a URL's authority (`postgress://app:secret@db/x` → `postgress://app:***@db/x`), for echoing a URL that did
    /// not parse.
    package static func redactingPassword(_ text: String) -> String {
        let afterScheme = text.range(of: "://").map(\.upperBound) ?? text.startIndex
        let authorityEnd = text[afterScheme...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? text.endIndex
        let authority = text[afterScheme..<authorityEnd]
        // Without an `@` in the authority, the text may still hold `user:password@`, as in `postgres//app:secret@h`.
        let searched = authority.contains("@") ? authority : text[...]
        guard let at = searched.lastIndex(of: "@"), let colon = searched[..<at].firstIndex(of: ":") else { return text }
        return String(text[...colon]) + "***" + String(text[at...])
    }

    /// A key as reports show it, from its columns' rendered values: `42`, or `(1, 'a')` for a composite key.
    package static func key(_ values: [String]) -> String {
        values.count == 1 ? values[0] : "(" + values.joined(separator: ", ") + ")"
    }

    package static func hex(_ byte: UInt8) -> String {
        let digits: [Character] = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }
}
