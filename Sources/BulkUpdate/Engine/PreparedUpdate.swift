package import Logging

/// A bulk update checked against the catalog, nothing written yet: the first of two phases every caller goes
/// through (the updaters, Fluent models, the command line).
///
/// ``prepare(backend:table:keyColumns:setColumns:options:logger:)`` validates the options, resolves them for the
/// backend, describes the table, checks the key and set columns and the role's privileges. What it learned is here to
/// show or to act on: ``schema``, ``options`` as resolved, ``statementText(rows:)``. Then
/// ``validate(_:keepingRows:logger:)`` checks rows without writing (as often as wanted) and
/// ``run(_:inputDigest:onProgress:logger:)`` (or ``run(_:onProgress:logger:)``, for the rows a validation kept)
/// writes them.
package struct PreparedUpdate<Backend: BulkUpdateBackend>: Sendable {
    package let backend: Backend
    /// The checked plan: table, key and set columns, resolved options.
    package let plan: UpdatePlan
    /// When the update was asked for: a run's elapsed time counts from here.
    package let started: ContinuousClock.Instant

    /// The table as the catalog describes it.
    package var schema: TableSchema { self.plan.table }

    /// The options as the backend resolved them (`auto` replaced by a strategy, workers limited to what runs).
    package var options: BulkUpdateOptions { self.plan.options }

    /// Checks a request against the catalog: the options, the table, the key columns (by default the primary key),
    /// the set columns (which may depend on the table: `setColumns` is given its schema) and the privileges the run
    /// needs. Writes nothing. The columns `storingAsGiven` take their values as given, never converted to the
    /// declared type (``ColumnType/Kind/stored``, SQLite's): a revert's previous values.
    ///
    /// - Throws: ``BulkUpdateError`` whose ``BulkUpdateError/partialReport`` says nothing was written.
    package static func prepare(
        backend: Backend,
        table: String,
        keyColumns: [String]?,
        setColumns: (TableSchema) throws -> [String],
        storingAsGiven: [String] = [],
        options: BulkUpdateOptions,
        logger: Logger
    ) async throws -> Self {
        let started = ContinuousClock.now
        var options = options
        var columns: [String] = []
        do {
            try options.validate()
            options = try backend.resolve(options, logger: logger)
            let name = try BulkUpdateTableName(parsing: table)
            let schema = try await backend.describe(name, options: options, logger: logger)
                .storingAsGiven(storingAsGiven)
            columns = try setColumns(schema)
            let plan = try UpdatePlan(table: schema, keyColumns: keyColumns, setColumns: columns, options: options)
            try await backend.preflight(plan, logger: logger)
            return PreparedUpdate(backend: backend, plan: plan, started: started)
        } catch var error as BulkUpdateError {
            var nothing = BulkUpdateReport(
                table: table,
                keyColumns: keyColumns ?? [],
                setColumns: columns,
                strategy: options.strategy.description,
                workers: options.workers
            )
            nothing.elapsedSeconds = BulkUpdateEngine.seconds(ContinuousClock.now - started)
            error.partialReport = nothing
            throw error
        }
    }

    /// The statement a chunk of `rows` rows sends, for showing (a dry run, logs).
    package func statementText(rows: Int) -> String {
        self.backend.statementText(self.plan, rows: rows)
    }

    /// What checks values only the database can judge, if any column has such values.
    package func valueChecker(logger: Logger) -> (any ServerValueChecker)? {
        self.backend.valueChecker(for: self.plan, logger: logger)
    }

    /// Checks every row without writing (see ``BulkUpdateEngine/validate(_:plan:checker:keepingRows:logger:)``).
    ///
    /// - Parameter keepingRows: Whether to keep the checked rows, so that ``run(_:onProgress:logger:)`` writes them
    ///   without checking them again; memory then holds every row in its typed form.
    /// - Returns: The input's digest, for ``run(_:inputDigest:onProgress:logger:)``, and the rows when kept.
    /// - Throws: The first invalid row's ``BulkUpdateError``, whose report says nothing was written.
    package func validate(
        _ rows: some Sequence<BulkUpdateRow>,
        keepingRows: Bool = false,
        logger: Logger
    ) async throws -> CheckedRows {
        do {
            return try await BulkUpdateEngine.validate(
                rows,
                plan: self.plan,
                checker: self.valueChecker(logger: logger),
                keepingRows: keepingRows,
                logger: logger
            )
        } catch var error as BulkUpdateError {
            error.partialReport = self.nothingWritten()
            throw error
        }
    }

    /// Writes rows a validation pass checked and kept, with their input's digest.
    package func run(
        _ checked: CheckedRows,
        onProgress: (@Sendable (BulkUpdateProgress) -> Void)? = nil,
        logger: Logger
    ) async throws -> BulkUpdateReport {
        precondition(checked.isKept, "the validation pass did not keep its rows")
        let input = RowInput<SequenceRows<EmptyCollection<BulkUpdateRow>>>.checked(checked.batches)
        return try await self.run(
            input,
            inputDigest: checked.digest,
            totalRows: checked.count,
            onProgress: onProgress,
            logger: logger
        )
    }

    /// Writes `rows`.
    ///
    /// - Parameter inputDigest: The digest ``validate(_:keepingRows:logger:)`` returned for the same rows, when they
    ///   were read in full first: a journaled run records it, and a resumed run must read the same input.
    /// - Parameter onProgress: Where progress goes, instead of the options' ``BulkUpdateOptions/onProgress``
    ///   (for a caller that learns only after preparing how to show it, such as a total to show it against).
    package func run<Rows: AsyncSequence>(
        _ rows: Rows,
        inputDigest: String? = nil,
        totalRows: Int? = nil,
        onProgress: (@Sendable (BulkUpdateProgress) -> Void)? = nil,
        logger: Logger
    ) async throws -> BulkUpdateReport where Rows.Element == BulkUpdateRow {
        try await self.run(
            .rows(rows),
            inputDigest: inputDigest,
            totalRows: totalRows,
            onProgress: onProgress,
            logger: logger
        )
    }

    private func run<Rows: AsyncSequence>(
        _ input: RowInput<Rows>,
        inputDigest: String?,
        totalRows: Int?,
        onProgress: (@Sendable (BulkUpdateProgress) -> Void)?,
        logger: Logger
    ) async throws -> BulkUpdateReport where Rows.Element == BulkUpdateRow {
        var plan = self.plan
        plan.options.inputDigest = inputDigest
        plan.options.totalRows = totalRows ?? plan.options.expectedRows
        if let onProgress { plan.options.onProgress = onProgress }
        if plan.options.dryRun {
            // A preview reads chunk by chunk as the run would, and nothing else: no journal, no stage, no pacing.
            plan.options.runID = nil
            plan.options.resume = false
            plan.options.atomic = false
            plan.options.maximumRowsPerSecond = nil
            plan.options.maximumReplicaLag = nil
            plan.options.replicaURLs = []
            plan.options.pauseWhen = nil
            plan.options.targetChunkDuration = nil
            do {
                var report = try await BulkUpdateEngine.run(
                    backend: self.backend,
                    plan: plan,
                    input: input,
                    started: self.started,
                    logger: logger
                )
                report.dryRun = true
                report.atomic = self.plan.options.atomic
                report.diffSamples = Array(report.diffSamples.prefix(plan.options.diffSampleLimit))
                return report
            } catch var error as BulkUpdateError {
                error.partialReport?.dryRun = true
                throw error
            }
        }
        return try await BulkUpdateEngine.run(
            backend: self.backend,
            plan: plan,
            input: input,
            started: self.started,
            logger: logger
        )
    }

    /// The report of a run that wrote nothing.
    package func nothingWritten() -> BulkUpdateReport {
        BulkUpdateEngine.emptyReport(self.plan.table.name.description, plan: self.plan, since: self.started)
    }
}
