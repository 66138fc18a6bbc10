package import BulkUpdate
import Foundation
package import NIOCore
package import PostgresNIO

/// How each column family travels on the wire: binary, with these type OIDs. Text-like families (text, varchar,
/// enums, numeric, json, jsonb) travel as `text` and are cast to the column's type in the statement.
package enum PostgresWire {
    package static func elementOID(_ kind: ColumnType.Kind) -> UInt32 {
        switch kind {
        case .bool: 16
        case .int16: 21
        case .int32: 23
        case .int64: 20
        case .float32: 700
        case .float64: 701
        // `stored` is SQLite's alone and never reaches PostgreSQL.
        case .numeric, .text, .json, .jsonb, .textual, .stored: 25
        case .bytea: 17
        case .uuid: 2950
        case .date: 1082
        case .timestamp: 1114
        case .timestamptz: 1184
        }
    }

    package static func arrayOID(_ kind: ColumnType.Kind) -> UInt32 {
        switch kind {
        case .bool: 1000
        case .int16: 1005
        case .int32: 1007
        case .int64: 1016
        case .float32: 1021
        case .float64: 1022
        case .numeric, .text, .json, .jsonb, .textual, .stored: 1009
        case .bytea: 1001
        case .uuid: 2951
        case .date: 1182
        case .timestamp: 1115
        case .timestamptz: 1185
        }
    }
}

/// How one element type travels to PostgreSQL: its binary form (for binds) and its COPY text form. Each element
/// type of ``ColumnElement`` conforms once, below.
package protocol PostgresElement: ColumnElement {
    /// The length of the binary form in bytes, for a column of `kind`.
    func binaryLength(kind: ColumnType.Kind) -> Int
    /// The binary form, without a length, for a column of `kind`: exactly ``binaryLength(kind:)`` bytes at the
    /// start of `bytes`.
    func writeBinary(kind: ColumnType.Kind, to bytes: UnsafeMutableRawBufferPointer)
    /// The text form `COPY … (FORMAT text)` parses back, escaped, for a column of `kind`.
    func writeCopyText(kind: ColumnType.Kind, into buffer: inout ByteBuffer)
}

/// A chunk column whose elements travel to PostgreSQL; every ``TypedColumn`` is one (see ``ChunkColumn/postgres``).
package protocol PostgresColumn: ChunkColumn {
    /// Rows `range` as binary array elements: each its length (Int32, −1 for NULL), then its bytes.
    func writeArrayElements(_ range: Range<Int>, into buffer: inout ByteBuffer)
    /// The non-NULL value at `row`, binary, without a length.
    func writeBinary(at row: Int, into buffer: inout ByteBuffer)
    /// The value at `row` in COPY text form, `\N` for NULL.
    func writeCopyText(at row: Int, into buffer: inout ByteBuffer)
}

extension PostgresColumn where Self: TypedColumn, Self.Element: PostgresElement {
    package func writeArrayElements(_ range: Range<Int>, into buffer: inout ByteBuffer) {
        let kind = self.type.kind
        // Sized first, then written through one pointer: a ByteBuffer write per element (its capacity and
        // uniqueness checks) cost more than the element.
        let values = self.values[range]
        var total = 0
        for value in values { total += 4 + (value?.binaryLength(kind: kind) ?? 0) }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { bytes in
            var offset = 0
            for value in values {
                guard let value else {
                    bytes.storeBytes(of: Int32(-1).bigEndian, toByteOffset: offset, as: Int32.self)
                    offset += 4
                    continue
                }
                let length = value.binaryLength(kind: kind)
                bytes.storeBytes(of: Int32(length).bigEndian, toByteOffset: offset, as: Int32.self)
                value.writeBinary(kind: kind, to: UnsafeMutableRawBufferPointer(rebasing: bytes[(offset + 4)...]))
                offset += 4 + length
            }
            return offset
        }
    }

    package func writeBinary(at row: Int, into buffer: inout ByteBuffer) {
        let kind = self.type.kind
        let value = self.values[row]!
        let length = value.binaryLength(kind: kind)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { bytes in
            value.writeBinary(kind: kind, to: bytes)
            return length
        }
    }

