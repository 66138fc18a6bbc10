package import BulkUpdate
import Foundation
package import Logging
import NIOCore
import SQLiteNIO

/// Writes chunks on the one writer connection, one at a time (``AsyncLock``), each in its own
/// `BEGIN IMMEDIATE` … `COMMIT` transaction.
package struct SQLiteChunkExecutor: JournaledChunkExecutor {
    /// `?3`: SQLite is dynamically typed, values are bound as they are stored.
    static let dialect = UpdateSQL.Dialect(
        parameter: { number, _ in "?\(number)" },
        differs: { lhs, rhs, _ in "\(lhs) IS NOT \(rhs)" }
    )
    /// The temporary table of the `tempTable` strategy, private to the connection.
    static let stageTable = "temp." + SQLIdentifier.quote("bulk_update_stage")

    let connection: SQLiteConnection
    let lock: AsyncLock
    let sql: UpdateSQL
    let maximumParameters: Int
    /// Whether each chunk is its own transaction; `false` in an atomic run, whose one transaction (and the writer
    /// lock) the backend holds.
    let ownsTransactions: Bool
    /// The run's journal, and the chunks it already holds when resuming.
    package let journal: RunJournal?
    package let journaled: [RunJournal.Entry: String]

    init(
        connection: SQLiteConnection,
        lock: AsyncLock,
        plan: UpdatePlan,
        maximumParameters: Int,
        ownsTransactions: Bool,
        journal: RunJournal? = nil,
        journaled: [RunJournal.Entry: String] = [:]
    ) {
        self.journal = journal
        self.journaled = journaled
        self.connection = connection
        self.lock = lock
        self.sql = UpdateSQL(plan: plan, dialect: Self.dialect)
        self.maximumParameters = maximumParameters
        self.ownsTransactions = ownsTransactions
    }

    // See `ChunkExecutor.write(_:logger:)`.
    package func write(_ chunk: Chunk, logger: Logger) async throws -> ChunkOutcome {
        let fingerprint = self.journal == nil ? "" : chunk.fingerprint()
        guard self.ownsTransactions else {
            do {
                var outcome = try await self.apply(chunk)
                if outcome.matched < chunk.count { outcome.notFoundExamples = try await self.notFound(chunk) }
                if outcome.matched < chunk.count && self.sql.plan.options.failOnMissingKeys {
                    throw BulkUpdateError.missingKeys(chunk.count - outcome.matched, examples: outcome.notFoundExamples)
                }
                return outcome
            } catch {
                throw SQLiteErrors.map(error, doing: "the update")
            }
        }
        do {
            return try await self.lock.withLock {
                _ = try await self.connection.query("BEGIN IMMEDIATE")
                do {
                    var outcome = try await self.apply(chunk)
                    if outcome.matched < chunk.count {
                        outcome.notFoundExamples = try await self.notFound(chunk)
                        if self.sql.plan.options.failOnMissingKeys {
                            throw BulkUpdateError.missingKeys(
                                chunk.count - outcome.matched,
                                examples: outcome.notFoundExamples
                            )
                        }
                    }
                    if let journal = self.journal {
                        // In the chunk's own transaction: the chunk and its entry commit together or not at all.
                        let record = chunk.record()
                        _ = try await self.connection.query(
                            journal.insertChunk,
                            [
                                .text(journal.runID), .integer(SQLiteInt64(record.worker)),
                                .integer(SQLiteInt64(record.number)), .text(record.firstKey), .text(record.lastKey),
                                .integer(SQLiteInt64(record.rows)), .text(fingerprint), .text(RunJournal.now()),
                            ]
                        )
                    }
                    _ = try await self.connection.query("COMMIT")
                    return outcome
                } catch {
                    _ = try? await self.connection.query("ROLLBACK")
                    throw error
                }
            }
        } catch {
            throw SQLiteErrors.map(error, doing: "the update")
        }
    }

    private func apply(_ chunk: Chunk) async throws -> ChunkOutcome {
        let plan = self.sql.plan
        let skip = plan.options.skipUnchanged
        var outcome = ChunkOutcome(matched: 0, changed: 0)
        switch plan.options.strategy {
        case .tempTable:
            let names = self.sql.allNames.joined(separator: ", ")
            // Created and dropped inside the chunk's transaction (or the atomic run's), so nothing is left behind.
            _ = try await self.connection.query("DROP TABLE IF EXISTS \(Self.stageTable)")
            _ = try await self.connection.query(
                "CREATE TEMP TABLE \(SQLIdentifier.quote("bulk_update_stage")) (\(names))"
            )
            for rows in self.batches(chunk.count, width: chunk.columns.count) {
                let placeholders = (0..<rows.count).map { row in
                    "("
                        + (0..<chunk.columns.count).map { "?\(row * chunk.columns.count + $0 + 1)" }.joined(
                            separator: ", "
                        )
                        + ")"
                }
                _ = try await self.connection.query(
                    "INSERT INTO \(Self.stageTable) (\(names)) VALUES \(placeholders.joined(separator: ", "))",
                    self.binds(chunk, rows: rows)
                )
            }
            let source = "\(Self.stageTable) AS u"
            if skip {
                outcome.matched = try await self.count(
                    "SELECT count(*) FROM \(self.sql.table) AS t JOIN \(source) ON \(self.sql.match)",
                    []
                )
            }
            outcome.changed = try await self.update(self.sql.update(from: source, onlyChanged: skip), [])
            _ = try await self.connection.query("DROP TABLE \(Self.stageTable)")
        case .caseWhen:
            for rows in self.batches(chunk.count, width: chunk.columns.count) {
                if skip { outcome.matched += try await self.countMatched(chunk, rows: rows) }
                let statement = self.sql.caseWhen(rows: rows.count, onlyChanged: skip).statement
                outcome.changed += try await self.update(statement, self.binds(chunk, rows: rows))
            }
        default:
            for rows in self.batches(chunk.count, width: chunk.columns.count) {
                if skip { outcome.matched += try await self.countMatched(chunk, rows: rows) }
                let statement = self.sql.update(from: self.sql.valuesSource(rows: rows.count), onlyChanged: skip)
                outcome.changed += try await self.update(statement, self.binds(chunk, rows: rows))
            }
        }
        if !skip { outcome.matched = outcome.changed }
        return outcome
    }

    /// Runs an UPDATE and returns the rows it changed.
    private func update(_ statement: String, _ binds: [SQLiteData]) async throws -> Int {
        _ = try await self.connection.query(statement, binds)
        return try await self.count("SELECT changes()", [])
    }

    private func count(_ query: String, _ binds: [SQLiteData]) async throws -> Int {
        let rows = try await self.connection.query(query, binds)
        return Int(rows.first?.columns.first?.data.integer ?? 0)
    }

    /// Table rows that exist for the keys of `rows`.
    private func countMatched(_ chunk: Chunk, rows: Range<Int>) async throws -> Int {
        let source = self.sql.keyValuesSource(rows: rows.count, ordinal: false)
        return try await self.count(
            "SELECT count(*) FROM \(self.sql.table) AS t JOIN \(source) ON \(self.sql.match)",
            self.keyBinds(chunk, rows: rows, ordinal: false)
        )
    }

    private func notFound(_ chunk: Chunk) async throws -> [String] {
        var examples: [String] = []
        let keyCount = chunk.keyColumnCount
        for rows in self.batches(chunk.count, width: keyCount + 1)
        where examples.count < ChunkOutcome.notFoundExampleLimit {
            let source = self.sql.keyValuesSource(rows: rows.count, ordinal: true)
            let found = try await self.connection.query(
                "SELECT u.\(UpdateSQL.ordinalName) FROM \(source)"
                    + " WHERE NOT EXISTS (SELECT 1 FROM \(self.sql.table) AS t WHERE \(self.sql.match))"
                    + " ORDER BY u.\(UpdateSQL.ordinalName) LIMIT \(ChunkOutcome.notFoundExampleLimit - examples.count)",
                self.keyBinds(chunk, rows: rows, ordinal: true)
            )
            for row in found {
                if let position = row.columns.first?.data.integer { examples.append(chunk.renderKey(Int(position))) }
            }
        }
        return examples
    }

    private func batches(_ count: Int, width: Int) -> [Range<Int>] {
        let size = max(1, self.maximumParameters / max(1, width))
        return stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
    }

    // MARK: Binds

    private func binds(_ chunk: Chunk, rows: Range<Int>) -> [SQLiteData] {
        var binds: [SQLiteData] = []
        binds.reserveCapacity(rows.count * chunk.columns.count)
        for row in rows {
            for column in chunk.columns { binds.append(Self.data(column, row)) }
        }
        return binds
    }

    private func keyBinds(_ chunk: Chunk, rows: Range<Int>, ordinal: Bool) -> [SQLiteData] {
        var binds: [SQLiteData] = []
        for row in rows {
            for column in 0..<chunk.keyColumnCount { binds.append(Self.data(chunk.columns[column], row)) }
            if ordinal { binds.append(.integer(SQLiteInt64(row))) }
        }
        return binds
    }

    /// How each family is stored: booleans as 0/1, dates and timestamps as ISO text (UTC), UUIDs as lowercase
    /// text, decimals and JSON as text.
    static func data(_ values: ColumnValues, _ row: Int) -> SQLiteData {
        switch values {
        case .bool(let array): array[row].map { .integer($0 ? 1 : 0) } ?? .null
        case .int(let array): array[row].map { .integer(SQLiteInt64($0)) } ?? .null
        case .double(let array): array[row].map { .float($0) } ?? .null
        case .text(let array): array[row].map { .text($0) } ?? .null
        case .bytes(let array): array[row].map { .blob(ByteBuffer(bytes: $0)) } ?? .null
        case .uuid(let array): array[row].map { .text($0.uuidString.lowercased()) } ?? .null
        case .date(let array): array[row].map { .text(ValueParsing.formatDate($0)) } ?? .null
        case .timestamp(let array): array[row].map { .text(ValueParsing.formatTimestamp($0)) } ?? .null
        }
    }
}
