import ArgumentParser
import BulkUpdate
import BulkUpdateSQLite
import Foundation
import Logging
import Synchronization

/// A run's undo as the journal holds it: what it changed, where, and what each row held before.
struct UndoLog {
    let runID: String
    /// The target, quoted as SQL names it.
    let table: String
    let keyColumns: [String]
    let setColumns: [String]
    /// The number of changed rows.
    let rows: Int
    /// Whether the undo is in the undo table of earlier versions (a row per changed row), not in the undo table.
    let legacy: Bool
    /// Whether the previous and written values keep their SQLite storage classes
    /// (``RunJournal/storageClassesMark``): a revert then writes them as they are.
    let storageClasses: Bool
    /// The run's undo rows (worker, chunk, part), in the order they are read.
    let parts: [[String?]]
    /// The key values an earlier chunk of the run may have written too: their rows are merged (first previous
    /// values, last written values) and read last.
    let repeated: Set<[String?]>

    /// One changed row: its key values (as text), the values it held before the run, the values the run wrote.
    struct Row {
        var keys: [String?]
        var old: [UndoValue?]
        var new: [UndoValue?]
    }

    /// Reads run `runID`'s first undo row (its table and columns) and which undo rows it has, and counts its rows;
    /// `found` runs once the undo is known to exist, before the rest is read (its errors are its own: a missing
    /// grant it meets is not the undo's).
    ///
    /// - Throws: ``BulkUpdateError`` (configuration) when the run kept no undo.
    static func open(
        _ runID: String,
        in journal: RunsJournal,
        found: () async throws -> Void = {}
    ) async throws -> UndoLog {
        struct FoundFailed: Error { let error: any Error }
        do {
            return try await Self.read(runID, in: journal) {
                do { try await found() } catch { throw FoundFailed(error: error) }
            }
        } catch let failed as FoundFailed {
            throw failed.error
        } catch var error as BulkUpdateError where error.code == .privilege {
            error.message +=
                "; runs revert and runs export read the undo: GRANT SELECT ON"
                + " \(SQLIdentifier.quote(journal.schema)).\(SQLIdentifier.quote(RunJournal.undoTableName))"
                + " TO \(journal.role)"
            throw error
        }
    }

