package import Foundation

/// One value after it was checked against its column: already in the form the chunk stores.
package enum Cell: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case text(String)
    case bytes([UInt8])
    case uuid(UUID)
    /// Days since 2000-01-01.
    case date(Int32)
    /// Microseconds since 2000-01-01 00:00 (UTC for `timestamptz`).
    case timestamp(Int64)

    /// The value as SQL-like text, for reports and messages: `42`, `'it''s'`, `NULL`.
    package var rendered: String {
        switch self {
        case .null: "NULL"
        case .bool(let value): value ? "true" : "false"
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .text(let value): SQLText.literal(value)
        case .bytes(let value): "'\\x" + value.map(SQLText.hex).joined() + "'"
        case .uuid(let value): "'\(value.uuidString.lowercased())'"
        case .date(let value): "'\(ValueParsing.formatDate(value))'"
        case .timestamp(let value): "'\(ValueParsing.formatTimestamp(value))'"
        }
    }

    /// A key's cells as reports show keys: `42`, `'abc'`, or `(1, 'a')` for a composite key.
    package static func renderKey(_ cells: some Collection<Cell>) -> String {
        if cells.count == 1, let only = cells.first { return only.rendered }
        return "(" + cells.map(\.rendered).joined(separator: ", ") + ")"
    }
}

extension ColumnType {
    /// Checks `value` against this type and converts it to the stored form.
    ///
    /// - Throws: A sentence saying what was expected, for the caller to place (line, column).
    package func cell(for value: BulkUpdateValue) throws(CellError) -> Cell {
        switch value.storage {
        case .null:
            return .null
        case .string(let text):
            return try self.cell(parsing: text)
        case .bool(let flag):
            switch self.kind {
            case .bool: return .bool(flag)
            // A text column takes any value as its text; JSON columns take JSON's own true and false.
            case .text, .json, .jsonb: return try self.cell(parsing: flag ? "true" : "false")
            default: throw self.mismatch("a boolean")
            }
        case .int(let number):
            switch self.kind {
            case .int16, .int32, .int64: return try self.checkedInteger(number)
            case .float32, .float64: return .double(Double(number))
            case .numeric, .text, .json, .jsonb:
                // e.g. a JSON number for a text column: its digits, as written.
                return try self.cell(parsing: String(number))
            default: throw self.mismatch("an integer")
            }
        case .double(let number):
            switch self.kind {
            case .float32, .float64: return try self.checkedDouble(number, explicitInfinity: true)
            case .numeric, .json, .jsonb:
                return try self.cell(
                    parsing: number.isFinite
                        ? "\(number)" : number.isNaN ? "NaN" : number < 0 ? "-Infinity" : "Infinity"
                )
            case .int16, .int32, .int64:
                guard number.rounded() == number, let exact = Int64(exactly: number) else {
                    throw CellError("expected a whole number for \(self.displayName)")
                }
                return try self.checkedInteger(exact)
            default: throw self.mismatch("a floating-point number")
            }
        case .bytes(let bytes):
            guard self.kind == .bytea else { throw self.mismatch("bytes") }
            return .bytes(bytes)
        case .uuid(let uuid):
            switch self.kind {
            case .uuid: return .uuid(uuid)
            case .text: return try self.checkedText(uuid.uuidString.lowercased())
            default: throw self.mismatch("a UUID")
            }
        case .date(let date):
            switch self.kind {
            case .date:
                guard let days = ValueParsing.days(from: date) else { throw CellError("date is out of range") }
                return .date(days)
            case .timestamp, .timestamptz:
                guard let micros = ValueParsing.microseconds(from: date) else {
                    throw CellError("timestamp is out of range")
                }
                return .timestamp(micros)
            default: throw self.mismatch("a date")
            }
        }
    }

    private func cell(parsing text: String) throws(CellError) -> Cell {
        switch self.kind {
        case .text:
            return try self.checkedText(text)
        case .bool:
            guard let flag = ValueParsing.bool(text) else { throw self.expected("a boolean (true/false, t/f, 1/0)") }
            return .bool(flag)
        case .int16, .int32, .int64:
            guard let number = ValueParsing.int(text[...]) else { throw self.expected("an integer") }
            return try self.checkedInteger(number)
        case .float32, .float64:
            guard let number = ValueParsing.double(text) else { throw self.expected("a number") }
            return try self.checkedDouble(number, explicitInfinity: ValueParsing.isInfinity(text), text: text)
        case .numeric:
            guard ValueParsing.isNumeric(text) else { throw self.expected("a decimal number") }
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let precision = self.numericPrecision,
                let problem = ValueParsing.numericOverflow(trimmed, precision: precision, scale: self.numericScale)
            {
                throw CellError("\(problem) for \(self.displayName)")
            }
            return .text(trimmed)
        case .textual:
            if ValueParsing.containsNUL(text) { throw CellError("text cannot contain a NUL character") }
            if let bits = self.bitLength {
                guard let count = ValueParsing.bitCount(text) else {
                    throw self.expected("a bit string of 0s and 1s (or X followed by hex digits)")
                }
                if self.bitLengthIsExact && count != bits {
                    throw CellError("bit string length \(count) does not match type \(self.displayName)")
                }
                if !self.bitLengthIsExact && count > bits {
                    throw CellError("bit string too long for type \(self.displayName) (\(count) bits)")
                }
            }
            return .text(text)
        case .json, .jsonb:
            guard !ValueParsing.containsNUL(text) else { throw CellError("JSON text cannot contain a NUL character") }
            guard ValueParsing.isJSON(text) else { throw self.expected("a JSON document") }
            return .text(text)
        case .bytea:
            guard let bytes = ValueParsing.bytea(text) else { throw self.expected("hex bytes such as \\x00ff") }
            return .bytes(bytes)
        case .uuid:
            guard let uuid = ValueParsing.uuid(text) else { throw self.expected("a UUID") }
            return .uuid(uuid)
        case .date:
            guard let days = ValueParsing.date(text) else { throw self.expected("a date YYYY-MM-DD") }
            return .date(days)
        case .timestamp, .timestamptz:
            guard let micros = ValueParsing.timestamp(text, withTimeZone: self.kind == .timestamptz) else {
                throw self.expected("a timestamp YYYY-MM-DD HH:MM:SS[.ffffff][±HH:MM]")
            }
            return .timestamp(micros)
        }
    }

    private func checkedText(_ text: String) throws(CellError) -> Cell {
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
        return .text(text)
    }

    /// A float within its type's range: PostgreSQL refuses text that overflows to infinity or underflows to zero,
    /// and `real` has a narrower range than Swift's `Double`.
    private func checkedDouble(_ number: Double, explicitInfinity: Bool, text: String? = nil) throws(CellError)
        -> Cell
    {
        let typeName = self.kind == .float32 ? "real" : "double precision"
        let shown = text.map { SQLText.literal($0.trimmingCharacters(in: .whitespaces)) } ?? "\(number)"
        if number.isNaN {
            guard self.acceptsNaN else {
                throw CellError("NaN cannot be stored in \(self.displayName) (it would become NULL)")
            }
            return .double(number)
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
        return .double(number)
    }

    private func checkedInteger(_ number: Int64) throws(CellError) -> Cell {
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
        return .int(number)
    }

    private func mismatch(_ given: String) -> CellError {
        CellError("expected \(self.displayName), got \(given)")
    }

    private func expected(_ what: String) -> CellError {
        CellError("expected \(what) for \(self.displayName)")
    }
}

/// Why a value does not fit its column; placed by the caller.
package struct CellError: Error {
    package var reason: String
    package init(_ reason: String) { self.reason = reason }
}
