import AsyncAlgorithms
import Foundation
import Logging
import Tracing

/// What one worker committed, and the error that stopped it, if any.
struct WorkerResult: Sendable {
    var report: BulkUpdateReport
    var error: (any Error)?
}

/// Takes chunks from its channel one at a time: sorts and de-duplicates each, writes it, counts the outcome.
///
/// A key that appears again in a later chunk of the same worker is found by its 64-bit fingerprint (the stable
/// key hash); with ``BulkUpdateOptions/DuplicateKeyPolicy/lastWins`` the later row is simply applied later.
struct Worker: Sendable {
    let index: Int
    let plan: UpdatePlan
    let executor: any ChunkExecutor
    let state: RunState
    let sizer: ChunkSizer
    let logger: Logger

    func run(_ channel: AsyncChannel<Chunk>) async -> WorkerResult {
        var report = BulkUpdateReport(table: "", keyColumns: [], setColumns: [], strategy: "", workers: 0)
        var logger = self.logger
        logger[metadataKey: LogKey.worker] = "\(self.index)"
        let failOnDuplicate = self.plan.options.duplicateKeys == .error
        var seen = SeenKeys()
        var seenLines: [UInt64: Int] = [:]
        do {
            for await var chunk in channel {
                if self.state.isEnding {
                    self.state.leaveRowsUnwritten()
                    break
                }
                try Task.checkCancellation()
                let dropped = chunk.sortAndDeduplicate()
                if let first = dropped.first, failOnDuplicate {
                    let row = chunk.lines.firstIndex(of: first.keptLine) ?? 0
                    throw chunk.duplicate(row: row, earlierLine: first.dropped)
                }
                report.duplicateKeys += dropped.count
                let integerKeys = chunk.integerKeys
                chunk.repeated.removeAll()
                for row in 0..<chunk.count {
                    if failOnDuplicate {
                        if let earlier = seenLines.updateValue(chunk.lines[row], forKey: chunk.hashes[row]) {
                            throw chunk.duplicate(row: row, earlierLine: earlier)
                        }
                    } else if !seen.insert(integer: integerKeys?[row], hash: chunk.hashes[row]) {
                        report.duplicateKeysAcrossChunks += 1
                        chunk.repeated.append(row)
                    }
                }
                let record = chunk.record()
                if self.plan.options.dryRun {
                    // Read only: no journal, no rate limit, no retries (a failed read writes nothing to redo).
                    let samples = max(0, self.plan.options.diffSampleLimit - report.diffSamples.count)
                    do {
                        let outcome = try await self.traced(chunk, operation: "SELECT") { _ in
                            try await self.executor.preview(chunk, samples: samples, logger: logger)
                        }
                        report.add(outcome, record: record)
                        self.reportConflicts(outcome)
                    } catch var error as BulkUpdateError {
                        if error.chunk == nil { error.chunk = record }
                        throw error
                    }
                    self.state.committed(chunk.count)
                    continue
                }
                if try self.executor.alreadyApplied(chunk) {
                    // Committed by the run this one resumes: no write, and no wait under the rate limit.
                    report.add(.skipped, record: record)
                    self.state.committed(chunk.count)
                    continue
                }
                // The control point: pauses, the rate limit, a stop.
                guard try await self.state.beforeChunk(chunk.count) else {
                    self.state.leaveRowsUnwritten()
                    break
                }
                logger.trace(
                    "writing chunk",
                    metadata: [LogKey.chunk: "\(chunk.number)", LogKey.rows: "\(chunk.count)"]
                )
                let outcome: ChunkOutcome
                let started = ContinuousClock.now
                do {
                    let retried: Bool
                    var retries: [String: Int] = [:]
                    // Counted whether the chunk commits or fails in the end.
                    defer { report.retries.merge(retries, uniquingKeysWith: +) }
                    (outcome, retried) = try await self.traced(chunk, operation: "UPDATE") { span in
                        try await self.write(chunk, retries: &retries, span: span, logger: logger)
                    }
                    let duration = ContinuousClock.now - started
                    self.sizer.written(
                        worker: self.index,
                        rows: chunk.routedRows,
                        seconds: BulkUpdateEngine.seconds(duration),
                        retried: retried
                    )
                    // An atomic run's chunks commit only with the run: they are not timed as committed chunks.
                    if !self.plan.options.atomic { self.state.metrics?.wrote(duration: duration) }
                } catch var error as BulkUpdateError {
                    if error.chunk == nil { error.chunk = record }
                    throw error
                }
                report.add(outcome, record: record)
                if !self.plan.options.atomic { self.state.metrics?.committed(outcome, rows: chunk.count) }
                logger.trace(
                    "chunk written",
                    metadata: [
                        LogKey.chunk: "\(chunk.number)", LogKey.rows: "\(chunk.count)",
                        LogKey.changed: "\(outcome.changed)",
                        LogKey.seconds: "\(BulkUpdateEngine.seconds(ContinuousClock.now - started))",
                    ]
                )
                self.reportConflicts(outcome)
                self.state.committed(chunk.count)
            }
        } catch {
            self.state.fail()
            channel.finish()
            return WorkerResult(report: report, error: error)
        }
        // Stopping: the router's next send to this worker must not wait for it.
        channel.finish()
        return WorkerResult(report: report, error: nil)
    }

