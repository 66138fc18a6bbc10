import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateSQLite
import FluentKit
import FluentSQL
import Foundation
import Logging
import SQLiteNIO

/// Runs one bulk update of Fluent models: reads them through Fluent's metadata, writes them through BulkUpdate on
/// the database's own pool, then hands the written values back to the models.
enum FluentBulkUpdate {
    static func run<M: Model>(
        _ models: [M],
        properties: [(M) -> any AnyDatabaseProperty],
        on database: any Database,
        touchTimestamps: Bool,
        options: BulkUpdateOptions,
        logger: Logger?
    ) async throws -> BulkUpdateReport {
        let logger = logger ?? Logger.silent
        guard options.expectedColumns.isEmpty && options.condition == nil else {
            // Models carry no expected values, and a model left alone must not be marked saved.
            throw BulkUpdateError(
                .configuration,
                "expectedColumns and condition are not available for Fluent models; use BulkUpdatePostgres or"
                    + " BulkUpdateSQLite with rows"
            )
        }
        let target = try FluentTarget(database)
        let prepared = try ModelRows(
            models: models,
            properties: properties,
            touchTimestamps: touchTimestamps,
            now: Date(),
            encoding: target.encoding
        )
        let request = BulkUpdateEngine.Request(
            table: prepared.table,
            keyColumns: prepared.keyColumns,
            setColumns: prepared.setColumns,
            options: options
        )
        let report = try await target.update(request, rows: prepared.rows, logger: logger)
        // A dry run wrote nothing: the models stay as they are, their changes pending.
        if !report.dryRun { try prepared.markSaved(allRowsFound: report.keysNotFound == 0) }
        return report
    }
}

/// The database behind a Fluent `Database`, as far as bulk updates are concerned.
enum FluentTarget {
    /// fluent-postgres-driver, either configuration, on the connections it lends.
    case postgres(FluentPostgresConnections.Source)
    /// fluent-sqlite-driver.
    case sqlite(any SQLiteDatabase)

    init(_ database: any Database) throws(BulkUpdateError) {
        if let sqlite = database as? any SQLiteDatabase {
            guard !database.inTransaction else {
                throw BulkUpdateError(
                    .configuration,
                    "bulkUpdate cannot run inside a transaction on SQLite, which does not nest transactions;"
                        + " call it with the database outside `transaction`"
                )
            }
            self = .sqlite(sqlite)
        } else if let source = try FluentPostgresConnections.source(of: database) {
            self = .postgres(source)
        } else {
            throw BulkUpdateError(
                .configuration,
                "bulkUpdate supports Fluent's PostgreSQL and SQLite drivers; \(type(of: database)) is neither"
            )
        }
    }

    var encoding: FluentValueEncoding {
        switch self {
        case .postgres: .postgres
        case .sqlite: .sqlite
        }
    }

    func update(
        _ request: BulkUpdateEngine.Request,
        rows: [BulkUpdateRow],
        logger: Logger
    ) async throws -> BulkUpdateReport {
        switch self {
        case .postgres(let source):
            return try await FluentPostgresConnections.with(source, logger: logger) { connections in
                let backend = PostgresBackend(connections: connections)
                return try await BulkUpdateEngine.run(backend: backend, request, collection: rows, logger: logger)
            }
        case .sqlite(let database):
            do {
                // One connection for the whole run: SQLite has one writer, and the pool one connection per loop.
                return try await database.withConnection { (connection: SQLiteConnection) in
                    let backend = FluentSQLiteBackend(base: SQLiteBulkUpdater(connection: connection).backend)
                    return try await BulkUpdateEngine.run(backend: backend, request, collection: rows, logger: logger)
                }
            } catch let error as BulkUpdateError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw BulkUpdateError(
                    .connection,
                    "could not lease a SQLite connection from Fluent's pool: \(error)",
                    underlying: error
                )
            }
        }
    }
}
