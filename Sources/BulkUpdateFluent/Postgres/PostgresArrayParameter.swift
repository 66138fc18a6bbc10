import BulkUpdate
import BulkUpdatePostgres
import Foundation
import NIOCore
import PostgresNIO

/// A whole chunk column bound as one binary PostgreSQL array parameter, NULL elements included.
///
/// It travels through SQLKit as an ordinary bind: postgres-kit hands values that are
/// `PostgresThrowingDynamicTypeEncodable` to PostgresNIO unchanged, so the array is encoded once, in binary, with no
/// `Codable` pass. The wire format is the one ``BulkUpdatePostgres`` uses: dimensions, has-null flag, element OID,
/// length, lower bound, then each element with its length (−1 for NULL).
struct PostgresArrayParameter: PostgresDynamicTypeEncodable, Encodable, Sendable, CustomStringConvertible {
    let values: ColumnValues
    let kind: ColumnType.Kind

    var psqlType: PostgresDataType { PostgresDataType(PostgresWire.arrayOID(self.kind)) }
    var psqlFormat: PostgresFormat { .binary }

    /// Keeps row values out of SQLKit's query log.
    var description: String { "<array of \(self.values.count) \(self.kind.rawValue) values>" }

    func encode<JSONEncoder: PostgresJSONEncoder>(
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
        self.writeElements(into: &buffer)
    }

    /// Only PostgreSQL's own encoding makes sense; any other SQLKit driver gets an error instead of a JSON array.
    func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(
            self,
            .init(codingPath: encoder.codingPath, debugDescription: "a PostgreSQL array parameter has no Codable form")
        )
    }

    private func writeElements(into buffer: inout ByteBuffer) {
        func write<Value>(_ array: [Value?], length: Int32, _ body: (Value, inout ByteBuffer) -> Void) {
            for value in array {
                guard let value else {
                    buffer.writeInteger(Int32(-1))
                    continue
                }
                buffer.writeInteger(length)
                body(value, &buffer)
            }
        }
        switch self.values {
        case .bool(let array): write(array, length: 1) { $1.writeInteger(UInt8($0 ? 1 : 0)) }
        case .int(let array):
            switch self.kind {
            case .int16: write(array, length: 2) { $1.writeInteger(Int16(truncatingIfNeeded: $0)) }
            case .int32: write(array, length: 4) { $1.writeInteger(Int32(truncatingIfNeeded: $0)) }
            default: write(array, length: 8) { $1.writeInteger($0) }
            }
        case .double(let array):
            if self.kind == .float32 {
                write(array, length: 4) { $1.writeInteger(Float($0).bitPattern) }
            } else {
                write(array, length: 8) { $1.writeInteger($0.bitPattern) }
            }
        case .text(let array):
            for value in array {
                guard let value else {
                    buffer.writeInteger(Int32(-1))
                    continue
                }
                buffer.writeInteger(Int32(value.utf8.count))
                buffer.writeString(value)
            }
        case .bytes(let array):
            for value in array {
                guard let value else {
                    buffer.writeInteger(Int32(-1))
                    continue
                }
                buffer.writeInteger(Int32(value.count))
                buffer.writeBytes(value)
            }
        case .uuid(let array):
            write(array, length: 16) { uuid, buffer in _ = withUnsafeBytes(of: uuid.uuid) { buffer.writeBytes($0) } }
        case .date(let array): write(array, length: 4) { $1.writeInteger($0) }
        case .timestamp(let array): write(array, length: 8) { $1.writeInteger($0) }
        }
    }
}
