package import Foundation

/// One column of a chunk, whatever its element type: what the engine does with a column without knowing its
/// family. Every conformance is a ``TypedColumn``; make one with ``ColumnType/makeColumn(capacity:)``.
package protocol ChunkColumn: Sendable {
    /// The type of the table column the values are checked against.
    var type: ColumnType { get }

    /// How many values the column holds.
    var count: Int { get }

    /// Checks `value` against ``type`` and appends it.
    ///
    /// - Parameter hashing: Whether the value's stable hash is wanted.
    /// - Returns: `nil` when the value is NULL; otherwise its stable hash when `hashing`, else 0.
    /// - Throws: Why the value does not fit; nothing is appended then.
    mutating func append(_ value: BulkUpdateValue, hashing: Bool) throws(CellError) -> UInt64?

    /// Appends the values of `other` (a column of the same family) at `rows`, in that order.
    mutating func append(from other: any ChunkColumn, rows: ArraySlice<Int>)

    /// Removes the last value.
    mutating func removeLast()

    /// Removes every value, keeping the storage for reuse.
    mutating func removeAll()

    func isNull(at row: Int) -> Bool

    /// The stable hash of the value at `row` (``KeyHash/null`` for NULL).
    func hash(at row: Int) -> UInt64

    /// Orders two rows of this column: negative, zero or positive. NULL sorts first.
    func compare(_ lhs: Int, _ rhs: Int) -> Int

    /// The value at `row` as SQL-like text, for reports and messages: `42`, `'it''s'`, `NULL`.
    func render(at row: Int) -> String

    /// The values at `rows`, in that order.
    func gathered(_ rows: [Int]) -> Self
}

/// A chunk column of one element type: the one implementation of ``ChunkColumn``, shared by the concrete columns
/// below, which only name their element (so each is compiled for its element rather than generically).
package protocol TypedColumn: ChunkColumn {
    associatedtype Element: ColumnElement
    var values: [Element?] { get set }
}

extension TypedColumn {
    package var count: Int { self.values.count }

    package mutating func append(_ value: BulkUpdateValue, hashing: Bool) throws(CellError) -> UInt64? {
        if case .null = value.storage {
            self.values.append(nil)
            return nil
        }
        let element = try Element.checked(value, for: self.type)
        self.values.append(element)
        return hashing ? element.stableHash : 0
    }

    package mutating func append(from other: any ChunkColumn, rows: ArraySlice<Int>) {
        let source = (other as! Self).values
        self.values.reserveCapacity(self.values.count + rows.count)
        for row in rows { self.values.append(source[row]) }
    }

    package mutating func removeLast() { self.values.removeLast() }

    package mutating func removeAll() { self.values.removeAll(keepingCapacity: true) }

    package func isNull(at row: Int) -> Bool { self.values[row] == nil }

    package func hash(at row: Int) -> UInt64 { self.values[row]?.stableHash ?? KeyHash.null }

    package func compare(_ lhs: Int, _ rhs: Int) -> Int {
        switch (self.values[lhs], self.values[rhs]) {
        case (nil, nil): 0
        case (nil, _): -1
        case (_, nil): 1
        case (let a?, let b?): Element.order(a, b)
        }
    }

    package func render(at row: Int) -> String { self.values[row]?.rendered ?? "NULL" }

    package func gathered(_ rows: [Int]) -> Self {
        var values: [Element?] = []
        values.reserveCapacity(rows.count)
        for row in rows { values.append(self.values[row]) }
        var gathered = self
        gathered.values = values
        return gathered
    }
}

package struct BoolColumn: TypedColumn {
    package let type: ColumnType
    package var values: [Bool?] = []
}

package struct IntegerColumn: TypedColumn {
    package let type: ColumnType
    package var values: [Int64?] = []
}

package struct DoubleColumn: TypedColumn {
    package let type: ColumnType
    package var values: [Double?] = []
}

package struct TextColumn: TypedColumn {
    package let type: ColumnType
    package var values: [String?] = []
}

package struct BytesColumn: TypedColumn {
    package let type: ColumnType
    package var values: [[UInt8]?] = []
}

package struct UUIDColumn: TypedColumn {
    package let type: ColumnType
    package var values: [UUID?] = []
}

package struct DateColumn: TypedColumn {
    package let type: ColumnType
    package var values: [DateValue?] = []
}

package struct TimestampColumn: TypedColumn {
    package let type: ColumnType
    package var values: [TimestampValue?] = []
}

package struct StoredColumn: TypedColumn {
    package let type: ColumnType
    package var values: [StoredValue?] = []
}

extension ColumnType {
    /// An empty column for this type's family, with room for `capacity` values.
    package func makeColumn(capacity: Int = 0) -> any ChunkColumn {
        func reserved<Column: TypedColumn>(_ column: Column) -> Column {
            var column = column
            column.values.reserveCapacity(capacity)
            return column
        }
        return switch self.kind {
        case .bool: reserved(BoolColumn(type: self))
        case .int16, .int32, .int64: reserved(IntegerColumn(type: self))
        case .float32, .float64: reserved(DoubleColumn(type: self))
        case .numeric, .text, .json, .jsonb, .textual: reserved(TextColumn(type: self))
        case .bytea: reserved(BytesColumn(type: self))
        case .uuid: reserved(UUIDColumn(type: self))
        case .date: reserved(DateColumn(type: self))
        case .timestamp, .timestamptz: reserved(TimestampColumn(type: self))
        case .stored: reserved(StoredColumn(type: self))
        }
    }

    /// `text` (a value as the database prints it) as a report shows it: `42`, `'abc'`; quoted text when it does not
    /// parse.
    package func render(text: String?) -> String {
        guard let text else { return "NULL" }
        var column = self.makeColumn(capacity: 1)
        guard (try? column.append(.string(text), hashing: false)) != nil else { return SQLText.literal(text) }
        return column.render(at: 0)
    }
}