    package func writeCopyText(at row: Int, into buffer: inout ByteBuffer) {
        guard let value = self.values[row] else {
            buffer.writeString("\\N")
            return
        }
        value.writeCopyText(kind: self.type.kind, into: &buffer)
    }
}

extension BoolColumn: PostgresColumn {}
extension IntegerColumn: PostgresColumn {}
extension DoubleColumn: PostgresColumn {}
extension TextColumn: PostgresColumn {}
extension BytesColumn: PostgresColumn {}
extension UUIDColumn: PostgresColumn {}
extension DateColumn: PostgresColumn {}
extension TimestampColumn: PostgresColumn {}

extension ChunkColumn {
    /// This column's PostgreSQL encodings: every column type conforms above.
    package var postgres: any PostgresColumn { self as! any PostgresColumn }
}

extension Bool: PostgresElement {
    package func binaryLength(kind: ColumnType.Kind) -> Int { 1 }
    package func writeBinary(kind: ColumnType.Kind, to bytes: UnsafeMutableRawBufferPointer) {
        bytes[0] = self ? 1 : 0
    }
    package func writeCopyText(kind: ColumnType.Kind, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: self ? "t" : "f"))
    }
}

extension Int64: PostgresElement {
    package func binaryLength(kind: ColumnType.Kind) -> Int { kind == .int16 ? 2 : kind == .int32 ? 4 : 8 }
    package func writeBinary(kind: ColumnType.Kind, to bytes: UnsafeMutableRawBufferPointer) {
        switch kind {
        case .int16: bytes.storeBytes(of: Int16(truncatingIfNeeded: self).bigEndian, as: Int16.self)
        case .int32: bytes.storeBytes(of: Int32(truncatingIfNeeded: self).bigEndian, as: Int32.self)
        default: bytes.storeBytes(of: self.bigEndian, as: Int64.self)
        }
    }
    package func writeCopyText(kind: ColumnType.Kind, into buffer: inout ByteBuffer) {
        buffer.writeString(String(self))
    }
}

extension Double: PostgresElement {
    package func binaryLength(kind: ColumnType.Kind) -> Int { kind == .float32 ? 4 : 8 }
    package func writeBinary(kind: ColumnType.Kind, to bytes: UnsafeMutableRawBufferPointer) {
        if kind == .float32 {
            bytes.storeBytes(of: Float(self).bitPattern.bigEndian, as: UInt32.self)
        } else {
            bytes.storeBytes(of: self.bitPattern.bigEndian, as: UInt64.self)
        }
    }
    package func writeCopyText(kind: ColumnType.Kind, into buffer: inout ByteBuffer) {
        if self.isNaN {
            buffer.writeString("NaN")
        } else if self.isInfinite {
            buffer.writeString(self < 0 ? "-Infinity" : "Infinity")
        } else if kind == .float32 {
            buffer.writeString(Float(self).description)
        } else {
            buffer.writeString(self.description)
        }
    }
}

extension String: PostgresElement {
    package func binaryLength(kind: ColumnType.Kind) -> Int { self.utf8.count }
    package func writeBinary(kind: ColumnType.Kind, to bytes: UnsafeMutableRawBufferPointer) {
        var text = self
        text.withUTF8 { bytes.copyMemory(from: UnsafeRawBufferPointer($0)) }
    }
    package func writeCopyText(kind: ColumnType.Kind, into buffer: inout ByteBuffer) {
        CopyText.writeEscaped(self, into: &buffer)
    }
}

extension [UInt8]: PostgresElement {
    package func binaryLength(kind: ColumnType.Kind) -> Int { self.count }
    package func writeBinary(kind: ColumnType.Kind, to bytes: UnsafeMutableRawBufferPointer) {
        self.withUnsafeBytes { bytes.copyMemory(from: $0) }
    }
    package func writeCopyText(kind: ColumnType.Kind, into buffer: inout ByteBuffer) {
        buffer.writeString("\\\\x")
        let digits = Array("0123456789abcdef".utf8)
        for byte in self {
            buffer.writeInteger(digits[Int(byte >> 4)])
            buffer.writeInteger(digits[Int(byte & 0x0f)])
        }
    }
}

