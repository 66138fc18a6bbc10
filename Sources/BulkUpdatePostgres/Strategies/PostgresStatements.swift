import BulkUpdate
import PostgresNIO

/// The SQL of one PostgreSQL run, built once from the checked plan on top of the shared ``UpdateSQL``.
struct PostgresStatements: Sendable {
    /// PostgreSQL's limit on parameters in one statement.
    static let maximumParameters = 65_535

    /// `$3::integer`: every parameter carries its column's type, since text-like values travel as `text`.
    static let dialect = UpdateSQL.Dialect(
        parameter: { number, column in .parameter(number, type: column.type.sqlName) },
        differs: { lhs, rhs, column in
            // json (and xml, point, …) has no equality operator; compare the text, which is what would be stored.
            column.type.kind == .json || column.type.comparesAsText
                ? "\(lhs)::text IS DISTINCT FROM \(rhs)::text" : "\(lhs) IS DISTINCT FROM \(rhs)"
        },
        text: { value, _ in "\(value)::text" }
    )

    let sql: UpdateSQL
    var plan: UpdatePlan { self.sql.plan }

    init(plan: UpdatePlan) {
        self.sql = UpdateSQL(plan: plan, dialect: Self.dialect)
    }

    /// `$1::integer[]`: the array parameter of column `index`; an array-typed or composite column travels as `text[]`
    /// (``ColumnType/travelsAsText``).
    private func arrayParameter(_ index: Int) -> SQL {
        let type = self.plan.columns[index].type
        return "\(parameter: index + 1, type: (type.travelsAsText ? "text" : type.sqlName) + "[]")"
    }

    /// `unnest($1::integer[], $2::character varying[]) AS u("id", "username")`.
    ///
    /// An array-typed column travels as `text[]` of its values' text forms (`{1,2}`), because `unnest` would flatten
    /// an array of arrays, and so does a composite column (`(1,x)`), whose fields `unnest` would spread over columns
    /// of their own; a projection around the `unnest` casts it back:
    /// `(SELECT "id", "tags"::integer[] AS "tags" FROM unnest($1::integer[], $2::text[]) AS u("id", "tags")) AS u`.
    var unnestSource: SQL { self.unnestSource(ordinal: false) }

    /// ``unnestSource``, with each row's position (from 1) as ``UpdateSQL/ordinalColumn`` when `ordinal` is set:
    /// `unnest(…) WITH ORDINALITY AS u("id", "username", "bulk_update ordinal")`.
    func unnestSource(ordinal: Bool) -> SQL {
        let columns = self.plan.columns
        let arrays = SQL.list(columns.indices.map(self.arrayParameter))
        let names = self.sql.allNames + (ordinal ? [UpdateSQL.ordinalName] : [])
        let source: SQL = "unnest(\(arrays))\(ordinal ? " WITH ORDINALITY" : "") AS u(\(SQL.list(names)))"
        guard columns.contains(where: \.type.travelsAsText) else { return source }
        var projection = zip(columns, self.sql.allNames).map { column, name -> SQL in
            column.type.travelsAsText ? "\(name)::\(type: column.type.sqlName) AS \(name)" : name
        }
        if ordinal { projection.append(UpdateSQL.ordinalName) }
        return "(SELECT \(SQL.list(projection)) FROM \(source)) AS u"
    }

    /// The UPDATE over a source relation `u`. Plain: its command tag counts matched rows. With `skipUnchanged`:
    /// one row (changed, matched) from a single statement.
    func update(from source: SQL) -> SQL {
        guard self.plan.options.skipUnchanged else { return self.sql.update(from: source, onlyChanged: false) }
        let update = self.sql.update(from: "u", onlyChanged: true)
        return "WITH u AS (SELECT * FROM \(source)), w AS (\(update) RETURNING 1) "
            + "SELECT (SELECT count(*) FROM w)::int8, "
            + "(SELECT count(*) FROM \(self.sql.table) AS t JOIN u ON \(self.sql.match))::int8"
    }

