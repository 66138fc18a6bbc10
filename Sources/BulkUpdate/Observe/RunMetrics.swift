import CoreMetrics
import Synchronization

/// The names of the metrics a run records, in one place (the DocC article "Observing a run" lists them with their
/// meaning). Every metric carries the dimensions `table`, `strategy` and `backend`; retries and pauses add `cause`.
package enum MetricName {
    /// Counter: input rows read and routed to workers.
    package static let rowsRead = "bulk_update_rows_read_total"
    /// Counter: input rows in chunks this run committed (a resumed run's skipped chunks are not counted).
    package static let rowsWritten = "bulk_update_rows_written_total"
    /// Counter: table rows the committed chunks changed.
    package static let rowsChanged = "bulk_update_rows_changed_total"
    /// Counter: table rows found that already held their new values (``BulkUpdateOptions/skipUnchanged``).
    package static let rowsUnchanged = "bulk_update_rows_unchanged_total"
    /// Counter: input keys with no row in the table.
    package static let rowsNotFound = "bulk_update_rows_not_found_total"
    /// Counter: rows left alone as conflicts (``BulkUpdateOptions/expectedColumns``).
    package static let rowsConflicting = "bulk_update_rows_conflicting_total"
    /// Counter: rows left alone by ``BulkUpdateOptions/condition``.
    package static let rowsSkipped = "bulk_update_rows_skipped_total"
    /// Counter: chunks committed.
    package static let chunks = "bulk_update_chunks_committed_total"
    /// Counter, by `cause` (the SQLSTATE, or `connection`): chunk attempts that failed and were retried.
    package static let retries = "bulk_update_retries_total"
    /// Timer: how long a committed chunk took, its retries included (per-chunk mode only).
    package static let chunkDuration = "bulk_update_chunk_duration_seconds"
    /// Floating-point counter, by `cause` (`requested`, `replica_lag`, `health_check`): seconds paused.
    package static let pausedSeconds = "bulk_update_paused_seconds_total"
    /// Gauge: rows written per second over the last few seconds; 0 while the run is paused and once it has ended.
    package static let rowsPerSecond = "bulk_update_rows_per_second"
    /// Gauge: seconds since the last committed chunk (since the start before the first one).
    package static let secondsSinceLastChunk = "bulk_update_seconds_since_last_chunk"
    /// Gauge: 1 while the run is paused for any cause, else 0.
    package static let paused = "bulk_update_paused"
    /// Gauge: the largest replay lag of the watched standbys at the last check (``BulkUpdateOptions/maximumReplicaLag``).
    package static let replicaLag = "bulk_update_replica_lag_seconds"
    /// Gauge: 1 while the run writes, 0 once it has ended.
    package static let running = "bulk_update_running"
}

/// What one run records through swift-metrics, with bounded dimensions (table, strategy, backend; never keys or
/// values). Created when the run starts from the factory in effect there (`MetricsSystem.factory`, which
/// `withMetricsFactory` overrides for a task); a run under the no-op factory, and a dry run, records nothing.
final class RunMetrics: Sendable {
    private struct Tally {
        var rowsWritten = 0
        var lastChunk: ContinuousClock.Instant
        /// Rows written and the time at the last gauge update, for the rate.
        var sampledRows = 0
        var sampledAt: ContinuousClock.Instant
        var rate = 0.0
        /// Seconds paused already recorded, by cause.
        var recordedPauses: [String: Double] = [:]
    }

    private let factory: any MetricsFactory
    private let dimensions: [(String, String)]
    private let rowsRead: Counter
    private let rowsWritten: Counter
    private let rowsChanged: Counter
    private let rowsUnchanged: Counter
    private let rowsNotFound: Counter
    private let rowsConflicting: Counter
    private let rowsSkipped: Counter
    private let chunks: Counter
    private let chunkDuration: CoreMetrics.Timer
    private let rowsPerSecond: Gauge
    private let secondsSinceLastChunk: Gauge
    private let paused: Gauge
    /// Only when standbys are watched.
    private let replicaLag: Gauge?
    private let running: Gauge
    private let tally: Mutex<Tally>
    /// The counters by cause, made on first use and kept: a backend without floating-point counters accumulates
    /// fractions in the counter object.
    private let retries = Mutex<[String: Counter]>([:])
    private let pauses = Mutex<[String: FloatingPointCounter]>([:])

    /// How often the gauges are brought up to date while the run goes.
    static let gaugeInterval = Duration.seconds(1)

    /// The run's metrics, or `nil` when nothing would record them.
    static func make(plan: UpdatePlan, backend: String) -> RunMetrics? {
        let factory = MetricsSystem.factory
        if plan.options.dryRun || factory is NOOPMetricsHandler { return nil }
        return RunMetrics(
            factory: factory,
            dimensions: [
                ("table", plan.table.name.description), ("strategy", plan.options.strategy.description),
                ("backend", backend),
            ],
            watchesLag: plan.options.maximumReplicaLag != nil
        )
    }

