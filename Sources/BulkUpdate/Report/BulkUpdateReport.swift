/// What a bulk update did, counted from the database's own answers.
///
/// - `rowsRead` = `duplicateKeys` + `rowsMatched` + `keysNotFound` (+ `rowsAlreadyApplied` when resuming): every input row is either dropped because a
///   later row of its chunk has the same key, or sent and then matched to exactly one table row or counted as not
///   found. A key repeated in a later chunk is sent again (so the last row still wins) and counted again; such
///   repeats are also counted in `duplicateKeysAcrossChunks`.
/// - `rowsMatched` = `rowsChanged` + `rowsUnchanged` + `rowsConflicting` + `rowsSkippedByCondition`. Without
///   ``BulkUpdateOptions/skipUnchanged`` every matched row that meets the guards is rewritten and counted as
///   changed.
public struct BulkUpdateReport: Sendable, Codable, Equatable {
    /// One chunk that was committed.
    public struct ChunkRecord: Sendable, Codable, Equatable {
        /// The worker that wrote it, from 0.
        public var worker: Int
        /// Its number among the worker's chunks, from 0.
        public var number: Int
        /// Rows it held after duplicates were removed.
        public var rows: Int
        /// Its smallest key, as SQL-like text.
        public var firstKey: String
        /// Its largest key, as SQL-like text.
        public var lastKey: String

        package init(worker: Int, number: Int, rows: Int, firstKey: String, lastKey: String) {
            self.worker = worker
            self.number = number
            self.rows = rows
            self.firstKey = firstKey
            self.lastKey = lastKey
        }
    }

    /// One difference a dry run found: a column of a row whose current value differs from the new one.
    public struct DiffSample: Sendable, Codable, Equatable {
        /// The row's key, as SQL-like text (`42`, `('a', 7)`).
        public var key: String
        /// The column that would change.
        public var column: String
        /// The column's current value as the database writes it as text; `nil` for NULL.
        public var current: String?
        /// The value the run would write, as the database writes it as text; `nil` for NULL.
        public var new: String?

        package init(key: String, column: String, current: String?, new: String?) {
            self.key = key
            self.column = column
            self.current = current
            self.new = new
        }

        private enum CodingKeys: String, CodingKey { case key, column, current, new }

