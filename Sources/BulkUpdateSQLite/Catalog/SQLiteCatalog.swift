import BulkUpdate
import SQLiteNIO

/// Reads a table's description with SQLite's pragma functions: `pragma_table_xinfo`, `pragma_index_list`,
/// `pragma_index_info`. Names are bound, never spliced.
enum SQLiteCatalog {
    static func describe(_ name: BulkUpdateTableName, on connection: SQLiteConnection) async throws -> TableSchema {
        let schemas = name.schema.map { [$0] } ?? ["temp", "main"]
        var found: (schema: String, table: String, type: String)?
        for schema in schemas {
            let rows = try await connection.execute(
                "SELECT name, type FROM \(identifier: schema).sqlite_schema"
                    + " WHERE type IN ('table', 'view') AND name = \(parameter: 1) COLLATE NOCASE",
                [.text(name.name)]
            )
            if let row = rows.first {
                found = (schema, row.column("name")?.string ?? name.name, row.column("type")?.string ?? "table")
                break
            }
        }
        guard let found else {
            throw BulkUpdateError(.schema, "table \(name) does not exist")
        }
        let resolved = BulkUpdateTableName(schema: found.schema, name: found.table)
        guard found.type == "table" else {
            throw BulkUpdateError(.schema, "\(resolved) is a view; only tables can be updated")
        }
        let binds: [SQLiteData] = [.text(found.table), .text(found.schema)]

        var columns: [ColumnSchema] = []
        var primaryKey: [(position: Int, name: String)] = []
        let columnRows = try await connection.execute(
            "SELECT name, type, \"notnull\", pk, hidden FROM pragma_table_xinfo(\(parameter: 1), \(parameter: 2))"
                + " ORDER BY cid",
            binds
        )
        for row in columnRows {
            let column = row.column("name")?.string ?? ""
            let declared = row.column("type")?.string ?? ""
            let hidden = row.column("hidden")?.integer ?? 0
            if hidden == 1 { continue }  // hidden columns of virtual tables
            let position = row.column("pk")?.integer ?? 0
            if position > 0 { primaryKey.append((Int(position), column)) }
            var type = ColumnType(kind: Self.kind(declared: declared), sqlName: declared.isEmpty ? "ANY" : declared)
            type.acceptsNaN = false  // SQLite stores a NaN as NULL
            type.acceptsExtendedDates = false  // SQLite's date functions read years 0000 to 9999 only
            columns.append(
                ColumnSchema(
                    name: column,
                    type: type,
                    // SQLite lets a primary key column hold NULL unless it is declared NOT NULL; keys are never
                    // NULL here anyway.
                    isNullable: (row.column("notnull")?.integer ?? 0) == 0,
                    isGenerated: hidden == 2 || hidden == 3
                )
            )
        }
        let primary = primaryKey.sorted { $0.position < $1.position }.map(\.name)
        var uniqueKeys: [[String]] = primary.isEmpty ? [] : [primary]
        for index in try await connection.execute(
            "SELECT name, \"unique\", partial FROM pragma_index_list(\(parameter: 1), \(parameter: 2))",
            binds
        ) {
            guard index.column("unique")?.integer == 1, index.column("partial")?.integer == 0,
                let indexName = index.column("name")?.string
            else { continue }
            let parts = try await connection.execute(
                "SELECT name FROM pragma_index_info(\(parameter: 1), \(parameter: 2)) ORDER BY seqno",
                [.text(indexName), .text(found.schema)]
            )
            let names = parts.map { $0.column("name")?.string }
            guard !names.isEmpty, names.allSatisfy({ $0 != nil }) else { continue }  // expression index
            uniqueKeys.append(names.map { $0! })
        }
        return TableSchema(name: resolved, columns: columns, primaryKey: primary, uniqueKeys: uniqueKeys)
    }

    /// The family for a declared column type, following SQLite's affinity rules, with the common names for
    /// booleans, dates, timestamps, UUIDs and JSON recognised first.
    static func kind(declared: String) -> ColumnType.Kind {
        let type = declared.uppercased()
        if type.contains("BOOL") { return .bool }
        // Stored as UTC text: an offset in the input is applied, as PostgreSQL's timestamptz does.
        if type.hasPrefix("DATETIME") || type.contains("TIMESTAMP") { return .timestamptz }
        if type == "DATE" { return .date }
        if type.contains("INT") { return .int64 }
        if type.contains("UUID") { return .uuid }
        if type.contains("JSON") { return .json }
        if type.contains("CHAR") || type.contains("CLOB") || type.contains("TEXT") || type.isEmpty { return .text }
        if type.contains("BLOB") { return .bytea }
        if type.contains("REAL") || type.contains("FLOA") || type.contains("DOUB") { return .float64 }
        return .numeric
    }
}