    private static func read(
        _ runID: String,
        in journal: RunsJournal,
        found: () async throws -> Void
    ) async throws -> UndoLog {
        let none = BulkUpdateError(
            .configuration,
            "run \(SQLText.literal(runID)) has no undo in schema \(SQLText.literal(journal.schema)): it does not"
                + " exist there, kept none (apply --no-undo, --atomic, --no-journal, or strategy values or caseWhen"
                + " on PostgreSQL), or its undo was removed by runs --clean"
        )
        guard journal.exists else { throw none }
        for legacy in try await journal.undoTables() {
            guard let header = try await journal.rows(journal.journal.selectUndoHeader(legacy: legacy), [runID]).first,
                let tableAndKeys = header[0].flatMap(RunJournal.values(ofJSONArray:))?.compactMap({ $0 }),
                let table = tableAndKeys.first,
                let sets = header[1].flatMap(RunJournal.values(ofJSONArray:))?.compactMap({ $0 })
            else { continue }
            let keys = Array(tableAndKeys.dropFirst())
            let storageClasses = header[2] == RunJournal.storageClassesMark
            try await found()
            if legacy {
                let count = try await journal.rows(journal.journal.countLegacyUndo, [runID]).first?.first ?? nil
                return UndoLog(
                    runID: runID,
                    table: table,
                    keyColumns: keys,
                    setColumns: sets,
                    rows: count.flatMap { Int($0) } ?? 0,
                    legacy: true,
                    storageClasses: false,
                    parts: [],
                    repeated: []
                )
            }
            let parts = try await journal.rows(journal.journal.selectUndoParts, [runID])
            var rows = parts.reduce(0) { $0 + ($1[3].flatMap { Int($0) } ?? 0) }
            var repeated: Set<[String?]> = []
            for part in try await journal.rows(journal.journal.selectUndoRepeated, [runID]) {
                guard let positions = part[3].flatMap(RunJournal.integers(ofJSONArray:)),
                    let keyValues = part[4].flatMap({
                        RunJournal.rows(ofJSONColumns: $0, columns: keys.count, rows: positions.count)
                    }),
                    let marked = part[5].flatMap(RunJournal.integers(ofJSONArray:))
                else { throw Self.broken(runID, part: part) }
                let index = Dictionary(positions.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
                for position in marked {
                    guard let row = index[position] else { continue }
                    repeated.insert(keyValues[row])
                    rows -= 1
                }
            }
            return UndoLog(
                runID: runID,
                table: table,
                keyColumns: keys,
                setColumns: sets,
                rows: max(0, rows),
                legacy: false,
                storageClasses: storageClasses,
                parts: parts.map { Array($0.prefix(3)) },
                repeated: repeated
            )
        }
        throw none
    }

    private static func broken(_ runID: String, part: [String?]) -> BulkUpdateError {
        BulkUpdateError(
            .input,
            "the undo of run \(SQLText.literal(runID)) holds a row that is not one: worker \(part[0] ?? "?"), chunk"
                + " \(part[1] ?? "?"), part \(part[2] ?? "?")"
        )
    }

    /// Where reading the changed rows stands.
    struct Cursor {
        /// The next page of the undo table of earlier versions starts after these key values; `nil` after the last.
        var after: String? = ""
        /// The next undo row to read.
        var part = 0
        /// The rows of repeated keys, merged, in the order they were first read.
        var merged: [Row] = []
        var mergedIndex: [[String?]: Int] = [:]
        var done = false
    }

    /// The next page of changed rows (`nil` after the last), in the same order every time, so a revert that
    /// resumes cuts the same chunks: an undo row at a time, then the merged rows of repeated keys (or, in the undo
    /// table of earlier versions, ``RunJournal/undoPage`` rows at a time, by key values).
    func page(_ cursor: inout Cursor, in journal: RunsJournal) async throws -> [Row]? {
        if self.legacy {
            guard let after = cursor.after else { return nil }
            let page = try await journal.rows(journal.journal.selectLegacyUndoPage, [self.runID, after])
            var rows: [Row] = []
            rows.reserveCapacity(page.count)
            for cells in page {
                guard let keys = cells[0].flatMap(RunJournal.values(ofJSONArray:)),
                    let old = cells[1].flatMap(RunJournal.values(ofJSONArray:)),
                    let new = cells[2].flatMap(RunJournal.values(ofJSONArray:)),
                    self.fits(keys: keys, old: old, new: new)
                else {
                    throw BulkUpdateError(
                        .input,
                        "the undo of run \(SQLText.literal(self.runID)) holds a row that is not one: key"
                            + " \(cells[0] ?? "?")"
                    )
                }
                rows.append(
                    Row(keys: keys, old: old.map { $0.map(UndoValue.text) }, new: new.map { $0.map(UndoValue.text) })
                )
            }
            cursor.after = page.count == RunJournal.undoPage ? page.last?[0] ?? nil : nil
            return rows
        }
        guard cursor.part < self.parts.count else {
            guard !cursor.done else { return nil }
            cursor.done = true
            return cursor.merged
        }
        let part = self.parts[cursor.part]
        cursor.part += 1
        guard let cells = try await journal.rows(journal.journal.selectUndoPart, [self.runID] + part).first,
            let count = cells[0].flatMap({ Int($0) }),
            let keys = cells[1].flatMap({
                RunJournal.rows(ofJSONColumns: $0, columns: self.keyColumns.count, rows: count)
            }),
            let old = cells[2].flatMap({
                RunJournal.undoValues(ofJSONColumns: $0, columns: self.setColumns.count, rows: count)
            }),
            let new = cells[3].flatMap({
                RunJournal.undoValues(ofJSONColumns: $0, columns: self.setColumns.count, rows: count)
            })
        else { throw Self.broken(self.runID, part: part) }
        var rows: [Row] = []
        rows.reserveCapacity(keys.count)
        for index in keys.indices {
            let row = Row(keys: keys[index], old: old[index], new: new[index])
            guard !self.repeated.isEmpty, self.repeated.contains(row.keys) else {
                rows.append(row)
                continue
            }
            // A key written again: its first previous values stay, its last written values follow.
            if let earlier = cursor.mergedIndex[row.keys] {
                cursor.merged[earlier].new = row.new
            } else {
                cursor.mergedIndex[row.keys] = cursor.merged.count
                cursor.merged.append(row)
            }
        }
        return rows
    }

    private func fits(keys: [String?], old: [String?], new: [String?]) -> Bool {
        keys.count == self.keyColumns.count && old.count == self.setColumns.count && new.count == self.setColumns.count
    }

    /// Every changed row, a page at a time.
    func forEachPage(in journal: RunsJournal, _ body: ([Row]) async throws -> Void) async throws {
        var cursor = Cursor()
        while let rows = try await self.page(&cursor, in: journal) {
            if !rows.isEmpty { try await body(rows) }
        }
    }
}

/// `runs revert RUN_ID`: puts back the values a run's changed rows held, where they still hold what it wrote.
struct RunsRevert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revert",
        abstract: "Put back what a run changed, where nobody has changed the rows since.",
        discussion: """
            Reads the run's undo (kept by every journaled apply unless --no-undo) and writes each changed row's \
            previous values back, only where the row still holds the values the run wrote; a row changed since is \
            a conflict: left alone, counted, listed (--conflicts FILE), and the command exits 3 (a row deleted since \
            too). Rows that already hold their previous values are left as they are.

            The revert is itself a journaled run, named revert-RUN_ID, with its own undo (so it can be reverted in \
            turn): if it is killed or stopped, running the same command again resumes it; once it finished, it is \
            refused. A run still going is not reverted (stop it first), and a reverted run is never resumed: apply \
            the input as a new run instead. Exit codes are those of apply (0, 3, 64, 65, 69, 73, 75, 77).
            """
    )

    @OptionGroup var journal: JournalOptions
    @Argument(help: "The id of the run to revert.") var runID: String

    @Option(help: "Workers writing in parallel, each on its own connection.")
    var workers: Int = 2

    @Option(help: "Rows per chunk; each chunk is one transaction.")
    var chunkSize: Int = 10_000

    @Option(help: "Write every conflict as CSV to this file (key columns, column, expected, actual).")
    var conflicts: String?

    @Option(help: "Write the report as JSON to this file, whatever the outcome.")
    var report: String?

    @Flag(help: "Count what the revert would put back, and the conflicts, writing nothing.")
    var dryRun = false

    @Flag(help: "Keep no undo of the revert itself (it cannot be reverted then).")
    var noUndo = false

    @Option(help: "Seconds the chunks in flight get to finish after SIGINT or SIGTERM.")
    var grace: Double = 10

    @Option(
        help: """
            text: a progress line on standard error (the default); json: one JSON object per line on standard \
            error, about every second, for orchestrators; none: like --quiet.
            """
    )
    var progress: String = "text"

    @Flag(help: "Print no progress.")
    var quiet = false

    @OptionGroup(title: "Live databases")
    var live: LiveOptions

    @OptionGroup(title: "Observing")
    var observe: ObserveOptions

    func validate() throws {
        guard (1...256).contains(self.workers) else {
            throw ValidationError("--workers must be between 1 and 256, got \(self.workers)")
        }
        guard self.chunkSize >= 1 else { throw ValidationError("--chunk-size must be at least 1") }
        guard ProgressLine.Mode(option: self.progress) != nil else {
            throw ValidationError("--progress must be text, json or none, got '\(self.progress)'")
        }
        if self.quiet && self.progress == "json" {
            throw ValidationError("--quiet prints no progress; drop it to get --progress json")
        }
        guard self.grace >= 0 && self.grace.isFinite else { throw ValidationError("--grace must be 0 or more") }
        guard RunJournal.revertID(of: self.runID).count <= 100 else {
            throw ValidationError("the revert's run id, revert-RUN_ID, would pass 100 characters")
        }
    }

    func run() async throws {
        let signals = StopSignals(grace: .milliseconds(Int(self.grace * 1000)))
        signals.install()
        let (reportFile, conflictsFile) = try ApplyCommand.openOutputs(report: self.report, conflicts: self.conflicts)
        signals.context.withLock { $0.reportFile = reportFile }
        let revertID = RunJournal.revertID(of: self.runID)
        try await self.reportingFailure(revertID, to: reportFile) {
            let location = try self.journal.location()
            try await self.observe.serving(until: signals) {
                // The outcome is printed when the revert ends, before --metrics-linger keeps the endpoint up.
                try await self.reportingFailure(revertID, to: reportFile) {
                    let report = try await RunsJournal.open(
                        location,
                        schema: self.journal.journalSchema,
                        runID: revertID,
                        busyTimeout: self.live.busyTimeout
                    ) { journal in
                        try await Self.checkNotAlive(self.runID, in: journal)
                        // Marked once its undo is known to exist, and before it is read: from the mark on no chunk
                        // of the run commits, so the undo read is whole.
                        let undo = try await UndoLog.open(self.runID, in: journal) {
                            if !self.dryRun { try await Self.markReverted(self.runID, in: journal) }
                        }
                        let resume = try await Self.resumes(revertID, in: journal)
                        conflictsFile?.start(keyColumns: undo.keyColumns)
                        return try await self.revert(
                            undo,
                            from: journal,
                            at: location,
                            as: revertID,
                            resume: resume,
                            signals: signals,
                            conflictsFile: conflictsFile
                        )
                    }
                    print(report)
                    if report.rowsConflicting > 0 {
                        let count = report.rowsConflicting
                        let verb = report.dryRun ? "would be" : count == 1 ? "was" : "were"
                        let listed = conflictsFile.map { " (listed in \($0.path))" } ?? ""
                        let text =
                            "\(count) row\(count == 1 ? "" : "s") changed since the run \(verb) left alone\(listed)\n"
                        FileHandle.standardError.write(Data(text.utf8))
                    }
                    if report.keysNotFound > 0 {
                        let count = report.keysNotFound
                        let verb = report.dryRun ? "would be" : count == 1 ? "was" : "were"
                        FileHandle.standardError.write(
                            Data(
                                "\(count) row\(count == 1 ? "" : "s") deleted since the run \(verb) not restored\n".utf8
                            )
                        )
                    }
                    // Rows changed or deleted since the run are not put back: the revert is not complete.
                    let code = report.rowsConflicting + report.keysNotFound > 0 ? ApplyFailure.conflicts : 0
                    if let conflictsFile, !conflictsFile.isComplete { throw ExitCode(ApplyFailure.reportUnwritable) }
                    if let reportFile, !reportFile.write(report, exitCode: code) {
                        throw ExitCode(ApplyFailure.reportUnwritable)
                    }
                    if code != 0 { throw ExitCode(code) }
                }
            }
        }
    }

    /// Runs `body`; a failure it throws is printed (with the command that resumes the revert), written to the report
    /// file, and ends the command with its exit code.
    private func reportingFailure(
        _ revertID: String,
        to reportFile: ReportFile?,
        _ body: () async throws -> Void
    ) async throws {
        var failure: ApplyFailure
        do {
            try await body()
            return
        } catch let error as BulkUpdateError {
            failure = ApplyFailure.from(error)
        } catch let error as ApplyFailure {
            failure = error
        }
        failure.description = failure.description.replacingOccurrences(
            of: "resume with: --resume \(revertID) (same input and options)",
            with: "resume with: bulk-update runs revert \(self.runID) --workers \(self.workers) --chunk-size"
                + " \(self.chunkSize)" + (self.journal.journalSchema.map { " --journal-schema \($0)" } ?? "")
                + " (and the same --database)"
        )
        FileHandle.standardError.write(Data("error: \(failure.description)\n".utf8))
        reportFile?.write(failure.report, error: failure.description, exitCode: failure.exitCode)
        throw ExitCode(failure.exitCode)
    }

    /// Refuses to revert run `runID` while its process is still writing it: the chunks it committed after the undo
    /// was read would stay.
    static func checkNotAlive(_ runID: String, in journal: RunsJournal) async throws {
        guard journal.exists, let run = try await journal.rows(journal.journal.selectRun, [runID]).first else { return }
        try await RunJournal(runID: runID, schema: journal.schema).checkNotAlive(
            state: run[3],
            heartbeat: run[4],
            finished: run[2],
            then: "revert it"
        ) { try await journal.rows(journal.journal.selectState, [runID]).first?[1] ?? nil }
    }

    /// Marks run `runID` as being reverted (``RunJournal/markReverted(postgres:)``): a process still writing it, or
    /// one that resumes it, has its next chunk rolled back and stops. Refused while a chunk of it is in flight.
    static func markReverted(_ runID: String, in journal: RunsJournal) async throws {
        let run = RunJournal(runID: runID, schema: journal.schema)
        if journal.isPostgres {
            let locked = try await journal.rows(run.markReverted(postgres: true), [runID, RunJournal.now(), runID])
            guard locked.first?.first == "true" else {
                throw BulkUpdateError(
                    .configuration,
                    "a chunk of run \(SQLText.literal(runID)) is being written (its process holds the run's lock): stop"
                        + " it (bulk-update runs stop \(runID)) and revert it once it has exited"
                )
            }
        } else {
            _ = try await journal.rows(run.markReverted(postgres: false), [runID, RunJournal.now()])
        }
    }

    /// Whether the revert run `revertID` exists unfinished (then it is resumed); throws when it finished.
    static func resumes(_ revertID: String, in journal: RunsJournal) async throws -> Bool {
        guard let run = try await journal.rows(journal.journal.selectRun, [revertID]).first else { return false }
        if let finished = run[2] {
            throw BulkUpdateError(
                .configuration,
                "the run was reverted already: run \(SQLText.literal(revertID)) finished at \(finished);"
                    + " to take that back, revert it: bulk-update runs revert \(revertID)"
            )
        }
        return true
    }

    private func revert(
        _ undo: UndoLog,
        from journal: RunsJournal,
        at location: DatabaseLocation,
        as revertID: String,
        resume: Bool,
        signals: StopSignals,
        conflictsFile: ConflictsFile?
    ) async throws -> BulkUpdateReport {
        var options = BulkUpdateOptions(workers: self.workers, chunkSize: self.chunkSize, skipUnchanged: true)
        // Written only where the row still holds what the run wrote.
        options.expectedColumns = undo.setColumns
        options.runID = revertID
        options.resume = resume
        options.journalSchema = self.journal.journalSchema
        options.keepsUndo = !self.noUndo
        self.live.configure(&options)
        options.dryRun = self.dryRun
        options.control = signals.control
        if let conflictsFile { options.onConflicts = { conflictsFile.write($0) } }
        signals.context.withLock {
            $0.runID = self.dryRun ? nil : revertID
        }
        let progress = ProgressLine(
            mode: ProgressLine.mode(quiet: self.quiet, option: self.progress),
            total: undo.rows,
            runID: self.dryRun ? nil : revertID
        )
        if progress.mode == .json {
            progress.start(resuming: resume)
        } else if progress.mode != .quiet && !self.dryRun {
            FileHandle.standardError.write(
                Data("\(resume ? "resuming" : "reverting run \(undo.runID) as") run \(revertID)\n".utf8)
            )
        }
        let logger = self.observe.logger
        var report: BulkUpdateReport?
        let onProgress: @Sendable (BulkUpdateProgress) -> Void = { value in
            signals.context.withLock { $0.progress = value }
            progress.update(value)
        }
        do {
            try await location.withBackend(connections: self.workers + 1) { backend in
                report = try await Self.write(
                    undo,
                    from: journal,
                    on: backend,
                    options: options,
                    onProgress: onProgress,
                    logger: logger
                )
            }
        } catch {
            progress.finish((error as? BulkUpdateError)?.code == .interrupted ? "interrupted" : "failed")
            throw error
        }
        guard let report else { preconditionFailure("the backend ran the body") }
        progress.finish("finished", report: report)
        return report
    }

    /// Writes `undo`'s rows back through `backend`.
    private static func write<Backend: BulkUpdateBackend>(
        _ undo: UndoLog,
        from journal: RunsJournal,
        on backend: Backend,
        options: BulkUpdateOptions,
        onProgress: @escaping @Sendable (BulkUpdateProgress) -> Void,
        logger: Logger
    ) async throws -> BulkUpdateReport {
        let update = try await PreparedUpdate.prepare(
            backend: backend,
            table: undo.table,
            keyColumns: undo.keyColumns,
            setColumns: { _ in undo.setColumns },
            // Written as they were, whatever the columns' declared types (only SQLite keeps classes).
            storingAsGiven: undo.storageClasses && backend is SQLiteBackend ? undo.setColumns : [],
            options: options,
            logger: logger
        )
        return try await update.run(
            UndoRows(undo: undo, journal: journal),
            totalRows: undo.rows,
            onProgress: onProgress,
            logger: logger
        )
    }
}