        // NULL is written as `null`, not left out.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.key, forKey: .key)
            try container.encode(self.column, forKey: .column)
            try container.encode(self.current, forKey: .current)
            try container.encode(self.new, forKey: .new)
        }
    }

    /// The target table, schema-qualified, as the database names it.
    public var table: String
    /// The key columns the rows were matched by.
    public var keyColumns: [String]
    /// The columns that were set.
    public var setColumns: [String]
    /// The strategy that wrote the chunks.
    public var strategy: String
    /// The number of workers.
    public var workers: Int
    /// Whether the run was all or nothing (see ``BulkUpdateOptions/atomic``). In an atomic run the counts come
    /// from the final statement and ``committedChunks`` lists the chunks that were staged.
    public var atomic: Bool = false
    /// Whether this is a dry run's preview (``BulkUpdateOptions/dryRun``): nothing was written, and the counts say
    /// what a run with ``BulkUpdateOptions/skipUnchanged`` would do on the table as it was read.
    public var dryRun: Bool = false
    /// Input rows read.
    public var rowsRead: Int = 0
    /// Table rows found for the input keys.
    public var rowsMatched: Int = 0
    /// Table rows written.
    public var rowsChanged: Int = 0
    /// Table rows found whose values already equalled the new ones (only with `skipUnchanged`).
    public var rowsUnchanged: Int = 0
    /// Table rows left alone because an expected column no longer held the expected value
    /// (``BulkUpdateOptions/expectedColumns``).
    public var rowsConflicting: Int = 0
    /// Table rows left alone because the caller's ``BulkUpdateOptions/condition`` was not true for them.
    public var rowsSkippedByCondition: Int = 0
    /// Up to ten conflicts, in the order the chunks finished; all of them go to ``BulkUpdateOptions/onConflicts``.
    /// Holds row values.
    public var conflictExamples: [BulkUpdateConflict] = []
    /// Input keys with no row in the table.
    public var keysNotFound: Int = 0
    /// Up to ten of the keys not found, as SQL-like text.
    public var notFoundExamples: [String] = []
    /// Input rows dropped, never sent, because a later row of the same chunk has the same key.
    public var duplicateKeys: Int = 0
    /// Input rows whose key an earlier chunk had already written; they are written again, so the last row wins.
    /// Recognised by the key's 64-bit fingerprint.
    public var duplicateKeysAcrossChunks: Int = 0
    /// Chunks committed.
    public var chunks: Int = 0
    /// The journaled run's id (see ``BulkUpdateOptions/runID``).
    public var runID: String?
    /// Whether the run kept the previous values of the rows it changed (``BulkUpdateOptions/keepsUndo``), so that
    /// `bulk-update runs revert` can put them back.
    public var undoKept: Bool = false
    /// Chunks skipped because the resumed run had already committed them.
    public var chunksAlreadyApplied: Int = 0
    /// Input rows in those chunks; they count in none of the other row counts.
    public var rowsAlreadyApplied: Int = 0
    /// Chunk attempts that failed transiently and were retried, by cause: the SQLSTATE (`40P01`, `40001`, `55P03`,
    /// `57P01`) or `connection`.
    public var retries: [String: Int] = [:]
    /// Seconds the run was paused, by cause (`requested`, `replica lag`, `health check`); causes that overlapped
    /// each count their whole time.
    public var pausedSeconds: [String: Double] = [:]
    /// Every committed chunk, ordered by worker and number (none in a dry run).
    public var committedChunks: [ChunkRecord] = []
    /// A dry run's sample of differences, at most ``BulkUpdateOptions/diffSampleLimit``, in key order within each
    /// chunk. Holds row values; empty unless ``dryRun``.
    public var diffSamples: [DiffSample] = []
    /// Wall-clock time of the whole run, in seconds.
    public var elapsedSeconds: Double = 0

    package init(table: String, keyColumns: [String], setColumns: [String], strategy: String, workers: Int) {
        self.table = table
        self.keyColumns = keyColumns
        self.setColumns = setColumns
        self.strategy = strategy
        self.workers = workers
    }

    /// Rows per second over the whole run, counting input rows.
    public var rowsPerSecond: Double {
        self.elapsedSeconds > 0 ? Double(self.rowsRead) / self.elapsedSeconds : 0
    }

    static let maximumNotFoundExamples = 10

    package mutating func add(_ outcome: ChunkOutcome, record: ChunkRecord) {
        if outcome.alreadyApplied {
            self.chunksAlreadyApplied += 1
            self.rowsAlreadyApplied += record.rows
            return
        }
        self.rowsMatched += outcome.matched
        self.rowsChanged += outcome.changed
        self.rowsConflicting += outcome.conflicting
        self.rowsSkippedByCondition += outcome.skippedByCondition
        self.rowsUnchanged += outcome.matched - outcome.changed - outcome.conflicting - outcome.skippedByCondition
        for conflict in outcome.conflicts where self.conflictExamples.count < Self.maximumNotFoundExamples {
            self.conflictExamples.append(conflict)
        }
        self.keysNotFound += record.rows - outcome.matched
        for example in outcome.notFoundExamples where self.notFoundExamples.count < Self.maximumNotFoundExamples {
            self.notFoundExamples.append(example)
        }
        self.diffSamples += outcome.samples
        self.chunks += 1
        if !outcome.isPreview { self.committedChunks.append(record) }
    }

    package mutating func merge(_ other: BulkUpdateReport) {
        self.rowsMatched += other.rowsMatched
        self.rowsChanged += other.rowsChanged
        self.rowsUnchanged += other.rowsUnchanged
        self.rowsConflicting += other.rowsConflicting
        self.rowsSkippedByCondition += other.rowsSkippedByCondition
        for conflict in other.conflictExamples where self.conflictExamples.count < Self.maximumNotFoundExamples {
            self.conflictExamples.append(conflict)
        }
        self.keysNotFound += other.keysNotFound
        for example in other.notFoundExamples where self.notFoundExamples.count < Self.maximumNotFoundExamples {
            self.notFoundExamples.append(example)
        }
        self.duplicateKeys += other.duplicateKeys
        self.duplicateKeysAcrossChunks += other.duplicateKeysAcrossChunks
        self.chunks += other.chunks
        self.chunksAlreadyApplied += other.chunksAlreadyApplied
        self.rowsAlreadyApplied += other.rowsAlreadyApplied
        self.retries.merge(other.retries, uniquingKeysWith: +)
        self.committedChunks += other.committedChunks
        self.diffSamples += other.diffSamples
    }
}

