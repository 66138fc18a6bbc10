package import Logging

/// A database that bulk updates can run against. Implemented by the backend modules; not for users.
package protocol BulkUpdateBackend: Sendable {
    associatedtype Executor: ChunkExecutor

    /// The database's name for messages: `PostgreSQL`, `SQLite`.
    var databaseName: String { get }

    /// The options this backend runs with: resolves ``BulkUpdateOptions/Strategy/auto``, rejects strategies it
    /// does not have, and may lower the number of workers (logging why).
    func resolve(_ options: BulkUpdateOptions, logger: Logger) throws(BulkUpdateError) -> BulkUpdateOptions

    /// Describes the target table from the catalog. Called once per run, before any row is read.
    func describe(_ table: BulkUpdateTableName, options: BulkUpdateOptions, logger: Logger) async throws -> TableSchema

    /// Checks from the catalog everything else the run will need before it writes: the role's privileges on the
    /// target's columns, on the journal (or the right to create it) and on staging tables. Writes nothing; also run
    /// for dry runs.
    ///
    /// - Throws: ``BulkUpdateError`` with code ``BulkUpdateError/Code-swift.struct/privilege`` naming every missing
    ///   privilege and the way out.
    func preflight(_ plan: UpdatePlan, logger: Logger) async throws

    /// What checks the values only the database can judge (``ColumnType/isServerChecked``) before the first write,
    /// or `nil` when the backend has none.
    func valueChecker(for plan: UpdatePlan, logger: Logger) -> (any ServerValueChecker)?

    /// The SQL one chunk of `rows` rows is written with, for `--dry-run` and logs (parameters shown as
    /// placeholders).
    func statementText(_ plan: UpdatePlan, rows: Int) -> String

    /// Runs one update: prepares what every chunk shares, calls `body` with the executor the workers write through
    /// and the probe the run's monitor asks (`nil` when the run has nothing to watch: no journal, no health check),
    /// and, for an atomic run, applies what was staged or throws away what was staged when `body` fails. A journaled
    /// run's row in the runs table ends as `finished`, `interrupted` (a stop) or `failed`.
    ///
    /// - Returns: `body`'s report, with the final counts of an atomic run.
    func withRun(
        _ plan: UpdatePlan,
        logger: Logger,
        _ body: (Executor, (any RunProbe)?) async throws -> BulkUpdateReport
    ) async throws -> BulkUpdateReport
}

/// Writes chunks of one run. Called concurrently from every worker; each call commits its chunk on its own.
package protocol ChunkExecutor: Sendable {
    /// Whether a resumed run's journal already holds `chunk`, which is then neither written nor paced.
    ///
    /// - Throws: ``BulkUpdateError`` when the journal holds a chunk of that number built from other rows.
    func alreadyApplied(_ chunk: Chunk) throws(BulkUpdateError) -> Bool

    /// Writes one sorted, de-duplicated chunk in its own transaction and reports what the database counted.
    func write(_ chunk: Chunk, logger: Logger) async throws -> ChunkOutcome

    /// Asks the database what writing one sorted, de-duplicated chunk would do, writing nothing and locking no row:
    /// rows matched, rows whose values differ (``ChunkOutcome/changed``), keys not found (a few of them, as
    /// ``write(_:logger:)`` reports them) and the differences of up to `samples` rows, in key order.
    func preview(_ chunk: Chunk, samples: Int, logger: Logger) async throws -> ChunkOutcome

    /// How many input rows the resumed run's journal says chunk `entry` was cut from; `nil` when it holds no such
    /// chunk (or the journal is older than the column).
    func journaledInputRows(_ entry: RunJournal.Entry) -> Int?
}

extension BulkUpdateBackend {
    // See `BulkUpdateBackend.valueChecker(for:logger:)`: none unless the backend has one.
    package func valueChecker(for plan: UpdatePlan, logger: Logger) -> (any ServerValueChecker)? { nil }
}

extension ChunkExecutor {
    // See `ChunkExecutor.alreadyApplied(_:)`: executors without a journal never skip.
    package func alreadyApplied(_ chunk: Chunk) throws(BulkUpdateError) -> Bool { false }

    // See `ChunkExecutor.journaledInputRows(_:)`: executors without a journal hold none.
    package func journaledInputRows(_ entry: RunJournal.Entry) -> Int? { nil }
}

/// An executor that keeps a run journal: it skips the chunks the journal of the run it resumes holds.
package protocol JournaledChunkExecutor: ChunkExecutor {
    /// The run's journal; `nil` when the run keeps none.
    var journal: RunJournal? { get }
    /// The chunks the journal held when the run started, with their content fingerprints (empty unless resuming).
    var journaled: [RunJournal.Entry: RunJournal.Stored] { get }
}

extension JournaledChunkExecutor {
    // See `ChunkExecutor.alreadyApplied(_:)`.
    package func alreadyApplied(_ chunk: Chunk) throws(BulkUpdateError) -> Bool {
        guard let journal = self.journal else { return false }
        return try chunk.isJournaled(in: self.journaled, runID: journal.runID)
    }

    // See `ChunkExecutor.journaledInputRows(_:)`.
    package func journaledInputRows(_ entry: RunJournal.Entry) -> Int? {
        self.journaled[entry]?.inputRows
    }
}
