/// Checks one input row against the plan and converts it to cells.
enum RowChecker {
    static func check(
        _ row: BulkUpdateRow,
        line: Int,
        plan: UpdatePlan,
        into cells: inout [Cell]
    ) throws(BulkUpdateError) {
        let columns = plan.columns
        guard row.values.count == columns.count else {
            throw BulkUpdateError(
                .input,
                "row has \(row.values.count) value(s), expected \(columns.count):"
                    + " \(columns.map(\.name).joined(separator: ", "))",
                inputLine: line
            )
        }
        cells.removeAll(keepingCapacity: true)
        let keyCount = plan.keyColumns.count
        // By index: binding each ColumnSchema to a local copies its strings and arrays, a retain and release each,
        // for every value of every row.
        for index in columns.indices {
            let value = row.values[index]
            let cell: Cell
            do {
                // Through the buffer: `columns[index].type` was still copied for the call (a retain and a release of
                // each of its strings, per value).
                cell = try columns.withUnsafeBufferPointer { buffer throws(CellError) in
                    try buffer[index].type.cell(for: value)
                }
            } catch {
                let column = columns[index]
                throw BulkUpdateError(
                    .input,
                    "value \(value) does not fit column \"\(column.name)\" (\(column.type.displayName)): \(error.reason)",
                    inputLine: line,
                    column: column.name
                )
            }
            if case .null = cell {
                let column = columns[index]
                if index < keyCount {
                    throw BulkUpdateError(
                        .input,
                        "key column \"\(column.name)\" is NULL; every row needs a key",
                        inputLine: line,
                        column: column.name
                    )
                }
                if !column.isNullable {
                    throw BulkUpdateError(
                        .input,
                        "NULL given for column \"\(column.name)\", which is NOT NULL",
                        inputLine: line,
                        column: column.name,
                        key: Self.renderKey(cells, plan: plan)
                    )
                }
            }
            cells.append(cell)
        }
    }

    static func duplicate(cells: [Cell], plan: UpdatePlan, earlierLine: Int, line: Int) -> BulkUpdateError {
        let key = Self.renderKey(cells, plan: plan)
        return BulkUpdateError(
            .duplicateKey,
            "key \(key) appears more than once in the input (input lines \(earlierLine) and \(line))",
            inputLine: line,
            key: key
        )
    }

    static func renderKey(_ cells: [Cell], plan: UpdatePlan) -> String {
        Cell.renderKey(cells.prefix(plan.keyColumns.count))
    }
}

extension UpdatePlan {
    /// Renders a key given as the text forms of its key columns (as the database prints them), the way reports
    /// render keys: `42`, `'abc'`, `(1, 'a')`. A value that does not parse is shown as quoted text.
    package func renderKey(text values: [String?]) -> String {
        let cells = zip(self.keyColumns, values).map { column, text -> Cell in
            guard let text else { return .null }
            return (try? column.type.cell(for: .string(text))) ?? .text(text)
        }
        return RowChecker.renderKey(cells, plan: self)
    }
}