extension BulkUpdateReport: CustomStringConvertible {
    /// A short multi-line summary for people.
    public var description: String {
        if self.dryRun { return self.previewDescription }
        var lines = [
            "table \(self.table), key (\(self.keyColumns.joined(separator: ", "))),"
                + " set (\(self.setColumns.joined(separator: ", ")))",
            "strategy \(self.strategy), \(self.workers) worker(s), \(self.chunks) chunk(s)",
            "rows read \(self.rowsRead), matched \(self.rowsMatched), changed \(self.rowsChanged),"
                + " unchanged \(self.rowsUnchanged), keys not found \(self.keysNotFound),"
                + " duplicate keys \(self.duplicateKeys)"
                + (self.duplicateKeysAcrossChunks > 0
                    ? " (+\(self.duplicateKeysAcrossChunks) rewritten in later chunks)" : ""),
        ]
        if let runID = self.runID {
            var line = "run \(runID)" + (self.undoKept ? ", undo kept" : "")
            if self.chunksAlreadyApplied > 0 {
                line +=
                    ": resumed, \(self.chunksAlreadyApplied) chunk(s) with \(self.rowsAlreadyApplied) row(s) were"
                    + " already applied and skipped"
            }
            lines.append(line)
        }
        if !self.retries.isEmpty {
            lines.append(
                "retried: "
                    + self.retries.sorted { $0.key < $1.key }.map { "\($0.value)× \($0.key)" }.joined(separator: ", ")
            )
        }
        if !self.pausedSeconds.isEmpty {
            lines.append(
                "paused: "
                    + self.pausedSeconds.sorted { $0.key < $1.key }
                    .map { "\(($0.value * 10).rounded() / 10) s for \($0.key)" }.joined(separator: ", ")
            )
        }
        lines += self.guardLines
        if !self.notFoundExamples.isEmpty {
            lines.append("keys not found, e.g.: " + self.notFoundExamples.joined(separator: ", "))
        }
        let seconds = (self.elapsedSeconds * 1000).rounded() / 1000
        lines.append("elapsed \(seconds) s, \(Int(self.rowsPerSecond)) rows/s")
        return lines.joined(separator: "\n")
    }
}

extension BulkUpdateReport {
    /// A dry run's summary: what a run would change, and the sampled differences.
    private var previewDescription: String {
        var lines = [
            "dry run: nothing was written; a run now would find:",
            "  \(self.rowsMatched) of \(self.rowsRead) row(s) matched: \(self.rowsChanged) would change,"
                + " \(self.rowsUnchanged) already hold their new values",
            "  \(self.keysNotFound) key(s) not found, \(self.duplicateKeys) duplicate key(s) dropped"
                + (self.duplicateKeysAcrossChunks > 0
                    ? " (+\(self.duplicateKeysAcrossChunks) written again in later chunks)" : ""),
        ]
        lines += self.guardLines
        if !self.notFoundExamples.isEmpty {
            lines.append("keys not found, e.g.: " + self.notFoundExamples.joined(separator: ", "))
        }
        if !self.diffSamples.isEmpty {
            lines.append("differences (\(self.diffSamples.count) shown; key  column: current -> new):")
            for sample in self.diffSamples {
                lines.append(
                    "  \(sample.key)  \(sample.column): \(sample.current.map(Self.quoted) ?? "NULL")"
                        + " -> \(sample.new.map(Self.quoted) ?? "NULL")"
                )
            }
        }
        let seconds = (self.elapsedSeconds * 1000).rounded() / 1000
        lines.append("read in \(seconds) s, \(Int(self.rowsPerSecond)) rows/s")
        return lines.joined(separator: "\n")
    }

