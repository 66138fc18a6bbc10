import ArgumentParser
import BulkUpdate
import BulkUpdateSQLite

/// What keeps a run gentle beside live traffic: its rate, the health checks that pause it, and how long it waits
/// for locks and statements. `apply` and `runs revert` take the same flags (a revert runs on the same production
/// database as the run it takes back, often in a hurry).
struct LiveOptions: ParsableArguments {
    @Option(help: "Write at most this many rows per second across all workers (for live databases).")
    var maxRowsPerSecond: Int?

    @Option(
        help: """
            Pause while a standby's replay lag is over this many seconds (PostgreSQL): the standbys given with \
            --replica, else every standby in pg_stat_replication (needs the pg_monitor role). No chunk starts while \
            the lag is over; chunks in flight finish.
            """
    )
    var maxReplicaLag: Double?

    @Option(
        name: .customLong("replica"),
        parsing: .singleValue,
        help: "A standby's URL (repeatable), whose replay lag --max-replica-lag watches, read on the standby itself."
    )
    var replicas: [String] = []

    @Option(
        help: """
            Your own health check: SQL returning one boolean, run every --check-interval in a read-only \
            transaction; while it returns true (or fails), no chunk starts. Checked once before the first write.
            """
    )
    var pauseWhen: String?

    @Option(
        help: """
            Seconds between health checks (--max-replica-lag, --pause-when), 0.01 to 3600; a check that has not \
            answered within this (at least 1 s) pauses the run until it does.
            """
    )
    var checkInterval: Double = 1

    @Option(
        help: """
            Seconds a chunk waits for a lock held by others: PostgreSQL's lock_timeout (then retried; default: no \
            limit of its own, the statement timeout applies), SQLite's busy timeout (default 5). 0 means no limit.
            """
    )
    var lockTimeout: Double?

    @Option(help: "Times a chunk is retried after a deadlock, serialization failure or lost connection.")
    var retries: Int = 5

    @Option(help: "Seconds a single statement may run (PostgreSQL statement_timeout); 0 means no timeout.")
    var statementTimeout: Double = 300

    func validate() throws {
        // PostgreSQL takes at most 2,147,483,647 ms for either timeout.
        for (name, seconds) in [
            ("--statement-timeout", self.statementTimeout), ("--lock-timeout", self.lockTimeout ?? 0),
        ]
        where !(seconds.isFinite && (0...2_147_483).contains(seconds)) {
            throw ValidationError("\(name) must be a number of seconds from 0 (no limit) to 2147483, got \(seconds)")
        }
        guard self.retries >= 0 else { throw ValidationError("--retries cannot be negative, got \(self.retries)") }
        if let rate = self.maxRowsPerSecond, rate < 1 {
            throw ValidationError("--max-rows-per-second must be at least 1, got \(rate)")
        }
        if let lag = self.maxReplicaLag, !(lag.isFinite && lag >= 0) {
            throw ValidationError("--max-replica-lag must be a number of seconds of at least 0, got \(lag)")
        }
        if !self.replicas.isEmpty && self.maxReplicaLag == nil {
            throw ValidationError("--replica names a standby for --max-replica-lag; give the limit too")
        }
        if let pauseWhen, pauseWhen.allSatisfy(\.isWhitespace) {
            throw ValidationError("--pause-when needs a query")
        }
        guard self.checkInterval.isFinite, (0.01...3600).contains(self.checkInterval) else {
            throw ValidationError("--check-interval must be between 0.01 and 3600 seconds, got \(self.checkInterval)")
        }
    }

    /// How long a SQLite statement outside the chunks (the journal's) waits for another process's write lock:
    /// `--lock-timeout` (0: no limit), else 5 seconds.
    var busyTimeout: Duration {
        SQLiteBulkUpdater.busyTimeout(lockTimeout: self.lockTimeoutDuration, otherwise: .seconds(5))
    }

    private var lockTimeoutDuration: Duration? { self.lockTimeout.map { .milliseconds(Int($0 * 1000)) } }

    /// Sets these options' part of `options`.
    func configure(_ options: inout BulkUpdateOptions) {
        options.maximumRowsPerSecond = self.maxRowsPerSecond
        options.maximumRetries = self.retries
        options.lockTimeout = self.lockTimeoutDuration
        options.statementTimeout = .milliseconds(Int(self.statementTimeout * 1000))
        options.maximumReplicaLag = self.maxReplicaLag.map { .milliseconds(Int($0 * 1000)) }
        options.replicaURLs = self.replicas
        options.pauseWhen = self.pauseWhen
        options.healthCheckInterval = .milliseconds(Int(self.checkInterval * 1000))
    }
}
