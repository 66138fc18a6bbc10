import ArgumentParser
import BulkUpdate
import Foundation
import Logging
import Synchronization

/// One `apply`: plan against the catalog, check the input, then write it (or print the plan for `--dry-run`).
struct ApplyRun {
    /// How many invalid lines are listed before the rest are only counted.
    static let listedErrors = 20
    /// The largest file whose checked rows are kept in memory for the write, so that it is read and checked once:
    /// 32 MiB, or `BULK_UPDATE_KEPT_FILE_LIMIT` bytes (0: never). The kept rows are also let go when they would take
    /// more than the validation pass's budget (``ValidationPass/defaultKeptRowsBudget``: 64 MiB, about 1,300,000
    /// rows of `id,username`, a 25 MB file). A larger file is read again for the write, so memory does not grow
    /// with the input.
    static var keptFileLimit: Int {
        ProcessInfo.processInfo.environment["BULK_UPDATE_KEPT_FILE_LIMIT"].flatMap { Int($0) } ?? 32 << 20
    }

    let command: ApplyCommand
    let reportFile: ReportFile?
    let conflictsFile: ConflictsFile?
    let signals: StopSignals
    var logger: Logger { self.command.observe.logger }

    func run<Backend: BulkUpdateBackend>(backend: Backend) async throws {
        let command = self.command
        var options = BulkUpdateOptions(
            workers: command.workers,
            chunkSize: command.chunkSize,
            strategy: BulkUpdateOptions.Strategy(name: command.strategy)!,
            skipUnchanged: command.skipUnchanged,
            duplicateKeys: BulkUpdateOptions.DuplicateKeyPolicy(name: command.onDuplicate)!
        )
        options.atomic = command.atomic
        command.live.configure(&options)
        options.failOnMissingKeys = command.failOnMissingKeys
        options.expectedRows = command.expectRows
        options.journalSchema = command.journalSchema
        options.control = self.signals.control
        options.targetChunkDuration = command.targetChunkSeconds.map { .milliseconds(Int($0 * 1000)) }
        options.dryRun = command.dryRun
        options.keepsUndo = !command.noUndo
        options.expectedColumns = command.expected.map(\.column)
        options.condition = command.condition
        if let conflictsFile = self.conflictsFile {
            options.onConflicts = { conflictsFile.write($0) }
        }
        options.diffSampleLimit = command.diffSample
        let generatedRunID = command.resume == nil && command.runID == nil
        if !command.atomic && !command.noJournal {
            // A dry run journals nothing, but checks what a journaled run would need.
            options.runID = command.resume ?? command.runID ?? Self.newRunID()
            options.resume = command.resume != nil
        }
        // The input is opened once the table is known (its columns decide the set columns by default).
        var opened: RecordStream?
        let update = try await PreparedUpdate.prepare(
            backend: backend,
            table: command.table,
            keyColumns: command.keyColumns,
            setColumns: { schema in
                let stream = try RecordStream(
                    path: command.input,
                    format: command.inputFormat,
                    nullString: command.nullString
                )
                opened = stream
                let keys = command.keyColumns ?? schema.primaryKey
                // An input column --expect reads holds expected values, not new ones.
                for (column, input) in command.expected where !stream.columns.contains(input) {
                    throw BulkUpdateError(
                        .input,
                        "\(stream.name) has no column \"\(input)\" (the expected values of \"\(column)\", --expect);"
                            + " its columns are " + stream.columns.map { "\"\($0)\"" }.joined(separator: ", "),
                        column: input
                    )
                }
                let expected = Set(command.expected.map(\.input))
                return command.setColumns
                    ?? Self.tableOrder(stream.columns.filter { !keys.contains($0) && !expected.contains($0) }, schema)
            },
            options: options,
            logger: self.logger
        )
        guard var stream = opened else { preconditionFailure("prepare asks for the set columns once it has the table") }
        let plan = update.plan
        self.conflictsFile?.start(keyColumns: plan.keyColumns.map(\.name))
        let mapping = try RowMapping(
            plan: plan,
            expectedInputs: command.expected.map(\.input),
            inputColumns: stream.columns,
            ignoreOthers: command.setColumns != nil,
            inputName: stream.name
        )

        // Only a regular file can be read twice; a pipe, a FIFO or /dev/stdin is streamed once, like `-`.
        let isFile = stream.isRegularFile
        let limit = Self.keptFileLimit
        let keepsRows = limit > 0 && (stream.fileSize ?? Int.max) <= limit
        // What the check found: the rows and the input's digest, and the rows themselves when they were kept.
        var checked: CheckedRows?
        if isFile {
            let pass = try await self.check(
                &stream,
                mapping: mapping,
                plan: plan,
                checker: update.valueChecker(logger: self.logger),
                keepingRows: keepsRows
            )
            checked = pass
            if let reason = self.signals.control.stopReason {
                throw ApplyFailure(
                    description: "stopped by \(reason) while the input was being checked; nothing was written",
                    exitCode: ApplyFailure.interrupted
                )
            }
            do {
                try plan.options.checkRowCount(pass.count)
            } catch {
                throw ApplyFailure.from(error)
            }
            if !pass.isKept {
                stream = try RecordStream(
                    path: command.input,
                    format: command.inputFormat,
                    nullString: command.nullString
                )
            }
        }
        // A dry run reads the rows as the run would, and journals nothing.
        let runID = command.dryRun ? nil : plan.options.runID
        if command.dryRun { self.printPlan(update, rows: checked?.count, input: stream.name) }

        self.signals.context.withLock {
            $0.runID = runID
            $0.atomic = plan.options.atomic
        }
        let signals = self.signals
        let progress = ProgressLine(
            mode: ProgressLine.mode(quiet: command.quiet, option: command.progress),
            total: checked?.count,
            runID: runID
        )
        // The id is how a killed run is found and resumed: printed even with --quiet unless the user chose it; with
        // --progress json, as the first JSON line.
        if progress.mode == .json {
            progress.start(resuming: plan.options.resume)
        } else if let runID, !command.quiet || generatedRunID {
            let verb = plan.options.resume ? "resuming run" : "run"
            FileHandle.standardError.write(Data("\(verb) \(runID)\n".utf8))
        }
        let onProgress: @Sendable (BulkUpdateProgress) -> Void = { value in
            signals.context.withLock { $0.progress = value }
            progress.update(value)
        }
        let report: BulkUpdateReport
        do {
            // A file was read in full: its digest goes into the journal, and a resumed run must read the same file.
            if let checked, checked.isKept {
                report = try await update.run(checked, onProgress: onProgress, logger: self.logger)
            } else {
                report = try await update.run(
                    InputRows(stream: stream, mapping: mapping),
                    inputDigest: checked?.digest,
                    totalRows: checked?.count,
                    onProgress: onProgress,
                    logger: self.logger
                )
            }
            progress.finish("finished", report: report)
        } catch {
            progress.finish((error as? BulkUpdateError)?.code == .interrupted ? "interrupted" : "failed")
            throw error
        }
        print(report)
        if report.rowsConflicting > 0 {
            let listed = self.conflictsFile.map { " (listed in \($0.path))" } ?? " (--conflicts FILE lists them)"
            FileHandle.standardError.write(
                Data(
                    ("\(report.rowsConflicting) row\(report.rowsConflicting == 1 ? "" : "s") "
                        + (report.dryRun ? "would be" : report.rowsConflicting == 1 ? "was" : "were")
                        + " left alone as conflicts\(listed)\n").utf8
                )
            )
        }
        let exitCode = report.rowsConflicting > 0 ? ApplyFailure.conflicts : 0
        try self.finishReport(report, exitCode: exitCode)
        if exitCode != 0 { throw ExitCode(exitCode) }
    }