    /// Hands a chunk's conflicts to ``BulkUpdateOptions/onConflicts``.
    private func reportConflicts(_ outcome: ChunkOutcome) {
        guard !outcome.conflicts.isEmpty, let onConflicts = self.plan.options.onConflicts else { return }
        onConflicts(outcome.conflicts)
    }

    /// Runs `body`, which reads or writes `chunk`, inside the chunk's span.
    private func traced<T>(_ chunk: Chunk, operation: String, _ body: (any Span) async throws -> T) async throws -> T {
        try await RunSpans.with(RunSpans.chunk, kind: .client) { span in
            span.attributes[RunSpans.Attribute.operation] = operation
            span.attributes[RunSpans.Attribute.worker] = self.index
            span.attributes[RunSpans.Attribute.chunk] = chunk.number
            span.attributes[RunSpans.Attribute.rows] = chunk.count
            return try await body(span)
        }
    }

    /// Writes a chunk, retrying transient failures with exponential backoff and jitter. Each attempt runs in its
    /// own transaction on a freshly leased connection, so a failed attempt left nothing behind.
    ///
    /// - Parameter retries: Counts the failed attempts by cause (the SQLSTATE, or `connection`).
    /// - Returns: What the database counted, and whether an attempt before the last one failed.
    private func write(_ chunk: Chunk, retries: inout [String: Int], span: any Span, logger: Logger) async throws
        -> (ChunkOutcome, retried: Bool)
    {
        var attempt = 0
        while true {
            do {
                let outcome = try await self.executor.write(chunk, logger: logger)
                span.attributes[RunSpans.Attribute.attempt] = attempt + 1
                span.attributes[RunSpans.Attribute.rowsMatched] = outcome.matched
                span.attributes[RunSpans.Attribute.rowsChanged] = outcome.changed
                return (outcome, attempt > 0)
            } catch let error as BulkUpdateError where error.isTransient && attempt < self.plan.options.maximumRetries {
                attempt += 1
                let cause = error.sqlState ?? "connection"
                retries[cause, default: 0] += 1
                self.state.metrics?.retried(cause: cause)
                span.addEvent(
                    SpanEvent(
                        name: RunSpans.retryEvent,
                        attributes: [
                            RunSpans.Attribute.attempt: .int64(Int64(attempt)),
                            RunSpans.Attribute.sqlState: .string(cause),
                        ]
                    )
                )
                span.attributes[RunSpans.Attribute.attempt] = attempt + 1
                let delay = Self.backoff(attempt: attempt)
                logger.info(
                    "retrying a chunk after a transient failure",
                    metadata: [
                        LogKey.chunk: "\(chunk.number)", LogKey.error: "\(cause)", LogKey.attempt: "\(attempt)",
                    ]
                )
                try await Task.sleep(for: delay)
                if self.state.hasFailed { throw error }
            }
        }
    }

    /// 100 ms doubled per attempt, at most 5 s, with ±50 % jitter so retrying workers do not collide again.
    static func backoff(attempt: Int) -> Duration {
        let base = min(5.0, 0.1 * pow(2.0, Double(attempt - 1)))
        return .milliseconds(Int(base * Double.random(in: 0.5...1.5) * 1000))
    }
}
