import BulkUpdate
import SQLiteNIO

/// What a running run's monitor asks SQLite: the heartbeat in the runs table and the caller's pause query, each
/// between chunks on the one connection (through the writer's lock).
struct SQLiteRunProbe: RunProbe {
    let connection: SQLiteConnection
    let lock: AsyncLock
    let journal: RunJournal?
    let pauseQuery: String?

    // See `RunProbe.exchange(_:)`.
    func exchange(_ heartbeat: RunHeartbeat) async throws -> RunRequest? {
        guard let journal else { return nil }
        let binds: [SQLiteData] = [
            .text(journal.runID), .text(RunJournal.now()), .text(heartbeat.state),
            heartbeat.pauses.map { .text($0) } ?? .null, .float(heartbeat.rowsPerSecond),
            heartbeat.rowsTotal.map { .integer($0) } ?? .null,
        ]
        let rows = try await self.lock.withLock {
            try await self.connection.execute(journal.heartbeat, binds)
        }
        return rows.first.map { row in
            RunRequest(
                state: row.column("requested_state")?.string,
                maximumRowsPerSecond: row.column("max_rows_per_second")?.integer,
                targetChunkSeconds: row.column("target_chunk_seconds")?.double
            )
        }
    }

    // See `RunProbe.pauseWhen()`.
    func pauseWhen() async throws -> Bool {
        guard let pauseQuery else { return false }
        return try await self.lock.withLock { try await Self.pauseWhen(pauseQuery, on: self.connection) }
    }

    /// Runs the caller's pause query in a transaction that is rolled back, so nothing it might do is kept.
    ///
    /// - Throws: ``BulkUpdateError`` when it fails or does not return one row with one non-NULL boolean (an integer,
    ///   as SQLite has no boolean type).
    static func pauseWhen(_ query: String, on connection: SQLiteConnection) async throws -> Bool {
        try await connection.execute("BEGIN")
        do {
            // The caller's own SQL, documented as such (BulkUpdateOptions.pauseWhen).
            let rows = try await connection.execute(SQL.unsafeRaw(query))
            try await connection.execute("ROLLBACK")
            guard rows.count == 1, let value = rows.first?.columns.first?.data.integer else {
                throw BulkUpdateError(
                    .configuration,
                    "the pause-when query must return one row whose first column is a boolean (0 or 1, not NULL);"
                        + " it returned \(rows.count) row\(rows.count == 1 ? "" : "s")"
                )
            }
            return value != 0
        } catch {
            _ = try? await connection.execute("ROLLBACK")
            throw BulkUpdateError.optionError(SQLiteErrors.map(error, doing: "the pause-when query"))
        }
    }

    // See `RunProbe.replicaLags()`: SQLite has no standbys (``SQLiteBackend/resolve(_:logger:)`` refuses the limit).
    func replicaLags() async throws -> [(standby: String, seconds: Double?)] { [] }
}
