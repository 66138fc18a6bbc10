/// What the monitor of a running run asks the database between chunks. Implemented by the backends.
package protocol RunProbe: Sendable {
    /// Records the run's heartbeat and state in the runs table and reads what was asked of the run there
    /// (`bulk-update runs pause|continue|stop|set`); `nil` when the run keeps no journal.
    func exchange(_ heartbeat: RunHeartbeat) async throws -> RunRequest?

    /// Runs ``BulkUpdateOptions/pauseWhen``: whether the run should pause.
    func pauseWhen() async throws -> Bool

    /// The replay lag of every watched standby, in seconds (`nil`: not known, for example a standby that stopped
    /// streaming).
    func replicaLags() async throws -> [(standby: String, seconds: Double?)]
}

/// What a running run writes into its row of the runs table.
package struct RunHeartbeat: Sendable {
    package var state: String
    package var pauses: String?
    package var rowsPerSecond: Double
    package var rowsTotal: Int?
}

/// What the runs table asks of a running run.
package struct RunRequest: Sendable, Equatable {
    /// `running`, `paused` or `stopped`: the state asked for by `bulk-update runs continue|pause|stop`.
    package var state: String?
    /// The rate limit asked for by `bulk-update runs set`; `nil` for none.
    package var maximumRowsPerSecond: Int?
    /// The chunk target asked for by `bulk-update runs set`, in seconds.
    package var targetChunkSeconds: Double?

    package init(state: String?, maximumRowsPerSecond: Int?, targetChunkSeconds: Double? = nil) {
        self.state = state
        self.maximumRowsPerSecond = maximumRowsPerSecond
        self.targetChunkSeconds = targetChunkSeconds
    }
}