/// The rows of a run's undo, as a revert writes them: key values, previous values (set), written values (expected).
struct UndoRows: AsyncSequence {
    typealias Element = BulkUpdateRow

    let undo: UndoLog
    let journal: RunsJournal

    struct AsyncIterator: AsyncIteratorProtocol {
        let undo: UndoLog
        let journal: RunsJournal
        var buffer: [BulkUpdateRow] = []
        var index = 0
        var cursor = UndoLog.Cursor()
        var line = 0

        mutating func next() async throws -> BulkUpdateRow? {
            while self.index == self.buffer.count {
                guard let rows = try await self.undo.page(&self.cursor, in: self.journal) else { return nil }
                self.index = 0
                self.buffer = rows.map { row in
                    self.line += 1
                    let values =
                        row.keys.map { $0.map(BulkUpdateValue.string) ?? .null }
                        + (row.old + row.new).map { $0?.value ?? .null }
                    return BulkUpdateRow(values, line: self.line)
                }
            }
            defer { self.index += 1 }
            return self.buffer[self.index]
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(undo: self.undo, journal: self.journal) }
}

/// `runs export RUN_ID --undo FILE`: a run's previous values as a change file `apply` reads.
struct RunsExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the values a run's changed rows held before it, as a CSV file apply accepts.",
        discussion: """
            The header names the key columns, then the set columns; NULL is \\N. `bulk-update apply --table T \
            --input FILE` writes them back unconditionally; `runs revert` does so only where the rows still hold \
            what the run wrote.
            """
    )

    @OptionGroup var journal: JournalOptions
    @Argument(help: "The run's id.") var runID: String

    @Option(help: "The file to write, or - for standard output.")
    var undo: String

    func run() async throws {
        let rows = try await RunsJournal.with(try self.journal.location(), schema: self.journal.journalSchema) {
            journal in
            // The undo is found (or its absence reported) before FILE is touched.
            let undo = try await UndoLog.open(self.runID, in: journal)
            // A run still going, stopped or failed has kept undo only for the chunks it committed so far.
            if let run = try await journal.rows(journal.journal.selectRun, [self.runID]).first, run[2] == nil {
                FileHandle.standardError.write(
                    Data(
                        ("warning: run \(self.runID) has not finished (\(run[3] ?? "state unknown")): the export holds"
                            + " the previous values of the rows it changed so far\n").utf8
                    )
                )
            }
            let output = try ExportOutput(self.undo)
            do {
                try output.write(ConflictsFile.line(undo.keyColumns + undo.setColumns))
                var count = 0
                try await undo.forEachPage(in: journal) { rows in
                    var text = ""
                    for row in rows { text += ConflictsFile.line(row.keys + row.old.map { $0?.text }) }
                    try output.write(text)
                    count += rows.count
                }
                try output.finish()
                return count
            } catch {
                output.discard()
                throw error
            }
        }
        if self.undo != "-" {
            FileHandle.standardError.write(Data("wrote \(rows) row\(rows == 1 ? "" : "s") to \(self.undo)\n".utf8))
        }
    }
}

