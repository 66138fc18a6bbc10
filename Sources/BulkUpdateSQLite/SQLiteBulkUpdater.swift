public import BulkUpdate
import Foundation
public import Logging
public import SQLiteNIO

/// Applies new values to existing rows of a SQLite table, matched by key.
///
/// SQLite has one writer at a time, so every chunk is written on one connection, one after another, each in its
/// own `BEGIN IMMEDIATE` transaction. ``BulkUpdateOptions/workers`` above 1 is accepted and runs as one writing
/// worker beside the reader that checks and routes rows (more writers could only take turns, and would scatter
/// keys across chunks); the report says `workers: 1`. Runs never fail with "database is locked" against
/// themselves. When another process holds the write lock, a chunk waits up to the busy timeout, then the run
/// fails with a clear message and the chunk is rolled back.
///
/// ```swift
/// let report = try await SQLiteBulkUpdater.withUpdater(url: "sqlite:app.db") { updater in
///     try await updater.update("users", set: ["username"], rows: rows)
/// }
/// ```
public struct SQLiteBulkUpdater: Sendable {
    /// The connection every chunk is written on.
    public let connection: SQLiteConnection
    /// How long a chunk waits for another process's write lock before the run fails.
    public let busyTimeout: Duration
    private let lock = AsyncLock()

    /// Creates an updater on a connection the caller opened and will close. Use one updater per connection.
    ///
    /// - Parameter busyTimeout: How long to wait for another process's write lock. Defaults to 5 seconds.
    public init(connection: SQLiteConnection, busyTimeout: Duration = .seconds(5)) {
        self.connection = connection
        self.busyTimeout = busyTimeout
    }

    /// Updates rows of `table` from a collection, every row checked before anything is written.
    ///
    /// - Parameters:
    ///   - table: The table, optionally qualified by its attached database: `users`, `main.users`.
    ///   - key: The key columns; defaults to the primary key. They must be exactly the columns of the primary key
    ///     or of a unique index.
    ///   - columns: The columns to set.
    ///   - rows: Key values then new values, in the order of `key` and `columns`.
    ///   - options: Workers, chunk size, strategy (`values`, `tempTable`, `caseWhen`). See ``BulkUpdateOptions``.
    ///   - logger: Where to log; by default nothing is logged.
    /// - Returns: Counts as reported by SQLite.
    /// - Throws: ``BulkUpdateError`` naming the input line, column, key or chunk at fault.
    public func update(
        _ table: String,
        key: [String]? = nil,
        set columns: [String],
        rows: some Collection<BulkUpdateRow> & Sendable,
        options: BulkUpdateOptions = .init(),
        logger: Logger? = nil
    ) async throws -> BulkUpdateReport {
        let request = BulkUpdateEngine.Request(table: table, keyColumns: key, setColumns: columns, options: options)
        return try await BulkUpdateEngine.run(
            backend: self.backend,
            request,
            collection: rows,
            logger: logger ?? Logger.silent
        )
    }

    /// Updates rows of `table` from an asynchronous sequence, read once, as it arrives.
    ///
    /// A bad row stops the run; chunks committed before it stay applied and are listed in the error's
    /// ``BulkUpdateError/partialReport``.
    public func update<Rows: AsyncSequence>(
        _ table: String,
        key: [String]? = nil,
        set columns: [String],
        rows: Rows,
        options: BulkUpdateOptions = .init(),
        logger: Logger? = nil
    ) async throws -> BulkUpdateReport where Rows.Element == BulkUpdateRow {
        let request = BulkUpdateEngine.Request(table: table, keyColumns: key, setColumns: columns, options: options)
        return try await BulkUpdateEngine.run(
            backend: self.backend,
            request,
            stream: rows,
            logger: logger ?? Logger.silent
        )
    }