    /// The conflicts and the rows the condition skipped, when there are any.
    private var guardLines: [String] {
        var lines: [String] = []
        if self.rowsConflicting > 0 {
            lines.append(
                "conflicts \(self.rowsConflicting): rows another session changed were left alone"
                    + (self.dryRun ? " (a run would leave them)" : "")
            )
            for conflict in self.conflictExamples {
                lines.append(
                    "  \(conflict.key)  \(conflict.column): expected \(conflict.expected.map(Self.quoted) ?? "NULL"),"
                        + " found \(conflict.actual.map(Self.quoted) ?? "NULL")"
                )
            }
            if self.rowsConflicting > self.conflictExamples.count {
                lines.append("  … and \(self.rowsConflicting - self.conflictExamples.count) more")
            }
        }
        if self.rowsSkippedByCondition > 0 {
            lines.append("skipped by the condition \(self.rowsSkippedByCondition)")
        }
        return lines
    }

    /// `'it''s'`: a value as a (shortened) SQL literal, line breaks as `\n`, so that each shows on one line.
    private static func quoted(_ text: String) -> String {
        SQLText.literal(String(text.flatMap { $0 == "\n" ? ["\\", "n"] : $0 == "\r" ? ["\\", "r"] : [$0] }))
    }
}

/// What the database answered for one chunk.
package struct ChunkOutcome: Sendable {
    /// How many keys with no row a chunk (or an atomic run) reports, at most.
    package static let notFoundExampleLimit = 10

    /// Table rows found for the chunk's keys.
    package var matched: Int
    /// Table rows written.
    package var changed: Int
    /// A few of the chunk's keys with no row, as SQL-like text.
    package var notFoundExamples: [String]

    /// Whether the chunk was skipped because a resumed run's journal already holds it.
    package var alreadyApplied = false
    /// Whether the chunk was only previewed (a dry run): `changed` counts the rows whose values differ.
    package var isPreview = false
    /// A preview's differences, in key order.
    package var samples: [BulkUpdateReport.DiffSample] = []
    /// Matched rows left alone because an expected column differed; counted in `matched`, not in `changed`.
    package var conflicting = 0
    /// Matched rows left alone because the condition was not true; counted in `matched`, not in `changed`.
    package var skippedByCondition = 0
    /// The conflicts, one per differing expected column.
    package var conflicts: [BulkUpdateConflict] = []

    package init(matched: Int, changed: Int, notFoundExamples: [String] = []) {
        self.matched = matched
        self.changed = changed
        self.notFoundExamples = notFoundExamples
    }

    /// A chunk a resumed run skips.
    package static let skipped: ChunkOutcome = {
        var outcome = ChunkOutcome(matched: 0, changed: 0)
        outcome.alreadyApplied = true
        return outcome
    }()
}

extension ChunkOutcome {
    /// The step every executor takes after a chunk's update, inside the chunk's transaction: when keys had no row,
    /// asks `notFound` for a few of them and, with ``BulkUpdateOptions/failOnMissingKeys``, fails the chunk.
    package mutating func checkMissingKeys(
        of chunk: Chunk,
        options: BulkUpdateOptions,
        notFound: () async throws -> [String]
    ) async throws {
        guard self.matched < chunk.count else { return }
        self.notFoundExamples = try await notFound()
        if options.failOnMissingKeys {
            throw BulkUpdateError.missingKeys(chunk.count - self.matched, examples: self.notFoundExamples)
        }
    }
}
