/// How a bulk update runs: workers, chunk size, strategy and the handling of unchanged rows and duplicate keys.
///
/// ```swift
/// var options = BulkUpdateOptions()
/// options.workers = 4
/// options.strategy = .unnest
/// options.skipUnchanged = true
/// ```
public struct BulkUpdateOptions: Sendable {
    /// How the new values travel to the database. New strategies may be added in later versions.
    public struct Strategy: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable, CaseIterable {
            case auto, unnest, values, caseWhen, tempTable, copy
        }
        private let base: Base

        /// Lets the backend choose: on PostgreSQL ``unnest``, or ``copy`` for atomic runs; ``values`` on SQLite.
        public static let auto = Strategy(base: .auto)
        /// One statement per chunk, `UPDATE … FROM unnest($1::type[], …)`: every column is one array parameter,
        /// so the statement text is the same for every chunk and there is no parameter limit. PostgreSQL only.
        public static let unnest = Strategy(base: .unnest)
        /// `UPDATE … FROM (VALUES ($1, $2), …)`: one parameter per value, split to respect the database's
        /// parameter limit.
        public static let values = Strategy(base: .values)
        /// The statement Django's `bulk_update` sends: `SET col = CASE WHEN key = … THEN … END WHERE key IN (…)`.
        /// Kept as the baseline to compare against.
        public static let caseWhen = Strategy(base: .caseWhen)
        /// Loads the chunk into a temporary table, then `UPDATE … FROM` it. SQLite only.
        public static let tempTable = Strategy(base: .tempTable)
        /// `COPY … FROM STDIN` of the chunk into a temporary table, then `UPDATE … FROM` it in the same
        /// transaction. PostgreSQL only.
        public static let copy = Strategy(base: .copy)

        /// Every strategy this version knows.
        public static var all: [Strategy] { Base.allCases.map { Strategy(base: $0) } }

        /// Looks a strategy up by its name as written in ``description`` (`auto`, `unnest`, `values`, `caseWhen`,
        /// `tempTable`); `case-when` and `temp-table` are accepted too.
        public init?(name: String) {
            let aliases = ["case-when": "caseWhen", "casewhen": "caseWhen", "temp-table": "tempTable"]
            let normalized = aliases[name.lowercased()] ?? name
            guard let base = Base(rawValue: normalized) else { return nil }
            self.base = base
        }

        private init(base: Base) { self.base = base }

