/// How far a run has come, passed to ``BulkUpdateOptions/onProgress`` after every committed chunk, and about once a
/// second while the run is paused or watched (``BulkUpdateOptions/healthCheckInterval``).
public struct BulkUpdateProgress: Sendable, Equatable {
    /// What a run is doing.
    public enum State: String, Sendable, Equatable, Codable {
        /// Writing chunks.
        case running
        /// Starting no chunk until every pause cause is gone (see ``BulkUpdateProgress/pauses``).
        case paused
        /// A stop was asked for: chunks in flight finish, no new one starts.
        case stopping
    }

    /// Input rows read and routed to workers so far.
    public var rowsRead: Int
    /// Input rows in committed chunks (after duplicates within a chunk were removed).
    public var rowsCommitted: Int
    /// Chunks committed.
    public var chunks: Int
    /// Seconds since the run started.
    public var elapsedSeconds: Double
    /// Running, paused or stopping. Defaults to ``State/running``.
    public var state: State = .running
    /// Why the run is paused, one entry per cause (`replica lag: standby s1 is 12.3 s behind`); empty when it is not.
    public var pauses: [String] = []
    /// The largest replay lag of the watched standbys at the last check, in seconds; `nil` when none is watched.
    public var replicaLagSeconds: Double?
    /// Seconds the run has been paused so far, for any cause (overlapping causes counted once each).
    public var pausedSeconds: Double = 0

    package init(rowsRead: Int, rowsCommitted: Int, chunks: Int, elapsedSeconds: Double) {
        self.rowsRead = rowsRead
        self.rowsCommitted = rowsCommitted
        self.chunks = chunks
        self.elapsedSeconds = elapsedSeconds
    }
}