/// Where `runs export --undo` writes. A regular file (or a new one) is written beside it under a temporary name and
/// takes its place only once the whole export is written: a failed export leaves an existing file as it was and
/// no partial file. Standard output (`-`) and anything else (a symbolic link, a pipe, a device) are written as they
/// are. A write that fails prints the file and the reason and ends the command with exit 73.
struct ExportOutput {
    let path: String
    let handle: FileHandle
    /// The file being written, renamed to `path` by ``finish()``; `nil` when writing to `path` itself.
    let temporary: String?

    init(_ path: String) throws {
        self.path = path
        if path == "-" {
            self.handle = FileHandle.standardOutput
            self.temporary = nil
            return
        }
        // A regular file, or none: written under a temporary name, in its mode. Anything else (a symbolic link, a
        // pipe, a device) is written as it is, so that it stays what it is.
        var status = stat()
        let exists = lstat(path, &status) == 0
        let replaced = !exists || (status.st_mode & S_IFMT) == S_IFREG
        let written = replaced ? Self.temporaryName(for: path) : path
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (replaced ? O_EXCL : O_TRUNC)
        let descriptor = open(written, flags, exists && replaced ? status.st_mode & 0o7777 : 0o644)
        guard descriptor >= 0 else { throw Self.failure(path, reason: String(cString: strerror(errno)), kept: true) }
        self.handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        self.temporary = replaced ? written : nil
    }

