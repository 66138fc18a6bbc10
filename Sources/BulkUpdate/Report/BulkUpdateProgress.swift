/// How far a run has come, passed to ``BulkUpdateOptions/onProgress`` after every committed chunk.
public struct BulkUpdateProgress: Sendable, Equatable {
    /// Input rows read and routed to workers so far.
    public var rowsRead: Int
    /// Input rows in committed chunks (after duplicates within a chunk were removed).
    public var rowsCommitted: Int
    /// Chunks committed.
    public var chunks: Int
    /// Seconds since the run started.
    public var elapsedSeconds: Double

    package init(rowsRead: Int, rowsCommitted: Int, chunks: Int, elapsedSeconds: Double) {
        self.rowsRead = rowsRead
        self.rowsCommitted = rowsCommitted
        self.chunks = chunks
        self.elapsedSeconds = elapsedSeconds
    }
}
