import BulkUpdate
import Logging
import PostgresNIO

/// What a running run's monitor asks PostgreSQL: the heartbeat in the runs table, the caller's pause query, the
/// replica lag (from the standbys given as URLs, else from `pg_stat_replication` on the primary).
struct PostgresRunProbe: RunProbe {
    let connections: PostgresConnections
    let options: BulkUpdateOptions
    let journal: RunJournal?
    let standbys: PostgresStandbys?
    /// The standbys `pg_stat_replication` showed before the run began: one that leaves it while the run goes is a
    /// standby whose lag is no longer known.
    let streaming: [String]
    let logger: Logger

    /// Statements of the monitor are small; they get a short deadline of their own, whatever the statement timeout.
    static let timeout = Duration.seconds(10)

    // See `RunProbe.exchange(_:)`.
    func exchange(_ heartbeat: RunHeartbeat) async throws -> RunRequest? {
        guard let journal else { return nil }
        var binds = PostgresBindings(capacity: 6)
        binds.append(journal.runID)
        binds.append(RunJournal.now())
        binds.append(heartbeat.state)
        binds.append(heartbeat.pauses)
        binds.append(heartbeat.rowsPerSecond)
        binds.append(heartbeat.rowsTotal.map(Int64.init))
        return try await self.connections.withDeadlineConnection(statementTimeout: Self.timeout, logger: self.logger) {
            db in
            for row in try await db.query(journal.heartbeat, binds).rows {
                let (state, rate, target) = try row.decode((String?, Int64?, Double?).self)
                return RunRequest(state: state, maximumRowsPerSecond: rate.map(Int.init), targetChunkSeconds: target)
            }
            return nil
        }
    }

    // See `RunProbe.pauseWhen()`.
    func pauseWhen() async throws -> Bool {
        guard let query = self.options.pauseWhen else { return false }
        return try await self.connections.withDeadlineConnection(statementTimeout: Self.timeout, logger: self.logger) {
            db in try await Self.pauseWhen(query, on: db)
        }
    }

    /// Runs the caller's pause query in a read-only transaction, so that it cannot write even by mistake.
    ///
    /// - Throws: ``BulkUpdateError`` when it fails or does not return one row with one non-NULL boolean.
    static func pauseWhen(_ query: String, on db: DeadlineConnection) async throws -> Bool {
        _ = try await db.control("BEGIN TRANSACTION READ ONLY" as SQL)
        do {
            // The server ends a query that takes longer than the monitor's own statements may.
            let limit = Int(BulkUpdateEngine.seconds(Self.timeout) * 1000)
            _ = try await db.control(
                "SELECT pg_catalog.set_config('statement_timeout', \(literal: String(limit)), true)"
            )
            // The caller's own SQL, documented as such (BulkUpdateOptions.pauseWhen), in a read-only transaction.
            let rows = try await db.query(SQL.unsafeRaw(query)).rows
            _ = try await db.control("COMMIT" as SQL)
            guard rows.count == 1, let row = rows.first, row.count == 1, let value = try? row.decode(Bool?.self) else {
                throw BulkUpdateError(
                    .configuration,
                    "the pause-when query must return one row with one boolean that is not NULL;"
                        + " it returned \(rows.count) row\(rows.count == 1 ? "" : "s")"
                        + (rows.count == 1 ? " that is not one boolean (or is NULL)" : "")
                )
            }
            return value
        } catch {
            _ = try? await db.control("ROLLBACK" as SQL)
            if let error = error as? PSQLError, error.serverInfo?[.sqlState] == "57014" {
                throw BulkUpdateError(
                    .configuration,
                    "the pause-when query did not answer within \(Self.timeout); it runs every --check-interval"
                        + " (healthCheckInterval) and must be quick"
                )
            }
            throw BulkUpdateError.optionError(PostgresErrors.map(error, doing: "the pause-when query"))
        }
    }

    // See `RunProbe.replicaLags()`.
    func replicaLags() async throws -> [(standby: String, seconds: Double?)] {
        if let standbys { return await standbys.lags() }
        let reported = try await self.connections.withDeadlineConnection(
            statementTimeout: Self.timeout,
            logger: self.logger
        ) { db in try await Self.streamingLags(on: db) }
        var lags = reported.map { (standby: $0.standby, seconds: $0.seconds) }
        for name in self.streaming where !reported.contains(where: { $0.standby == name }) {
            lags.append((standby: name, seconds: nil))
        }
        return lags
    }

    /// Each standby streaming from the server, as `application_name@address`, with its replay lag: `replay_lag`
    /// (which keeps growing while a standby's replay is stuck), zero when the standby has replayed all that was sent,
    /// and unknown while it is not streaming.
    static func streamingLags(on db: DeadlineConnection) async throws -> [(standby: String, seconds: Double?)] {
        let query: SQL = """
            SELECT coalesce(nullif(application_name, ''), 'pid ' || pid::text) || '@'
                       || coalesce(host(client_addr), 'local'),
                   CASE WHEN state <> 'streaming' THEN NULL
                        WHEN replay_lag IS NOT NULL THEN extract(epoch FROM replay_lag)::float8
                        WHEN replay_lsn IS NOT DISTINCT FROM sent_lsn THEN 0::float8 END
            FROM pg_catalog.pg_stat_replication ORDER BY 1
            """
        return try await db.query(query).rows.map { row in
            let (name, seconds) = try row.decode((String, Double?).self)
            return (standby: name, seconds: seconds)
        }
    }

    /// Checked before the first write: the role may read the standbys' positions, at least one standby streams,
    /// and the pause query runs and returns a boolean.
    ///
    /// - Returns: The standbys streaming from the server (when no standby URLs were given).
    static func preflight(_ options: BulkUpdateOptions, on db: DeadlineConnection) async throws -> [String] {
        if let query = options.pauseWhen { _ = try await Self.pauseWhen(query, on: db) }
        guard options.maximumReplicaLag != nil, options.replicaURLs.isEmpty else { return [] }
        let check: SQL = """
            SELECT current_user::text, pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER')
                   OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
            """
        for row in try await db.query(check).rows {
            let (role, allowed) = try row.decode((String, Bool).self)
            guard allowed else {
                throw BulkUpdateError(
                    .privilege,
                    "the replica lag limit reads the standbys' replay positions from pg_stat_replication, which"
                        + " \(SQLIdentifier.quote(role)) may not see: GRANT pg_monitor TO \(SQLIdentifier.quote(role));"
                        + " or pass each standby's URL (--replica URL, replicaURLs) to read the lag on the standby"
                )
            }
        }
        let streaming = try await Self.streamingLags(on: db)
        guard !streaming.isEmpty else {
            throw BulkUpdateError(
                .configuration,
                "no standby is streaming from this server, so the replica lag limit has nothing to watch; pass"
                    + " each standby's URL (--replica URL, replicaURLs), or drop the limit"
            )
        }
        return streaming.map(\.standby)
    }
}
