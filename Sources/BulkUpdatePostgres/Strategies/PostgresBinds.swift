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
        case .numeric, .text, .json, .jsonb, .textual: 25
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
        case .numeric, .text, .json, .jsonb, .textual: 1009
        case .bytea: 1001
        case .uuid: 2951
        case .date: 1182
        case .timestamp: 1115
        case .timestamptz: 1185
        }
    }
}

/// A whole chunk column bound as one binary array parameter, NULL elements included.
///
/// PostgresNIO's own array encoding does not take optional elements, so the array format is written here:
/// dimensions, has-null flag, element OID, length, lower bound, then each element with its length (−1 for NULL).
package struct PostgresArrayBind: PostgresDynamicTypeEncodable {
    let values: ColumnValues
    let kind: ColumnType.Kind

    package init(values: ColumnValues, kind: ColumnType.Kind) {
        self.values = values
        self.kind = kind
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
        PostgresElements.write(self.values, kind: self.kind, range: 0..<count, into: &buffer)
    }
}

/// One non-NULL value of a chunk column bound as a single parameter (the `values` and `caseWhen` strategies).
struct PostgresCellBind: PostgresDynamicTypeEncodable {
    let values: ColumnValues
    let index: Int
    let kind: ColumnType.Kind

    var psqlType: PostgresDataType { PostgresDataType(PostgresWire.elementOID(self.kind)) }
    var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer,
        context: PostgresEncodingContext<JSONEncoder>
    ) {
        // `encodeRaw` writes the length prefix; write the bare element.
        let index = self.index
        switch self.values {
        case .bool(let array): buffer.writeInteger(UInt8(array[index]! ? 1 : 0))
        case .int(let array):
            switch self.kind {
            case .int16: buffer.writeInteger(Int16(truncatingIfNeeded: array[index]!))
            case .int32: buffer.writeInteger(Int32(truncatingIfNeeded: array[index]!))
            default: buffer.writeInteger(array[index]!)
            }
        case .double(let array):
            if self.kind == .float32 {
                buffer.writeInteger(Float(array[index]!).bitPattern)
            } else {
                buffer.writeInteger(array[index]!.bitPattern)
            }
        case .text(let array): buffer.writeString(array[index]!)
        case .bytes(let array): buffer.writeBytes(array[index]!)
        case .uuid(let array): _ = withUnsafeBytes(of: array[index]!.uuid) { buffer.writeBytes($0) }
        case .date(let array): buffer.writeInteger(array[index]!)
        case .timestamp(let array): buffer.writeInteger(array[index]!)
        }
    }
}

extension PostgresBindings {
    /// Appends row `index` of `values` as one parameter, NULL as an untyped NULL.
    mutating func appendCell(_ values: ColumnValues, at index: Int, kind: ColumnType.Kind) {
        if values.isNull(at: index) {
            self.appendNull()
        } else {
            self.append(PostgresCellBind(values: values, index: index, kind: kind))
        }
    }
}

/// Binary element encoding: each element is its length (Int32, −1 for NULL) followed by its bytes.
enum PostgresElements {
    static func write(_ values: ColumnValues, kind: ColumnType.Kind, range: Range<Int>, into buffer: inout ByteBuffer) {
        switch values {
        case .bool(let array):
            for value in array[range] {
                guard let value else { buffer.writeInteger(Int32(-1)); continue }
                buffer.writeInteger(Int32(1))
                buffer.writeInteger(UInt8(value ? 1 : 0))
            }
        case .int(let array):
            for value in array[range] {
                guard let value else { buffer.writeInteger(Int32(-1)); continue }
                switch kind {
                case .int16:
                    buffer.writeInteger(Int32(2))
                    buffer.writeInteger(Int16(truncatingIfNeeded: value))
                case .int32:
                    buffer.writeInteger(Int32(4))
                    buffer.writeInteger(Int32(truncatingIfNeeded: value))
                default:
                    buffer.writeInteger(Int32(8))
                    buffer.writeInteger(value)
                }
            }
        case .double(let array):
            for value in array[range] {
                guard let value else { buffer.writeInteger(Int32(-1)); continue }
                if kind == .float32 {
                    buffer.writeInteger(Int32(4))
                    buffer.writeInteger(Float(value).bitPattern)
                } else {
                    buffer.writeInteger(Int32(8))
                    buffer.writeInteger(value.bitPattern)
                }
            }
        case .text(let array):
            for value in array[range] {
                guard let value else { buffer.writeInteger(Int32(-1)); continue }
                buffer.writeInteger(Int32(value.utf8.count))
                buffer.writeString(value)
            }
        case .bytes(let array):
            for value in array[range] {
                guard let value else { buffer.writeInteger(Int32(-1)); continue }
                buffer.writeInteger(Int32(value.count))
                buffer.writeBytes(value)
            }
        case .uuid(let array):
            for value in array[range] {
                guard let value else { buffer.writeInteger(Int32(-1)); continue }
                buffer.writeInteger(Int32(16))
                _ = withUnsafeBytes(of: value.uuid) { buffer.writeBytes($0) }
            }
        case .date(let array):
            for value in array[range] {
                guard let value else { buffer.writeInteger(Int32(-1)); continue }
                buffer.writeInteger(Int32(4))
                buffer.writeInteger(value)
            }
        case .timestamp(let array):
            for value in array[range] {
                guard let value else { buffer.writeInteger(Int32(-1)); continue }
                buffer.writeInteger(Int32(8))
                buffer.writeInteger(value)
            }
        }
    }
}
