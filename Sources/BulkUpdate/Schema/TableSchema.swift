/// A table as the catalog describes it, before any row is read.
package struct TableSchema: Sendable {
    /// The table's resolved, schema-qualified name.
    package var name: BulkUpdateTableName
    /// Columns in table order.
    package var columns: [ColumnSchema]
    /// The primary key's columns, in key order; empty when the table has none.
    package var primaryKey: [String]
    /// Every set of columns with a unique, non-partial index or constraint (the primary key included).
    package var uniqueKeys: [[String]]

    package init(name: BulkUpdateTableName, columns: [ColumnSchema], primaryKey: [String], uniqueKeys: [[String]]) {
        self.name = name
        self.columns = columns
        self.primaryKey = primaryKey
        self.uniqueKeys = uniqueKeys
    }

    package func column(named name: String) -> ColumnSchema? {
        self.columns.first { $0.name == name }
    }
}

/// One column as the catalog describes it.
package struct ColumnSchema: Sendable {
    package var name: String
    package var type: ColumnType
    package var isNullable: Bool
    /// Generated columns cannot be set.
    package var isGenerated: Bool
    /// The type's name when BulkUpdate cannot handle it; such a column may be neither key nor set column.
    package var unsupportedType: String?

    package init(
        name: String,
        type: ColumnType,
        isNullable: Bool,
        isGenerated: Bool = false,
        unsupportedType: String? = nil
    ) {
        self.name = name
        self.type = type
        self.isNullable = isNullable
        self.isGenerated = isGenerated
        self.unsupportedType = unsupportedType
    }
}

/// A column's type: how values are checked and stored on the client, and how the backend names it in SQL.
package struct ColumnType: Sendable, Hashable {
    /// The families of types BulkUpdate understands.
    package enum Kind: String, Sendable, Hashable {
        case bool, int16, int32, int64, float32, float64, numeric
        case text, json, jsonb, bytea, uuid, date, timestamp, timestamptz
    }

    package var kind: Kind
    /// The type's name for casts, without modifiers, as the backend spells it (`character varying`, `"Mood"`).
    package var sqlName: String
    /// The full type for messages (`character varying(150)`).
    package var displayName: String
    /// The largest number of characters the column takes (`varchar(n)`, `char(n)`), when it is limited.
    package var maximumLength: Int?

    package init(kind: Kind, sqlName: String, displayName: String? = nil, maximumLength: Int? = nil) {
        self.kind = kind
        self.sqlName = sqlName
        self.displayName = displayName ?? sqlName
        self.maximumLength = maximumLength
    }
}
