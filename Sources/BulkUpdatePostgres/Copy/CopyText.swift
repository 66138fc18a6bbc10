import BulkUpdate
import Foundation
import NIOCore

/// Encodes chunks in PostgreSQL's `COPY … FROM STDIN (FORMAT text)` format: one line per row, columns separated
/// by tabs, `\N` for NULL, and backslash, tab, newline and carriage return escaped with a backslash.
///
/// PostgresNIO 1.33.2 offers only the text format for `COPY FROM`, so values are written as the text the server
/// parses back into each column's type (``PostgresElement/writeCopyText(kind:into:)``): booleans `t`/`f`, numbers
/// in decimal, bytea as `\\x…` hex, dates and timestamps in ISO form (`timestamptz` with `+00`), UUIDs in
/// lowercase.
enum CopyText {
    /// Appends rows `range` of `chunk`, each followed by the values `extra` gives for it (already COPY text).
    static func encode(
        _ chunk: Chunk,
        rows range: Range<Int>,
        into buffer: inout ByteBuffer,
        extra: (Int) -> String
    ) {
        let columns = chunk.columns.map(\.postgres)
        for row in range {
            for index in columns.indices {
                if index > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
                columns[index].writeCopyText(at: row, into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "\t"))
            buffer.writeString(extra(row))
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
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
