/// Rows a validation pass checked and kept, for a run that writes them without reading or checking them again: the
/// pass's batches of typed columns, in input order, and the input's digest.
package struct CheckedRows: Sendable {
    /// The checked rows, in batches in input order; empty when the pass did not keep them.
    package var batches: [Chunk]
    /// The input as a journal remembers it (see ``ValidationPass/digest``); `nil` when the run keeps no journal.
    package var digest: String?
    /// Rows read.
    package var count: Int
    /// Whether ``batches`` holds every row read.
    package var isKept: Bool
}

/// What the router reads: rows to check, or rows a validation pass checked and kept.
enum RowInput<Rows: AsyncSequence> where Rows.Element == BulkUpdateRow {
    case rows(Rows)
    case checked([Chunk])
}
