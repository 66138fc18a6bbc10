package import BulkUpdate
package import Foundation
package import SQLiteNIO

/// How one element type is stored in SQLite: booleans as 0/1, dates and timestamps as ISO text (UTC), UUIDs as
/// lowercase text, decimals and JSON as text. Each element type of ``ColumnElement`` conforms once, below.
package protocol SQLiteElement: ColumnElement {
    var sqliteData: SQLiteData { get }
}

/// A chunk column whose elements are bound to SQLite; every ``TypedColumn`` is one (see ``ChunkColumn/sqlite``).
package protocol SQLiteColumn: ChunkColumn {
    func sqliteData(at row: Int) -> SQLiteData
}

extension SQLiteColumn where Self: TypedColumn, Self.Element: SQLiteElement {
    package func sqliteData(at row: Int) -> SQLiteData { self.values[row]?.sqliteData ?? .null }
}

extension BoolColumn: SQLiteColumn {}
extension IntegerColumn: SQLiteColumn {}
extension DoubleColumn: SQLiteColumn {}
extension TextColumn: SQLiteColumn {}
extension BytesColumn: SQLiteColumn {}
extension UUIDColumn: SQLiteColumn {}
extension DateColumn: SQLiteColumn {}
extension TimestampColumn: SQLiteColumn {}
extension StoredColumn: SQLiteColumn {}

extension ChunkColumn {
    /// This column's SQLite encoding: every column type conforms above.
    package var sqlite: any SQLiteColumn { self as! any SQLiteColumn }
}

extension Bool: SQLiteElement {
    package var sqliteData: SQLiteData { .integer(self ? 1 : 0) }
}

extension Int64: SQLiteElement {
    package var sqliteData: SQLiteData { .integer(SQLiteInt64(self)) }
}

extension Double: SQLiteElement {
    package var sqliteData: SQLiteData { .float(self) }
}

extension String: SQLiteElement {
    package var sqliteData: SQLiteData { .text(self) }
}

extension [UInt8]: SQLiteElement {
    package var sqliteData: SQLiteData { .blob(ByteBuffer(bytes: self)) }
}

extension UUID: SQLiteElement {
    package var sqliteData: SQLiteData { .text(self.uuidString.lowercased()) }
}

extension DateValue: SQLiteElement {
    package var sqliteData: SQLiteData { .text(ValueParsing.formatDate(self.days, extended: false)) }
}

extension TimestampValue: SQLiteElement {
    package var sqliteData: SQLiteData { .text(ValueParsing.formatTimestamp(self.microseconds, extended: false)) }
}

extension StoredValue: SQLiteElement {
    package var sqliteData: SQLiteData {
        switch self {
        case .integer(let number): .integer(SQLiteInt64(number))
        case .real(let number): .float(number)
        case .text(let text): .text(text)
        case .blob(let bytes): .blob(ByteBuffer(bytes: bytes))
        }
    }
}