extension UUID: PostgresElement {
    package func binaryLength(kind: ColumnType.Kind) -> Int { 16 }
    package func writeBinary(kind: ColumnType.Kind, to bytes: UnsafeMutableRawBufferPointer) {
        withUnsafeBytes(of: self.uuid) { bytes.copyMemory(from: $0) }
    }
    package func writeCopyText(kind: ColumnType.Kind, into buffer: inout ByteBuffer) {
        buffer.writeString(self.uuidString.lowercased())
    }
}

extension DateValue: PostgresElement {
    package func binaryLength(kind: ColumnType.Kind) -> Int { 4 }
    package func writeBinary(kind: ColumnType.Kind, to bytes: UnsafeMutableRawBufferPointer) {
        bytes.storeBytes(of: self.days.bigEndian, as: Int32.self)
    }
    package func writeCopyText(kind: ColumnType.Kind, into buffer: inout ByteBuffer) {
        buffer.writeString(ValueParsing.formatDate(self.days))
    }
}

extension TimestampValue: PostgresElement {
    package func binaryLength(kind: ColumnType.Kind) -> Int { 8 }
    package func writeBinary(kind: ColumnType.Kind, to bytes: UnsafeMutableRawBufferPointer) {
        bytes.storeBytes(of: self.microseconds.bigEndian, as: Int64.self)
    }
    package func writeCopyText(kind: ColumnType.Kind, into buffer: inout ByteBuffer) {
        buffer.writeString(ValueParsing.formatTimestamp(self.microseconds, offset: kind == .timestamptz ? "+00" : ""))
    }
}

/// A whole chunk column bound as one binary array parameter, NULL elements included.
///
/// PostgresNIO's own array encoding does not take optional elements, so the array format is written here:
/// dimensions, has-null flag, element OID, length, lower bound, then each element with its length (−1 for NULL).
package struct PostgresArrayBind: PostgresDynamicTypeEncodable {
    let values: any PostgresColumn
    /// The column's type family, read once.
    let kind: ColumnType.Kind

    package init(values: any ChunkColumn) {
        self.values = values.postgres
        self.kind = values.type.kind
    }

    package var psqlType: PostgresDataType { PostgresDataType(PostgresWire.arrayOID(self.kind)) }
    package var psqlFormat: PostgresFormat { .binary }

    package func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer,
        context: PostgresEncodingContext<JSONEncoder>
    ) {
        let count = self.values.count
        let hasNull = (0..<count).contains { self.values.isNull(at: $0) }
        buffer.writeInteger(Int32(count == 0 ? 0 : 1))
        buffer.writeInteger(Int32(hasNull ? 1 : 0))
        buffer.writeInteger(PostgresWire.elementOID(self.kind))
        guard count > 0 else { return }
        buffer.writeInteger(Int32(count))
        buffer.writeInteger(Int32(1))
        self.values.writeArrayElements(0..<count, into: &buffer)
    }
}

/// One non-NULL value of a chunk column bound as a single parameter (the `values` and `caseWhen` strategies).
struct PostgresCellBind: PostgresDynamicTypeEncodable {
    let values: any PostgresColumn
    let index: Int
    let kind: ColumnType.Kind

    var psqlType: PostgresDataType { PostgresDataType(PostgresWire.elementOID(self.kind)) }
    var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer,
        context: PostgresEncodingContext<JSONEncoder>
    ) {
        // `encodeRaw` writes the length prefix; write the bare element.
        self.values.writeBinary(at: self.index, into: &buffer)
    }
}

extension PostgresBindings {
    /// Appends row `index` of `values` as one parameter, NULL as an untyped NULL.
    mutating func appendCell(_ values: any PostgresColumn, at index: Int, kind: ColumnType.Kind) {
        if values.isNull(at: index) {
            self.appendNull()
        } else {
            self.append(PostgresCellBind(values: values, index: index, kind: kind))
        }
    }
}
