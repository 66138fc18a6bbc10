import ArgumentParser
import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateSQLite
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Applies a CSV, TSV or JSON Lines file of changes to a table.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a CSV, TSV or JSON Lines file of changes to a table, matched by key.",
        discussion: """
            The first CSV/TSV line names the columns. The key columns (--key, default: the table's primary key) \
            find each row; every other input column is set, or only those named with --columns (other input \
            columns are then ignored). JSON Lines: one object per line; its keys are the column names.

            NULL: in CSV/TSV an unquoted field equal to --null-string (default \\N, as in PostgreSQL's COPY) is \
            NULL; a quoted "\\N" is the text \\N, and an empty field is the empty string. In JSON Lines, null. \
            TSV follows CSV's rules with tabs (double quotes quote, backslashes are plain characters); it is not \
            the text format of PostgreSQL's COPY: export with \\copy (…) TO 'f.csv' WITH (FORMAT csv, HEADER) \
            to apply a table's rows back.

            JSON Lines values: a string is the column's text form (as in CSV); numbers go to numeric columns \
            exactly as written; true/false to boolean columns; objects and arrays to json/jsonb columns. A text \
            column takes any JSON value: a string as its content, anything else as its JSON text (42, true, \
            {"a":1}).

            A regular file is checked in full first: every line against the table's real column types (lengths, \
            numeric precision and scale, enum labels; domain CHECK constraints and types parsed by the server are \
            checked by PostgreSQL without writing), and nothing is written unless all lines are valid (at most 20 \
            errors are listed, with line, column, value and what was expected). The checked rows of a file of up to \
            32 MiB are kept in memory for the write, up to about 64 MiB (1,300,000 rows of an integer and a short \
            text); a larger file is read again, so memory does not grow with it (BULK_UPDATE_KEPT_FILE_LIMIT=BYTES \
            sets the file limit, 0 never keeps). Standard input (--input \
            -) and anything that is not a regular file (a pipe, /dev/stdin, a process substitution) is read once: \
            rows are checked as they stream and the run stops at the first bad line; the chunks committed before \
            it stay applied and are listed. What only the database decides (table CHECK and foreign key \
            constraints, unique collisions, triggers) fails the chunk that meets it.

            Before the first write the role's privileges are checked from the catalog (UPDATE on the set columns, \
            SELECT on the key columns, the journal's tables or CREATE on their schema, TEMPORARY for copy and \
            --atomic); --dry-run checks them too.

            Unless --atomic or --no-journal is given, every run is journaled in the tables bulk_update_runs and \
            bulk_update_journal of the target's schema (or --journal-schema): each chunk and its journal entry \
            commit together, and for a regular file a digest of the whole input is journaled too, so --resume \
            refuses a different (or truncated) file before writing. Existing journal tables are used as they are; when they are missing, the role needs \
            CREATE on that schema. A run that died can be finished with --resume RUN_ID on the same input and \
            options; chunks already committed are skipped, never applied twice (a run that runs revert has \
            started to take back is not resumed). The run id is printed on standard \
            error when the run starts (with --quiet too, unless you chose it with --run-id); `bulk-update runs` \
            lists runs. A journaled run also keeps its undo (the previous values of the rows it changes, in \
            bulk_update_undo_chunks, saved with each chunk; --no-undo turns it off): `bulk-update runs revert \
            RUN_ID` puts them back.

            Exit codes: 0 success; 3 the run finished and left rows alone as conflicts (--expect; a --dry-run that \
            finds some too); 64 bad options or settings (a journal schema that does not exist included), or a \
            revert of the run started while it ran (runs revert: its chunk in flight was rolled back); \
            65 the input does not fit the table — an unknown table or column, a value the column refuses, a row the \
            database rejects (a constraint), --expect-rows, --fail-on-missing-keys — nothing written; 66 input not \
            readable; 69 the database failed (connection, timeout, server error), nothing written; 73 the --report \
            file cannot be written (checked before anything else, and after a run whose report cannot be written); \
            75 the run failed after some chunks were committed (the error lists them); 77 a privilege is missing \
            (named, with the GRANT that gives it), nothing written. --report FILE is written for every outcome but \
            73, with the exit code in it.

            Stopping: SIGINT (Ctrl-C) or SIGTERM stops a run cleanly: no new chunk starts, the chunks in flight \
            finish (within --grace seconds, else the process exits at once and the server rolls them back; a \
            second signal exits at once too), the run is marked interrupted in its journal, and the command prints \
            what was committed and the resume command and exits 75. An atomic run applies nothing. A signal while \
            the file is being checked exits 75 with nothing written. `bulk-update runs pause|continue|stop|set \
            RUN_ID` steers a journaled run from another terminal (seen within a second).

            Safe data fixes: --dry-run shows what would change; --expect COLUMN=INPUT_COLUMN writes a row only \
            while its column still holds the value the input expected, checked in the statement that writes it, so \
            a change made meanwhile is never overwritten; --where adds your own condition. See docs/safe-fixes.md.

            Live databases: --max-rows-per-second caps the rate, --max-replica-lag pauses while standbys lag, \
            --pause-when pauses while your own query says so; pauses are shown in the progress line and summed in \
            the report. See docs/live.md.

            Observing: --metrics-port PORT serves the run's metrics as Prometheus text on \
            http://127.0.0.1:PORT/metrics while it goes (rows, chunks, retries and pauses by cause, chunk time, \
            rate, seconds since the last chunk); --metrics-linger keeps the final values up after it. \
            --log-level LEVEL logs to standard error, without row values. The DocC article "Observing a run" \
            lists the metrics.
            """
    )

    @Option(help: "PostgreSQL URL or SQLite file. Defaults to $DATABASE_URL.")
    var database: String?

    @Option(help: "The table, as in SQL: users, public.users, \"My Schema\".\"Orders\".")
    var table: String

    @Option(
        name: .customLong("key"),
        parsing: .singleValue,
        help: "A key column (repeatable). Defaults to the primary key."
    )
    var keys: [String] = []

    @Option(help: "The columns to set, comma-separated. Defaults to every input column that is not a key.")
    var columns: String?

    @Option(help: "The change file, or - for standard input.")
    var input: String

    @Option(help: "csv, tsv or jsonl. Defaults to the file's extension (csv for standard input and pipes).")
    var format: String?

    @Option(help: "The unquoted CSV/TSV field that means NULL.")
    var nullString: String = "\\N"

    @Option(help: "Workers writing in parallel, each on its own connection.")
    var workers: Int = 2

    @Option(help: "Rows per chunk; each chunk is one transaction. With --target-chunk-seconds, the first chunk's size.")
    var chunkSize: Int = 10_000

    @Option(
        help: """
            Adapt each worker's chunk size so a chunk's transaction takes about this many seconds (0.01 to 3600; \
            chunks of 10 to 100,000 rows; retries halve it). For live databases. A resumed run cuts its journaled \
            chunks as before.
            """
    )
    var targetChunkSeconds: Double?

    @Option(help: "auto, unnest, copy, values, caseWhen (PostgreSQL); auto, values, tempTable, caseWhen (SQLite).")
    var strategy: String = "auto"

    @Flag(help: "Do not rewrite rows whose values already equal the new ones.")
    var skipUnchanged = false

    @Flag(help: "All or nothing: stage every row, then apply them in one transaction.")
    var atomic = false

    @Option(help: "What a repeated key does: last (the last row wins) or error.")
    var onDuplicate: String = "last"

    @Option(help: "Journal the run under this id (default: a new id, printed when the run starts).")
    var runID: String?

    @Option(help: "Resume the journaled run with this id: same input and options; committed chunks are skipped.")
    var resume: String?

    @Flag(help: "Keep no journal: the run cannot be resumed.")
    var noJournal = false

    @Option(
        help: """
            The schema (SQLite: attached database) of the journal tables. Defaults to the target's schema. Use one \
            where the role may create tables, or one where an owner created them (bulk-update runs --create-sql).
            """
    )
    var journalSchema: String?

    @Flag(help: "Fail, rolling back the chunk, when a key has no row in the table (default: count it and go on).")
    var failOnMissingKeys = false

    @Option(help: "Fail unless the input holds exactly this many rows (a file is counted before anything is written).")
    var expectRows: Int?

    @Option(
        name: .customLong("expect"),
        parsing: .singleValue,
        help: """
            COLUMN=INPUT_COLUMN (repeatable): write a row only while its table column COLUMN still holds the value of \
            the input's INPUT_COLUMN (a version, an updated_at, the old value of a column being fixed); otherwise \
            the row is a conflict, left alone, counted, listed (--conflicts) and the command exits 3. COLUMN alone \
            reads the input column of that name, which is then not set. COLUMN may also be set.
            """
    )
    var expectations: [String] = []

    @Option(
        name: .customLong("where"),
        help: """
            Your own SQL predicate on the target, named t (t.status = 'active'): only matched rows for which it is \
            true are written; the others are counted as skipped by the condition. Sent as written; tried once on no \
            rows before anything is written.
            """
    )
    var condition: String?

    @Option(
        help: """
            Write every conflict as CSV to this file (key columns, column, expected, actual; NULL as \\N), also for \
            --dry-run (checked before anything is written).
            """
    )
    var conflicts: String?

    @Flag(
        help: """
            Keep no undo: by default a journaled run saves, with each chunk, what the rows it changes held (in \
            bulk_update_undo_chunks), so that `bulk-update runs revert RUN_ID` can put them back.
            """
    )
    var noUndo = false

    @Option(
        help: """
            Seconds (0 to 86400) that chunks in flight get to finish after SIGINT or SIGTERM before the process exits \
            at once (they then roll back).
            """
    )
    var grace: Double = 10

    @Option(
        help: """
            text: a progress line on standard error (the default); json: one JSON object per line on standard \
            error, about every second, for orchestrators; none: like --quiet.
            """
    )
    var progress: String = "text"

    @Flag(
        help: """
            Check the input, print the plan, and ask the database what the run would do, writing nothing and \
            locking no row: rows that would change, that already hold their new values, keys not found, and a \
            sample of the differences. The counts are those a --skip-unchanged run would report now.
            """
    )
    var dryRun = false

    @Option(help: "Differences (key, column: current -> new) a --dry-run shows, at most; 0 shows none.")
    var diffSample: Int = 10

    @Option(help: "Write the report as JSON to this file, whatever the outcome (checked before anything is written).")
    var report: String?

    @Flag(help: "Print no progress (the run id is still printed when it was not chosen with --run-id).")
    var quiet = false

    @OptionGroup(title: "Live databases")
    var live: LiveOptions

    @OptionGroup(title: "Observing")
    var observe: ObserveOptions

    func validate() throws {
        guard BulkUpdateOptions.Strategy(name: self.strategy) != nil else {
            throw ValidationError(
                "unknown strategy '\(self.strategy)'; choose from "
                    + BulkUpdateOptions.Strategy.all.map(\.description).joined(separator: ", ")
            )
        }
        guard BulkUpdateOptions.DuplicateKeyPolicy(name: self.onDuplicate) != nil else {
            throw ValidationError("--on-duplicate must be last or error, got '\(self.onDuplicate)'")
        }
        if self.resume != nil && (self.noJournal || self.atomic) {
            throw ValidationError("--resume cannot be combined with --no-journal or --atomic")
        }
        if self.resume != nil && self.runID != nil {
            throw ValidationError("--resume names the run already; drop --run-id")
        }
        guard (1...256).contains(self.workers) else {
            throw ValidationError("--workers must be between 1 and 256, got \(self.workers)")
        }
        guard self.chunkSize >= 1 else {
            throw ValidationError("--chunk-size must be at least 1, got \(self.chunkSize)")
        }
        guard self.diffSample >= 0 else {
            throw ValidationError("--diff-sample cannot be negative, got \(self.diffSample)")
        }
        if let runID = self.runID ?? self.resume, runID.isEmpty || runID.count > 100 {
            throw ValidationError("a run id must have 1 to 100 characters")
        }
        for (column, input) in self.expected where column.isEmpty || input.isEmpty {
            throw ValidationError("--expect takes COLUMN or COLUMN=INPUT_COLUMN, got '\(column)=\(input)'")
        }
        if let expectRows, expectRows < 0 {
            throw ValidationError("--expect-rows cannot be negative")
        }
        if self.journalSchema != nil && (self.noJournal || self.atomic) {
            throw ValidationError(
                "--journal-schema names where the journal goes; drop it with --no-journal or --atomic"
            )
        }
        if let target = self.targetChunkSeconds {
            guard target.isFinite, (0.01...3600).contains(target) else {
                throw ValidationError("--target-chunk-seconds must be between 0.01 and 3600, got \(target)")
            }
            if self.atomic {
                throw ValidationError("--target-chunk-seconds sizes per-chunk transactions; an --atomic run has one")
            }
        }
        guard self.grace.isFinite, (0...86_400).contains(self.grace) else {
            throw ValidationError("--grace must be between 0 and 86400 seconds, got \(self.grace)")
        }
        guard ProgressLine.Mode(option: self.progress) != nil else {
            throw ValidationError("--progress must be text, json or none, got '\(self.progress)'")
        }
        if self.quiet && self.progress == "json" {
            throw ValidationError("--quiet prints no progress; drop it to get --progress json")
        }
        if let format, RecordStream.Format(rawValue: format.lowercased()) == nil {
            throw ValidationError("--format must be csv, tsv or jsonl, got '\(format)'")
        }
        if self.input != "-", self.format == nil, RecordStream.Format.implied(by: self.input) == nil,
            ByteSource.isRegularFile(self.input)
        {
            throw ValidationError(
                "cannot tell the format of '\(self.input)' from its name; pass --format csv|tsv|jsonl"
            )
        }
    }

    /// `--format`, else the file's extension, else CSV (standard input, pipes, `/dev/stdin`).
    var inputFormat: RecordStream.Format {
        if let format { return RecordStream.Format(rawValue: format.lowercased())! }
        return self.input == "-" ? .csv : RecordStream.Format.implied(by: self.input) ?? .csv
    }

    var setColumns: [String]? {
        self.columns.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    /// `--expect` as (table column, input column) pairs.
    var expected: [(column: String, input: String)] {
        self.expectations.map { text in
            guard let equals = text.firstIndex(of: "=") else { return (text, text) }
            return (
                text[..<equals].trimmingCharacters(in: .whitespaces),
                text[text.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            )
        }
    }

    var keyColumns: [String]? {
        let keys = self.keys.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        return keys.isEmpty ? nil : keys
    }

    func run() async throws {
        let signals = StopSignals(grace: .milliseconds(Int(self.grace * 1000)))
        signals.install()
        let (reportFile, conflictsFile) = try Self.openOutputs(report: self.report, conflicts: self.conflicts)
        try await Self.reportingFailure(to: reportFile) {
            guard let location = try DatabaseLocation.fromCommandLine(self.database) else {
                throw BulkUpdateError(
                    .configuration,
                    "no database: pass --database postgres://… or a SQLite file, or set DATABASE_URL"
                )
            }
            signals.context.withLock { $0.reportFile = reportFile }
            let runner = ApplyRun(command: self, reportFile: reportFile, conflictsFile: conflictsFile, signals: signals)
            try await self.observe.serving(until: signals) {
                // A failure is printed when it happens, before --metrics-linger keeps the endpoint up.
                try await Self.reportingFailure(to: reportFile) {
                    try await location.withBackend(connections: self.workers + 1) { backend in
                        try await runner.run(backend: backend)
                    }
                }
            }
        }
    }
}

extension ApplyCommand {
    /// Runs `body`; a failure it throws is printed, written to the report file, and ends the command with its exit
    /// code.
    static func reportingFailure(to reportFile: ReportFile?, _ body: () async throws -> Void) async throws {
        let failure: ApplyFailure
        do {
            try await body()
            return
        } catch let error as ApplyFailure {
            failure = error
        } catch let error as BulkUpdateError {
            failure = ApplyFailure.from(error)
        }
        FileHandle.standardError.write(Data("error: \(failure.description)\n".utf8))
        reportFile?.write(failure.report, error: failure.description, exitCode: failure.exitCode)
        throw ExitCode(failure.exitCode)
    }

    /// Opens (creates or empties) the `--report` and `--conflicts` files before anything else happens; a path that
    /// cannot be written is printed and ends the command with exit code 73.
    static func openOutputs(report: String?, conflicts: String?) throws -> (ReportFile?, ConflictsFile?) {
        do {
            return (try report.map { try ReportFile(path: $0) }, try conflicts.map { try ConflictsFile(path: $0) })
        } catch let failure as ApplyFailure {
            FileHandle.standardError.write(Data("error: \(failure.description)\n".utf8))
            throw ExitCode(failure.exitCode)
        }
    }
}

/// An apply that failed: what to print, which exit code to use, and what the report file gets.
struct ApplyFailure: Error, CustomStringConvertible {
    static let usage: Int32 = 64
    static let invalidInput: Int32 = 65
    static let inputUnreadable: Int32 = 66
    static let databaseFailed: Int32 = 69
    static let reportUnwritable: Int32 = 73
    static let partiallyApplied: Int32 = 75
    /// Stopped by a signal or `runs stop` (the same code as a partly applied run: resume it).
    static let interrupted: Int32 = 75
    static let privilegeMissing: Int32 = 77
    /// The run finished, and left rows alone as conflicts (`--expect`).
    static let conflicts: Int32 = 3

    var description: String
    var exitCode: Int32
    /// What was done before the failure, when the run got that far.
    var report: BulkUpdateReport?

    /// Library option names as they appear in messages, and the flags that set them.
    static let flagNames = [
        ("(expectedRows)", "(--expect-rows)"), ("(keepsUndo, apply --no-undo)", "(--no-undo)"),
        ("expected columns", "--expect columns"),
        ("(failOnMissingKeys)", "(--fail-on-missing-keys)"),
        ("(statementTimeout)", "(--statement-timeout)"),
        ("(journalSchema, apply --journal-schema SCHEMA)", "(--journal-schema SCHEMA)"),
        ("(atomic, apply --atomic)", "(--atomic)"), ("(apply --no-journal)", "(--no-journal)"),
        ("(--replica URL, replicaURLs)", "(--replica URL)"),
        ("--check-interval (healthCheckInterval)", "--check-interval"),
    ]

    static func from(_ error: BulkUpdateError) -> ApplyFailure {
        let code: Int32
        if error.code == .interrupted {
            code = Self.interrupted
        } else if error.code == .reverted {
            // Taken back by a revert: nothing to resume.
            code = Self.usage
        } else if let partial = error.partialReport, partial.chunks > 0, !partial.atomic {
            code = Self.partiallyApplied
        } else if [.input, .duplicateKey, .schema, .constraint, .expectation].contains(error.code) {
            // The data was rejected: by the checks before writing, or by the database (a value, a constraint).
            code = Self.invalidInput
        } else if error.code == .privilege {
            code = Self.privilegeMissing
        } else if error.code == .unreadableInput {
            code = Self.inputUnreadable
        } else if error.code == .configuration {
            code = Self.usage
        } else {
            code = Self.databaseFailed
        }
        // The library names its options; on the command line they are flags.
        var text = error.description
        for (option, flag) in Self.flagNames { text = text.replacingOccurrences(of: option, with: flag) }
        if code == Self.partiallyApplied, let runID = error.partialReport?.runID {
            text += "\nresume with: --resume \(runID) (same input and options)"
        } else if error.code == .interrupted, error.partialReport?.atomic == true {
            text += "\nthe run is atomic: nothing was applied; run it again"
        }
        if code == Self.partiallyApplied, let partial = error.partialReport, !partial.committedChunks.isEmpty {
            text += "\ncommitted chunks (worker.number: first key … last key):"
            for chunk in partial.committedChunks {
                text += "\n  \(chunk.worker).\(chunk.number): \(chunk.firstKey) … \(chunk.lastKey) (\(chunk.rows) rows)"
            }
        }
        return ApplyFailure(description: text, exitCode: code, report: error.partialReport)
    }
}
