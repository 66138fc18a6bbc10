package import BulkUpdate
import PostgresNIO

/// Reads a table's description from pg_catalog: columns, types, nullability, primary and unique keys.
package enum PostgresCatalog {
    static func describe(_ name: BulkUpdateTableName, on db: DeadlineConnection) async throws -> TableSchema {
        let resolve: PostgresQuery = """
            SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = pg_catalog.to_regclass(\(name.quoted))
            """
        guard let tableRow = try await db.query(resolve).rows.first else {
            let place = name.schema == nil ? " (looked up in the search_path)" : ""
            throw BulkUpdateError(.schema, "table \(name) does not exist\(place)")
        }
        let (oid, schema, relation, kind) = try tableRow.decode((Int64, String, String, String).self)
        let resolved = BulkUpdateTableName(schema: schema, name: relation)
        guard kind == "r" || kind == "p" else {
            throw BulkUpdateError(.schema, "\(resolved) is not a table (relkind '\(kind)'); only tables can be updated")
        }

        let columnsQuery: PostgresQuery = """
            SELECT a.attname::text, a.attnotnull, a.attgenerated::text <> '',
                   COALESCE(bt.typname, t.typname)::text, COALESCE(bt.typtype, t.typtype)::text,
                   COALESCE(bt.typcategory, t.typcategory)::text,
                   pg_catalog.format_type(a.atttypid, NULL), pg_catalog.format_type(a.atttypid, a.atttypmod),
                   a.atttypmod::int8
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
            WHERE a.attrelid = \(oid)::oid AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """
        var columns: [ColumnSchema] = []
        for row in try await db.query(columnsQuery).rows {
            let (column, notNull, generated, baseType, typeType, _, sqlName, displayName, typmod) =
                try row.decode((String, Bool, Bool, String, String, String, String, String, Int64).self)
            let kind = Self.kind(baseType: baseType, typeType: typeType)
            let maximumLength = baseType == "varchar" && typmod > 4 ? Int(typmod - 4) : nil
            // `character` without a length means character(1); cast to `bpchar` so nothing is truncated and the
            // column's own length applies on assignment.
            let castName = typeType != "d" && baseType == "bpchar" ? "bpchar" : sqlName
            columns.append(
                ColumnSchema(
                    name: column,
                    type: ColumnType(
                        kind: kind ?? .text,
                        sqlName: castName,
                        displayName: displayName,
                        maximumLength: maximumLength
                    ),
                    isNullable: !notNull,
                    isGenerated: generated,
                    unsupportedType: kind == nil ? displayName : nil
                )
            )
        }

        let keysQuery: PostgresQuery = """
            SELECT i.indisprimary,
                   ARRAY(SELECT a.attname::text
                         FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                         JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                         WHERE k.ord <= i.indnkeyatts
                         ORDER BY k.ord)
            FROM pg_catalog.pg_index i
            WHERE i.indrelid = \(oid)::oid AND i.indisunique AND i.indisvalid
              AND i.indpred IS NULL AND i.indexprs IS NULL
            ORDER BY i.indisprimary DESC, i.indexrelid
            """
        var primaryKey: [String] = []
        var uniqueKeys: [[String]] = []
        for row in try await db.query(keysQuery).rows {
            let (isPrimary, keyColumns) = try row.decode((Bool, [String]).self)
            if isPrimary { primaryKey = keyColumns }
            uniqueKeys.append(keyColumns)
        }
        return TableSchema(name: resolved, columns: columns, primaryKey: primaryKey, uniqueKeys: uniqueKeys)
    }

    /// The family of a type by its (base) name; `nil` when BulkUpdate does not support it.
    package static func kind(baseType: String, typeType: String) -> ColumnType.Kind? {
        if typeType == "e" { return .text }  // enum: sent as text, cast to the enum type
        switch baseType {
        case "bool": return .bool
        case "int2": return .int16
        case "int4": return .int32
        case "int8": return .int64
        case "float4": return .float32
        case "float8": return .float64
        case "numeric": return .numeric
        case "text", "varchar", "bpchar", "name", "citext": return .text
        case "json": return .json
        case "jsonb": return .jsonb
        case "bytea": return .bytea
        case "uuid": return .uuid
        case "date": return .date
        case "timestamp": return .timestamp
        case "timestamptz": return .timestamptz
        default: return nil
        }
    }
}
