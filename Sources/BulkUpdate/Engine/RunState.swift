import Synchronization

/// Shared by the router and the workers: whether the run has failed, so everyone stops before the next chunk, and
/// the progress counters.
final class RunState: Sendable {
    private struct Counters {
        var failed = false
        var progress = BulkUpdateProgress(rowsRead: 0, rowsCommitted: 0, chunks: 0, elapsedSeconds: 0)
    }

    private let counters = Mutex(Counters())
    private let started = ContinuousClock.now
    private let onProgress: (@Sendable (BulkUpdateProgress) -> Void)?
    private let rowsPerSecond: Int?
    /// When the next rows may start, under ``BulkUpdateOptions/maximumRowsPerSecond``.
    private let paceCursor = Mutex(ContinuousClock.now)

    init(onProgress: (@Sendable (BulkUpdateProgress) -> Void)? = nil, rowsPerSecond: Int? = nil) {
        self.onProgress = onProgress
        self.rowsPerSecond = rowsPerSecond
    }

    /// Waits until `rows` more rows fit under the rate limit: each chunk reserves its share of time on one shared
    /// schedule, so the average over the run never exceeds the limit whatever the number of workers.
    func pace(_ rows: Int) async throws {
        guard let rate = self.rowsPerSecond else { return }
        let share = Duration.seconds(Double(rows) / Double(rate))
        let start = self.paceCursor.withLock { cursor -> ContinuousClock.Instant in
            let start = Swift.max(cursor, ContinuousClock.now)
            cursor = start + share
            return start
        }
        try await Task.sleep(until: start, clock: .continuous)
    }

    var hasFailed: Bool { self.counters.withLock { $0.failed } }

    func fail() { self.counters.withLock { $0.failed = true } }

    func read(_ rows: Int) {
        self.counters.withLock { $0.progress.rowsRead += rows }
    }

    func committed(_ rows: Int) {
        guard let onProgress else { return }
        let seconds = BulkUpdateEngine.seconds(ContinuousClock.now - self.started)
        let progress = self.counters.withLock { counters in
            counters.progress.rowsCommitted += rows
            counters.progress.chunks += 1
            counters.progress.elapsedSeconds = seconds
            return counters.progress
        }
        onProgress(progress)
    }
}
