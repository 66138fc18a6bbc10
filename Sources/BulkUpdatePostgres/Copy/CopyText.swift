import BulkUpdate
import Foundation
import NIOCore

/// Encodes chunks in PostgreSQL's `COPY … FROM STDIN (FORMAT text)` format: one line per row, columns separated
/// by tabs, `\N` for NULL, and backslash, tab, newline and carriage return escaped with a backslash.
///
/// PostgresNIO 1.33.2 offers only the text format for `COPY FROM`, so values are written as the text the server
/// parses back into each column's type: booleans `t`/`f`, numbers in decimal, bytea as `\\x…` hex, dates and
/// timestamps in ISO form (`timestamptz` with `+00`), UUIDs in lowercase.
enum CopyText {
    /// Appends rows `range` of `chunk`, each followed by the values `extra` gives for it (already COPY text).
    static func encode(
        _ chunk: Chunk,
        kinds: [ColumnType.Kind],
        rows range: Range<Int>,
        into buffer: inout ByteBuffer,
        extra: (Int) -> String
    ) {
        for row in range {
            for (index, column) in chunk.columns.enumerated() {
                if index > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
                Self.write(column, row, kind: kinds[index], into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "\t"))
            buffer.writeString(extra(row))
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
    }

    static func write(_ values: ColumnValues, _ row: Int, kind: ColumnType.Kind, into buffer: inout ByteBuffer) {
        switch values {
        case .bool(let array):
            guard let value = array[row] else { return Self.null(&buffer) }
            buffer.writeInteger(UInt8(ascii: value ? "t" : "f"))
        case .int(let array):
            guard let value = array[row] else { return Self.null(&buffer) }
            buffer.writeString(String(value))
        case .double(let array):
            guard let value = array[row] else { return Self.null(&buffer) }
            if value.isNaN {
                buffer.writeString("NaN")
            } else if value.isInfinite {
                buffer.writeString(value < 0 ? "-Infinity" : "Infinity")
            } else if kind == .float32 {
                buffer.writeString(Float(value).description)
            } else {
                buffer.writeString(value.description)
            }
        case .text(let array):
            guard let value = array[row] else { return Self.null(&buffer) }
            Self.writeEscaped(value, into: &buffer)
        case .bytes(let array):
            guard let value = array[row] else { return Self.null(&buffer) }
            buffer.writeString("\\\\x")
            let digits = Array("0123456789abcdef".utf8)
            for byte in value {
                buffer.writeInteger(digits[Int(byte >> 4)])
                buffer.writeInteger(digits[Int(byte & 0x0f)])
            }
        case .uuid(let array):
            guard let value = array[row] else { return Self.null(&buffer) }
            buffer.writeString(value.uuidString.lowercased())
        case .date(let array):
            guard let value = array[row] else { return Self.null(&buffer) }
            buffer.writeString(ValueParsing.formatDate(value))
        case .timestamp(let array):
            guard let value = array[row] else { return Self.null(&buffer) }
            buffer.writeString(ValueParsing.formatTimestamp(value))
            if kind == .timestamptz { buffer.writeString("+00") }
        }
    }

    private static func null(_ buffer: inout ByteBuffer) {
        buffer.writeString("\\N")
    }

    /// Writes `text`, escaping the four bytes COPY's text format gives meaning to.
    static func writeEscaped(_ text: String, into buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            for index in bytes.indices {
                let escaped: UInt8
                switch bytes[index] {
                case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
                case UInt8(ascii: "\t"): escaped = UInt8(ascii: "t")
                case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
                case UInt8(ascii: "\r"): escaped = UInt8(ascii: "r")
                default: continue
                }
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<index]))
                buffer.writeInteger(UInt8(ascii: "\\"))
                buffer.writeInteger(escaped)
                start = index + 1
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<bytes.count]))
        }
    }

    /// A table or column name for PostgresNIO's `copyFrom`, which wraps what it is given in one pair of double
    /// quotes: quotes inside each part are doubled, and parts are joined with `"."`, so `["s", "t"]` becomes
    /// `s"."t` and the statement reads `COPY "s"."t"`. The one place the name goes through PostgresNIO unquoted.
    static func name(_ parts: [String]) -> String {
        parts.map { String(SQLIdentifier.quote($0).dropFirst().dropLast()) }.joined(separator: "\".\"")
    }
}
