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

    /// The schema with the columns `names` of kind ``ColumnType/Kind/stored``: their values are written as given.
    package func storingAsGiven(_ names: [String]) -> TableSchema {
        var schema = self
        for index in schema.columns.indices where names.contains(schema.columns[index].name) {
            schema.columns[index].type.kind = .stored
        }
        return schema
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
        /// Any other type (arrays, ranges, `interval`, `inet`, `money`, `time`, `bit`, composite types, …): sent as
        /// its text form and parsed by the database, which checks such values before the first write
        /// (``ColumnType/isServerChecked``).
        case textual
        /// A SQLite value written with the storage class it comes with (integer, real, text or blob), never
        /// converted: what `runs revert` writes back on SQLite, where a column of any declared type may hold a
        /// value of any class (``StoredValue``). Never a catalog's kind.
        case stored
    }

    package var kind: Kind
    /// The type's name for casts, without modifiers, as the backend spells it (`character varying`, `"Mood"`).
    package var sqlName: String
    /// The full type for messages (`character varying(150)`).
    package var displayName: String
    /// The largest number of characters the column takes (`varchar(n)`, `char(n)`), when it is limited.
    package var maximumLength: Int?
    /// `numeric(p, s)`: the precision values are checked against after rounding to ``numericScale`` digits.
    package var numericPrecision: Int?
    /// `numeric(p, s)`: the scale (digits after the point, negative to round left of it).
    package var numericScale = 0
    /// `bit(n)` (exactly `n` bits) or `bit varying(n)` (at most `n`).
    package var bitLength: Int?
    /// Whether ``bitLength`` is exact (`bit(n)`) rather than a maximum (`bit varying(n)`).
    package var bitLengthIsExact = false
    /// The labels of an enum type, in order: any other text is refused before writing.
    package var enumLabels: [String]?
    /// Whether the database must judge each value before the first write (by casting it, writing nothing): domains
    /// with `CHECK` constraints and ``Kind/textual`` types.
    package var isServerChecked = false
    /// Whether the type is an array (its values travel as their text form, `{1,2,3}`).
    package var isArray = false
    /// Whether the values travel as `text[]` and are cast back in the statement: arrays, which `unnest` would
    /// flatten, and composite types, whose fields `unnest` would spread over columns of their own.
    package var travelsAsText = false
    /// Whether "unchanged" compares the text forms, for types with no equality operator (`json`, `xml`, `point`).
    package var comparesAsText = false
    /// Whether NaN can be stored (SQLite stores NaN as NULL, so it refuses it).
    package var acceptsNaN = true
    /// Whether dates and timestamps take PostgreSQL's forms beyond the years 0001 to 9999: `infinity`, `-infinity`,
    /// `BC` and years of 5 to 7 digits. SQLite's date functions read none of them (they read years 0000 to 9999), so
    /// SQLite columns take the years 0000 to 9999 only.
    package var acceptsExtendedDates = true

    package init(kind: Kind, sqlName: String, displayName: String? = nil, maximumLength: Int? = nil) {
        self.kind = kind
        self.sqlName = sqlName
        self.displayName = displayName ?? sqlName
        self.maximumLength = maximumLength
    }
}