    /// Reads every record and checks it, on the client and, for the columns only the database can judge, by the
    /// database (writing nothing); throws listing up to ``listedErrors`` invalid lines.
    ///
    /// - Parameter keepingRows: Whether to keep the checked rows for the write (see ``keptFileLimit``).
    /// - Returns: The number of rows and the input's digest, and the rows when kept.
    private func check(
        _ stream: inout RecordStream,
        mapping: RowMapping,
        plan: UpdatePlan,
        checker: (any ServerValueChecker)?,
        keepingRows: Bool
    ) async throws -> CheckedRows {
        var pass = ValidationPass(
            plan: plan,
            checker: checker,
            listLimit: Self.listedErrors,
            keepingRows: keepingRows,
            logger: self.logger
        )
        var unreadable: [BulkUpdateError] = []
        while true {
            let offset = stream.bytesRead
            let record: (line: Int, fields: RecordStream.Fields)?
            do {
                record = try stream.next()
            } catch let error as BulkUpdateError {
                // A line the reader cannot parse: counted like a row that does not fit.
                unreadable.append(error)
                if stream.bytesRead == offset { break }  // the reader cannot move past this fault
                continue
            }
            guard let (line, fields) = record else { break }
            let row: BulkUpdateRow
            do {
                row = try mapping.row(fields, line: line)
            } catch {
                unreadable.append(error)
                continue
            }
            if pass.checkOnClient(row, line: line) { try await pass.flushFull() }
            // A signal while checking: stop reading (the caller reports it; nothing is written).
            if line & 4095 == 0, self.signals.control.isStopping { break }
        }
        try await pass.finish()
        if self.signals.control.isStopping { return pass.checkedRows }
        let invalid = pass.invalid + unreadable.count
        guard invalid == 0 else {
            let errors = (pass.errors + unreadable.prefix(Self.listedErrors))
                .sorted { ($0.inputLine ?? 0) < ($1.inputLine ?? 0) }
                .prefix(Self.listedErrors)
            let count = pass.invalidIsLowerBound ? "at least \(invalid)" : "\(invalid)"
            var message = "\(count) invalid line\(invalid == 1 ? "" : "s") in \(stream.name); nothing was written:"
            for error in errors { message += "\n  " + error.description }
            if invalid > errors.count {
                message += "\n  … and \(pass.invalidIsLowerBound ? "at least " : "")\(invalid - errors.count) more"
            }
            throw ApplyFailure(description: message, exitCode: ApplyFailure.invalidInput)
        }
        return pass.checkedRows
    }

