package import Foundation

/// What a chunk column stores for each of its values: one type per column family, in the form the drivers send.
///
/// Each element type checks a caller's value against its column's type once, on the way into its column
/// (``checked(_:for:)``); after that a value is never converted again. Hashes, order and rendering are defined here
/// so that routing, fingerprints and reports read the columns directly. Each backend conforms these types to its
/// own encoding protocol once.
package protocol ColumnElement: Sendable, Equatable {
    /// `value` (never NULL) checked against `type`, a type of this element's family.
    ///
    /// - Throws: A sentence saying what was expected, for the caller to place (line, column).
    static func checked(_ value: BulkUpdateValue, for type: ColumnType) throws(CellError) -> Self

    /// A hash that is the same in every process and run: routing and resumed runs depend on it.
    var stableHash: UInt64 { get }

    /// Orders two values: negative, zero or positive.
    static func order(_ lhs: Self, _ rhs: Self) -> Int

    /// The value as SQL-like text, for reports and messages: `42`, `'it''s'`.
    var rendered: String { get }
}

/// A calendar date: days since 2000-01-01, PostgreSQL's own form.
package struct DateValue: Sendable, Hashable, Comparable {
    package var days: Int32
    package init(days: Int32) { self.days = days }
    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.days < rhs.days }
}

/// A point in time: microseconds since 2000-01-01 00:00 (UTC for `timestamptz`), PostgreSQL's own form.
package struct TimestampValue: Sendable, Hashable, Comparable {
    package var microseconds: Int64
    package init(microseconds: Int64) { self.microseconds = microseconds }
    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.microseconds < rhs.microseconds }
}

/// Why a value does not fit its column; placed by the caller.
package struct CellError: Error {
    package var reason: String
    package init(_ reason: String) { self.reason = reason }
}

extension ColumnElement where Self: Comparable {
    package static func order(_ lhs: Self, _ rhs: Self) -> Int { lhs < rhs ? -1 : (lhs == rhs ? 0 : 1) }
}

// MARK: - The element types

extension Bool: ColumnElement {
    package static func checked(_ value: BulkUpdateValue, for type: ColumnType) throws(CellError) -> Bool {
        switch value.storage {
        case .bool(let flag): return flag
        case .string(let text):
            guard let flag = ValueParsing.bool(text) else { throw type.expected("a boolean (true/false, t/f, 1/0)") }
            return flag
        default: throw type.mismatch(value)
        }
    }

    package var stableHash: UInt64 { KeyHash.mix(self ? 1 : 2) }
    package static func order(_ lhs: Bool, _ rhs: Bool) -> Int { lhs == rhs ? 0 : (lhs ? 1 : -1) }
    package var rendered: String { self ? "true" : "false" }
}

extension Int64: ColumnElement {
    package static func checked(_ value: BulkUpdateValue, for type: ColumnType) throws(CellError) -> Int64 {
        switch value.storage {
        case .int(let number): return try type.checkedInteger(number)
        case .string(let text):
            guard let number = ValueParsing.int(text[...]) else { throw type.expected("an integer") }
            return try type.checkedInteger(number)
        case .double(let number):
            guard number.rounded() == number, let exact = Int64(exactly: number) else {
                throw CellError("expected a whole number for \(type.displayName)")
            }
            return try type.checkedInteger(exact)
        default: throw type.mismatch(value)
        }
    }

    package var stableHash: UInt64 { KeyHash.mix(UInt64(bitPattern: self)) }
    package var rendered: String { String(self) }
}

extension Double: ColumnElement {
    package static func checked(_ value: BulkUpdateValue, for type: ColumnType) throws(CellError) -> Double {
        switch value.storage {
        case .double(let number): return try type.checkedDouble(number, explicitInfinity: true)
        case .int(let number): return Double(number)
        case .string(let text):
            guard let number = ValueParsing.double(text) else { throw type.expected("a number") }
            return try type.checkedDouble(number, explicitInfinity: ValueParsing.isInfinity(text), text: text)
        default: throw type.mismatch(value)
        }
    }

    package var stableHash: UInt64 { KeyHash.mix(self == 0 ? 0 : self.bitPattern) }
    package var rendered: String { String(self) }
}