    private init(factory: any MetricsFactory, dimensions: [(String, String)], watchesLag: Bool) {
        self.factory = factory
        self.dimensions = dimensions
        func counter(_ label: String) -> Counter { Counter(label: label, dimensions: dimensions, factory: factory) }
        func gauge(_ label: String) -> Gauge { Gauge(label: label, dimensions: dimensions, factory: factory) }
        self.rowsRead = counter(MetricName.rowsRead)
        self.rowsWritten = counter(MetricName.rowsWritten)
        self.rowsChanged = counter(MetricName.rowsChanged)
        self.rowsUnchanged = counter(MetricName.rowsUnchanged)
        self.rowsNotFound = counter(MetricName.rowsNotFound)
        self.rowsConflicting = counter(MetricName.rowsConflicting)
        self.rowsSkipped = counter(MetricName.rowsSkipped)
        self.chunks = counter(MetricName.chunks)
        self.chunkDuration = CoreMetrics.Timer(
            label: MetricName.chunkDuration,
            dimensions: dimensions,
            preferredDisplayUnit: .seconds,
            factory: factory
        )
        self.rowsPerSecond = gauge(MetricName.rowsPerSecond)
        self.secondsSinceLastChunk = gauge(MetricName.secondsSinceLastChunk)
        self.paused = gauge(MetricName.paused)
        self.replicaLag = watchesLag ? gauge(MetricName.replicaLag) : nil
        self.running = gauge(MetricName.running)
        let now = ContinuousClock.now
        self.tally = Mutex(Tally(lastChunk: now, sampledAt: now))
    }

    func read(_ rows: Int) {
        self.rowsRead.increment(by: rows)
    }

    /// A chunk this run committed: what the database counted.
    func committed(_ outcome: ChunkOutcome, rows: Int) {
        self.rowsWritten.increment(by: rows)
        self.rowsChanged.increment(by: outcome.changed)
        self.rowsUnchanged.increment(
            by: outcome.matched - outcome.changed - outcome.conflicting - outcome.skippedByCondition
        )
        self.rowsNotFound.increment(by: rows - outcome.matched)
        if outcome.conflicting > 0 { self.rowsConflicting.increment(by: outcome.conflicting) }
        if outcome.skippedByCondition > 0 { self.rowsSkipped.increment(by: outcome.skippedByCondition) }
        self.chunks.increment()
        self.tally.withLock {
            $0.rowsWritten += rows
            $0.lastChunk = .now
        }
    }

    /// An atomic run that committed: its counts, recorded once its one transaction is in.
    func committed(_ report: BulkUpdateReport) {
        self.rowsWritten.increment(by: report.rowsMatched + report.keysNotFound)
        self.rowsChanged.increment(by: report.rowsChanged)
        self.rowsUnchanged.increment(by: report.rowsUnchanged)
        self.rowsNotFound.increment(by: report.keysNotFound)
        if report.rowsConflicting > 0 { self.rowsConflicting.increment(by: report.rowsConflicting) }
        if report.rowsSkippedByCondition > 0 { self.rowsSkipped.increment(by: report.rowsSkippedByCondition) }
        self.chunks.increment(by: report.chunks)
        self.tally.withLock {
            $0.rowsWritten += report.rowsMatched + report.keysNotFound
            $0.lastChunk = .now
        }
    }

    /// A committed chunk's write (per-chunk mode): how long it took with its retries.
    func wrote(duration: Duration) {
        self.chunkDuration.recordNanoseconds(Self.nanoseconds(duration))
    }

    /// A chunk attempt that failed and is retried; `cause` is the SQLSTATE or `connection`.
    func retried(cause: String) {
        self.retries.withLock { counters in
            if let counter = counters[cause] { return counter }
            let counter = Counter(
                label: MetricName.retries,
                dimensions: self.dimensions + [("cause", cause)],
                factory: self.factory
            )
            counters[cause] = counter
            return counter
        }.increment()
    }

    /// Brings the gauges and the paused seconds up to date from the run's state. Called every
    /// ``gaugeInterval`` while the run goes, and once when it ends (`ended`).
    func update(_ control: BulkUpdateControl, ended: Bool = false) {
        let now = ContinuousClock.now
        let paused = control.pausedSeconds
        let (rate, sinceLastChunk, newPauses) = self.tally.withLock { tally in
            let seconds = BulkUpdateEngine.seconds(now - tally.sampledAt)
            if seconds > 0 {
                // Smoothed over a few seconds, like the runs table's rate.
                let recent = Double(tally.rowsWritten - tally.sampledRows) / seconds
                tally.rate = tally.sampledRows == 0 && tally.rate == 0 ? recent : 0.7 * tally.rate + 0.3 * recent
                tally.sampledRows = tally.rowsWritten
                tally.sampledAt = now
            }
            var newPauses: [(String, Double)] = []
            for (cause, total) in paused {
                let name = String(cause.description.map { $0 == " " ? "_" : $0 })
                let delta = total - tally.recordedPauses[name, default: 0]
                if delta > 0 {
                    newPauses.append((name, delta))
                    tally.recordedPauses[name] = total
                }
            }
            return (tally.rate, BulkUpdateEngine.seconds(now - tally.lastChunk), newPauses)
        }
        for (cause, seconds) in newPauses {
            self.pauses.withLock { counters in
                if let counter = counters[cause] { return counter }
                let counter = FloatingPointCounter(
                    label: MetricName.pausedSeconds,
                    dimensions: self.dimensions + [("cause", cause)],
                    factory: self.factory
                )
                counters[cause] = counter
                return counter
            }.increment(by: seconds)
        }
        // A paused run writes nothing: its rate is 0 at once, not once the average has decayed.
        self.rowsPerSecond.record(ended || control.isPaused ? 0 : rate)
        self.secondsSinceLastChunk.record(sinceLastChunk)
        self.paused.record(!ended && control.isPaused ? 1 : 0)
        if let gauge = self.replicaLag, let lag = control.state.withLock({ $0.replicaLagSeconds }) { gauge.record(lag) }
        self.running.record(ended ? 0 : 1)
    }

    /// Updates the gauges every ``gaugeInterval`` until the task is cancelled.
    func watch(_ control: BulkUpdateControl) async {
        self.update(control)
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.gaugeInterval)
            self.update(control)
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
