package import BulkUpdate
import PostgresNIO

/// Reads a table's description from pg_catalog: columns, types, nullability, primary and unique keys.
package enum PostgresCatalog {
    static func describe(_ name: BulkUpdateTableName, on db: DeadlineConnection) async throws -> TableSchema {
        let resolve: SQL = """
            SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = pg_catalog.to_regclass(\(parameter: 1))
            """
        var resolveBinds = PostgresBindings(capacity: 1)
        resolveBinds.append(name.quoted)
        guard let tableRow = try await db.query(resolve, resolveBinds).rows.first else {
            let place = name.schema == nil ? " (looked up in the search_path)" : ""
            throw BulkUpdateError(.schema, "table \(name) does not exist\(place)")
        }
        let (oid, schema, relation, kind) = try tableRow.decode((Int64, String, String, String).self)
        let resolved = BulkUpdateTableName(schema: schema, name: relation)
        guard kind == "r" || kind == "p" else {
            throw BulkUpdateError(.schema, "\(resolved) is not a table (relkind '\(kind)'); only tables can be updated")
        }

        // Identity columns GENERATED ALWAYS refuse new values like generated columns do. One level of domain is resolved to its base type (a domain over a domain is left to the server to check).
        let columnsQuery: SQL = """
            SELECT a.attname::text, a.attnotnull OR t.typnotnull, a.attgenerated::text <> '' OR a.attidentity = 'a',
                   COALESCE(bt.typname, t.typname)::text, COALESCE(bt.typtype, t.typtype)::text,
                   COALESCE(bt.typcategory, t.typcategory)::text,
                   pg_catalog.format_type(a.atttypid, NULL), pg_catalog.format_type(a.atttypid, a.atttypmod),
                   (CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END)::int8,
                   t.typtype = 'd',
                   t.typtype = 'd' AND (bt.typtype = 'd' OR EXISTS (
                       SELECT 1 FROM pg_catalog.pg_constraint c
                       WHERE c.contypid IN (t.oid, bt.oid) AND c.contype = 'c')),
                   ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
                         WHERE e.enumtypid = COALESCE(bt.oid, t.oid) ORDER BY e.enumsortorder),
                   COALESCE(et.typname, '')::text, COALESCE(pg_catalog.format_type(et.oid, NULL), '')::text,
                   EXISTS (SELECT 1 FROM pg_catalog.pg_opclass oc JOIN pg_catalog.pg_am am ON am.oid = oc.opcmethod
                           WHERE oc.opcdefault AND am.amname IN ('btree', 'hash')
                             AND oc.opcintype IN (COALESCE(bt.oid, t.oid), COALESCE(et.oid, 0),
                                                  CASE COALESCE(bt.typtype, t.typtype)
                                                      WHEN 'e' THEN 'anyenum'::regtype::oid
                                                      WHEN 'r' THEN 'anyrange'::regtype::oid
                                                      ELSE 0 END))
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
            LEFT JOIN pg_catalog.pg_type et ON et.oid = COALESCE(bt.typelem, t.typelem)
                AND COALESCE(bt.typcategory, t.typcategory) = 'A'
            WHERE a.attrelid = \(parameter: 1)::oid AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """
        var columnsQueryBinds = PostgresBindings(capacity: 1)
        columnsQueryBinds.append(oid)
        var columns: [ColumnSchema] = []
        for row in try await db.query(columnsQuery, columnsQueryBinds).rows {
            let (
                column, notNull, generated, baseType, typeType, category, sqlName, displayName, typmod, isDomain,
                checkedDomain, labels, elementName, elementType, hasEquality
            ) = try row.decode(
                (
                    String, Bool, Bool, String, String, String, String, String, Int64, Bool, Bool, [String], String,
                    String, Bool
                ).self
            )
            var type = ColumnType(
                kind: Self.kind(baseType: baseType, typeType: typeType) ?? .textual,
                sqlName: sqlName,
                displayName: displayName
            )
            type.isArray = category == "A"
            type.travelsAsText = type.isArray || typeType == "c"
            // Modifiers, from the column or from its domain.
            if typmod >= 4 && !type.isArray {
                switch baseType {
                case "varchar", "bpchar": type.maximumLength = Int(typmod - 4)
                case "numeric":
                    type.numericPrecision = Int(((typmod - 4) >> 16) & 0xffff)
                    type.numericScale = Int((((typmod - 4) & 0x7ff) ^ 1024) - 1024)
                default: break
                }
            }
            if (baseType == "bit" || baseType == "varbit") && !type.isArray && typmod > 0 {
                type.bitLength = Int(typmod)
                type.bitLengthIsExact = baseType == "bit"
            }
            if typeType == "e" { type.enumLabels = labels }
            type.isServerChecked = checkedDomain || (type.kind == .textual && type.bitLength == nil)
            type.comparesAsText = !hasEquality
            type.sqlName = Self.castName(
                sqlName: sqlName,
                baseType: baseType,
                isDomain: isDomain,
                arrayElement: type.isArray ? (elementName, elementType) : nil
            )
            columns.append(ColumnSchema(name: column, type: type, isNullable: !notNull, isGenerated: generated))
        }

        let keysQuery: SQL = """
            SELECT i.indisprimary,
                   ARRAY(SELECT a.attname::text
                         FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                         JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                         WHERE k.ord <= i.indnkeyatts
                         ORDER BY k.ord)
            FROM pg_catalog.pg_index i
            WHERE i.indrelid = \(parameter: 1)::oid AND i.indisunique AND i.indisvalid
              AND i.indpred IS NULL AND i.indexprs IS NULL
            ORDER BY i.indisprimary DESC, i.indexrelid
            """
        var keysQueryBinds = PostgresBindings(capacity: 1)
        keysQueryBinds.append(oid)
        var primaryKey: [String] = []
        var uniqueKeys: [[String]] = []
        for row in try await db.query(keysQuery, keysQueryBinds).rows {
            let (isPrimary, keyColumns) = try row.decode((Bool, [String]).self)
            if isPrimary { primaryKey = keyColumns }
            uniqueKeys.append(keyColumns)
        }
        return TableSchema(name: resolved, columns: columns, primaryKey: primaryKey, uniqueKeys: uniqueKeys)
    }

    /// The type values are cast to in statements. It is unconstrained, so that the column's own rules (lengths, bit
    /// counts) apply on assignment and fail loudly, where an explicit cast to `character(3)` or `bit(3)` would cut
    /// the value silently (and `character` or `bit` alone mean a length of 1). A domain is cast to itself, so its
    /// constraints apply.
    static func castName(
        sqlName: String,
        baseType: String,
        isDomain: Bool,
        arrayElement: (name: String, type: String)?
    ) -> String {
        if isDomain { return sqlName }
        if let element = arrayElement {
            switch element.name {
            case "bpchar": return "bpchar[]"
            case "bit": return "varbit[]"
            default: return element.type + "[]"
            }
        }
        switch baseType {
        case "bpchar": return "bpchar"
        case "bit": return "varbit"
        default: return sqlName
        }
    }

    /// The family of a type by its (base) name; `nil` for the types sent as text (``ColumnType/Kind/textual``).
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