/// Text, and every family that travels as its text: numeric, json, jsonb, enums, bit strings and the types only
/// the server parses.
extension String: ColumnElement {
    package static func checked(_ value: BulkUpdateValue, for type: ColumnType) throws(CellError) -> String {
        let kind = type.kind
        switch value.storage {
        case .string(let text):
            return try Self.checked(text: text, for: type)
        case .bool(let flag) where kind == .text || kind == .json || kind == .jsonb:
            // A text column takes any value as its text; JSON columns take JSON's own true and false.
            return try Self.checked(text: flag ? "true" : "false", for: type)
        case .int(let number) where kind == .numeric || kind == .text || kind == .json || kind == .jsonb:
            // e.g. a JSON number for a text column: its digits, as written.
            return try Self.checked(text: String(number), for: type)
        case .double(let number) where kind == .numeric || kind == .json || kind == .jsonb:
            let text = number.isFinite ? "\(number)" : number.isNaN ? "NaN" : number < 0 ? "-Infinity" : "Infinity"
            return try Self.checked(text: text, for: type)
        case .uuid(let uuid) where kind == .text:
            return try type.checkedText(uuid.uuidString.lowercased())
        default:
            throw type.mismatch(value)
        }
    }

    private static func checked(text: String, for type: ColumnType) throws(CellError) -> String {
        switch type.kind {
        case .numeric:
            guard ValueParsing.isNumeric(text) else { throw type.expected("a decimal number") }
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let precision = type.numericPrecision,
                let problem = ValueParsing.numericOverflow(trimmed, precision: precision, scale: type.numericScale)
            {
                throw CellError("\(problem) for \(type.displayName)")
            }
            return trimmed
        case .json, .jsonb:
            guard !ValueParsing.containsNUL(text) else { throw CellError("JSON text cannot contain a NUL character") }
            guard ValueParsing.isJSON(text, binary: type.kind == .jsonb) else {
                throw type.expected("a JSON document")
            }
            return text
        case .textual:
            if ValueParsing.containsNUL(text) { throw CellError("text cannot contain a NUL character") }
            if let bits = type.bitLength {
                guard let count = ValueParsing.bitCount(text) else {
                    throw type.expected("a bit string of 0s and 1s (or X followed by hex digits)")
                }
                if type.bitLengthIsExact && count != bits {
                    throw CellError("bit string length \(count) does not match type \(type.displayName)")
                }
                if !type.bitLengthIsExact && count > bits {
                    throw CellError("bit string too long for type \(type.displayName) (\(count) bits)")
                }
            }
            return text
        default:
            return try type.checkedText(text)
        }
    }

    package var stableHash: UInt64 {
        var text = self
        return text.withUTF8 { KeyHash.fnv1a($0) }
    }

    /// By UTF-8 bytes, so two strings are equal exactly when the database would store the same bytes.
    package static func order(_ lhs: String, _ rhs: String) -> Int {
        if lhs.utf8.elementsEqual(rhs.utf8) { return 0 }
        return lhs.utf8.lexicographicallyPrecedes(rhs.utf8) ? -1 : 1
    }

    package var rendered: String { SQLText.literal(self) }
}

extension [UInt8]: ColumnElement {
    package static func checked(_ value: BulkUpdateValue, for type: ColumnType) throws(CellError) -> [UInt8] {
        switch value.storage {
        case .bytes(let bytes): return bytes
        case .string(let text):
            guard let bytes = ValueParsing.bytea(text) else { throw type.expected("hex bytes such as \\x00ff") }
            return bytes
        default: throw type.mismatch(value)
        }
    }

    package var stableHash: UInt64 { self.withUnsafeBufferPointer { KeyHash.fnv1a($0) } }

    package static func order(_ lhs: [UInt8], _ rhs: [UInt8]) -> Int {
        if lhs == rhs { return 0 }
        return lhs.lexicographicallyPrecedes(rhs) ? -1 : 1
    }

    package var rendered: String { "'\\x" + self.map(SQLText.hex).joined() + "'" }
}

extension UUID: ColumnElement {
    package static func checked(_ value: BulkUpdateValue, for type: ColumnType) throws(CellError) -> UUID {
        switch value.storage {
        case .uuid(let uuid): return uuid
        case .string(let text):
            guard let uuid = ValueParsing.uuid(text) else { throw type.expected("a UUID") }
            return uuid
        default: throw type.mismatch(value)
        }
    }