    /// `DIRECTORY/.NAME.partial-PID`, beside `path`, so the rename stays on one file system.
    private static func temporaryName(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)"
        ).path
    }

    func write(_ text: String) throws {
        do { try self.handle.write(contentsOf: Data(text.utf8)) } catch {
            throw Self.failure(self.path, error, kept: self.temporary != nil)
        }
    }

    /// Flushes the file to disk and puts it in place.
    func finish() throws {
        guard let temporary else { return }
        do {
            try self.handle.synchronize()
            try self.handle.close()
        } catch { throw Self.failure(self.path, error, kept: true) }
        guard rename(temporary, self.path) == 0 else {
            let reason = String(cString: strerror(errno))
            self.discard()
            throw Self.failure(self.path, reason: reason, kept: true)
        }
    }

    /// Removes what a failed export wrote under its temporary name.
    func discard() {
        guard let temporary else { return }
        try? self.handle.close()
        try? FileManager.default.removeItem(atPath: temporary)
    }

    private static func failure(_ path: String, _ error: any Error, kept: Bool) -> ExitCode {
        let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
        let code = underlying?.domain == NSPOSIXErrorDomain ? Int32(underlying?.code ?? 0) : 0
        return Self.failure(path, reason: code != 0 ? String(cString: strerror(code)) : "\(error)", kept: kept)
    }

    /// Prints why `path` could not be written and whether it was `kept` as it was (else it holds part of the
    /// export); the command's exit code.
    private static func failure(_ path: String, reason: String, kept: Bool) -> ExitCode {
        let name = path == "-" ? "standard output" : "'\(path)'"
        let outcome = kept ? "it was left as it was" : "what it holds is incomplete"
        FileHandle.standardError.write(Data("error: cannot write \(name): \(reason); \(outcome)\n".utf8))
        return ExitCode(ApplyFailure.reportUnwritable)
    }
}