    /// Opens the existing database at `url`, runs `body`, then closes the connection.
    ///
    /// The database must exist: a bulk update changes rows of existing tables, so a path that names no file is an
    /// error (no empty database is created). The database's journal mode is left as it is; when it is WAL, the
    /// connection uses `synchronous = NORMAL` (durable across crashes of the process, and safe in WAL mode).
    ///
    /// - Parameters:
    ///   - url: A ``SQLiteURL``: `sqlite:///abs/path.db`, `sqlite:relative.db`, `path.db`, `:memory:`.
    ///   - busyTimeout: How long to wait for another process's write lock. Defaults to 5 seconds.
    public static func withUpdater<Result: Sendable>(
        url: String,
        busyTimeout: Duration = .seconds(5),
        logger: Logger? = nil,
        _ body: (SQLiteBulkUpdater) async throws -> Result
    ) async throws -> Result {
        try await Self.withUpdater(url: url, busyTimeout: busyTimeout, creating: false, logger: logger, body)
    }

    /// ``withUpdater(url:busyTimeout:logger:_:)``, creating the database file in WAL mode when `creating` is set
    /// and it does not exist yet (for the scenario commands, which remove what they create).
    package static func withUpdater<Result: Sendable>(
        url: String,
        busyTimeout: Duration = .seconds(5),
        creating: Bool,
        logger: Logger? = nil,
        _ body: (SQLiteBulkUpdater) async throws -> Result
    ) async throws -> Result {
        let location = try SQLiteURL(url)
        let connection: SQLiteConnection
        var created = false
        do {
            if let path = location.path {
                var status = stat()
                let exists = stat(path, &status) == 0
                if !exists && !creating {
                    throw BulkUpdateError(
                        .configuration,
                        "the SQLite database \(path) does not exist (\(String(cString: strerror(errno))));"
                            + " bulk-update changes rows of existing tables and does not create databases"
                    )
                }
                created = !exists
                // A URI filename with mode=rw opens an existing file read-write and never creates one, so a file
                // removed in the meantime is an error rather than a new empty database.
                let encoded = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
                connection = try await SQLiteConnection.open(
                    storage: .file(path: exists ? "file:\(encoded)?mode=rw" : path),
                    logger: logger ?? Logger.silent
                )
            } else {
                connection = try await SQLiteConnection.open(storage: .memory, logger: logger ?? Logger.silent)
            }
        } catch let error as BulkUpdateError {
            throw error
        } catch {
            throw SQLiteErrors.map(error, doing: "opening \(location)")
        }
        do {
            // SQLiteNIO opens every connection with a busy handler that retries at once and forever: a statement
            // that meets another process's lock spins a core until the lock goes. The busy timeout replaces it
            // here, before any statement, so that every connection waits (sleeping) at most `busyTimeout`; a run
            // sets its own (``BulkUpdateOptions/lockTimeout``) for its chunks.
            try await connection.execute("PRAGMA busy_timeout = \(integer: Self.milliseconds(busyTimeout))")
            if created {
                try await connection.execute("PRAGMA journal_mode = WAL")
            }
            let mode = try await connection.execute("PRAGMA journal_mode").first?.columns.first?.data.string
            if mode?.lowercased() == "wal" {
                try await connection.execute("PRAGMA synchronous = NORMAL")
            }
            let result = try await body(SQLiteBulkUpdater(connection: connection, busyTimeout: busyTimeout))
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw SQLiteErrors.map(error, doing: "the update")
        }
    }

    /// How long to wait for another process's write lock, given a lock timeout (``BulkUpdateOptions/lockTimeout``,
    /// `--lock-timeout`): that timeout, zero meaning no limit; `otherwise` when there is none.
    package static func busyTimeout(lockTimeout: Duration?, otherwise: Duration) -> Duration {
        guard let lockTimeout else { return otherwise }
        return lockTimeout > .zero ? lockTimeout : .milliseconds(Int(Int32.max))
    }

    /// `duration` in whole milliseconds, within what `PRAGMA busy_timeout` takes.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(max(0, min(Int64(Int32.max), seconds * 1000 + attoseconds / 1_000_000_000_000_000)))
    }

    /// The backend behind this updater, for the command-line tool.
    package var backend: SQLiteBackend {
        SQLiteBackend(connection: self.connection, lock: self.lock, busyTimeout: self.busyTimeout)
    }
}