    /// The relation of new values of a guarded chunk, with each row's position: the `copy` strategy's `stage` (whose
    /// extra column holds it, from 0), else the chunk's arrays unnested with their ordinality (from 1).
    func guardedSource(stage: StageTable?) -> SQL {
        guard let stage else { return self.unnestSource(ordinal: true) }
        return "\(stage.qualified) AS u"
    }

    /// Writes the rows of `source` that meet the guards (and differ, with `skipUnchanged`); one row: the positions
    /// written, as `int8[]`.
    ///
    /// - Parameters:
    ///   - restriction: The parameter (`int8[]`) of the only positions to write, if any.
    ///   - undo: The journal whose undo table gets one row with the written rows' keys, previous values and written
    ///     values (a JSON array of text per column), and the first of five parameters (run id, worker, chunk, part,
    ///     and the positions whose keys an earlier chunk may have written, as a JSON array). The new values and each
    ///     matched row's previous values of the set columns are first read into a materialized relation `u`, with
    ///     the statement's snapshot; the write then requires the row to still hold those values, so a row another
    ///     session changed after that snapshot is not written (the server re-checks the condition on its newest
    ///     version) instead of being saved with values it no longer held: the caller locks such rows and writes them
    ///     again. (Only column privileges are needed: no system column is read. Materialized, `u` also keeps the
    ///     planner joining from the chunk's rows to the table through its key, whatever the table's statistics.)
    func guardedWrite(from source: SQL, restriction: Int? = nil, undo: (journal: RunJournal, parameter: Int)? = nil)
        -> SQL
    {
        let sql = self.sql
        let ordinal = UpdateSQL.ordinalName
        let old = self.plan.setColumns.indices.map { SQL.identifier("bulk_update old \($0 + 1)") }
        var statement: SQL = "WITH "
        var from = source
        var conditions: [SQL] = [sql.match]
        if undo != nil {
            let previous = zip(sql.setNames, old).map { "t.\($0) AS \($1)" as SQL }
            statement +=
                "u AS MATERIALIZED (SELECT u.*, \(SQL.list(previous))"
                + " FROM \(source) JOIN \(sql.table) AS t ON \(sql.match)), "
            from = "u"
            for ((column, name), previous) in zip(zip(self.plan.setColumns, sql.setNames), old) {
                conditions.append("NOT (\(Self.dialect.differs("t.\(name)", "u.\(previous)", column)))")
            }
        }
        if let guards = sql.guards { conditions.append(guards) }
        if self.plan.options.skipUnchanged { conditions.append("(\(sql.changed))") }
        if let restriction { conditions.append("u.\(ordinal) = ANY(\(parameter: restriction, type: "int8[]"))") }
        var returning: [SQL] = ["u.\(ordinal)"]
        // The undo's values, as text, a column each: the keys, the previous values and the written values.
        let undoValues = [
            sql.keyNames.map { "t.\($0)" as SQL }, old.map { "u.\($0)" as SQL }, sql.setNames.map { "t.\($0)" as SQL },
        ]
        let undoNames = undoValues.enumerated().map { group, values in
            values.indices.map { SQL.identifier("bulk_update undo \(group) \($0 + 1)") }
        }
        if undo != nil {
            for (values, names) in zip(undoValues, undoNames) {
                returning += zip(values, names).map { "\($0)::text AS \($1)" }
            }
        }
        statement +=
            "w AS (UPDATE \(sql.table) AS t SET \(sql.assignments) FROM \(from)"
            + " WHERE \(SQL.list(conditions, separator: " AND ")) RETURNING \(SQL.list(returning)))"
        if let (journal, first) = undo {
            // One undo row for the statement: the aggregates read the rows of `w` in one pass, in the same order.
            statement +=
                ", s AS (INSERT INTO \(journal.undoTable) (\(SQL.list(RunJournal.undoColumns.map(SQL.identifier))))"
                + " SELECT \(parameter: first, type: "text"), \(parameter: first + 1, type: "int8"),"
                + " \(parameter: first + 2, type: "int8"), \(parameter: first + 3, type: "int8"), count(*),"
                + " json_agg(w.\(ordinal))::text, "
                + SQL.list(undoNames.map { "json_build_array(\(SQL.list($0.map { "json_agg(w.\($0))" })))::text" })
                + ","
                + " \(parameter: first + 4, type: "text") FROM w HAVING count(*) > 0)"
        }
        return statement + " SELECT coalesce(array_agg(w.\(ordinal)), '{}')::int8[] FROM w"
    }