    /// The 16 bytes in network order.
    package var bytes: [UInt8] { withUnsafeBytes(of: self.uuid) { Array($0) } }

    /// FNV-1a of the 16 bytes, as for the same bytes in a bytea column; read in place, with no array.
    package var stableHash: UInt64 {
        withUnsafeBytes(of: self.uuid) { KeyHash.fnv1a($0.assumingMemoryBound(to: UInt8.self)) }
    }

    /// By the 16 bytes, as for bytea; compared in place (sorting a chunk by a UUID key compares often).
    package static func order(_ lhs: UUID, _ rhs: UUID) -> Int {
        withUnsafeBytes(of: lhs.uuid) { left in
            withUnsafeBytes(of: rhs.uuid) { right in
                let order = memcmp(left.baseAddress!, right.baseAddress!, 16)
                return order < 0 ? -1 : (order > 0 ? 1 : 0)
            }
        }
    }
    package var rendered: String { "'\(self.uuidString.lowercased())'" }
}

extension DateValue: ColumnElement {
    package static func checked(_ value: BulkUpdateValue, for type: ColumnType) throws(CellError) -> DateValue {
        switch value.storage {
        case .date(let date):
            guard let days = ValueParsing.days(from: date) else { throw CellError("date is out of range") }
            return DateValue(days: days)
        case .string(let text):
            guard let days = ValueParsing.date(text, extended: type.acceptsExtendedDates) else {
                throw type.expected(
                    type.acceptsExtendedDates
                        ? "a date YYYY-MM-DD[ BC] from 4714-11-24 BC to 5874897-12-31, infinity or -infinity"
                        : "a date YYYY-MM-DD"
                )
            }
            return DateValue(days: days)
        default: throw type.mismatch(value)
        }
    }

    package var stableHash: UInt64 { KeyHash.mix(UInt64(bitPattern: Int64(self.days))) }
    package var rendered: String { "'\(ValueParsing.formatDate(self.days))'" }
}

extension TimestampValue: ColumnElement {
    package static func checked(_ value: BulkUpdateValue, for type: ColumnType) throws(CellError) -> TimestampValue {
        switch value.storage {
        case .date(let date):
            guard let micros = ValueParsing.microseconds(from: date) else {
                throw CellError("timestamp is out of range")
            }
            return TimestampValue(microseconds: micros)
        case .string(let text):
            guard
                let micros = ValueParsing.timestamp(
                    text,
                    withTimeZone: type.kind == .timestamptz,
                    extended: type.acceptsExtendedDates
                )
            else {
                throw type.expected(
                    type.acceptsExtendedDates
                        ? "a timestamp YYYY-MM-DD HH:MM:SS[.ffffff][±HH:MM][ BC] from 4714-11-24 BC to 294276-12-31,"
                            + " infinity or -infinity"
                        : "a timestamp YYYY-MM-DD HH:MM:SS[.ffffff][±HH:MM]"
                )
            }
            return TimestampValue(microseconds: micros)
        default: throw type.mismatch(value)
        }
    }

    package var stableHash: UInt64 { KeyHash.mix(UInt64(bitPattern: self.microseconds)) }
    package var rendered: String { "'\(ValueParsing.formatTimestamp(self.microseconds))'" }
}

/// A SQLite value with its storage class, written as it is (``ColumnType/Kind/stored``).
package enum StoredValue: Sendable, Hashable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

extension StoredValue: ColumnElement {
    /// Each value as the class it has: a boolean as an integer, 0 or 1.
    package static func checked(_ value: BulkUpdateValue, for type: ColumnType) throws(CellError) -> StoredValue {
        switch value.storage {
        case .int(let number): return .integer(number)
        case .double(let number): return .real(number)
        case .string(let text): return .text(text)
        case .bytes(let bytes): return .blob(bytes)
        case .bool(let flag): return .integer(flag ? 1 : 0)
        default: throw type.mismatch(value)
        }
    }

    package var stableHash: UInt64 {
        switch self {
        case .integer(let number): number.stableHash
        case .real(let number): number.stableHash
        case .text(let text): text.stableHash
        case .blob(let bytes): bytes.stableHash
        }
    }