    private func printPlan<Backend: BulkUpdateBackend>(_ update: PreparedUpdate<Backend>, rows: Int?, input: String) {
        let plan = update.plan
        let options = plan.options
        func describe(_ columns: [ColumnSchema]) -> String {
            columns.map { "\($0.name) \($0.type.displayName)\($0.isNullable ? "" : " NOT NULL")" }
                .joined(separator: ", ")
        }
        let chunks = Int((Double(rows ?? 0) / Double(options.chunkSize)).rounded(.up))
        print("dry run: nothing is written")
        print("target    \(plan.table.name) (\(update.backend.databaseName))")
        print("key       \(describe(plan.keyColumns))")
        print("set       \(describe(plan.setColumns))")
        print("input     \(input): " + (rows.map { "\($0) rows, all valid" } ?? "read once, checked as it streams"))
        print(
            "strategy  \(options.strategy), \(options.workers) worker\(options.workers == 1 ? "" : "s"),"
                + (options.targetChunkDuration.map {
                    " chunks sized to about \(BulkUpdateEngine.seconds($0)) s each, starting at \(options.chunkSize) rows"
                } ?? " chunks of \(options.chunkSize) rows"
                    + (rows == nil ? "" : " (about \(chunks) chunk\(chunks == 1 ? "" : "s"))"))
                + (options.skipUnchanged ? ", unchanged rows skipped" : "")
                + (options.atomic ? ", atomic (all or nothing)" : ", each chunk commits on its own")
                + ", duplicate keys: \(options.duplicateKeys)"
        )
        print("SQL of one chunk (shown for 2 rows):")
        print("  " + update.statementText(rows: 2))
    }

    /// Writes the report of a run that succeeded; a report that cannot be written (a full disk) makes the exit
    /// code 73, since a script relying on it would otherwise read nothing.
    private func finishReport(_ report: BulkUpdateReport, exitCode: Int32) throws {
        if let conflicts = self.conflictsFile, !conflicts.isComplete { throw ExitCode(ApplyFailure.reportUnwritable) }
        guard let file = self.reportFile else { return }
        guard file.write(report, exitCode: exitCode) else {
            throw ExitCode(ApplyFailure.reportUnwritable)
        }
    }

    /// `20261128-141503-3fa2`: sortable, and unique enough for runs started by hand.
    static func newRunID() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date()) + "-" + UUID().uuidString.prefix(4).lowercased()
    }

    /// `names` in the table's column order.
    static func tableOrder(_ names: [String], _ schema: TableSchema) -> [String] {
        let order = Dictionary(uniqueKeysWithValues: schema.columns.enumerated().map { ($1.name, $0) })
        return names.sorted { (order[$0] ?? Int.max, $0) < (order[$1] ?? Int.max, $1) }
    }
}
