import Foundation

/// The SQL of a run's journal, shared by the backends: `bulk_update_runs` (one row per run) and
/// `bulk_update_journal` (one row per committed chunk), in the journal schema (by default the target's). Every value
/// is a parameter.
package struct RunJournal: Sendable {
    /// A chunk the journal holds: where it came from and what it contained.
    package struct Entry: Hashable, Sendable {
        package var worker: Int
        package var chunk: Int
        package init(worker: Int, chunk: Int) {
            self.worker = worker
            self.chunk = chunk
        }
    }

    /// What the journal holds of a committed chunk: a fingerprint of its content, and how many input rows were
    /// routed into it (before duplicates were dropped; `nil` in journals of earlier versions), which an adaptive run
    /// that resumes cuts the same chunk at.
    package struct Stored: Hashable, Sendable {
        package var fingerprint: String
        package var inputRows: Int?
        package init(fingerprint: String, inputRows: Int?) {
            self.fingerprint = fingerprint
            self.inputRows = inputRows
        }
    }

    package let runID: String
    package let runsTable: SQL
    package let journalTable: SQL
    /// `bulk_update_undo_chunks`: what a run's changed rows held before it, and what it wrote (see
    /// ``BulkUpdateOptions/keepsUndo``), a row per chunk.
    package let undoTable: SQL
    /// `bulk_update_undo`: the undo of runs of earlier versions, a row per changed row. Read (by `runs revert` and
    /// `runs export`) and cleaned where it exists, never created or written.
    package let legacyUndoTable: SQL

    package init(runID: String, schema: String?) {
        self.runID = runID
        let prefix: SQL = schema.map { "\(identifier: $0)." } ?? ""
        self.runsTable = prefix + .identifier("bulk_update_runs")
        self.journalTable = prefix + .identifier("bulk_update_journal")
        self.undoTable = prefix + .identifier(Self.undoTableName)
        self.legacyUndoTable = prefix + .identifier(Self.legacyUndoTableName)
    }

    /// The name of ``undoTable``.
    package static let undoTableName = "bulk_update_undo_chunks"
    /// The name of ``legacyUndoTable``.
    package static let legacyUndoTableName = "bulk_update_undo"

    /// Parameter `number`, a text value.
    private func text(_ number: Int) -> SQL { .parameter(number, type: "text") }
    /// Parameter `number`, a 64-bit integer.
    private func integer(_ number: Int) -> SQL { .parameter(number, type: "int8") }

    /// The columns of the runs table that steer and show a running run (see ``addedColumns``).
    package static let controlColumns: [(name: String, type: String)] = [
        ("state", "text"), ("requested_state", "text"), ("heartbeat_at", "text"), ("pauses", "text"),
        ("rows_per_second", "double precision"), ("rows_total", "bigint"), ("max_rows_per_second", "bigint"),
        ("target_chunk_seconds", "double precision"), ("rows_conflicting", "bigint"), ("rows_skipped", "bigint"),
    ]

    /// The columns added to the journal's tables after their first version, by table: a journal made before them gets
    /// them added (``addColumn(_:)``) by a role that owns it.
    package static let addedColumns: [(table: String, name: String, type: String)] =
        Self.controlColumns.map { ("bulk_update_runs", $0.name, $0.type) } + [
            ("bulk_update_journal", "input_rows", "bigint")
        ]

    package var createStatements: [SQL] {
        let control = Self.controlColumns.map { column -> SQL in "\(identifier: column.name) \(type: column.type)" }
        return [
            "CREATE TABLE IF NOT EXISTS \(self.runsTable) (run_id text PRIMARY KEY, target text NOT NULL,"
                + " fingerprint text NOT NULL, started_at text NOT NULL, finished_at text,"
                + " rows_committed bigint NOT NULL DEFAULT 0, " + SQL.list(control) + ")",
            "CREATE TABLE IF NOT EXISTS \(self.journalTable) (run_id text NOT NULL, worker bigint NOT NULL,"
                + " chunk bigint NOT NULL, first_key text NOT NULL, last_key text NOT NULL, rows bigint NOT NULL,"
                + " fingerprint text NOT NULL, committed_at text NOT NULL, input_rows bigint,"
                + " PRIMARY KEY (run_id, worker, chunk))",
            self.createUndo,
        ]
    }

    /// The undo table. One row per chunk (or, where a chunk is written in several statements, per statement: its
    /// part) with the rows it changed: their positions in the chunk (a JSON array of integers), their key values, the
    /// values they held before, and the values written (each a JSON array with one array per column, of text and
    /// nulls), all in the same order. `repeated` holds the positions of the chunk's rows whose key an earlier chunk
    /// of the run may have written too (most runs have none): a revert keeps such a key's first previous values and
    /// its last written values. A run's first row (worker and chunk -1) names its table and key columns (old
    /// values) and its set columns (new values).
    ///
    /// One row per chunk, not per changed row: writing 10,000 index entries and rows per chunk cost more than the
    /// update itself.
    package var createUndo: SQL {
        "CREATE TABLE IF NOT EXISTS \(self.undoTable) (run_id text NOT NULL, worker bigint NOT NULL,"
            + " chunk bigint NOT NULL, part bigint NOT NULL, rows bigint NOT NULL, positions text NOT NULL,"
            + " key_values text NOT NULL, old_values text NOT NULL, new_values text NOT NULL, repeated text NOT NULL,"
            + " PRIMARY KEY (run_id, worker, chunk, part))"
    }

    /// The journal's tables a run of `options` uses, with the columns that make a table of that name one of them
    /// (those of its first version; ``addedColumns`` come later): a table of that name without them is someone
    /// else's, and is left alone.
    package static func tables(for options: BulkUpdateOptions) -> [(name: String, columns: [String])] {
        [
            ("bulk_update_runs", ["run_id", "target", "fingerprint", "started_at", "finished_at", "rows_committed"]),
            (
                "bulk_update_journal",
                ["run_id", "worker", "chunk", "first_key", "last_key", "rows", "fingerprint", "committed_at"]
            ),
        ] + (options.writesUndo ? [(Self.undoTableName, Self.undoColumns)] : [])
    }

    /// Why the table `name` of schema `schema`, whose columns are `columns`, is not the journal table of that name,
    /// if it is not (see ``tables(for:)``).
    package static func foreignTable(_ name: String, schema: String, columns: [String], options: BulkUpdateOptions)
        -> String?
    {
        let expected = Self.tables(for: options).first { $0.name == name }?.columns ?? []
        let missing = expected.filter { !columns.contains($0) }
        guard !missing.isEmpty else { return nil }
        return "\(SQLIdentifier.quote(schema)).\(SQLIdentifier.quote(name)) exists but is not a bulk-update journal"
            + " table (it lacks the columns \(missing.joined(separator: ", "))); it is left alone: "
            + Self.wayOut(options).dropFirst(3)
    }

    /// The ways around a journal that cannot be used, for messages: `or keep the journal elsewhere …`.
    package static func wayOut(_ options: BulkUpdateOptions) -> String {
        "or keep the journal elsewhere (journalSchema, apply --journal-schema SCHEMA), or run without one: all or"
            + " nothing (atomic, apply --atomic), or without resume (apply --no-journal)"
            + (options.writesUndo ? ", or without undo (keepsUndo, apply --no-undo)" : "")
    }

    /// The undo table's columns, as ``createUndo`` makes them.
    package static let undoColumns = [
        "run_id", "worker", "chunk", "part", "rows", "positions", "key_values", "old_values", "new_values", "repeated",
    ]

    /// Parameters: run id, the table and key columns, the set columns (JSON arrays), and what the first row's key
    /// values hold: `[]`, or ``storageClassesMark``. A run's first undo row.
    package var insertUndoHeader: SQL {
        "INSERT INTO \(self.undoTable) (\(SQL.list(Self.undoColumns.map(SQL.identifier))))"
            + " VALUES (\(self.text(1)), -1, -1, 0, 0, '[]', \(self.text(4)), \(self.text(2)), \(self.text(3)), '[]')"
    }

    /// The parameters of ``insertUndoHeader`` for `plan`'s run; `storageClasses` when its previous and written values
    /// keep their SQLite storage classes (``UndoValue``).
    package func undoHeader(_ plan: UpdatePlan, storageClasses: Bool) -> [String] {
        [
            self.runID, Self.jsonArray([plan.table.name.quoted] + plan.keyColumns.map(\.name)),
            Self.jsonArray(plan.setColumns.map(\.name)), storageClasses ? Self.storageClassesMark : "[]",
        ]
    }

    /// The key values of a run's first undo row when its undo keeps SQLite's storage classes: its previous and
    /// written values are ``UndoValue``s, and a revert writes them back as they were (``ColumnType/Kind/stored``).
    /// Undo kept before has `[]` there and only text.
    package static let storageClassesMark = #"["storage classes"]"#

    /// The runs that kept undo: one row per run id, in either undo table (`legacy`: the one of earlier versions).
    package func selectRunsWithUndo(legacy: Bool) -> SQL {
        legacy
            ? "SELECT run_id FROM \(self.legacyUndoTable) WHERE key_values = ''"
            : "SELECT run_id FROM \(self.undoTable) WHERE worker = -1"
    }

    /// The run id parameter's first undo row: (table and key columns, set columns, ``storageClassesMark`` or
    /// another text), as text.
    package func selectUndoHeader(legacy: Bool) -> SQL {
        legacy
            ? "SELECT old_values, new_values, key_values FROM \(self.legacyUndoTable) WHERE run_id = \(self.text(1))"
                + " AND key_values = ''"
            : "SELECT old_values, new_values, key_values FROM \(self.undoTable) WHERE run_id = \(self.text(1))"
                + " AND worker = -1"
    }

    /// The run id parameter's undo rows, in the order a revert reads them: worker, chunk, part, and the number of
    /// changed rows each holds, as text.
    ///
    /// The order is that of the numbers. PostgreSQL names `CAST(chunk AS TEXT)` `chunk`, and a bare `ORDER BY chunk`
    /// takes an output column before a table's, which sorted chunk 10 before chunk 2; the table's alias makes it
    /// the table's column on every backend.
    package var selectUndoParts: SQL {
        "SELECT CAST(u.worker AS TEXT), CAST(u.chunk AS TEXT), CAST(u.part AS TEXT), CAST(u.rows AS TEXT)"
            + " FROM \(self.undoTable) AS u WHERE u.run_id = \(self.text(1)) AND u.worker >= 0"
            + " ORDER BY u.worker, u.chunk, u.part"
    }

    /// The undo rows of the run id parameter that have repeated positions: worker, chunk, part, positions, key
    /// values and repeated positions, as text.
    package var selectUndoRepeated: SQL {
        "SELECT CAST(worker AS TEXT), CAST(chunk AS TEXT), CAST(part AS TEXT), positions, key_values, repeated"
            + " FROM \(self.undoTable) WHERE run_id = \(self.text(1)) AND worker >= 0 AND repeated <> '[]'"
    }

    /// One undo row of the run id parameter, by worker, chunk and part (parameters 2–4): its number of rows, key
    /// values, old values and new values, as text.
    package var selectUndoPart: SQL {
        "SELECT CAST(rows AS TEXT), key_values, old_values, new_values FROM \(self.undoTable)"
            + " WHERE run_id = \(self.text(1)) AND worker = \(self.integer(2)) AND chunk = \(self.integer(3))"
            + " AND part = \(self.integer(4))"
    }

    /// Up to ``undoPage`` changed rows of the run id parameter in the undo table of earlier versions (one row per
    /// changed row) whose key values sort after parameter 2 (an empty text for the first page), in that order.
    /// Columns, as text: key values, old values, new values.
    package var selectLegacyUndoPage: SQL {
        "SELECT key_values, old_values, new_values FROM \(self.legacyUndoTable)"
            + " WHERE run_id = \(self.text(1)) AND key_values > \(self.text(2))"
            + " ORDER BY key_values LIMIT \(integer: Self.undoPage)"
    }

    /// Rows per page of ``selectLegacyUndoPage``.
    package static let undoPage = 10_000

    /// The number of changed rows in the run id parameter's undo in the undo table of earlier versions, as text.
    package var countLegacyUndo: SQL {
        "SELECT CAST(count(*) AS TEXT) FROM \(self.legacyUndoTable) WHERE run_id = \(self.text(1))"
            + " AND key_values <> ''"
    }

    /// The runs `runs --clean` removes: those that finished, and those a finished revert took back (an interrupted
    /// run that was reverted is done too, and keeping its journal without the revert's would let it be resumed over
    /// the revert), but never the run of a revert that has not finished, whose undo that revert still reads.
    private var cleanableRuns: SQL {
        let revert: SQL = "\(literal: Self.revertPrefix) || r.run_id"
        return "SELECT r.run_id FROM \(self.runsTable) AS r WHERE (r.finished_at IS NOT NULL OR EXISTS"
            + " (SELECT 1 FROM \(self.runsTable) AS v WHERE v.run_id = \(revert) AND v.finished_at IS NOT NULL))"
            + " AND NOT EXISTS (SELECT 1 FROM \(self.runsTable) AS v WHERE v.run_id = \(revert) AND v.finished_at IS NULL)"
    }

    /// Removes the undo of the runs ``cleanFinished`` removes from the undo table, or (`legacy`) from that of earlier
    /// versions; it runs first, since it names them through the runs table.
    package func cleanFinishedUndo(legacy: Bool) -> SQL {
        "DELETE FROM \(legacy ? self.legacyUndoTable : self.undoTable) WHERE run_id IN (\(self.cleanableRuns))"
    }

    /// A JSON array of text and nulls, as the undo table holds values.
    package static func jsonArray(_ values: [String?]) -> String {
        let data =
            (try? JSONSerialization.data(withJSONObject: values.map { $0 ?? NSNull() as Any })) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads ``jsonArray(_:)``'s text back; `nil` when it is not such an array.
    package static func values(ofJSONArray text: String) -> [String?]? {
        guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any] else { return nil }
        return Self.strings(array)
    }

    /// The elements of a parsed JSON array of text and nulls; `nil` when one is something else.
    private static func strings(_ array: [Any]) -> [String?]? {
        var values: [String?] = []
        values.reserveCapacity(array.count)
        for element in array {
            if element is NSNull {
                values.append(nil)
            } else if let text = element as? String {
                values.append(text)
            } else {
                return nil
            }
        }
        return values
    }

    /// Reads an undo row's key values (a JSON array of `columns` arrays of `rows` values each, a column each) back as
    /// rows of text (see ``undoValues(ofJSONColumns:columns:rows:)``); `nil` when it is not that.
    package static func rows(ofJSONColumns text: String, columns: Int, rows: Int) -> [[String?]]? {
        Self.undoValues(ofJSONColumns: text, columns: columns, rows: rows)?.map { row in row.map { $0?.text } }
    }

    /// Reads an undo row's previous or written values (a JSON array of `columns` arrays of `rows` values each, a
    /// column each) back as rows of ``UndoValue``s; `nil` when it is not that.
    ///
    /// `JSONDecoder` reads an integer from its digits; `JSONSerialization` reads some (`-9223372036854775807`) as a
    /// double, which cannot hold every integer.
    package static func undoValues(ofJSONColumns text: String, columns: Int, rows: Int) -> [[UndoValue?]]? {
        guard let arrays = try? JSONDecoder().decode([[UndoValue.Element]].self, from: Data(text.utf8)),
            arrays.count == columns, arrays.allSatisfy({ $0.count == rows })
        else { return nil }
        return (0..<rows).map { row in arrays.map { $0[row].value } }
    }

    /// A JSON array of integers (an undo row's repeated positions).
    package static func jsonIntegers(_ values: [Int]) -> String {
        "[" + values.map(String.init).joined(separator: ",") + "]"
    }

    /// Reads a JSON array of integers back; `nil` when it is not one.
    package static func integers(ofJSONArray text: String) -> [Int]? {
        guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any] else { return nil }
        var values: [Int] = []
        values.reserveCapacity(array.count)
        for element in array {
            guard let number = element as? NSNumber, let value = Int(exactly: number.doubleValue) else { return nil }
            values.append(value)
        }
        return values
    }

    /// Adds one of ``addedColumns`` to a table made before it existed.
    package func addColumn(_ column: (table: String, name: String, type: String)) -> SQL {
        let table = column.table == "bulk_update_journal" ? self.journalTable : self.runsTable
        return "ALTER TABLE \(table) ADD COLUMN \(identifier: column.name) \(type: column.type)"
    }

    /// Parameters: run id, target, options fingerprint, start time, rate limit, total rows, target chunk seconds (the
    /// last three may be NULL).
    package var insertRun: SQL {
        "INSERT INTO \(self.runsTable) (run_id, target, fingerprint, started_at, state, heartbeat_at,"
            + " max_rows_per_second, rows_total, target_chunk_seconds) VALUES (\(self.text(1)), \(self.text(2)),"
            + " \(self.text(3)), \(self.text(4)), 'running', \(self.text(4)), \(self.integer(5)), \(self.integer(6)),"
            + " \(SQL.parameter(7, type: "float8")))"
    }

    /// Parameters: run id, time, rate limit, total rows, target chunk seconds. A resumed run is running again, and a
    /// stop or pause asked of the run it resumes is forgotten.
    package var resumeRun: SQL {
        "UPDATE \(self.runsTable) SET state = 'running', requested_state = NULL, pauses = NULL,"
            + " heartbeat_at = \(self.text(2)), max_rows_per_second = \(self.integer(3)),"
            + " rows_total = \(self.integer(4)), target_chunk_seconds = \(SQL.parameter(5, type: "float8"))"
            + " WHERE run_id = \(self.text(1))"
    }

    /// Parameters: run id, time, state, pauses, rows per second, total rows (NULL keeps the one stored). Returns the
    /// requested state and the rate limit.
    package var heartbeat: SQL {
        "UPDATE \(self.runsTable) SET heartbeat_at = \(self.text(2)), state = \(self.text(3)),"
            + " pauses = \(self.text(4)), rows_per_second = \(SQL.parameter(5, type: "float8")),"
            + " rows_total = coalesce(\(self.integer(6)), rows_total)"
            + " WHERE run_id = \(self.text(1)) AND finished_at IS NULL"
            + " RETURNING requested_state, max_rows_per_second, target_chunk_seconds"
    }

    /// Parameters: run id, state (`interrupted`, `failed`), time: how an unfinished run ended.
    package var endRun: SQL {
        "UPDATE \(self.runsTable) SET state = \(self.text(2)), heartbeat_at = \(self.text(3)), pauses = NULL"
            + " WHERE run_id = \(self.text(1)) AND finished_at IS NULL"
    }

    /// Parameters: run id, requested state (`running`, `paused`, `stopped`). Only an unfinished run is changed; returns
    /// its id.
    package var request: SQL {
        "UPDATE \(self.runsTable) SET requested_state = \(self.text(2))"
            + " WHERE run_id = \(self.text(1)) AND finished_at IS NULL RETURNING run_id"
    }

    /// Parameters: run id, rate limit (NULL for none). Only an unfinished run is changed; returns its id.
    package var setRate: SQL {
        "UPDATE \(self.runsTable) SET max_rows_per_second = \(self.integer(2))"
            + " WHERE run_id = \(self.text(1)) AND finished_at IS NULL RETURNING run_id"
    }

    /// Parameters: run id, target chunk seconds. Only an unfinished adaptive run (one with a target) is changed;
    /// returns its id.
    package var setTarget: SQL {
        "UPDATE \(self.runsTable) SET target_chunk_seconds = \(SQL.parameter(2, type: "float8"))"
            + " WHERE run_id = \(self.text(1)) AND finished_at IS NULL AND target_chunk_seconds IS NOT NULL"
            + " RETURNING run_id"
    }

    /// One row (target, fingerprint, finished_at, state, heartbeat_at) for the run id parameter.
    package var selectRun: SQL {
        "SELECT target, fingerprint, finished_at, state, heartbeat_at FROM \(self.runsTable)"
            + " WHERE run_id = \(self.text(1))"
    }

    /// Seconds without a heartbeat after which a run said to be running is taken for dead: its process is gone. A
    /// live run beats twice a second.
    package static let deadAfterSeconds = 15.0

    /// How many seconds ago a journal time (``now()``) was, by this machine's clock.
    package static func age(of text: String) -> Double? {
        guard
            let then = ValueParsing.timestamp(text, withTimeZone: true)
                ?? ValueParsing.timestamp(text, withTimeZone: false),
            let now = ValueParsing.microseconds(from: Date())
        else { return nil }
        return Double(now - then) / 1_000_000
    }

    /// Rows (worker, chunk, fingerprint, input rows) of the run id parameter.
    package var selectChunks: SQL {
        "SELECT worker, chunk, fingerprint, input_rows FROM \(self.journalTable) WHERE run_id = \(self.text(1))"
    }

    /// Parameters: run id, worker, chunk, first key, last key, rows, fingerprint, commit time, input rows.
    ///
    /// Nothing is inserted once a revert has marked the run (``markReverted(postgres:)``): the chunk then rolls back
    /// (``revertedWhileWriting``), so no chunk of a run commits after its revert started reading its undo.
    package var insertChunk: SQL {
        let values = [
            self.text(1), self.integer(2), self.integer(3), self.text(4), self.text(5), self.integer(6),
            self.text(7), self.text(8), self.integer(9),
        ]
        return "INSERT INTO \(self.journalTable)"
            + " (run_id, worker, chunk, first_key, last_key, rows, fingerprint, committed_at, input_rows) SELECT "
            + SQL.list(values) + " WHERE NOT EXISTS (\(self.selectRevertMark))"
    }

    /// The worker number of the entry a revert leaves in the journal of the run it takes back: no chunk has it.
    package static let revertMarkWorker = -2

    /// The first half of the key of a run's PostgreSQL advisory lock (`bulk` in ASCII); the second is
    /// `hashtext(run id)`. Each chunk of a journaled run holds it shared for its transaction; a revert takes it
    /// alone, without waiting, for the one statement that marks the run.
    package static let lockClass = 0x6275_6C6B

    /// Parameter 1: the run id. The revert's mark in the run's journal, if there is one.
    package var selectRevertMark: SQL {
        "SELECT 1 FROM \(self.journalTable) WHERE run_id = \(self.text(1)) AND worker = \(integer: Self.revertMarkWorker)"
    }

    /// Marks the run (parameter 1) as being reverted before its undo is read, at time parameter 2: from then on no
    /// chunk of it commits (see ``insertChunk``). On PostgreSQL (parameter 3, the run id again, names its lock)
    /// the mark is made only while no chunk of the run is in flight, which the statement answers (`true` or
    /// `false`); a chunk that starts meanwhile waits for the statement, then finds the mark.
    package func markReverted(postgres: Bool) -> SQL {
        let insert: SQL =
            "INSERT INTO \(self.journalTable)"
            + " (run_id, worker, chunk, first_key, last_key, rows, fingerprint, committed_at, input_rows)"
            + " SELECT \(self.text(1)), \(integer: Self.revertMarkWorker), 0, '', '', 0, 'revert', \(self.text(2)), 0"
        guard postgres else { return insert + " WHERE NOT EXISTS (\(self.selectRevertMark))" }
        return "WITH l AS (SELECT pg_try_advisory_xact_lock(\(integer: Self.lockClass), hashtext(\(self.text(3))))"
            + " AS locked), i AS (\(insert) FROM l WHERE l.locked AND NOT EXISTS (\(self.selectRevertMark)))"
            + " SELECT CAST(l.locked AS TEXT) FROM l"
    }

    /// The failure of a chunk that found the run marked by a revert: it was rolled back, and the run stops.
    package var revertedWhileWriting: BulkUpdateError {
        BulkUpdateError(
            .reverted,
            "run \(SQLText.literal(self.runID)) is being reverted (bulk-update runs revert \(self.runID) started while"
                + " it ran): this run stops, and its chunk in flight was rolled back"
        )
    }

    /// Parameters: finish time, run id, rows left alone as conflicts, rows skipped by the condition. Counts the rows
    /// from the journal.
    package var finishRun: SQL {
        "UPDATE \(self.runsTable) SET finished_at = \(self.text(1)), state = 'finished', pauses = NULL,"
            + " rows_conflicting = \(self.integer(3)), rows_skipped = \(self.integer(4)),"
            + " heartbeat_at = \(self.text(1)), rows_committed ="
            + " (SELECT coalesce(sum(rows), 0) FROM \(self.journalTable) WHERE run_id = \(self.text(2)))"
            + " WHERE run_id = \(self.text(2))"
    }

    /// The columns of ``listRuns``, in order.
    package static let listedColumns = [
        "run_id", "target", "started_at", "finished_at", "chunks", "rows", "state", "requested_state",
        "heartbeat_at", "pauses", "rows_per_second", "rows_total", "max_rows_per_second", "rows_conflicting",
        "rows_skipped", "revert_marked",
    ]

    /// Every run with its progress, in the order of ``listedColumns``, every column as text.
    package var listRuns: SQL {
        "SELECT r.run_id, r.target, r.started_at, r.finished_at, CAST(count(j.chunk) AS TEXT),"
            + " CAST(coalesce(sum(j.rows), 0) AS TEXT), r.state, r.requested_state, r.heartbeat_at, r.pauses,"
            + " CAST(r.rows_per_second AS TEXT), CAST(r.rows_total AS TEXT), CAST(r.max_rows_per_second AS TEXT),"
            + " CAST(r.rows_conflicting AS TEXT), CAST(r.rows_skipped AS TEXT),"
            + " CASE WHEN EXISTS (SELECT 1 FROM \(self.journalTable) AS m WHERE m.run_id = r.run_id"
            + " AND m.worker = \(integer: Self.revertMarkWorker)) THEN 'yes' END"
            + " FROM \(self.runsTable) AS r LEFT JOIN \(self.journalTable) AS j ON j.run_id = r.run_id AND j.worker >= 0"
            + " GROUP BY r.run_id, r.target, r.started_at, r.finished_at, r.state, r.requested_state, r.heartbeat_at,"
            + " r.pauses, r.rows_per_second, r.rows_total, r.max_rows_per_second, r.rows_conflicting, r.rows_skipped"
            + " ORDER BY r.started_at"
    }

    /// The state, heartbeat and pauses of the run id parameter, as text.
    package var selectState: SQL {
        "SELECT state, heartbeat_at, pauses FROM \(self.runsTable) WHERE run_id = \(self.text(1))"
    }

    /// Removes the journal of finished runs, and of runs a finished revert took back (see ``cleanableRuns``).
    package var cleanFinished: [SQL] {
        [
            "DELETE FROM \(self.journalTable) WHERE run_id IN (\(self.cleanableRuns))",
            "DELETE FROM \(self.runsTable) WHERE run_id IN (SELECT c.run_id FROM (\(self.cleanableRuns)) AS c)",
        ]
    }

    /// What must be equal for a resumed run to cut the input into the same chunks and write them the same way, and,
    /// when the input was read in full first, the input's digest (`;input=rows:hash`).
    package static func fingerprint(of plan: UpdatePlan) -> String {
        let options = plan.options
        var parts = [
            "table=\(plan.table.name)",
            "key=\(plan.keyColumns.map(\.name).joined(separator: ","))",
            "set=\(plan.setColumns.map(\.name).joined(separator: ","))",
            "workers=\(options.workers)",
            // An adaptive run's resumed chunks are cut where the journal says, whatever size it starts from.
            options.targetChunkDuration == nil ? "chunkSize=\(options.chunkSize)" : "chunkSize=adaptive",
            "skipUnchanged=\(options.skipUnchanged)",
            "duplicateKeys=\(options.duplicateKeys)",
        ]
        // Only when set, so that the fingerprints of runs without them stay as they were.
        if !options.expectedColumns.isEmpty {
            parts.append("expected=\(options.expectedColumns.joined(separator: ","))")
        }
        if let condition = options.condition { parts.append("condition=\(String(condition.stableHash, radix: 16))") }
        if let digest = options.inputDigest { parts.append(Self.inputPrefix + digest) }
        return parts.joined(separator: ";")
    }

    private static let inputPrefix = "input="

    /// A fingerprint split into its options and its input digest.
    private static func split(_ fingerprint: String) -> (options: String, input: String?) {
        var parts = fingerprint.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard let index = parts.firstIndex(where: { $0.hasPrefix(Self.inputPrefix) }) else { return (fingerprint, nil) }
        let input = String(parts.remove(at: index).dropFirst(Self.inputPrefix.count))
        return (parts.joined(separator: ";"), input)
    }

    private static func rowCount(_ digest: String) -> String {
        String(digest.prefix { $0 != ":" })
    }

    /// The current time as ISO 8601 text (UTC), for the journal's time columns.
    package static func now() -> String {
        let micros = ValueParsing.microseconds(from: Date()) ?? 0
        return ValueParsing.formatTimestamp(micros, offset: "Z")
    }

    /// How long a resumed run watches the heartbeat of the run it resumes, when that one looks alive, before taking
    /// it for dead: six heartbeats.
    package static let livenessWatch = Duration.seconds(3)

    /// Refuses to resume (or revert: `action`) a run whose process is still alive: two processes must never write one
    /// run, and a revert must not race the run it takes back. A run that ended (finished, interrupted, failed) or whose
    /// heartbeat is older than ``deadAfterSeconds`` is not alive. Otherwise its heartbeat is read again (`heartbeat`)
    /// for up to ``livenessWatch``: a heartbeat that moves is a live process; one that stays still is a process that
    /// was killed.
    package func checkNotAlive(
        state: String?,
        heartbeat: String?,
        finished: String?,
        then action: String = "resume",
        reading current: () async throws -> String?
    ) async throws {
        guard finished == nil, let state, ["running", "paused", "stopping"].contains(state),
            let age = heartbeat.flatMap(Self.age), age < Self.deadAfterSeconds
        else { return }
        let deadline = ContinuousClock.now + Self.livenessWatch
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
            if try await current() != heartbeat {
                throw BulkUpdateError(
                    .configuration,
                    "run \(SQLText.literal(self.runID)) is still \(state): its process is writing its heartbeat; stop it"
                        + " (bulk-update runs stop \(self.runID)) and \(action) once it has exited"
                )
            }
        }
    }

    /// What `runs revert` puts before a run's id to name the run that takes it back.
    package static let revertPrefix = "revert-"

    /// The id of the run that `runs revert` makes to take back run `runID`.
    package static func revertID(of runID: String) -> String { Self.revertPrefix + runID }

    /// Refuses to resume a run that a revert has started to take back: `revert` is the revert run's finish time
    /// (`.some(nil)` while it is unfinished), `nil` when there is none; `marked`, whether the revert's mark is in the
    /// run's journal (``markReverted(postgres:)``, made before the revert run is registered). Resuming would write
    /// the run's remaining chunks over a table the revert put back, leaving it neither before nor after the change,
    /// and the revert, finished, could not be run again.
    package func checkNotReverted(revert: String??, marked: Bool) throws(BulkUpdateError) {
        guard let revert = revert ?? (marked ? .some(nil) : nil) else { return }
        let revertID = SQLText.literal(Self.revertID(of: self.runID))
        let run = SQLText.literal(self.runID)
        guard let finished = revert else {
            throw BulkUpdateError(
                .configuration,
                "run \(run) is being reverted by run \(revertID), which has not finished; resuming it would write"
                    + " over the revert: finish the revert (bulk-update runs revert \(self.runID)), then apply the"
                    + " input as a new run"
            )
        }
        throw BulkUpdateError(
            .configuration,
            "run \(run) was reverted by run \(revertID) (finished at \(finished)); resuming it would write its"
                + " remaining chunks over the reverted table: to make the change again, apply the input as a new run"
        )
    }

    /// Checks a resumed run against its original: `stored` is the original's (target, fingerprint, finished, state,
    /// heartbeat).
    package func checkResume(
        stored: (target: String, fingerprint: String, finished: String?, state: String?, heartbeat: String?)?,
        plan: UpdatePlan
    ) throws(BulkUpdateError) {
        guard let stored else {
            throw BulkUpdateError(.configuration, "there is no run \(SQLText.literal(self.runID)) to resume")
        }
        if let finished = stored.finished {
            throw BulkUpdateError(
                .configuration,
                "run \(SQLText.literal(self.runID)) already finished at \(finished); there is nothing to resume"
            )
        }
        let (storedOptions, storedInput) = Self.split(stored.fingerprint)
        let (wantedOptions, wantedInput) = Self.split(Self.fingerprint(of: plan))
        guard storedOptions == wantedOptions else {
            throw BulkUpdateError(
                .configuration,
                "run \(SQLText.literal(self.runID)) cannot be resumed with different options: it ran with"
                    + " \(storedOptions), this run has \(wantedOptions)"
            )
        }
        if let storedInput, storedInput != wantedInput {
            guard let wantedInput else {
                throw BulkUpdateError(
                    .input,
                    "run \(SQLText.literal(self.runID)) read an input of \(Self.rowCount(storedInput)) rows that was checked"
                        + " in full before writing; resume it from the same file (or collection), so it can be compared"
                        + " before anything is written"
                )
            }
            throw BulkUpdateError(
                .input,
                "the input differs from the one run \(SQLText.literal(self.runID)) read (it held"
                    + " \(Self.rowCount(storedInput)) rows, this one holds \(Self.rowCount(wantedInput)));"
                    + " resume only with the same input"
            )
        }
    }
}

