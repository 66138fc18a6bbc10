/// The parts of an update statement every SQL backend shares, built once per run from the checked plan.
///
/// Identifiers come only from the catalog; every value is a parameter written by the backend's ``Dialect``. The
/// target is aliased `t`, the new values `u`.
package struct UpdateSQL: Sendable {
    /// How a backend writes what differs between SQL dialects.
    package struct Dialect: Sendable {
        /// The parameter for value number `number` (from 1) of `column`: `$3::integer`, `?3`.
        package var parameter: @Sendable (_ number: Int, _ column: ColumnSchema) -> SQL
        /// A null-safe "differs" test between two expressions of `column`'s type.
        package var differs: @Sendable (_ lhs: SQL, _ rhs: SQL, _ column: ColumnSchema) -> SQL

        /// An expression of `column`'s type as the text the database shows for it (NULL stays NULL).
        package var text: @Sendable (_ value: SQL, _ column: ColumnSchema) -> SQL

        package init(
            parameter: @escaping @Sendable (Int, ColumnSchema) -> SQL,
            differs: @escaping @Sendable (SQL, SQL, ColumnSchema) -> SQL,
            text: @escaping @Sendable (SQL, ColumnSchema) -> SQL
        ) {
            self.parameter = parameter
            self.differs = differs
            self.text = text
        }
    }

    package let plan: UpdatePlan
    package let dialect: Dialect
    /// The target table, schema-qualified.
    package let table: SQL
    package let keyNames: [SQL]
    package let setNames: [SQL]
    /// The names of the expected values in the relation of new values (``UpdatePlan/expectedName(_:)``).
    package let expectedNames: [SQL]
    /// Key names, set names, then expected names: the column order of every chunk.
    package let allNames: [SQL]
    /// `t."id" = u."id" AND …`
    package let match: SQL
    /// `"username" = u."username", …`
    package let assignments: SQL
    /// `t."username" IS DISTINCT FROM u."username" OR …`
    package let changed: SQL
    /// `NOT (t."version" IS DISTINCT FROM u."expected version") AND …`: the row still holds every expected value;
    /// `nil` without expected columns.
    package let expectationsHold: SQL?
    /// `CASE WHEN (<the caller's condition>) THEN 1 ELSE 0 END = 1` (true or false, never NULL); `nil` without one.
    package let conditionHolds: SQL?

    package init(plan: UpdatePlan, dialect: Dialect) {
        self.plan = plan
        self.dialect = dialect
        self.table = plan.table.name.sql
        self.keyNames = plan.keyColumns.map { .identifier($0.name) }
        self.setNames = plan.setColumns.map { .identifier($0.name) }
        self.expectedNames = plan.expectedColumns.indices.map { .identifier(plan.expectedName($0)) }
        self.allNames = self.keyNames + self.setNames + self.expectedNames
        self.match = .list(self.keyNames.map { "t.\($0) = u.\($0)" }, separator: " AND ")
        self.assignments = .list(self.setNames.map { "\($0) = u.\($0)" })
        self.changed = .list(
            zip(plan.setColumns, self.setNames).map { column, name in dialect.differs("t.\(name)", "u.\(name)", column)
            },
            separator: " OR "
        )
        let expected = zip(plan.expectedColumns, self.expectedNames).map { column, name -> SQL in
            "NOT (\(dialect.differs("t.\(SQL.identifier(column.name))", "u.\(name)", column)))"
        }
        self.expectationsHold = expected.isEmpty ? nil : .list(expected, separator: " AND ")
        // The caller's own SQL (BulkUpdateOptions.condition), documented as such, checked by SQLPredicate to keep
        // its parentheses inside these.
        self.conditionHolds = plan.options.condition.map { "CASE WHEN (\(SQL.unsafeRaw($0))) THEN 1 ELSE 0 END = 1" }
    }

    /// The conditions besides the key a row must meet to be written: the expected values and the caller's condition
    /// (`nil` when there are none).
    package var guards: SQL? {
        let conditions = [self.expectationsHold, self.conditionHolds].compactMap { $0 }
        return conditions.isEmpty ? nil : .list(conditions, separator: " AND ")
    }

    /// `UPDATE <table> AS t SET … FROM <source> WHERE <match>`, plus `AND (<changed>)` when
    /// `onlyChanged`.
    package func update(from source: SQL, onlyChanged: Bool) -> SQL {
        var sql: SQL = "UPDATE \(self.table) AS t SET \(self.assignments) FROM \(source) WHERE \(self.match)"
        if let guards = self.guards { sql += " AND \(guards)" }
        if onlyChanged { sql += " AND (\(self.changed))" }
        return sql
    }

    /// A relation `u` of `rows` rows of parameters, numbered row by row, key values first, each followed by its
    /// position when `ordinal` is set (see ``ordinalColumn``):
    /// `(SELECT column1 AS "id", column2 AS "username" FROM (VALUES (p1, p2), …) AS v) AS u`.
    package func valuesSource(rows: Int, ordinal: Bool = false) -> SQL {
        Self.relation(
            names: self.allNames + (ordinal ? [Self.ordinalName] : []),
            columns: self.plan.columns + (ordinal ? [Self.ordinalSchema] : []),
            rows: rows,
            dialect: self.dialect
        )
    }

    // MARK: Preview

    /// A dry run's counts for the rows of a source `u`: one row of integers (matched, would change, conflicting,
    /// skipped by the condition).
    package func previewCounts(from source: SQL) -> SQL {
        let condition = self.conditionHolds ?? "1 = 1"
        let expectations = self.expectationsHold ?? "1 = 1"
        func count(_ test: SQL) -> SQL { "coalesce(sum(CASE WHEN \(test) THEN 1 ELSE 0 END), 0)" }
        return "SELECT count(*), \(count("\(condition) AND \(expectations) AND (\(self.changed))")),"
            + " \(count("\(condition) AND NOT (\(expectations))")), \(count("NOT (\(condition))"))"
            + " FROM \(self.table) AS t JOIN \(source) ON \(self.match)"
    }

    /// The rows that meet the condition but not the expectations: the conflicts of a dry run.
    package var conflicting: SQL {
        "\(self.conditionHolds ?? "1 = 1") AND NOT (\(self.expectationsHold ?? "1 = 1"))"
    }

    /// The matched rows a write leaves alone: those that do not meet the guards, and with `onlyChanged` those whose
    /// values do not differ.
    package func leftAlone(onlyChanged: Bool) -> SQL {
        var written: [SQL] = self.guards.map { [$0] } ?? []
        if onlyChanged { written.append("(\(self.changed))") }
        return written.isEmpty ? "1 = 0" : "NOT (\(SQL.list(written, separator: " AND ")))"
    }

    /// The matched rows of a source `u` with an ``ordinalColumn`` that meet `filter`, each with what decides its
    /// fate: the position; whether the condition holds, the expected values hold, the values differ (1 or 0); the
    /// key values as text; then for each expected column whether it differs (1 or 0), the expected value and the
    /// row's, as text. Read by ``ClassifiedRow/init(cells:keyCount:expectedCount:)``.
    package func classification(from source: SQL, filter: SQL) -> SQL {
        func flag(_ test: SQL?) -> SQL { test.map { "CASE WHEN \($0) THEN 1 ELSE 0 END" } ?? "1" }
        var projection: [SQL] = [
            "u.\(Self.ordinalName)", flag(self.conditionHolds), flag(self.expectationsHold), flag("(\(self.changed))"),
        ]
        for (column, name) in zip(self.plan.keyColumns, self.keyNames) {
            projection.append(self.dialect.text("t.\(name)", column))
        }
        for (column, name) in zip(self.plan.expectedColumns, self.expectedNames) {
            let current: SQL = "t.\(SQL.identifier(column.name))"
            projection.append(flag(self.dialect.differs(current, "u.\(name)", column)))
            projection.append(self.dialect.text("u.\(name)", column))
            projection.append(self.dialect.text(current, column))
        }
        return "SELECT \(SQL.list(projection)) FROM \(self.table) AS t JOIN \(source) ON \(self.match) WHERE \(filter)"
    }

    /// Up to `limit` rows of a source `u` with an ``ordinalColumn`` whose values differ, in that column's order:
    /// the position, then for each set column whether it differs (1 or 0), its current value and its new one, both
    /// as text (see ``previewSample(key:flag:text:)``).
    package func previewSamples(from source: SQL, limit: Int) -> SQL {
        var projection: [SQL] = ["u.\(Self.ordinalName)"]
        for (column, name) in zip(self.plan.setColumns, self.setNames) {
            projection.append("CASE WHEN \(self.dialect.differs("t.\(name)", "u.\(name)", column)) THEN 1 ELSE 0 END")
            projection.append(self.dialect.text("t.\(name)", column))
            projection.append(self.dialect.text("u.\(name)", column))
        }
        let guards = self.guards.map { " AND \($0)" as SQL } ?? ""
        return "SELECT \(SQL.list(projection)) FROM \(self.table) AS t JOIN \(source) ON \(self.match)"
            + " WHERE (\(self.changed))\(guards) ORDER BY u.\(Self.ordinalName) LIMIT \(integer: limit)"
    }

    /// The differences of one row ``previewSamples(from:limit:)`` returned, read from its cells after the position
    /// (three per set column): `flag(i)` is whether cell `i` holds 1, `text(i)` its text.
    package func previewSample(key: String, flag: (Int) throws -> Bool, text: (Int) throws -> String?) rethrows
        -> [BulkUpdateReport.DiffSample]
    {
        var samples: [BulkUpdateReport.DiffSample] = []
        for (index, column) in self.plan.setColumns.enumerated() where try flag(1 + 3 * index) {
            samples.append(
                BulkUpdateReport.DiffSample(
                    key: key,
                    column: column.name,
                    current: try text(2 + 3 * index),
                    new: try text(3 + 3 * index)
                )
            )
        }
        return samples
    }

    /// A relation `u` of `rows` keys, numbered row by row, each followed by its position when `ordinal` is set
    /// (named `"bulk_update ordinal"`): `(SELECT column1 AS "id", column2 AS "bulk_update ordinal" FROM (VALUES
    /// (p1, p2), …) AS v) AS u`.
    package func keyValuesSource(rows: Int, ordinal: Bool) -> SQL {
        Self.relation(
            names: self.keyNames + (ordinal ? [Self.ordinalName] : []),
            columns: self.plan.keyColumns + (ordinal ? [Self.ordinalSchema] : []),
            rows: rows,
            dialect: self.dialect
        )
    }

    /// `(SELECT column1 AS name1, … FROM (VALUES (p1, …), …) AS v) AS u`: PostgreSQL and SQLite both name VALUES
    /// columns `column1…`, and SQLite takes no column list after an alias, so the names come from the SELECT.
    private static func relation(names: [SQL], columns: [ColumnSchema], rows: Int, dialect: Dialect) -> SQL {
        let projection = SQL.list(names.enumerated().map { "column\(integer: $0.offset + 1) AS \($0.element)" })
        var tuples = SQL(parts: [])
        for row in 0..<rows {
            if row > 0 { tuples += ", " }
            let values = columns.enumerated().map { index, column in
                dialect.parameter(row * columns.count + index + 1, column)
            }
            tuples += "(\(SQL.list(values)))"
        }
        return "(SELECT \(projection) FROM (VALUES \(tuples)) AS v) AS u"
    }

    /// The position column of ``keyValuesSource(rows:ordinal:)``, and of the not-found lookups.
    package static let ordinalColumn = "bulk_update ordinal"
    package static let ordinalName = SQL.identifier(Self.ordinalColumn)
    private static let ordinalSchema = ColumnSchema(
        name: Self.ordinalColumn,
        type: ColumnType(kind: .int64, sqlName: "int8"),
        isNullable: false
    )

    /// The statement Django's `bulk_update` sends, for `rows` rows of parameters numbered row by row (key values
    /// first): `UPDATE <table> SET c = CASE WHEN ("id" = p1) THEN p2 … ELSE c END WHERE "id" IN (p1, …)`.
    ///
    /// - Returns: The statement, and its `WHERE` condition (for counting matched rows).
    package func caseWhen(rows: Int, onlyChanged: Bool) -> (statement: SQL, filter: SQL) {
        let columns = self.plan.columns
        let width = columns.count
        let keyCount = self.keyNames.count
        func parameter(_ row: Int, _ column: Int) -> SQL {
            self.dialect.parameter(row * width + column + 1, columns[column])
        }
        var conditions: [SQL] = []
        var keyTuples: [SQL] = []
        conditions.reserveCapacity(rows)
        keyTuples.reserveCapacity(rows)
        for row in 0..<rows {
            let comparisons = (0..<keyCount).map { "\(self.keyNames[$0]) = \(parameter(row, $0))" as SQL }
            conditions.append("(\(SQL.list(comparisons, separator: " AND ")))")
            let keys = (0..<keyCount).map { parameter(row, $0) }
            keyTuples.append(keyCount == 1 ? keys[0] : "(\(SQL.list(keys)))")
        }
        var cases: [SQL] = []
        for (offset, name) in self.setNames.enumerated() {
            var sql: SQL = "CASE"
            for row in 0..<rows {
                sql += " WHEN \(conditions[row]) THEN \(parameter(row, keyCount + offset))"
            }
            cases.append(sql + " ELSE \(name) END")
        }
        let keyList: SQL = keyCount == 1 ? self.keyNames[0] : "(\(SQL.list(self.keyNames)))"
        let filter: SQL = "\(keyList) IN (\(SQL.list(keyTuples)))"
        let assignments = SQL.list(zip(self.setNames, cases).map { "\($0) = \($1)" as SQL })
        var statement: SQL = "UPDATE \(self.table) SET \(assignments) WHERE \(filter)"
        if onlyChanged {
            let changed = self.plan.setColumns.indices.map { index in
                self.dialect.differs(self.setNames[index], "(\(cases[index]))", self.plan.setColumns[index])
            }
            statement += " AND (\(SQL.list(changed, separator: " OR ")))"
        }
        return (statement, filter)
    }

    /// Rows per statement for strategies with one parameter per value, under `maximumParameters`.
    package func rowsPerStatement(maximumParameters: Int) -> Int {
        max(1, maximumParameters / self.plan.columns.count)
    }
}