        public var description: String { self.base.rawValue }
    }

    /// What to do when the same key appears more than once in the input.
    public struct DuplicateKeyPolicy: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable { case lastWins = "last", error }
        private let base: Base

        /// The row that comes last in the input is applied; earlier ones are dropped and counted in
        /// ``BulkUpdateReport/duplicateKeys``.
        public static let lastWins = DuplicateKeyPolicy(base: .lastWins)
        /// The run stops with ``BulkUpdateError/Code-swift.struct/duplicateKey`` naming both input lines.
        public static let error = DuplicateKeyPolicy(base: .error)

        /// Looks a policy up by name: `last` or `error`.
        public init?(name: String) {
            guard let base = Base(rawValue: name) else { return nil }
            self.base = base
        }

        private init(base: Base) { self.base = base }

        public var description: String { self.base.rawValue }
    }

    /// How many workers write concurrently, each on its own connection. Every key belongs to exactly one worker,
    /// so two workers never touch the same row. Defaults to `2`.
    public var workers: Int
    /// How many rows one chunk holds; each chunk is written in its own transaction. Defaults to `10_000`.
    public var chunkSize: Int
    /// How the values travel to the database. Defaults to ``Strategy/auto``.
    public var strategy: Strategy
    /// When `true`, rows whose values already equal the new ones are not rewritten (`IS DISTINCT FROM`), and the
    /// report tells changed and unchanged rows apart. Defaults to `false`.
    public var skipUnchanged: Bool
    /// All or nothing. When `false` (the default), each chunk commits on its own and a failed run leaves the chunks
    /// committed before it applied (listed in ``BulkUpdateError/partialReport``). When `true`, workers load the rows
    /// into a staging table in parallel and one final transaction applies them all (PostgreSQL), or the whole run
    /// is one transaction (SQLite): if anything fails, the table is untouched.
    public var atomic: Bool = false
    /// What to do when a key appears twice in the input. Defaults to ``DuplicateKeyPolicy/lastWins``.
    public var duplicateKeys: DuplicateKeyPolicy
    /// How long a chunk waits for a row lock held by someone else before it gives up (PostgreSQL's `lock_timeout`,
    /// SQLSTATE 55P03, which is retried). Useful beside live traffic. On SQLite it is the busy timeout: how long a
    /// chunk waits for another process's write lock. Zero means no limit, as in PostgreSQL. Defaults to `nil` (on
    /// PostgreSQL: wait as long as the statement may run; on SQLite: the updater's `busyTimeout`).
    public var lockTimeout: Duration?
    /// The most input rows written per second, across all workers: chunks wait for their turn so the average stays
    /// at or under it. For backfills beside production traffic. Defaults to `nil` (as fast as possible).
    public var maximumRowsPerSecond: Int?
    /// How many times a chunk is retried after a transient failure — a deadlock (40P01), a serialization failure
    /// (40001), a lock that was not available (55P03), a terminated backend (57P01) or a lost connection — with
    /// exponential backoff and jitter, on a fresh connection. Other errors stop the run at once. Defaults to `5`.
    public var maximumRetries: Int = 5
    /// Journals the run under this id: every chunk's transaction also records the chunk (worker, number, key
    /// range, rows, a fingerprint of its content) in `bulk_update_journal`, and the run itself is recorded in
    /// `bulk_update_runs`, both tables in ``journalSchema`` (created when missing). A chunk and its journal entry
    /// commit together or not at all. Not for atomic runs. Defaults to `nil` (no journal).
    public var runID: String?
    /// Whether a journaled run (``runID``) keeps, in the same transaction as each chunk, the values the rows it changed
    /// held before, and the values it wrote, in the journal table `bulk_update_undo_chunks` (one row per chunk, the
    /// values as text in JSON arrays; the role needs INSERT on it), so that `bulk-update runs revert RUN_ID` can put
    /// them back where nobody changed them since. On PostgreSQL it costs reading each changed row's previous values
    /// in the chunk's statement: about 1.3–1.4× the time of a run without it (docs/safe-fixes.md). Not for atomic
    /// runs or dry runs. Defaults to `true`.
    public var keepsUndo: Bool = true
    /// The schema (SQLite: the attached database) that holds the journal tables `bulk_update_runs` and
    /// `bulk_update_journal`. When they exist, they are used as they are and need only SELECT, INSERT and UPDATE
    /// (no DDL runs); when they do not, the role needs CREATE on this schema. A resumed run must name the same
    /// schema. Defaults to `nil`: the target table's schema.
    public var journalSchema: String?
    /// Resumes the journaled run ``runID``: the same input, read again with the same options, is cut into the same
    /// chunks, and the chunks the journal already holds are skipped. A chunk whose content differs from its journal
    /// entry, or options that differ from the original run's, stop the run before anything is written. Defaults
    /// to `false`.
    public var resume: Bool = false
    /// When `true`, a key of the input with no row in the table fails the run instead of being counted in
    /// ``BulkUpdateReport/keysNotFound``: the chunk that holds it is rolled back and the run stops (in per-chunk mode
    /// the chunks committed before it stay applied and are listed in the error), and an atomic run applies nothing.
    /// Defaults to `false`.
    public var failOnMissingKeys: Bool = false
    /// The number of input rows the run must read, a guard for scripts against a truncated or wrong file. A
    /// collection is counted before anything is written. A stream (read once) stops before the first row past the
    /// count is written, and one that ends short fails at its end: after its chunks committed in per-chunk mode,
    /// with nothing applied in an atomic run. Defaults to `nil` (any number).
    public var expectedRows: Int?
    /// The digest of an input that was read in full before the run (see ``ValidationPass/digest``): journaled with
    /// the run, and compared when it is resumed, so that a resumed run reads the same input, not only the same
    /// first chunks. Set by the engine and the command-line tool, not by callers.
    package var inputDigest: String?
    /// The number of input rows, when the input was counted before the run (for the ETA in the runs table). Set by
    /// the engine and the command-line tool, not by callers.
    package var totalRows: Int?
    /// Called after every committed chunk, from the worker that committed it; keep it quick. Defaults to `nil`.
    public var onProgress: (@Sendable (BulkUpdateProgress) -> Void)?
    /// Adapts each worker's chunk size so that a chunk's transaction takes about this long: after every chunk the
    /// worker scales its next size by the ratio of this target to the time the chunk took (at most ×1.5 up, ÷4 down),
    /// halves it after a retry, and keeps it between ``adaptiveChunkSizes`` (it starts at ``chunkSize``). For live
    /// databases, where rows differ in cost (triggers, indexes, locks) and short transactions matter more than
    /// throughput. A resumed run cuts the chunks its journal holds exactly as before (their sizes are journaled)
    /// and adapts after them. Per-chunk mode only. Defaults to `nil` (every chunk has ``chunkSize`` rows).
    public var targetChunkDuration: Duration?
    /// The smallest and largest chunk an adaptive run (``targetChunkDuration``) uses: 10 to 100,000 rows.
    public static let adaptiveChunkSizes = 10...100_000
    /// Steers the run while it goes: pause, continue, a clean stop, a new rate limit. Defaults to `nil` (a run
    /// that can only be cancelled). The command-line tool uses one for SIGINT and SIGTERM and for
    /// `bulk-update runs pause|continue|stop|set`, which reach a journaled run through its row in `bulk_update_runs`.
    public var control: BulkUpdateControl?
    /// Pauses the run while any watched standby's replay lag is over this (PostgreSQL). The standbys are those
    /// in ``replicaURLs`` when any are given, else every standby streaming from the server (`pg_stat_replication`,
    /// which needs the `pg_monitor` role). Checked every ``healthCheckInterval``: no chunk starts while the lag is
    /// over, chunks in flight finish. A standby whose lag cannot be read pauses the run too. Defaults to `nil`.
    public var maximumReplicaLag: Duration?
    /// PostgreSQL URLs (`postgres://user@host:port/db`) of standbys whose replay lag ``maximumReplicaLag`` watches,
    /// read on each standby as the age of its last replayed transaction while it has WAL left to replay. Defaults
    /// to none: watch the standbys streaming from the primary.
    public var replicaURLs: [String] = []
    /// The caller's own health check: SQL returning one row with one boolean, run every ``healthCheckInterval``
    /// in a read-only transaction on its own connection; while it returns true (or fails), no chunk starts. For
    /// example `SELECT count(*) > 0 FROM pg_stat_progress_vacuum WHERE relid = 'users'::regclass`. It is run once
    /// before the first write, so a query that fails stops the run before anything is written. It is the caller's
    /// SQL, sent as written. Defaults to `nil`.
    public var pauseWhen: String?
    /// How often the replica lag and ``pauseWhen`` are checked. Defaults to 1 second.
    public var healthCheckInterval: Duration = .seconds(1)
    /// Guards against concurrent changes: table columns whose current value each row carries, after its new
    /// values (one value per column, in this order: a `version`, an `updated_at`, or the old value of a column being
    /// fixed). A row whose column no longer holds that value (compared null-safely, as ``skipUnchanged`` compares)
    /// is not written: it is a conflict, counted in ``BulkUpdateReport/rowsConflicting`` and passed to
    /// ``onConflicts``. The check and the write are one statement per chunk, so a change committed by another
    /// session before the row is written is seen, never overwritten. A column may be both set and expected.
    /// Defaults to none.
    public var expectedColumns: [String] = []
    /// The caller's own SQL predicate on the target table, which the statements name `t` (`t.status = 'active'`):
    /// only matched rows for which it is true are written; the others are counted in
    /// ``BulkUpdateReport/rowsSkippedByCondition``. It is the caller's SQL, sent as written inside each chunk's
    /// statement (qualify columns with `t.`: the new values are a relation with the same column names); it must
    /// keep its parentheses balanced and hold no `;` or comment. It is run once on no rows before the first write,
    /// so SQL the database refuses stops the run before anything is written. Defaults to `nil`.
    public var condition: String?
    /// Called with each chunk's conflicts (see ``expectedColumns``) once the chunk committed, or, in a dry run, was
    /// read; from the worker that wrote it, so keep it quick. The conflicts carry row values. Defaults to `nil`.
    public var onConflicts: (@Sendable ([BulkUpdateConflict]) -> Void)?
    /// Previews the run instead of writing it: every chunk is read, cut and checked exactly as in the real run,
    /// and the database is asked, in a plain `SELECT` that writes nothing and locks no row, how many of its rows
    /// would change, already hold their new values, or are not found, with a sample of the differences (see
    /// ``diffSampleLimit``). The report (``BulkUpdateReport/dryRun``) then counts what a run with
    /// ``skipUnchanged`` would do on the table as it is now; without ``skipUnchanged`` a run also rewrites the
    /// unchanged rows and counts them as changed. Nothing is journaled, staged or paced. Defaults to `false`.
    public var dryRun: Bool = false
    /// How many differences (key, column, current value, new value) a dry run reports in
    /// ``BulkUpdateReport/diffSamples``, at most. Defaults to `10`.
    public var diffSampleLimit: Int = 10
    /// The longest any single statement may take. On PostgreSQL it is set as the transaction's
    /// `statement_timeout`, so the server stops a statement that runs longer; every database call also has a
    /// client-side deadline 5 seconds later, after which the run fails with
    /// ``BulkUpdateError/Code-swift.struct/timeout`` and the connection is closed. Zero means no timeout, as in
    /// PostgreSQL. Defaults to 300 seconds.
    public var statementTimeout: Duration

    /// Creates options with the defaults stated on each property.
    public init(
        workers: Int = 2,
        chunkSize: Int = 10_000,
        strategy: Strategy = .auto,
        skipUnchanged: Bool = false,
        duplicateKeys: DuplicateKeyPolicy = .lastWins,
        statementTimeout: Duration = .seconds(300)
    ) {
        self.workers = workers
        self.chunkSize = chunkSize
        self.strategy = strategy
        self.skipUnchanged = skipUnchanged
        self.duplicateKeys = duplicateKeys
        self.statementTimeout = statementTimeout
    }

    /// Whether the run keeps undo: a journaled run that writes, with ``keepsUndo``.
    package var savesUndo: Bool { self.writesUndo && !self.dryRun }

    /// Whether the run keeps undo when it writes: what a dry run checks the privileges for.
    package var writesUndo: Bool { self.keepsUndo && self.runID != nil && !self.atomic }

    /// Whether the run watches the database's health: a replica lag limit or a pause query.
    package var watchesHealth: Bool { self.maximumReplicaLag != nil || self.pauseWhen != nil }

    /// Throws when ``expectedRows`` is set and an input of `read` rows does not hold that many.
    package func checkRowCount(_ read: Int) throws(BulkUpdateError) {
        guard let expected = self.expectedRows, read != expected else { return }
        throw BulkUpdateError(
            .expectation,
            "the input holds \(read) row\(read == 1 ? "" : "s"), not the \(expected) expected (expectedRows)"
        )
    }

    package func validate() throws(BulkUpdateError) {
        guard (1...256).contains(self.workers) else {
            throw BulkUpdateError(.configuration, "workers must be between 1 and 256, got \(self.workers)")
        }
        guard self.chunkSize >= 1 else {
            throw BulkUpdateError(.configuration, "chunkSize must be at least 1, got \(self.chunkSize)")
        }
        if self.resume && self.runID == nil {
            throw BulkUpdateError(.configuration, "resume needs the id of the run to resume (runID)")
        }
        if self.atomic && self.runID != nil {
            throw BulkUpdateError(
                .configuration,
                "an atomic run is one final transaction and has no journal to resume; run it again instead"
            )
        }
        if let journalSchema = self.journalSchema, journalSchema.isEmpty {
            throw BulkUpdateError(.configuration, "journalSchema cannot be empty")
        }
        if let runID = self.runID, runID.isEmpty || runID.count > 100 {
            throw BulkUpdateError(.configuration, "a run id must have 1 to 100 characters")
        }
        if let rate = self.maximumRowsPerSecond, rate < 1 {
            throw BulkUpdateError(.configuration, "maximumRowsPerSecond must be at least 1, got \(rate)")
        }
        if let lockTimeout = self.lockTimeout, lockTimeout < .zero {
            throw BulkUpdateError(.configuration, "lockTimeout cannot be negative (zero means no timeout)")
        }
        if let expectedRows = self.expectedRows, expectedRows < 0 {
            throw BulkUpdateError(.configuration, "expectedRows cannot be negative, got \(expectedRows)")
        }
        guard self.maximumRetries >= 0 else {
            throw BulkUpdateError(.configuration, "maximumRetries cannot be negative, got \(self.maximumRetries)")
        }
        if let lag = self.maximumReplicaLag, lag < .zero {
            throw BulkUpdateError(.configuration, "maximumReplicaLag cannot be negative")
        }
        if !self.replicaURLs.isEmpty && self.maximumReplicaLag == nil {
            throw BulkUpdateError(.configuration, "replicaURLs are watched for maximumReplicaLag; set it too")
        }
        if let pauseWhen = self.pauseWhen, pauseWhen.allSatisfy(\.isWhitespace) {
            throw BulkUpdateError(.configuration, "pauseWhen cannot be empty")
        }
        if let target = self.targetChunkDuration {
            guard target >= .milliseconds(10) else {
                throw BulkUpdateError(.configuration, "targetChunkDuration must be at least 10 ms")
            }
            guard !self.atomic else {
                throw BulkUpdateError(
                    .configuration,
                    "an atomic run is one final transaction; targetChunkDuration sizes the transactions of per-chunk runs"
                )
            }
        }
        if let condition = self.condition { try SQLPredicate.check(condition) }
        guard self.diffSampleLimit >= 0 else {
            throw BulkUpdateError(.configuration, "diffSampleLimit cannot be negative, got \(self.diffSampleLimit)")
        }
        guard self.healthCheckInterval >= .milliseconds(10) else {
            throw BulkUpdateError(.configuration, "healthCheckInterval must be at least 10 ms")
        }
        guard self.statementTimeout >= .zero else {
            throw BulkUpdateError(.configuration, "statementTimeout cannot be negative (zero means no timeout)")
        }
    }
}
