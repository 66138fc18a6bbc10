public import BulkUpdate
public import Logging
public import PostgresNIO

/// Applies new values to existing rows of a PostgreSQL table, matched by key, with parallel workers.
///
/// Use a `PostgresClient` you already run:
///
/// ```swift
/// let updater = PostgresBulkUpdater(client: client)   // client.run() is running in your task group
/// let rows: [BulkUpdateRow] = users.map { [.int($0.id), .string($0.username.uppercased())] }
/// let report = try await updater.update("public.users", set: ["username"], rows: rows)
/// print(report.rowsChanged)
/// ```
///
/// or let ``withUpdater(url:maximumConnections:logger:_:)`` create, run and close one for you.
/// Each worker leases connections from the client's pool, so give the pool at least as many connections as
/// ``BulkUpdateOptions/workers`` for full parallelism.
public struct PostgresBulkUpdater: Sendable {
    /// The client the updater leases connections from.
    public let client: PostgresClient

    /// Creates an updater on a client whose `run()` the caller drives.
    public init(client: PostgresClient) {
        self.client = client
    }

    /// Updates rows of `table` from a collection.
    ///
    /// Every row is checked against the table's column types before anything is written, so a bad value fails
    /// the run with the table untouched.
    ///
    /// - Parameters:
    ///   - table: The table as written in SQL: `users`, `public.users`, `"My Schema"."Orders"`.
    ///   - key: The key columns; defaults to the primary key. They must be exactly the columns of a primary key,
    ///     unique constraint or unique index.
    ///   - columns: The columns to set.
    ///   - rows: Key values then new values, in the order of `key` and `columns`.
    ///   - options: Workers, chunk size, strategy. See ``BulkUpdateOptions``.
    ///   - logger: Where to log; by default nothing is logged.
    /// - Returns: Counts as reported by the database.
    /// - Throws: ``BulkUpdateError`` naming the input line, column, key or chunk at fault; its
    ///   ``BulkUpdateError/partialReport`` says which chunks had been committed.
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
            backend: PostgresBackend(client: self.client),
            request,
            collection: rows,
            logger: logger ?? Logger.silent
        )
    }

    /// Updates rows of `table` from an asynchronous sequence, read once, as it arrives.
    ///
    /// Rows are checked as they stream; a bad row stops the run, and chunks committed before it stay applied
    /// (listed in the error's ``BulkUpdateError/partialReport``).
    ///
    /// - Parameters: See ``update(_:key:set:rows:options:logger:)-(_,_,_,Collection,_,_)``.
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
            backend: PostgresBackend(client: self.client),
            request,
            stream: rows,
            logger: logger ?? Logger.silent
        )
    }

    /// Checks that `url` connects (once: see ``PostgresURL/checkConnection(logger:)``), creates a client for it,
    /// runs it for the duration of `body`, then shuts it down.
    ///
    /// ```swift
    /// let report = try await PostgresBulkUpdater.withUpdater(url: "postgres://app@localhost/app") { updater in
    ///     try await updater.update("users", set: ["email"], rows: rows)
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - url: `postgres://user:password@host:port/database?sslmode=…`, completed from libpq's environment
    ///     variables and password file; see ``PostgresURL``.
    ///   - maximumConnections: The pool's size. Defaults to `8`.
    public static func withUpdater<Result: Sendable>(
        url: String,
        maximumConnections: Int = 8,
        logger: Logger? = nil,
        _ body: (PostgresBulkUpdater) async throws -> Result
    ) async throws -> Result {
        let location = try PostgresURL(url)
        try await location.checkConnection(logger: logger)
        var configuration = location.configuration
        configuration.options.maximumConnections = max(1, maximumConnections)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger ?? Logger.silent)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(PostgresBulkUpdater(client: client))
        }
    }
}
