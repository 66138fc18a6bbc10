public import BulkUpdate
public import FluentKit
public import Logging

extension Collection where Element: FluentKit.Model {
    /// Writes the named fields of every model to its row in one bulk update, matched by the models' ids, with
    /// parallel workers on the database's own connection pool.
    ///
    /// Fluent's metadata decides everything: the table (the model's `schema` in its `space`), the key (the `@ID`
    /// column, custom keys and UUIDs included, or every column of a `@CompositeID`), each field's column
    /// (`@Field(key: "user_name")`) and how each value is stored. Every model is written, changed or not, as Django's
    /// `bulk_update` does; ``BulkUpdateOptions/skipUnchanged`` leaves rows whose values already match untouched.
    ///
    /// ```swift
    /// let users = try await User.query(on: db).all()
    /// for user in users { user.username = user.username.uppercased() }
    /// let report = try await users.bulkUpdate(on: db, fields: \.$username, options: .init(workers: 4))
    /// print(report.rowsChanged, report.keysNotFound)
    /// ```
    ///
    /// After a successful update the models look as if `save` had written them: the written fields hold the
    /// written values with no change pending (`hasChanges` is `false` unless other fields were changed, whose
    /// changes stay pending), and every model is marked as existing when every row was found. Like `save`, a model
    /// whose row no longer exists is not an error: it is counted in ``BulkUpdateReport/keysNotFound``.
    ///
    /// - Parameters:
    ///   - database: The database the models live in: PostgreSQL (either configuration of fluent-postgres-driver)
    ///     or SQLite. Each worker takes its own connection from its pool, one chunk at a time, so more workers than
    ///     connections take turns rather than deadlock. Inside a PostgreSQL `transaction`, the update runs on the
    ///     transaction's connection with one worker, each chunk a savepoint, and commits with it.
    ///   - fields: The properties to write, as key paths to Fluent properties: `\.$username`, `\.$email`,
    ///     `\.$status` (`@Enum`), `\.$team` (`@Parent`), `\.$address` (`@Group`). Not the id.
    ///   - touchTimestamps: When `true` (the default), `@Timestamp(on: .update)` properties that are not in
    ///     `fields` are set to the current time on every model with a change pending in `fields`, as `save` would,
    ///     and written with them; models without pending changes keep their timestamp. When `false`, timestamps
    ///     are written only if named in `fields`.
    ///   - options: Workers, chunk size, strategy (`auto`, `unnest`, `copy`, `values` or `caseWhen` on PostgreSQL;
    ///     `auto`, `values`, `tempTable` or `caseWhen` on SQLite), `skipUnchanged`, `atomic`, `runID`. See
    ///     ``BulkUpdateOptions``.
    ///   - logger: Where to log; by default nothing is logged.
    /// - Returns: Counts as reported by the database.
    /// - Throws: ``BulkUpdateError``: `.input` naming the model's id and field when a value cannot be written (no
    ///   id, a field never set or fetched, an unsupported type); `.configuration` for a database that is neither
    ///   PostgreSQL nor SQLite; any other code as for the core API, with ``BulkUpdateError/partialReport`` listing
    ///   what was committed. After a failure the models are left as they were, changes still pending.
    public func bulkUpdate<each Property: AnyDatabaseProperty>(
        on database: any Database,
        fields: repeat KeyPath<Element, each Property>,
        touchTimestamps: Bool = true,
        options: BulkUpdateOptions = .init(),
        logger: Logger? = nil
    ) async throws -> BulkUpdateReport {
        var properties: [(Element) -> any AnyDatabaseProperty] = []
        for field in repeat each fields {
            properties.append { $0[keyPath: field] }
        }
        return try await FluentBulkUpdate.run(
            Array(self),
            properties: properties,
            on: database,
            touchTimestamps: touchTimestamps,
            options: options,
            logger: logger
        )
    }
}

extension FluentKit.Model {
    /// Writes the named fields of every model to its row in one bulk update, matched by the models' ids.
    ///
    /// The same as ``Swift/Collection/bulkUpdate(on:fields:touchTimestamps:options:logger:)``, spelled on the type:
    ///
    /// ```swift
    /// let report = try await User.bulkUpdate(users, on: db, fields: \.$username, \.$email)
    /// ```
    public static func bulkUpdate<Models: Collection<Self>, each Property: AnyDatabaseProperty>(
        _ models: Models,
        on database: any Database,
        fields: repeat KeyPath<Self, each Property>,
        touchTimestamps: Bool = true,
        options: BulkUpdateOptions = .init(),
        logger: Logger? = nil
    ) async throws -> BulkUpdateReport {
        try await models.bulkUpdate(
            on: database,
            fields: repeat each fields,
            touchTimestamps: touchTimestamps,
            options: options,
            logger: logger
        )
    }
}
