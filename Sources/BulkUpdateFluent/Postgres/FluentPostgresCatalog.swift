import BulkUpdate
import BulkUpdatePostgres
import FluentSQL

/// Reads a table's description from pg_catalog through Fluent's SQL database: columns, types, nullability,
/// primary and unique keys. The same queries and type families as ``BulkUpdatePostgres``.
enum FluentPostgresCatalog {
    static func describe(_ name: BulkUpdateTableName, on db: any SQLDatabase) async throws -> TableSchema {
        let resolve = PreparedSQL(
            """
            SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = pg_catalog.to_regclass($1)
            """,
            [name.quoted]
        )
        guard let tableRow = try await db.rows(resolve).first else {
            let place = name.schema == nil ? " (looked up in the search_path)" : ""
            throw BulkUpdateError(.schema, "table \(name) does not exist\(place)")
        }
        let oid = try tableRow.decode(column: "oid", as: Int64.self)
        let kind = try tableRow.decode(column: "kind", as: String.self)
        let resolved = BulkUpdateTableName(
            schema: try tableRow.decode(column: "schema", as: String.self),
            name: try tableRow.decode(column: "name", as: String.self)
        )
        guard kind == "r" || kind == "p" else {
            throw BulkUpdateError(.schema, "\(resolved) is not a table (relkind '\(kind)'); only tables can be updated")
        }

        let columnsQuery = PreparedSQL(
            """
            SELECT a.attname::text AS name, a.attnotnull AS not_null, a.attgenerated::text <> '' AS generated,
                   COALESCE(bt.typname, t.typname)::text AS base_type,
                   COALESCE(bt.typtype, t.typtype)::text AS type_type,
                   pg_catalog.format_type(a.atttypid, NULL) AS sql_name,
                   pg_catalog.format_type(a.atttypid, a.atttypmod) AS display_name, a.atttypmod::int8 AS typmod
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
            WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """,
            [oid]
        )
        var columns: [ColumnSchema] = []
        for row in try await db.rows(columnsQuery) {
            let baseType = try row.decode(column: "base_type", as: String.self)
            let typeType = try row.decode(column: "type_type", as: String.self)
            let displayName = try row.decode(column: "display_name", as: String.self)
            let typmod = try row.decode(column: "typmod", as: Int64.self)
            let kind = PostgresCatalog.kind(baseType: baseType, typeType: typeType)
            // `character` without a length means character(1); cast to `bpchar` so nothing is truncated and the
            // column's own length applies on assignment.
            let castName =
                typeType != "d" && baseType == "bpchar" ? "bpchar" : try row.decode(column: "sql_name", as: String.self)
            columns.append(
                ColumnSchema(
                    name: try row.decode(column: "name", as: String.self),
                    type: ColumnType(
                        kind: kind ?? .text,
                        sqlName: castName,
                        displayName: displayName,
                        maximumLength: baseType == "varchar" && typmod > 4 ? Int(typmod - 4) : nil
                    ),
                    isNullable: !(try row.decode(column: "not_null", as: Bool.self)),
                    isGenerated: try row.decode(column: "generated", as: Bool.self),
                    unsupportedType: kind == nil ? displayName : nil
                )
            )
        }

        let keysQuery = PreparedSQL(
            """
            SELECT i.indisprimary AS is_primary,
                   ARRAY(SELECT a.attname::text
                         FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                         JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                         WHERE k.ord <= i.indnkeyatts
                         ORDER BY k.ord) AS columns
            FROM pg_catalog.pg_index i
            WHERE i.indrelid = $1::int8::oid AND i.indisunique AND i.indisvalid
              AND i.indpred IS NULL AND i.indexprs IS NULL
            ORDER BY i.indisprimary DESC, i.indexrelid
            """,
            [oid]
        )
        var primaryKey: [String] = []
        var uniqueKeys: [[String]] = []
        for row in try await db.rows(keysQuery) {
            let keyColumns = try row.decode(column: "columns", as: [String].self)
            if try row.decode(column: "is_primary", as: Bool.self) { primaryKey = keyColumns }
            uniqueKeys.append(keyColumns)
        }
        return TableSchema(name: resolved, columns: columns, primaryKey: primaryKey, uniqueKeys: uniqueKeys)
    }
}
