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
        // The same binary array format as BulkUpdatePostgres writes, NULL elements included.
        PostgresArrayBind(values: self.values, kind: self.kind).encode(into: &buffer, context: context)
    }

    /// Only PostgreSQL's own encoding makes sense; any other SQLKit driver gets an error instead of a JSON array.
    func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(
            self,
            .init(codingPath: encoder.codingPath, debugDescription: "a PostgreSQL array parameter has no Codable form")
        )
    }

}
