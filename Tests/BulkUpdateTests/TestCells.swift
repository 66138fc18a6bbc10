import Foundation

@testable import BulkUpdate

/// One checked value, the way the tests write what they expect: `.int(42)`, `.text("a")`. Made by checking a value
/// into a one-row column of its type (the path every row takes) and reading the column back.
enum Cell: Hashable {
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

    /// The value at `row` of `column`.
    init(_ column: any ChunkColumn, row: Int) {
        switch column {
        case let column as BoolColumn: self = column.values[row].map(Cell.bool) ?? .null
        case let column as IntegerColumn: self = column.values[row].map(Cell.int) ?? .null
        case let column as DoubleColumn: self = column.values[row].map(Cell.double) ?? .null
        case let column as TextColumn: self = column.values[row].map(Cell.text) ?? .null
        case let column as BytesColumn: self = column.values[row].map(Cell.bytes) ?? .null
        case let column as UUIDColumn: self = column.values[row].map(Cell.uuid) ?? .null
        case let column as DateColumn: self = column.values[row].map { .date($0.days) } ?? .null
        case let column as TimestampColumn: self = column.values[row].map { .timestamp($0.microseconds) } ?? .null
        default: fatalError("unknown column type \(type(of: column))")
        }
    }

    /// The value back as the caller's value, to put it in a row.
    var value: BulkUpdateValue {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .int(let value): .int(value)
        case .double(let value): .double(value)
        case .text(let value): .string(value)
        case .bytes(let value): .bytes(value)
        case .uuid(let value): .uuid(value)
        case .date(let days): .string(ValueParsing.formatDate(days))
        case .timestamp(let micros): .string(ValueParsing.formatTimestamp(micros))
        }
    }

    /// A one-row column holding this cell, of the family `type`.
    func column(_ type: ColumnType) -> any ChunkColumn {
        var column = type.makeColumn(capacity: 1)
        _ = try! column.append(self.value, hashing: false)
        return column
    }
}

extension ColumnType {
    /// `value` checked against this type, as a one-row column holds it.
    func cell(for value: BulkUpdateValue) throws(CellError) -> Cell {
        var column = self.makeColumn(capacity: 1)
        _ = try column.append(value, hashing: false)
        return Cell(column, row: 0)
    }

    /// The type whose family holds `cell`.
    static func family(of cell: Cell) -> ColumnType {
        switch cell {
        case .null, .text: ColumnType(kind: .text, sqlName: "text")
        case .bool: ColumnType(kind: .bool, sqlName: "boolean")
        case .int: ColumnType(kind: .int64, sqlName: "bigint")
        case .double: ColumnType(kind: .float64, sqlName: "double precision")
        case .bytes: ColumnType(kind: .bytea, sqlName: "bytea")
        case .uuid: ColumnType(kind: .uuid, sqlName: "uuid")
        case .date: ColumnType(kind: .date, sqlName: "date")
        case .timestamp: ColumnType(kind: .timestamp, sqlName: "timestamp without time zone")
        }
    }
}

extension KeyHash {
    /// The stable hash of one value, as its column computes it.
    static func hash(_ cell: Cell) -> UInt64 {
        cell.column(.family(of: cell)).hash(at: 0)
    }

    /// The hash of a key given as cells, as `Chunk.append` computes it: each value's hash folded from the seed.
    static func hash(_ cells: ArraySlice<Cell>) -> UInt64 {
        var state = Self.seed
        for cell in cells { state = Self.mix(state ^ Self.hash(cell)) }
        return state
    }
}

extension Cell {
    /// The value as reports show it, as its column renders it.
    var rendered: String { self.column(.family(of: self)).render(at: 0) }
}
