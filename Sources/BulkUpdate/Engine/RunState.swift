import Synchronization

/// Shared by the router, the workers and the monitor: whether the run has failed or is stopping, so everyone stops
/// before the next chunk, the pauses and rate limit every chunk waits for (through ``BulkUpdateControl``), and the
/// progress counters.
final class RunState: Sendable {
    private struct Counters {
        var failed = false
        var leftRowsUnwritten = false
        var progress = BulkUpdateProgress(rowsRead: 0, rowsCommitted: 0, chunks: 0, elapsedSeconds: 0)
    }

    private let counters = Mutex(Counters())
    let started = ContinuousClock.now
    private let onProgress: (@Sendable (BulkUpdateProgress) -> Void)?
    /// The rate limit the run started with, until the control changes it.
    private let initialRowsPerSecond: Int?
    /// When the next rows may start, under ``BulkUpdateOptions/maximumRowsPerSecond``.
    private let paceCursor = Mutex(ContinuousClock.now)
    let control: BulkUpdateControl
    /// What the run records through swift-metrics; `nil` when nothing would record it.
    let metrics: RunMetrics?

    init(options: BulkUpdateOptions, control: BulkUpdateControl, metrics: RunMetrics?) {
        self.onProgress = options.onProgress
        self.initialRowsPerSecond = options.maximumRowsPerSecond
        self.control = control
        self.metrics = metrics
    }

    /// The rate limit now: the one set through the control while the run goes, else the option's.
    var rowsPerSecond: Int? {
        self.control.changedRowsPerSecond ?? self.initialRowsPerSecond
    }

    /// The control point before a chunk: waits while the run is paused, then until `rows` more rows fit under the
    /// rate limit.
    ///
    /// - Returns: `false` when the run is stopping or has failed: the worker starts no more chunks.
    func beforeChunk(_ rows: Int) async throws -> Bool {
        while true {
            while self.control.isPaused {
                if self.isEnding { return false }
                try await Task.sleep(for: .milliseconds(50))
            }
            if self.isEnding { return false }
            try await self.pace(rows)
            if self.isEnding { return false }
            // A pause that came during the wait holds the chunk too; its turn is taken again afterwards.
            if !self.control.isPaused { return true }
        }
    }

    /// Waits until `rows` more rows fit under the rate limit: each chunk reserves its share of time on one shared
    /// schedule, so the average over the run never exceeds the limit whatever the number of workers. A stop or a
    /// pause that comes during the wait ends it early (the caller checks again).
    private func pace(_ rows: Int) async throws {
        guard let rate = self.rowsPerSecond else { return }
        let share = Duration.seconds(Double(rows) / Double(rate))
        let start = self.paceCursor.withLock { cursor -> ContinuousClock.Instant in
            let start = Swift.max(cursor, ContinuousClock.now)
            cursor = start + share
            return start
        }
        // In steps, so that a stop (or a lower rate set meanwhile) does not wait for the whole share.
        while ContinuousClock.now < start {
            if self.isEnding || self.control.isPaused { return }
            try await Task.sleep(until: Swift.min(start, .now + .milliseconds(100)), clock: .continuous)
        }
    }

    var hasFailed: Bool { self.counters.withLock { $0.failed } }

    /// Failed, or asked to stop: no new chunk starts.
    var isEnding: Bool { self.hasFailed || self.control.isStopping }

    func fail() { self.counters.withLock { $0.failed = true } }

    /// Whether a worker or the router stopped with rows it did not write (a stop cut the run short).
    var leftRowsUnwritten: Bool { self.counters.withLock { $0.leftRowsUnwritten } }

    func leaveRowsUnwritten() { self.counters.withLock { $0.leftRowsUnwritten = true } }

    func read(_ rows: Int) {
        self.counters.withLock { $0.progress.rowsRead += rows }
        self.metrics?.read(rows)
    }

    func committed(_ rows: Int) {
        let progress = self.counters.withLock { counters in
            counters.progress.rowsCommitted += rows
            counters.progress.chunks += 1
            return counters.progress
        }
        if let onProgress { onProgress(self.describe(progress)) }
    }

    /// Progress now, with the run's state: for the monitor, which reports while no chunk commits (a pause).
    var progress: BulkUpdateProgress {
        self.describe(self.counters.withLock { $0.progress })
    }

    /// Calls the progress handler with the progress now.
    func publish() {
        self.onProgress?(self.progress)
    }

    private func describe(_ counters: BulkUpdateProgress) -> BulkUpdateProgress {
        var progress = counters
        progress.elapsedSeconds = BulkUpdateEngine.seconds(ContinuousClock.now - self.started)
        let control = self.control.state.withLock { $0 }
        // A check that has not answered for the first time yet holds the workers, but is no pause to show.
        let pauses = control.shownPauses
        progress.state = control.stopReason != nil ? .stopping : pauses.isEmpty ? .running : .paused
        progress.pauses = pauses.map { $0.value.detail.isEmpty ? "\($0.key)" : "\($0.key): \($0.value.detail)" }
            .sorted()
        progress.replicaLagSeconds = control.replicaLagSeconds
        progress.pausedSeconds = self.control.pausedSeconds.values.reduce(0, +)
        return progress
    }
}
