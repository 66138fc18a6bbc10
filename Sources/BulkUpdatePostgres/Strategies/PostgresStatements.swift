import BulkUpdate
import PostgresNIO

/// The SQL of one run, built once from the checked plan. Identifiers come only from the catalog and pass
/// ``SQLIdentifier/quote(_:)``; every value is a parameter.
struct PostgresStatements: Sendable {
    /// PostgreSQL's limit on parameters in one statement.
    static let maximumParameters = 65_535
    /// How many keys a not-found lookup reports per chunk.
    static let notFoundExampleLimit = 10

    let plan: UpdatePlan
    let table: String
    let keyNames: [String]
    let setNames: [String]
    let allNames: [String]
    let casts: [String]
    /// `t."id" = u."id" AND …`
    let match: String
    /// `"username" = u."username", …`
    let assignments: String
    /// `t."username" IS DISTINCT FROM u."username" OR …`
    let distinct: String

    init(plan: UpdatePlan) {
        self.plan = plan
        self.table = plan.table.name.quoted
        self.keyNames = plan.keyColumns.map { SQLIdentifier.quote($0.name) }
        self.setNames = plan.setColumns.map { SQLIdentifier.quote($0.name) }
        self.allNames = self.keyNames + self.setNames
        self.casts = plan.columns.map(\.type.sqlName)
        self.match = self.keyNames.map { "t.\($0) = u.\($0)" }.joined(separator: " AND ")
        self.assignments = self.setNames.map { "\($0) = u.\($0)" }.joined(separator: ", ")
        self.distinct = zip(plan.setColumns, self.setNames).map { column, name in
            // json has no equality operator; compare its text, which is what would be stored.
            column.type.kind == .json
                ? "t.\(name)::text IS DISTINCT FROM u.\(name)::text" : "t.\(name) IS DISTINCT FROM u.\(name)"
        }.joined(separator: " OR ")
    }

    /// `unnest($1::integer[], $2::character varying[]) AS u("id", "username")`
    var unnestSource: String {
        let arrays = self.casts.enumerated().map { "$\($0.offset + 1)::\($0.element)[]" }.joined(separator: ", ")
        return "unnest(\(arrays)) AS u(\(self.allNames.joined(separator: ", ")))"
    }

    /// `(VALUES ($1::integer, $2::text), …) AS u("id", "username")` for `rows` rows.
    func valuesSource(rows: Int) -> String {
        let width = self.casts.count
        var text = "(VALUES "
        text.reserveCapacity(rows * width * 16 + 64)
        for row in 0..<rows {
            if row > 0 { text += ", " }
            text += "("
            for column in 0..<width {
                if column > 0 { text += ", " }
                text += "$\(row * width + column + 1)::\(self.casts[column])"
            }
            text += ")"
        }
        return text + ") AS u(\(self.allNames.joined(separator: ", ")))"
    }

    /// The UPDATE over a source relation `u`. Plain: its command tag counts matched rows. With `skipUnchanged`:
    /// one row (changed, matched).
    func update(from source: String) -> String {
        if self.plan.options.skipUnchanged {
            return "WITH u AS (SELECT * FROM \(source)), "
                + "w AS (UPDATE \(self.table) AS t SET \(self.assignments) FROM u WHERE \(self.match)"
                + " AND (\(self.distinct)) RETURNING 1) "
                + "SELECT (SELECT count(*) FROM w)::int8, "
                + "(SELECT count(*) FROM \(self.table) AS t JOIN u ON \(self.match))::int8"
        }
        return "UPDATE \(self.table) AS t SET \(self.assignments) FROM \(source) WHERE \(self.match)"
    }

    /// The statement Django's `bulk_update` sends, for `rows` rows whose parameters are numbered row by row,
    /// key values first: `SET c = CASE WHEN ("id" = $1) THEN $2 … ELSE c END WHERE "id" IN ($1, …)`.
    func caseWhen(rows: Int) -> String {
        let width = self.casts.count
        let keyCount = self.keyNames.count
        func parameter(_ row: Int, _ column: Int) -> String { "$\(row * width + column + 1)::\(self.casts[column])" }
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
            let column = keyCount + offset
            var text = "CASE"
            text.reserveCapacity(rows * 40)
            for row in 0..<rows {
                text += " WHEN \(conditions[row]) THEN \(parameter(row, column))"
            }
            text += " ELSE \(name) END"
            cases.append(text)
        }
        let keyList = keyCount == 1 ? self.keyNames[0] : "(" + self.keyNames.joined(separator: ", ") + ")"
        let filter = "\(keyList) IN (\(keyTuples.joined(separator: ", ")))"
        let assignments = zip(self.setNames, cases).map { "\($0) = \($1)" }.joined(separator: ", ")
        if self.plan.options.skipUnchanged {
            let changed = zip(self.setNames, cases).map { name, value in
                let kind = self.plan.setColumns[self.setNames.firstIndex(of: name)!].type.kind
                return kind == .json ? "\(name)::text IS DISTINCT FROM (\(value))::text" : "\(name) IS DISTINCT FROM \(value)"
            }.joined(separator: " OR ")
            return "WITH w AS (UPDATE \(self.table) SET \(assignments) WHERE \(filter) AND (\(changed)) RETURNING 1) "
                + "SELECT (SELECT count(*) FROM w)::int8, (SELECT count(*) FROM \(self.table) WHERE \(filter))::int8"
        }
        return "UPDATE \(self.table) SET \(assignments) WHERE \(filter)"
    }

    /// Positions (from 1) of up to ``notFoundExampleLimit`` chunk keys that have no row; binds the key arrays.
    var notFoundLookup: String {
        let arrays = self.casts.prefix(self.keyNames.count).enumerated()
            .map { "$\($0.offset + 1)::\($0.element)[]" }.joined(separator: ", ")
        let ordinal = SQLIdentifier.quote("bulk_update ordinal")
        return "SELECT u.\(ordinal)::int8 FROM unnest(\(arrays)) WITH ORDINALITY AS u(\(self.keyNames.joined(separator: ", ")), \(ordinal))"
            + " WHERE NOT EXISTS (SELECT 1 FROM \(self.table) AS t WHERE \(self.match))"
            + " ORDER BY u.\(ordinal) LIMIT \(Self.notFoundExampleLimit)"
    }

    /// Rows per statement for strategies with one parameter per value.
    var rowsPerStatement: Int { max(1, Self.maximumParameters / self.casts.count) }

    // MARK: Binds

    func arrayBinds(_ chunk: Chunk, columns: Range<Int>? = nil) -> PostgresBindings {
        let range = columns ?? 0..<chunk.columns.count
        var bindings = PostgresBindings(capacity: range.count)
        for column in range {
            bindings.append(PostgresArrayBind(values: chunk.columns[column], kind: self.plan.columns[column].type.kind))
        }
        return bindings
    }

    func cellBinds(_ chunk: Chunk, rows: Range<Int>) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: rows.count * chunk.columns.count)
        for row in rows {
            for column in chunk.columns.indices {
                bindings.appendCell(chunk.columns[column], at: row, kind: self.plan.columns[column].type.kind)
            }
        }
        return bindings
    }
}
