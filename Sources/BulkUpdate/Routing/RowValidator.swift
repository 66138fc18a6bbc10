/// Checks rows against a plan without writing anything: every value against its column, and repeated keys when
/// the policy is ``BulkUpdateOptions/DuplicateKeyPolicy/error`` (by 64-bit key fingerprint).
package struct RowValidator {
    package let plan: UpdatePlan
    private var cells: [Cell] = []
    private var seen: [UInt64: Int] = [:]

    package init(plan: UpdatePlan) {
        self.plan = plan
        self.cells.reserveCapacity(plan.columns.count)
    }

    /// Checks one row; `line` is where it came from, for the error.
    package mutating func check(_ row: BulkUpdateRow, line: Int) throws(BulkUpdateError) {
        _ = try self.checkedCells(row, line: line)
    }

    /// Checks one row and returns its values as the chunk will store them.
    package mutating func checkedCells(_ row: BulkUpdateRow, line: Int) throws(BulkUpdateError) -> [Cell] {
        // The buffer is taken out of `self` while it is filled: passing `&self.cells` beside `self.plan` made every
        // call copy the plan (and retain and release each column's type).
        var cells = self.cells
        self.cells = []
        defer { self.cells = cells }
        try RowChecker.check(row, line: line, plan: self.plan, into: &cells)
        if self.plan.options.duplicateKeys == .error {
            let hash = KeyHash.hash(cells[0..<self.plan.keyColumns.count])
            if let earlier = self.seen.updateValue(line, forKey: hash) {
                throw RowChecker.duplicate(cells: cells, plan: self.plan, earlierLine: earlier, line: line)
            }
        }
        return cells
    }
}