    /// SQLite's order of classes (numbers, then text, then blobs), then the values.
    package static func order(_ lhs: StoredValue, _ rhs: StoredValue) -> Int {
        switch (lhs, rhs) {
        case (.integer(let a), .integer(let b)): Int64.order(a, b)
        case (.real(let a), .real(let b)): Double.order(a, b)
        case (.integer(let a), .real(let b)): Double.order(Double(a), b)
        case (.real(let a), .integer(let b)): Double.order(a, Double(b))
        case (.text(let a), .text(let b)): String.order(a, b)
        case (.blob(let a), .blob(let b)): [UInt8].order(a, b)
        default: lhs.classOrder < rhs.classOrder ? -1 : 1
        }
    }

    private var classOrder: Int {
        switch self {
        case .integer, .real: 0
        case .text: 1
        case .blob: 2
        }
    }

    package var rendered: String {
        switch self {
        case .integer(let number): number.rendered
        case .real(let number): number.rendered
        case .text(let text): text.rendered
        case .blob(let bytes): bytes.rendered
        }
    }
}

// MARK: - Checks shared by the element types

extension ColumnType {
    fileprivate func checkedText(_ text: String) throws(CellError) -> String {
        if ValueParsing.containsNUL(text) { throw CellError("text cannot contain a NUL character") }
        if let maximumLength, text.utf8.count > maximumLength, text.unicodeScalars.count > maximumLength {
            // As PostgreSQL does on assignment: the excess may only be spaces, which are cut.
            let excess = text.unicodeScalars.dropFirst(maximumLength)
            if !excess.allSatisfy({ $0 == " " }) {
                throw CellError("value is too long for \(self.displayName) (\(text.unicodeScalars.count) characters)")
            }
        }
        if let labels = self.enumLabels, !labels.contains(text) {
            let shown = labels.prefix(10).map(SQLText.literal).joined(separator: ", ")
            throw CellError(
                "not a label of enum \(self.displayName) (its labels: \(shown)\(labels.count > 10 ? ", …" : ""))"
            )
        }
        return text
    }

    /// A float within its type's range: PostgreSQL refuses text that overflows to infinity or underflows to zero,
    /// and `real` has a narrower range than Swift's `Double`.
    fileprivate func checkedDouble(_ number: Double, explicitInfinity: Bool, text: String? = nil) throws(CellError)
        -> Double
    {
        let typeName = self.kind == .float32 ? "real" : "double precision"
        let shown = text.map { SQLText.literal($0.trimmingCharacters(in: .whitespaces)) } ?? "\(number)"
        if number.isNaN {
            guard self.acceptsNaN else {
                throw CellError("NaN cannot be stored in \(self.displayName) (it would become NULL)")
            }
            return number
        }
        if number.isInfinite && !explicitInfinity {
            throw CellError("\(shown) is out of range for type \(typeName)")
        }
        if self.kind == .float32 && number.isFinite {
            let narrowed = Float(number)
            if narrowed.isInfinite || (narrowed == 0 && number != 0) {
                throw CellError("\(shown) is out of range for type \(typeName)")
            }
        }
        if number == 0, let text, ValueParsing.hasNonzeroDigit(text) {
            throw CellError("\(shown) is out of range for type \(typeName)")
        }
        return number
    }

    fileprivate func checkedInteger(_ number: Int64) throws(CellError) -> Int64 {
        let range: ClosedRange<Int64> =
            switch self.kind {
            case .int16: Int64(Int16.min)...Int64(Int16.max)
            case .int32: Int64(Int32.min)...Int64(Int32.max)
            default: Int64.min...Int64.max
            }
        guard range.contains(number) else {
            throw CellError(
                "\(number) is out of range for \(self.displayName) (\(range.lowerBound) to \(range.upperBound))"
            )
        }
        return number
    }

    /// `expected integer, got a boolean`: a value of a kind this type never takes.
    fileprivate func mismatch(_ value: BulkUpdateValue) -> CellError {
        let given =
            switch value.storage {
            case .null: "NULL"
            case .bool: "a boolean"
            case .int: "an integer"
            case .double: "a floating-point number"
            case .string: "text"
            case .bytes: "bytes"
            case .uuid: "a UUID"
            case .date: "a date"
            }
        return CellError("expected \(self.displayName), got \(given)")
    }

    fileprivate func expected(_ what: String) -> CellError {
        CellError("expected \(what) for \(self.displayName)")
    }
}
