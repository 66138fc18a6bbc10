/// A checked request: the table, its key and set columns with their types, and the options.
///
/// Built before any row is read; every failure here leaves the table untouched.
package struct UpdatePlan: Sendable {
    package let table: TableSchema
    package let keyColumns: [ColumnSchema]
    package let setColumns: [ColumnSchema]
    /// The table's columns each row carries an expected value for (``BulkUpdateOptions/expectedColumns``).
    package let expectedColumns: [ColumnSchema]
    package var options: BulkUpdateOptions
    /// Key columns first, then set columns, then one column per expected column (named by
    /// ``expectedName(_:)``, typed as the table's column, nullable): the order of every row's values and of every
    /// chunk's columns.
    package let columns: [ColumnSchema]

    /// Whether rows are written only under conditions: expected values or the caller's condition.
    package var isGuarded: Bool { !self.expectedColumns.isEmpty || self.options.condition != nil }

    /// The name of expected column `index` among the chunk's columns and in the statements' relation of new values:
    /// `expected email`, or `expected 3` when that would pass PostgreSQL's 63-byte identifier limit.
    package func expectedName(_ index: Int) -> String {
        self.columns[self.keyColumns.count + self.setColumns.count + index].name
    }

    /// The schema (SQLite: attached database) of the run's journal: ``BulkUpdateOptions/journalSchema``, else the
    /// target's.
    package var journalSchema: String? { self.options.journalSchema ?? self.table.name.schema }

    /// Checks the requested columns against the table.
    ///
    /// - Parameters:
    ///   - keyColumns: The key columns; `nil` means the primary key.
    ///   - setColumns: The columns to set; at least one, none of them part of the key.
    package init(
        table: TableSchema,
        keyColumns: [String]?,
        setColumns: [String],
        options: BulkUpdateOptions
    ) throws(BulkUpdateError) {
        try options.validate()
        let tableName = table.name.description
        let keyNames: [String]
        if let keyColumns {
            keyNames = keyColumns
        } else {
            guard !table.primaryKey.isEmpty else {
                throw BulkUpdateError(
                    .schema,
                    "\(tableName) has no primary key; name the key columns, which must have a unique index"
                )
            }
            keyNames = table.primaryKey
        }
        guard !keyNames.isEmpty else { throw BulkUpdateError(.schema, "at least one key column is required") }
        guard !setColumns.isEmpty else {
            throw BulkUpdateError(.schema, "at least one column to set is required")
        }
        func lookup(_ name: String) throws(BulkUpdateError) -> ColumnSchema {
            guard let column = table.column(named: name) else {
                var message = "column \"\(name)\" does not exist in \(tableName)"
                if let suggestion = Self.closest(to: name, among: table.columns.map(\.name)) {
                    message += " (did you mean \"\(suggestion)\"?)"
                }
                throw BulkUpdateError(.schema, message, column: name)
            }
            return column
        }
        func checkUnique(_ names: [String], _ role: String) throws(BulkUpdateError) {
            var seen = Set<String>()
            for name in names where !seen.insert(name).inserted {
                throw BulkUpdateError(.schema, "column \"\(name)\" is named twice among the \(role) columns")
            }
        }
        try checkUnique(keyNames, "key")
        try checkUnique(setColumns, "set")
        try checkUnique(options.expectedColumns, "expected")
        let expected = try options.expectedColumns.map { name throws(BulkUpdateError) in try lookup(name) }
        for name in options.expectedColumns where keyNames.contains(name) {
            throw BulkUpdateError(
                .schema,
                "column \"\(name)\" is part of the key, which finds the row; it cannot also be expected",
                column: name
            )
        }
        let keys = try keyNames.map { name throws(BulkUpdateError) in try lookup(name) }
        let sets = try setColumns.map { name throws(BulkUpdateError) in try lookup(name) }
        for name in setColumns where keyNames.contains(name) {
            throw BulkUpdateError(
                .schema,
                "column \"\(name)\" is part of the key and cannot also be set",
                column: name
            )
        }
        for column in keys + sets + expected {
            if let unsupported = column.unsupportedType {
                throw BulkUpdateError(
                    .schema,
                    "column \"\(column.name)\" of \(tableName) has type \(unsupported), which BulkUpdate does not support",
                    column: column.name
                )
            }
        }
        for column in keys where column.type.isArray {
            throw BulkUpdateError(
                .schema,
                "column \"\(column.name)\" of \(tableName) is an array (\(column.type.displayName)) and cannot be a key",
                column: column.name
            )
        }
        for column in sets where column.isGenerated {
            throw BulkUpdateError(
                .schema,
                "column \"\(column.name)\" of \(tableName) is generated and cannot be set",
                column: column.name
            )
        }
        let keySet = Set(keyNames)
        guard table.uniqueKeys.contains(where: { Set($0) == keySet }) else {
            throw BulkUpdateError(
                .schema,
                "key (\(keyNames.joined(separator: ", "))) is not unique in \(tableName): it needs a primary key,"
                    + " unique constraint or unique index on exactly these columns, so that each input row"
                    + " matches at most one table row"
            )
        }
        self.table = table
        self.keyColumns = keys
        self.setColumns = sets
        self.expectedColumns = expected
        let aliases = expected.enumerated().map { index, column in
            let name = "expected \(column.name)"
            return ColumnSchema(
                name: name.utf8.count <= 63 ? name : "expected \(index + 1)",
                type: column.type,
                isNullable: true
            )
        }
        self.columns = keys + sets + aliases
        self.options = options
    }

    /// The candidate closest to `name` within edit distance 2 (ignoring case), the first one on a tie.
    static func closest(to name: String, among candidates: [String]) -> String? {
        let target = Array(name.lowercased())
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let other = Array(candidate.lowercased())
            var previous = Array(0...other.count)
            for (i, a) in target.enumerated() {
                var row = [i + 1] + Array(repeating: 0, count: other.count)
                for (j, b) in other.enumerated() {
                    row[j + 1] = Swift.min(previous[j + 1] + 1, row[j] + 1, previous[j] + (a == b ? 0 : 1))
                }
                previous = row
            }
            let distance = previous[other.count]
            if distance <= 2 && distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        return best?.name
    }
}