    /// Locks the matched rows of `source` whose positions are in parameter `positions` (`int8[]`) until the
    /// transaction ends, waiting for another session's lock: after it, nobody changes them before this transaction
    /// writes them.
    func lock(from source: SQL, positions: Int) -> SQL {
        "SELECT 1 FROM \(self.sql.table) AS t JOIN \(source) ON \(self.sql.match)"
            + " WHERE u.\(UpdateSQL.ordinalName) = ANY(\(parameter: positions, type: "int8[]")) FOR NO KEY UPDATE OF t"
    }

    /// The classification of the matched rows of `source` whose positions are not in parameter `written`
    /// (`int8[]`).
    func guardedClassification(from source: SQL, written: Int) -> SQL {
        self.sql.classification(
            from: source,
            filter: "u.\(UpdateSQL.ordinalName) <> ALL(\(parameter: written, type: "int8[]"))"
        )
    }

    /// Django's statement; with `skipUnchanged`, one row (changed, matched).
    func caseWhen(rows: Int) -> SQL {
        let skip = self.plan.options.skipUnchanged
        let (statement, filter) = self.sql.caseWhen(rows: rows, onlyChanged: skip)
        guard skip else { return statement }
        return "WITH w AS (\(statement) RETURNING 1) SELECT (SELECT count(*) FROM w)::int8, "
            + "(SELECT count(*) FROM \(self.sql.table) WHERE \(filter))::int8"
    }

    /// Positions (from 1) of up to ``ChunkOutcome/notFoundExampleLimit`` chunk keys that have no row; binds the key
    /// arrays.
    var notFoundLookup: SQL {
        let keyCount = self.plan.keyColumns.count
        let arrays = SQL.list((0..<keyCount).map(self.arrayParameter))
        let ordinal = UpdateSQL.ordinalName
        let names = SQL.list(self.sql.allNames.prefix(keyCount))
        return "SELECT u.\(ordinal)::int8 FROM unnest(\(arrays)) WITH ORDINALITY AS u(\(names), \(ordinal))"
            + " WHERE NOT EXISTS (SELECT 1 FROM \(self.sql.table) AS t WHERE \(self.sql.match))"
            + " ORDER BY u.\(ordinal) LIMIT \(integer: ChunkOutcome.notFoundExampleLimit)"
    }

    /// Rows per statement for strategies with one parameter per value.
    var rowsPerStatement: Int { self.sql.rowsPerStatement(maximumParameters: Self.maximumParameters) }

    // MARK: Binds

    func arrayBinds(_ chunk: Chunk, columns: Range<Int>? = nil) -> PostgresBindings {
        let range = columns ?? 0..<chunk.columns.count
        var bindings = PostgresBindings(capacity: range.count)
        for column in range {
            bindings.append(PostgresArrayBind(values: chunk.columns[column]))
        }
        return bindings
    }

    func cellBinds(_ chunk: Chunk, rows: Range<Int>) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: rows.count * chunk.columns.count)
        let columns = chunk.columns.map(\.postgres)
        let kinds = chunk.columns.map(\.type.kind)
        for row in rows {
            for column in columns.indices {
                bindings.appendCell(columns[column], at: row, kind: kinds[column])
            }
        }
        return bindings
    }
}

extension ClassifiedRow {
    /// A row of ``UpdateSQL/classification(from:filter:)`` whose source numbered positions from `firstPosition`.
    init(_ row: PostgresRow, plan: UpdatePlan, firstPosition: Int) throws {
        let cells = row.makeRandomAccess()
        try self.init(
            keyCount: plan.keyColumns.count,
            expectedCount: plan.expectedColumns.count,
            position: Int(try cells[0].decode(Int64.self)) - firstPosition,
            flag: { try cells[$0].decode(Int32.self) == 1 },
            text: { try cells[$0].decode(String?.self) }
        )
    }
}
