/// The parts of an update statement every SQL backend shares, built once per run from the checked plan.
///
/// Identifiers come only from the catalog and pass ``SQLIdentifier/quote(_:)``; every value is a parameter
/// written by the backend's ``Dialect``. The target is aliased `t`, the new values `u`.
package struct UpdateSQL: Sendable {
    /// How a backend writes what differs between SQL dialects.
    package struct Dialect: Sendable {
        /// The parameter for value number `number` (from 1) of `column`: `$3::integer`, `?3`.
        package var parameter: @Sendable (_ number: Int, _ column: ColumnSchema) -> String
        /// A null-safe "differs" test between two expressions of `column`'s type.
        package var differs: @Sendable (_ lhs: String, _ rhs: String, _ column: ColumnSchema) -> String

        package init(
            parameter: @escaping @Sendable (Int, ColumnSchema) -> String,
            differs: @escaping @Sendable (String, String, ColumnSchema) -> String
        ) {
            self.parameter = parameter
            self.differs = differs
        }
    }

    package let plan: UpdatePlan
    package let dialect: Dialect
    /// The target table, quoted and schema-qualified.
    package let table: String
    package let keyNames: [String]
    package let setNames: [String]
    /// Key names then set names, quoted: the column order of every chunk.
    package let allNames: [String]
    /// `t."id" = u."id" AND …`
    package let match: String
    /// `"username" = u."username", …`
    package let assignments: String
    /// `t."username" IS DISTINCT FROM u."username" OR …`
    package let changed: String

    package init(plan: UpdatePlan, dialect: Dialect) {
        self.plan = plan
        self.dialect = dialect
        self.table = plan.table.name.quoted
        self.keyNames = plan.keyColumns.map { SQLIdentifier.quote($0.name) }
        self.setNames = plan.setColumns.map { SQLIdentifier.quote($0.name) }
        self.allNames = self.keyNames + self.setNames
        self.match = self.keyNames.map { "t.\($0) = u.\($0)" }.joined(separator: " AND ")
        self.assignments = self.setNames.map { "\($0) = u.\($0)" }.joined(separator: ", ")
        self.changed = zip(plan.setColumns, self.setNames).map { column, name in
            dialect.differs("t.\(name)", "u.\(name)", column)
        }.joined(separator: " OR ")
    }

    /// `UPDATE <table> AS t SET … FROM <source> WHERE <match>`, plus `AND (<changed>)` when
    /// `onlyChanged`.
    package func update(from source: String, onlyChanged: Bool) -> String {
        var text = "UPDATE \(self.table) AS t SET \(self.assignments) FROM \(source) WHERE \(self.match)"
        if onlyChanged { text += " AND (\(self.changed))" }
        return text
    }

    /// A relation `u` of `rows` rows of parameters, numbered row by row, key values first:
    /// `(SELECT column1 AS "id", column2 AS "username" FROM (VALUES (p1, p2), …) AS v) AS u`.
    package func valuesSource(rows: Int) -> String {
        Self.relation(names: self.allNames, columns: self.plan.columns, rows: rows, dialect: self.dialect)
    }

    /// A relation `u` of `rows` keys, numbered row by row, each followed by its position when `ordinal` is set
    /// (named `"bulk_update ordinal"`): `(SELECT column1 AS "id", column2 AS "bulk_update ordinal" FROM (VALUES
    /// (p1, p2), …) AS v) AS u`.
    package func keyValuesSource(rows: Int, ordinal: Bool) -> String {
        let ordinalColumn = ColumnSchema(
            name: "bulk_update ordinal",
            type: ColumnType(kind: .int64, sqlName: "int8"),
            isNullable: false
        )
        return Self.relation(
            names: self.keyNames + (ordinal ? [Self.ordinalName] : []),
            columns: self.plan.keyColumns + (ordinal ? [ordinalColumn] : []),
            rows: rows,
            dialect: self.dialect
        )
    }

    /// `(SELECT column1 AS name1, … FROM (VALUES (p1, …), …) AS v) AS u`: PostgreSQL and SQLite both name VALUES
    /// columns `column1…`, and SQLite takes no column list after an alias, so the names come from the SELECT.
    private static func relation(names: [String], columns: [ColumnSchema], rows: Int, dialect: Dialect) -> String {
        var text = "(SELECT "
        text += names.enumerated().map { "column\($0.offset + 1) AS \($0.element)" }.joined(separator: ", ")
        text += " FROM (VALUES "
        text.reserveCapacity(rows * columns.count * 16 + 128)
        for row in 0..<rows {
            if row > 0 { text += ", " }
            text += "("
            for (index, column) in columns.enumerated() {
                if index > 0 { text += ", " }
                text += dialect.parameter(row * columns.count + index + 1, column)
            }
            text += ")"
        }
        return text + ") AS v) AS u"
    }

    /// The quoted name of the position column of ``keyValuesSource(rows:ordinal:)``.
    package static let ordinalName = SQLIdentifier.quote("bulk_update ordinal")

    /// The statement Django's `bulk_update` sends, for `rows` rows of parameters numbered row by row (key values
    /// first): `UPDATE <table> SET c = CASE WHEN ("id" = p1) THEN p2 … ELSE c END WHERE "id" IN (p1, …)`.
    ///
    /// - Returns: The statement, and its `WHERE` condition (for counting matched rows).
    package func caseWhen(rows: Int, onlyChanged: Bool) -> (statement: String, filter: String) {
        let columns = self.plan.columns
        let width = columns.count
        let keyCount = self.keyNames.count
        func parameter(_ row: Int, _ column: Int) -> String {
            self.dialect.parameter(row * width + column + 1, columns[column])
        }
        var conditions: [String] = []
        var keyTuples: [String] = []
        conditions.reserveCapacity(rows)
        keyTuples.reserveCapacity(rows)
        for row in 0..<rows {
            let comparisons = (0..<keyCount).map { "\(self.keyNames[$0]) = \(parameter(row, $0))" }
            conditions.append("(" + comparisons.joined(separator: " AND ") + ")")
            let keys = (0..<keyCount).map { parameter(row, $0) }
            keyTuples.append(keyCount == 1 ? keys[0] : "(" + keys.joined(separator: ", ") + ")")
        }
        var cases: [String] = []
        for (offset, name) in self.setNames.enumerated() {
            var text = "CASE"
            text.reserveCapacity(rows * 40)
            for row in 0..<rows {
                text += " WHEN \(conditions[row]) THEN \(parameter(row, keyCount + offset))"
            }
            cases.append(text + " ELSE \(name) END")
        }
        let keyList = keyCount == 1 ? self.keyNames[0] : "(" + self.keyNames.joined(separator: ", ") + ")"
        let filter = "\(keyList) IN (\(keyTuples.joined(separator: ", ")))"
        let assignments = zip(self.setNames, cases).map { "\($0) = \($1)" }.joined(separator: ", ")
        var statement = "UPDATE \(self.table) SET \(assignments) WHERE \(filter)"
        if onlyChanged {
            let changed = self.plan.setColumns.indices.map { index in
                self.dialect.differs(self.setNames[index], "(\(cases[index]))", self.plan.setColumns[index])
            }.joined(separator: " OR ")
            statement += " AND (\(changed))"
        }
        return (statement, filter)
    }

    /// Rows per statement for strategies with one parameter per value, under `maximumParameters`.
    package func rowsPerStatement(maximumParameters: Int) -> Int {
        max(1, maximumParameters / self.plan.columns.count)
    }
}
