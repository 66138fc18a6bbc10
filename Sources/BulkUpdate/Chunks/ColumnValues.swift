package import Foundation

/// One column of a chunk: a typed array, the form both array binds and COPY want, with no boxed value per cell.
package enum ColumnValues: Sendable {
    case bool([Bool?])
    case int([Int64?])
    case double([Double?])
    case text([String?])
    case bytes([[UInt8]?])
    case uuid([UUID?])
    /// Days since 2000-01-01.
    case date([Int32?])
    /// Microseconds since 2000-01-01 00:00.
    case timestamp([Int64?])

    /// An empty column for values of `kind`.
    package init(kind: ColumnType.Kind, capacity: Int) {
        func make<T>(_: T.Type) -> [T?] {
            var array: [T?] = []
            array.reserveCapacity(capacity)
            return array
        }
        switch kind {
        case .bool: self = .bool(make(Bool.self))
        case .int16, .int32, .int64: self = .int(make(Int64.self))
        case .float32, .float64: self = .double(make(Double.self))
        case .numeric, .text, .json, .jsonb, .textual: self = .text(make(String.self))
        case .bytea: self = .bytes(make([UInt8].self))
        case .uuid: self = .uuid(make(UUID.self))
        case .date: self = .date(make(Int32.self))
        case .timestamp, .timestamptz: self = .timestamp(make(Int64.self))
        }
    }

    package var count: Int {
        switch self {
        case .bool(let values): values.count
        case .int(let values): values.count
        case .double(let values): values.count
        case .text(let values): values.count
        case .bytes(let values): values.count
        case .uuid(let values): values.count
        case .date(let values): values.count
        case .timestamp(let values): values.count
        }
    }

    /// Appends a cell produced by ``ColumnType/cell(for:)`` for this column's type.
    package mutating func append(_ cell: Cell) {
        // Each case moves its array out of `self` before appending, so the append happens in place.
        switch self {
        case .bool(var values):
            self = .bool([])
            if case .bool(let value) = cell { values.append(value) } else { values.append(nil) }
            self = .bool(values)
        case .int(var values):
            self = .bool([])
            if case .int(let value) = cell { values.append(value) } else { values.append(nil) }
            self = .int(values)
        case .double(var values):
            self = .bool([])
            if case .double(let value) = cell { values.append(value) } else { values.append(nil) }
            self = .double(values)
        case .text(var values):
            self = .bool([])
            if case .text(let value) = cell { values.append(value) } else { values.append(nil) }
            self = .text(values)
        case .bytes(var values):
            self = .bool([])
            if case .bytes(let value) = cell { values.append(value) } else { values.append(nil) }
            self = .bytes(values)
        case .uuid(var values):
            self = .bool([])
            if case .uuid(let value) = cell { values.append(value) } else { values.append(nil) }
            self = .uuid(values)
        case .date(var values):
            self = .bool([])
            if case .date(let value) = cell { values.append(value) } else { values.append(nil) }
            self = .date(values)
        case .timestamp(var values):
            self = .bool([])
            if case .timestamp(let value) = cell { values.append(value) } else { values.append(nil) }
            self = .timestamp(values)
        }
    }

    /// The values at `indices`, in that order.
    package func gathered(_ indices: [Int]) -> ColumnValues {
        switch self {
        case .bool(let values): .bool(indices.map { values[$0] })
        case .int(let values): .int(indices.map { values[$0] })
        case .double(let values): .double(indices.map { values[$0] })
        case .text(let values): .text(indices.map { values[$0] })
        case .bytes(let values): .bytes(indices.map { values[$0] })
        case .uuid(let values): .uuid(indices.map { values[$0] })
        case .date(let values): .date(indices.map { values[$0] })
        case .timestamp(let values): .timestamp(indices.map { values[$0] })
        }
    }

    /// The value at `index` as a cell.
    package func cell(at index: Int) -> Cell {
        switch self {
        case .bool(let values): values[index].map(Cell.bool) ?? .null
        case .int(let values): values[index].map(Cell.int) ?? .null
        case .double(let values): values[index].map(Cell.double) ?? .null
        case .text(let values): values[index].map(Cell.text) ?? .null
        case .bytes(let values): values[index].map(Cell.bytes) ?? .null
        case .uuid(let values): values[index].map(Cell.uuid) ?? .null
        case .date(let values): values[index].map(Cell.date) ?? .null
        case .timestamp(let values): values[index].map(Cell.timestamp) ?? .null
        }
    }

    package func isNull(at index: Int) -> Bool {
        switch self {
        case .bool(let values): values[index] == nil
        case .int(let values): values[index] == nil
        case .double(let values): values[index] == nil
        case .text(let values): values[index] == nil
        case .bytes(let values): values[index] == nil
        case .uuid(let values): values[index] == nil
        case .date(let values): values[index] == nil
        case .timestamp(let values): values[index] == nil
        }
    }

    /// Orders two rows of this column: negative, zero or positive. Text compares by UTF-8 bytes, so two strings
    /// are equal exactly when the database would store the same bytes. NULL sorts first.
    package func compare(_ lhs: Int, _ rhs: Int) -> Int {
        func order<T: Comparable>(_ a: T?, _ b: T?) -> Int {
            switch (a, b) {
            case (nil, nil): 0
            case (nil, _): -1
            case (_, nil): 1
            case (let a?, let b?): a < b ? -1 : (a == b ? 0 : 1)
            }
        }
        switch self {
        case .bool(let values): return order(values[lhs].map { $0 ? 1 : 0 }, values[rhs].map { $0 ? 1 : 0 })
        case .int(let values): return order(values[lhs], values[rhs])
        case .double(let values): return order(values[lhs], values[rhs])
        case .date(let values): return order(values[lhs], values[rhs])
        case .timestamp(let values): return order(values[lhs], values[rhs])
        case .text(let values):
            switch (values[lhs], values[rhs]) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let a?, let b?):
                if a.utf8.elementsEqual(b.utf8) { return 0 }
                return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
            }
        case .bytes(let values): return Self.compareBytes(values[lhs], values[rhs])
        case .uuid(let values):
            return Self.compareBytes(values[lhs].map(Self.bytes(of:)), values[rhs].map(Self.bytes(of:)))
        }
    }

    /// The value at `index` as SQL-like text, for reports and messages (see ``Cell/rendered``).
    package func render(_ index: Int) -> String {
        self.cell(at: index).rendered
    }

    package static func bytes(of uuid: UUID) -> [UInt8] {
        withUnsafeBytes(of: uuid.uuid) { Array($0) }
    }

    private static func compareBytes(_ a: [UInt8]?, _ b: [UInt8]?) -> Int {
        switch (a, b) {
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        case (let a?, let b?):
            if a == b { return 0 }
            return a.lexicographicallyPrecedes(b) ? -1 : 1
        }
    }
}
