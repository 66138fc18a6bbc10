import AsyncAlgorithms
package import Logging
import Synchronization

/// Runs one bulk update: checks the request against the catalog, routes rows to workers by key hash through
/// bounded channels, and collects what every worker committed.
package enum BulkUpdateEngine {
    /// Updates `table` from `rows`.
    ///
    /// - Parameters:
    ///   - validateFirst: When `true`, every row is checked once before anything is written (for inputs that can
    ///     be read twice), so a bad value fails the run with the table untouched.
    package static func run<Backend: BulkUpdateBackend, Rows: AsyncSequence>(
        backend: Backend,
        table: String,
        keyColumns: [String]?,
        setColumns: [String],
        rows: Rows,
        validateFirst: (@Sendable (UpdatePlan) throws -> Void)? = nil,
        options: BulkUpdateOptions,
        logger: Logger
    ) async throws -> BulkUpdateReport where Rows.Element == BulkUpdateRow {
        let started = ContinuousClock.now
        var options = options
        let schema: TableSchema
        let plan: UpdatePlan
        let executor: Backend.Executor
        do {
            try options.validate()
            options = try backend.resolve(options, logger: logger)
            let name = try BulkUpdateTableName(parsing: table)
            schema = try await backend.describe(name, options: options, logger: logger)
            plan = try UpdatePlan(table: schema, keyColumns: keyColumns, setColumns: setColumns, options: options)
            try validateFirst?(plan)
            executor = try await backend.prepare(plan, logger: logger)
        } catch var error as BulkUpdateError {
            // Nothing has been written yet; say so.
            var nothing = BulkUpdateReport(
                table: table,
                keyColumns: keyColumns ?? [],
                setColumns: setColumns,
                strategy: options.strategy.description,
                workers: options.workers
            )
            nothing.elapsedSeconds = Self.seconds(ContinuousClock.now - started)
            error.partialReport = nothing
            throw error
        }

        let logger = {
            var logger = logger
            logger[metadataKey: LogKey.table] = "\(schema.name)"
            logger[metadataKey: LogKey.strategy] = "\(options.strategy)"
            return logger
        }()
        logger.debug(
            "bulk update started",
            metadata: [LogKey.workers: "\(options.workers)", LogKey.chunkSize: "\(options.chunkSize)"]
        )

        var report = BulkUpdateReport(
            table: schema.name.description,
            keyColumns: plan.keyColumns.map(\.name),
            setColumns: plan.setColumns.map(\.name),
            strategy: options.strategy.description,
            workers: options.workers
        )
        let channels = (0..<options.workers).map { _ in AsyncChannel<Chunk>() }
        let state = RunState()
        var firstError: (any Error)?
        var rowsRead = 0

        await withTaskGroup(of: WorkerResult.self) { group in
            for (worker, channel) in channels.enumerated() {
                group.addTask {
                    await Worker(
                        index: worker,
                        plan: plan,
                        executor: executor,
                        state: state,
                        logger: logger
                    ).run(channel)
                }
            }
            do {
                rowsRead = try await Router(plan: plan, channels: channels, state: state).route(rows)
            } catch {
                state.fail()
                firstError = error
            }
            for channel in channels { channel.finish() }
            for await result in group {
                report.merge(result.report)
                if let error = result.error, firstError == nil || firstError is CancellationError {
                    firstError = error
                }
            }
        }
        report.rowsRead = rowsRead
        report.committedChunks.sort { ($0.worker, $0.number) < ($1.worker, $1.number) }
        report.elapsedSeconds = Self.seconds(ContinuousClock.now - started)
        if var error = firstError as? BulkUpdateError {
            error.partialReport = report
            logger.debug("bulk update failed", metadata: [LogKey.error: "\(error)"])
            throw error
        }
        if let firstError { throw firstError }
        logger.debug(
            "bulk update finished",
            metadata: [LogKey.rows: "\(report.rowsRead)", LogKey.chunks: "\(report.chunks)"]
        )
        return report
    }

    /// Checks every row of `rows` against `plan` without writing, including duplicate keys when the policy is
    /// ``BulkUpdateOptions/DuplicateKeyPolicy/error``.
    package static func validate(_ rows: some Sequence<BulkUpdateRow>, plan: UpdatePlan) throws(BulkUpdateError) {
        var cells: [Cell] = []
        cells.reserveCapacity(plan.columns.count)
        var seen: [UInt64: Int] = [:]
        let checkDuplicates = plan.options.duplicateKeys == .error
        var position = 0
        for row in rows {
            position += 1
            let line = row.line ?? position
            try RowChecker.check(row, line: line, plan: plan, into: &cells)
            if checkDuplicates {
                let hash = KeyHash.hash(cells[0..<plan.keyColumns.count])
                if let earlier = seen.updateValue(line, forKey: hash) {
                    throw RowChecker.duplicate(cells: cells, plan: plan, earlierLine: earlier, line: line)
                }
            }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// Shared by the router and the workers: whether the run has failed, so everyone stops before the next chunk.
final class RunState: Sendable {
    private let failed = Mutex(false)

    var hasFailed: Bool { self.failed.withLock { $0 } }

    func fail() { self.failed.withLock { $0 = true } }
}

/// Metadata keys for log messages.
package enum LogKey {
    package static let table = "bulk_update.table"
    package static let strategy = "bulk_update.strategy"
    package static let workers = "bulk_update.workers"
    package static let worker = "bulk_update.worker"
    package static let chunk = "bulk_update.chunk"
    package static let chunkSize = "bulk_update.chunk_size"
    package static let rows = "bulk_update.rows"
    package static let chunks = "bulk_update.chunks"
    package static let error = "bulk_update.error"
}
