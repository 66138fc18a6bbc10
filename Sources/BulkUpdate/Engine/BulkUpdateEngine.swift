import AsyncAlgorithms
package import Logging
import Synchronization
import Tracing

/// Runs one bulk update: checks the request against the catalog, routes rows to workers by key hash through
/// bounded channels, and collects what every worker committed.
package enum BulkUpdateEngine {
    /// What a caller asks for: the table, the key and set columns, the options; checked by
    /// ``PreparedUpdate/prepare(backend:table:keyColumns:setColumns:options:logger:)``.
    package struct Request: Sendable {
        package var table: String
        package var keyColumns: [String]?
        package var setColumns: [String]
        package var options: BulkUpdateOptions

        package init(table: String, keyColumns: [String]?, setColumns: [String], options: BulkUpdateOptions) {
            self.table = table
            self.keyColumns = keyColumns
            self.setColumns = setColumns
            self.options = options
        }

        /// Checks the request against the catalog; see ``PreparedUpdate``.
        package func prepare<Backend: BulkUpdateBackend>(
            on backend: Backend,
            logger: Logger
        ) async throws -> PreparedUpdate<Backend> {
            try await PreparedUpdate.prepare(
                backend: backend,
                table: self.table,
                keyColumns: self.keyColumns,
                setColumns: { _ in self.setColumns },
                options: self.options,
                logger: logger
            )
        }
    }

    /// Carries out `request` from a collection, every row of which is checked before anything is written.
    package static func run<Backend: BulkUpdateBackend>(
        backend: Backend,
        _ request: Request,
        collection rows: some Collection<BulkUpdateRow> & Sendable,
        logger: Logger
    ) async throws -> BulkUpdateReport {
        let update = try await request.prepare(on: backend, logger: logger)
        // The rows are in memory already: the checked columns are kept (within the pass's memory budget), so no row
        // is checked twice.
        let checked = try await update.validate(rows, keepingRows: true, logger: logger)
        if checked.isKept { return try await update.run(checked, logger: logger) }
        return try await update.run(SequenceRows(rows), inputDigest: checked.digest, logger: logger)
    }

    /// Carries out `request` from an asynchronous sequence, read once and checked as it streams.
    package static func run<Backend: BulkUpdateBackend, Rows: AsyncSequence>(
        backend: Backend,
        _ request: Request,
        stream rows: Rows,
        logger: Logger
    ) async throws -> BulkUpdateReport where Rows.Element == BulkUpdateRow {
        try await request.prepare(on: backend, logger: logger).run(rows, logger: logger)
    }

    /// Writes the input's rows according to a checked plan.
    static func run<Backend: BulkUpdateBackend, Rows: AsyncSequence>(
        backend: Backend,
        plan: UpdatePlan,
        input: RowInput<Rows>,
        started: ContinuousClock.Instant,
        logger: Logger
    ) async throws -> BulkUpdateReport where Rows.Element == BulkUpdateRow {
        let schema = plan.table
        let system = backend.databaseName.lowercased()
        let metrics = RunMetrics.make(plan: plan, backend: system)
        let control = plan.options.control ?? BulkUpdateControl()
        return try await RunSpans.with(RunSpans.run, kind: .client) { span in
            span.attributes[RunSpans.Attribute.system] = system
            span.attributes[RunSpans.Attribute.collection] = schema.name.description
            span.attributes[RunSpans.Attribute.strategy] = plan.options.strategy.description
            span.attributes[RunSpans.Attribute.workers] = plan.options.workers
            span.attributes[RunSpans.Attribute.chunkSize] = plan.options.chunkSize
            span.attributes[RunSpans.Attribute.atomic] = plan.options.atomic
            span.attributes[RunSpans.Attribute.dryRun] = plan.options.dryRun
            if let runID = plan.options.runID { span.attributes[RunSpans.Attribute.runID] = runID }
            defer { metrics?.update(control, ended: true) }
            do {
                let report = try await backend.withRun(plan, logger: logger) { executor, probe in
                    try await Self.write(
                        executor,
                        probe: probe,
                        plan: plan,
                        input: input,
                        started: started,
                        state: RunState(options: plan.options, control: control, metrics: metrics),
                        logger: logger
                    )
                }
                // An atomic run's counts are recorded once its one transaction has committed.
                if plan.options.atomic { metrics?.committed(report) }
                RunSpans.record(report, on: span)
                return report
            } catch var error as BulkUpdateError {
                if error.partialReport == nil {
                    error.partialReport = Self.emptyReport(schema.name.description, plan: plan, since: started)
                }
                if let partial = error.partialReport { RunSpans.record(partial, on: span) }
                throw error
            }
        }
    }

    /// Routes the input's rows to the workers, which write through `executor`; returns what they committed.
    static func write<Executor: ChunkExecutor, Rows: AsyncSequence>(
        _ executor: Executor,
        probe: (any RunProbe)?,
        plan: UpdatePlan,
        input: RowInput<Rows>,
        started: ContinuousClock.Instant,
        state: RunState,
        logger: Logger
    ) async throws -> BulkUpdateReport where Rows.Element == BulkUpdateRow {
        let options = plan.options
        let schema = plan.table

        let logger = {
            var logger = logger
            logger[metadataKey: LogKey.table] = "\(schema.name)"
            logger[metadataKey: LogKey.strategy] = "\(options.strategy)"
            if let runID = options.runID { logger[metadataKey: LogKey.runID] = "\(runID)" }
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
        report.atomic = options.atomic
        report.undoKept = options.savesUndo
        let channels = (0..<options.workers).map { _ in AsyncChannel<Chunk>() }
        let sizer = ChunkSizer(options: options, control: state.control) { executor.journaledInputRows($0) }
        var firstError: (any Error)?
        var rowsRead = 0

        // The monitor runs beside the workers for as long as they write, then is cancelled.
        let monitor = probe.map {
            RunMonitor(probe: $0, state: state, options: options, total: options.totalRows, logger: logger)
        }
        monitor?.holdUntilFirstChecks()
        await withTaskGroup(of: Void.self) { watched in
            if let monitor { watched.addTask { await monitor.run() } }
            if let metrics = state.metrics { watched.addTask { await metrics.watch(state.control) } }
            await withTaskGroup(of: WorkerResult.self) { group in
                for (worker, channel) in channels.enumerated() {
                    group.addTask {
                        await Worker(
                            index: worker,
                            plan: plan,
                            executor: executor,
                            state: state,
                            sizer: sizer,
                            logger: logger
                        ).run(channel)
                    }
                }
                do {
                    try await Router(plan: plan, channels: channels, state: state, sizer: sizer).route(
                        input,
                        count: &rowsRead
                    )
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
            watched.cancelAll()
        }
        report.rowsRead = rowsRead
        for (cause, seconds) in state.control.pausedSeconds where seconds > 0 {
            report.pausedSeconds[cause.description] = seconds
        }
        if firstError == nil, let reason = state.control.stopReason, state.leftRowsUnwritten {
            firstError = BulkUpdateError(
                .interrupted,
                "the run was stopped by \(reason) after \(report.chunks) chunk\(report.chunks == 1 ? "" : "s");"
                    + " no new chunk started and the chunks in flight finished"
            )
        }
        if firstError == nil {
            do { try options.checkRowCount(rowsRead) } catch { firstError = error }
        }
        report.committedChunks.sort { ($0.worker, $0.number) < ($1.worker, $1.number) }
        report.elapsedSeconds = Self.seconds(ContinuousClock.now - started)
        if var error = firstError as? BulkUpdateError {
            error.partialReport = report
            // The code and SQLSTATE only: an error's message may quote row values, which logs never carry.
            logger.debug(
                "bulk update failed",
                metadata: [LogKey.error: "\(error.code)", LogKey.sqlState: "\(error.sqlState ?? "")"]
            )
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
    /// ``BulkUpdateOptions/DuplicateKeyPolicy/error`` and, through `checker`, the values only the database can
    /// judge; throws the error of the first invalid row.
    ///
    /// - Parameter keepingRows: Whether to keep the checked rows, for ``run(backend:plan:checked:started:logger:)``.
    /// - Returns: The input's digest (see ``ValidationPass/digest``), and the checked rows when they were kept.
    @discardableResult
    package static func validate(
        _ rows: some Sequence<BulkUpdateRow>,
        plan: UpdatePlan,
        checker: (any ServerValueChecker)?,
        keepingRows: Bool = false,
        logger: Logger
    ) async throws -> CheckedRows {
        var pass = ValidationPass(plan: plan, checker: checker, listLimit: 1, keepingRows: keepingRows, logger: logger)
        for row in rows {
            if pass.checkOnClient(row, line: row.line ?? pass.rows + 1) { try await pass.flushFull() }
            if pass.hasErrors { break }  // the rows before it are still sent to the database by finish()
        }
        try await pass.finish()
        if let first = pass.errors.first { throw first }
        try plan.options.checkRowCount(pass.rows)
        return pass.checkedRows
    }

    package static func emptyReport(_ table: String, plan: UpdatePlan, since started: ContinuousClock.Instant)
        -> BulkUpdateReport
    {
        var report = BulkUpdateReport(
            table: table,
            keyColumns: plan.keyColumns.map(\.name),
            setColumns: plan.setColumns.map(\.name),
            strategy: plan.options.strategy.description,
            workers: plan.options.workers
        )
        report.atomic = plan.options.atomic
        report.elapsedSeconds = Self.seconds(ContinuousClock.now - started)
        return report
    }

    package static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
