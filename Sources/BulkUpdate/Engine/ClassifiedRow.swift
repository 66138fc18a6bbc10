/// One matched row of a guarded chunk that was not written, as ``UpdateSQL/classification(from:filter:)`` reads it:
/// why it was left alone.
package struct ClassifiedRow: Sendable {
    /// One expected column of the row.
    package struct Expected: Sendable {
        package var differs: Bool
        package var expected: String?
        package var actual: String?

        package init(differs: Bool, expected: String?, actual: String?) {
            self.differs = differs
            self.expected = expected
            self.actual = actual
        }
    }

    /// The row's position in its chunk, as the statement's source numbered it.
    package var position: Int
    package var conditionHolds: Bool
    package var expectationsHold: Bool
    /// Whether the new values differ from the row's.
    package var differs: Bool
    /// The key values as text.
    package var keyValues: [String?]
    package var expected: [Expected]

    package init(
        position: Int,
        conditionHolds: Bool,
        expectationsHold: Bool,
        differs: Bool,
        keyValues: [String?],
        expected: [Expected]
    ) {
        self.position = position
        self.conditionHolds = conditionHolds
        self.expectationsHold = expectationsHold
        self.differs = differs
        self.keyValues = keyValues
        self.expected = expected
    }

    /// Reads a row from its cells: `flag(i)` is whether cell `i` holds 1, `text(i)` its text.
    package init(
        keyCount: Int,
        expectedCount: Int,
        position: Int,
        flag: (Int) throws -> Bool,
        text: (Int) throws -> String?
    ) rethrows {
        self.position = position
        self.conditionHolds = try flag(1)
        self.expectationsHold = try flag(2)
        self.differs = try flag(3)
        self.keyValues = try (0..<keyCount).map { try text(4 + $0) }
        self.expected = try (0..<expectedCount).map { index in
            let cell = 4 + keyCount + 3 * index
            return Expected(differs: try flag(cell), expected: try text(cell + 1), actual: try text(cell + 2))
        }
    }
}

extension ClassifiedRow {
    /// Whether the row meets every condition of the write now, yet was not written: another session changed it
    /// while the write ran.
    package func isRaced(skipUnchanged: Bool) -> Bool {
        self.conditionHolds && self.expectationsHold && (self.differs || !skipUnchanged)
    }
}

extension ChunkOutcome {
    /// Counts a matched row the chunk's statement left alone: skipped by the condition, a conflict (one
    /// ``BulkUpdateConflict`` per expected column that differs), or unchanged. A row that meets every condition now
    /// but was not written was changed by another session while its chunk was written (its values then held
    /// neither what the condition nor what the expectations ask): counted as skipped by the condition when there is
    /// no expected column, else as a conflict on every expected column.
    ///
    /// - Parameter key: The row's key as reports show it.
    package mutating func count(_ row: ClassifiedRow, key: String, plan: UpdatePlan) {
        self.matched += 1
        if !row.conditionHolds {
            self.skippedByCondition += 1
            return
        }
        if row.expectationsHold && !row.differs && plan.options.skipUnchanged { return }  // unchanged
        // Meets every condition now, yet was not written: changed while the chunk was written.
        let raced = row.expectationsHold
        if raced && plan.expectedColumns.isEmpty {
            self.skippedByCondition += 1
            return
        }
        self.conflicting += 1
        self.conflicts += row.conflicts(key: key, plan: plan)
    }
}

extension ClassifiedRow {
    /// The row's conflicts, one per expected column that differs (every expected column when the row meets every
    /// condition now, yet was not written: see ``isRaced(skipUnchanged:)``).
    ///
    /// - Parameter key: The row's key as reports show it.
    package func conflicts(key: String, plan: UpdatePlan) -> [BulkUpdateConflict] {
        zip(plan.expectedColumns, self.expected).compactMap { column, expected in
            guard expected.differs || self.expectationsHold else { return nil }
            return BulkUpdateConflict(
                key: key,
                keyValues: self.keyValues,
                column: column.name,
                expected: expected.expected,
                actual: expected.actual
            )
        }
    }
}