extension Chunk {
    /// Whether the journal of a resumed run holds this chunk; only then is its content fingerprinted and compared.
    package func isJournaled(in journaled: [RunJournal.Entry: RunJournal.Stored], runID: String) throws(BulkUpdateError)
        -> Bool
    {
        guard let stored = journaled[RunJournal.Entry(worker: self.worker, chunk: self.number)] else { return false }
        guard stored.fingerprint == self.fingerprint() else {
            throw BulkUpdateError(
                .input,
                "the input differs from the one run \(SQLText.literal(runID)) read: chunk \(self.worker).\(self.number)"
                    + " was built from other rows; resume only with the same input and options",
                inputLine: self.lines.first
            )
        }
        return true
    }
}

/// A previous or written value in an undo row: text, as the database showed it; or, where the undo keeps SQLite's
/// storage classes (``RunJournal/storageClassesMark``), an integer (a JSON number), a real or a blob (a class and
/// a text: `["r","0.30000000000000004"]`, `["b","0aff"]`). SQLite lets a column of any declared type hold a value
/// of any class; a revert writes each back with the class it had.
package enum UndoValue: Sendable, Hashable {
    case text(String)
    case integer(Int64)
    case real(Double)
    case blob([UInt8])

    /// One value of an undo row's JSON: text, an integer, NULL, or a class and a text.
    struct Element: Decodable {
        let value: UndoValue?

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self.value = nil
            } else if let text = try? container.decode(String.self) {
                self.value = .text(text)
            } else if let number = try? container.decode(Int64.self) {
                self.value = .integer(number)
            } else if let value = UndoValue(try container.decode([String].self)) {
                self.value = value
            } else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an undo value")
            }
        }
    }

    /// `["r", "0.30000000000000004"]`, `["b", "0aff"]`; `nil` when the pair is not one.
    init?(_ pair: [String]) {
        guard pair.count == 2 else { return nil }
        let text = pair[1]
        switch pair[0] {
        case "r":
            guard let number = Double(text) else { return nil }
            self = .real(number)
        case "b":
            guard let bytes = ValueParsing.bytea("\\x" + text) else { return nil }
            self = .blob(bytes)
        default: return nil
        }
    }

    /// The value as a change file holds it: a number's digits, a blob's `\x` hex, text as it is.
    package var text: String {
        switch self {
        case .text(let text): text
        case .integer(let number): String(number)
        case .real(let number): "\(number)"
        case .blob(let bytes): "\\x" + bytes.map(SQLText.hex).joined()
        }
    }

    /// The value as a row carries it: each class as its own kind of value.
    package var value: BulkUpdateValue {
        switch self {
        case .text(let text): .string(text)
        case .integer(let number): .int(number)
        case .real(let number): .double(number)
        case .blob(let bytes): .bytes(bytes)
        }
    }
}
