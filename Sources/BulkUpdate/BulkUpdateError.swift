/// An error that stopped a bulk update, with what is known about where it happened.
///
/// `description` is a complete, human-readable sentence naming the table, column, input line, key or chunk
/// at fault; it is what the command-line tool prints.
public struct BulkUpdateError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure. New codes may be added in later versions; this is not a breaking change.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case schema, input, duplicateKey, constraint, connection, timeout, conflict, server, configuration,
                privilege, expectation, unreadableInput, interrupted, reverted
        }
        private let base: Base

        /// The table, a column or a type is unknown or unsupported, or the key is not unique.
        public static let schema = Code(base: .schema)
        /// A value in the input does not fit its column.
        public static let input = Code(base: .input)
        /// A key appears more than once in the input and ``BulkUpdateOptions/DuplicateKeyPolicy/error`` was chosen.
        public static let duplicateKey = Code(base: .duplicateKey)
        /// The database rejected a row because of a constraint (unique, check, foreign key, not null).
        public static let constraint = Code(base: .constraint)
        /// The connection to the database failed or was lost.
        public static let connection = Code(base: .connection)
        /// A database call did not finish within ``BulkUpdateOptions/statementTimeout``.
        public static let timeout = Code(base: .timeout)
        /// A transient conflict: deadlock, serialization failure or lock not available.
        public static let conflict = Code(base: .conflict)
        /// Any other error reported by the database server.
        public static let server = Code(base: .server)
        /// The options or the connection settings are invalid.
        public static let configuration = Code(base: .configuration)
        /// The database role lacks a privilege the run needs; the message names the privilege, the object and the
        /// way out. Checked from the catalog before anything is written.
        public static let privilege = Code(base: .privilege)
        /// A guard the caller set did not hold: a key had no row (``BulkUpdateOptions/failOnMissingKeys``) or the
        /// input did not hold ``BulkUpdateOptions/expectedRows`` rows.
        public static let expectation = Code(base: .expectation)
        /// The input could not be opened or read: a missing file, a directory, no permission, an I/O error.
        public static let unreadableInput = Code(base: .unreadableInput)
        /// The run was stopped before it finished (``BulkUpdateControl/stop(reason:)``, a signal in the command-line
        /// tool, `bulk-update runs stop`): no new chunk started, the chunks in flight finished. In per-chunk mode the
        /// committed chunks stay applied (``BulkUpdateError/partialReport``) and a journaled run can be resumed; an
        /// atomic run applied nothing.
        public static let interrupted = Code(base: .interrupted)
        /// A revert of this journaled run (`bulk-update runs revert`) started while it ran: the chunk in flight was
        /// rolled back and the run stopped. The chunks it had committed are the revert's to take back, and the run
        /// cannot be resumed.
        public static let reverted = Code(base: .reverted)

        public var description: String { self.base.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// One sentence naming the thing at fault, for example `column "emial" does not exist in public.users`.
    public var message: String
    /// The input line (or 1-based row number) of the offending row, when one row is at fault.
    public var inputLine: Int?
    /// The column at fault, when one column is at fault.
    public var column: String?
    /// The offending key, rendered as SQL-like text.
    public var key: String?
    /// The chunk that failed, when the failure happened while writing a chunk.
    public var chunk: BulkUpdateReport.ChunkRecord?
    /// The server's SQLSTATE, when the database reported the error.
    public var sqlState: String?
    /// What had been committed before the failure. In per-chunk mode these chunks stay applied.
    public var partialReport: BulkUpdateReport?
    /// The error reported by the database driver, kept for `String(reflecting:)`.
    public var underlying: (any Error & Sendable)?

    package init(
        _ code: Code,
        _ message: String,
        inputLine: Int? = nil,
        column: String? = nil,
        key: String? = nil,
        sqlState: String? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.inputLine = inputLine
        self.column = column
        self.key = key
        self.sqlState = sqlState
        self.underlying = underlying
    }

    /// Keys of the input with no row in the table, under ``BulkUpdateOptions/failOnMissingKeys``.
    package static func missingKeys(_ count: Int, examples: [String]) -> BulkUpdateError {
        var message =
            "\(count) key\(count == 1 ? "" : "s") of the input \(count == 1 ? "has" : "have") no row in the table"
        if !examples.isEmpty { message += " (for example \(examples.joined(separator: ", ")))" }
        message += " and keys must all exist (failOnMissingKeys)"
        return BulkUpdateError(.expectation, message)
    }

    /// A stream that goes on past ``BulkUpdateOptions/expectedRows`` rows.
    package static func tooManyRows(expected: Int) -> BulkUpdateError {
        BulkUpdateError(
            .expectation,
            "the input holds more than \(expected) rows, not the \(expected) expected (expectedRows)"
        )
    }

    /// Whether retrying the same work on a fresh connection may succeed.
    public var isTransient: Bool {
        self.code == .conflict || self.code == .connection
    }

    public var description: String {
        var text = self.message
        var location: [String] = []
        if let inputLine { location.append("input line \(inputLine)") }
        if let column { location.append("column \"\(column)\"") }
        if let key { location.append("key \(key)") }
        if let chunk {
            location.append(
                "chunk \(chunk.worker).\(chunk.number) (\(chunk.rows) rows, keys \(chunk.firstKey) to \(chunk.lastKey))"
            )
        }
        if let sqlState { location.append("SQLSTATE \(sqlState)") }
        if !location.isEmpty { text += " [" + location.joined(separator: ", ") + "]" }
        if let partialReport {
            if partialReport.chunks == 0 {
                text += "; nothing was written"
            } else if self.code == .reverted {
                text += "; the \(partialReport.chunks) chunk(s) it had committed are the revert's to take back"
            } else {
                text +=
                    "; \(partialReport.chunks) chunk(s) with \(partialReport.rowsMatched) matched row(s)"
                    + " had already been committed and stay applied"
            }
        }
        return text
    }
}

extension BulkUpdateError {
    /// The error of a run that was rolled back whole (an atomic run): its report says nothing reached the table,
    /// keeping only the rows read and the time spent from what had been staged.
    package func rolledBack(_ plan: UpdatePlan) -> BulkUpdateError {
        var error = self
        let staged = self.partialReport
        var report = BulkUpdateEngine.emptyReport(plan.table.name.description, plan: plan, since: .now)
        report.rowsRead = staged?.rowsRead ?? 0
        report.elapsedSeconds = staged?.elapsedSeconds ?? 0
        error.partialReport = report
        return error
    }
}

extension BulkUpdateError {
    /// The error of SQL the caller passed as an option (``BulkUpdateOptions/pauseWhen``): a statement the database
    /// rejects (a syntax error, a division by zero, a missing table) is a wrong option, not wrong input; a lost
    /// connection or a missing privilege stays what it is.
    package static func optionError(_ error: any Error) -> any Error {
        guard var error = error as? BulkUpdateError, [.input, .schema, .constraint, .server].contains(error.code) else {
            return error
        }
        error.code = .configuration
        return error
    }
}
