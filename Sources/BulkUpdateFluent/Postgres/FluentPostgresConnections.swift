import BulkUpdate
import BulkUpdatePostgres
import FluentKit
import Logging
import NIOCore
import PostgresNIO

/// The PostgreSQL connections behind a Fluent `Database`, so that a bulk update of Fluent models runs on
/// `BulkUpdatePostgres`'s own path (catalog, statements, executor, deadlines, retries, errors) over the
/// application's pool.
///
/// fluent-postgres-driver has two configurations and hands out neither pool:
/// - `SQLPostgresConfiguration`: the database is a PostgresNIO `PostgresDatabase`, whose `withConnection` lends a
///   connection of AsyncKit's pool (or, inside `transaction` and `withConnection`, the one connection it is bound to).
/// - `PostgresClient`: the database keeps its source in a property `source`, `.client(PostgresClient)` or, bound to
///   one connection, `.connection(SQLDatabase)`, where that SQL database is a `PostgresDatabase`. The property is
///   internal to the driver, so it is read through `Mirror`; this is the one place that does, and a driver whose
///   layout differs fails with a configuration error naming its type, never silently.
enum FluentPostgresConnections {
    /// What a Fluent PostgreSQL database lends connections from.
    enum Source {
        /// A `PostgresClient`: the very pool `PostgresBulkUpdater` uses.
        case client(PostgresClient)
        /// AsyncKit's pool, one lease per call.
        case pool(any PostgresDatabase)
        /// A database bound to one connection (Fluent's `transaction` or `withConnection`).
        case pinned(any PostgresDatabase)
    }

    /// Runs `body` with the connections of `database`. On a bound database, whether the caller has a transaction
    /// open on the connection is asked of the server, since Fluent's `inTransaction` does not say it reliably.
    static func with<Result>(
        _ source: Source,
        logger: Logger,
        _ body: (PostgresConnections) async throws -> Result
    ) async throws -> Result {
        switch source {
        case .client(let client):
            return try await body(PostgresConnections(client: client))
        case .pool(let pool):
            return try await body(PostgresConnections(pool: EventLoopPool(database: pool)))
        case .pinned(let bound):
            let connection: PostgresConnection
            let inTransaction: Bool
            do {
                connection = try await bound.withConnection { $0.eventLoop.makeSucceededFuture($0) }.get()
                inTransaction = try await PostgresConnections.isInTransactionBlock(connection, logger: logger)
            } catch {
                throw PostgresErrors.map(error, doing: "reading the state of Fluent's connection")
            }
            return try await body(PostgresConnections(pinned: connection, inTransaction: inTransaction))
        }
    }

    /// Where `database` gets its connections; `nil` when it is not a fluent-postgres-driver database.
    static func source(of database: any Database) throws(BulkUpdateError) -> Source? {
        if let postgres = database as? any PostgresDatabase {
            return database.inTransaction ? .pinned(postgres) : .pool(postgres)
        }
        guard String(reflecting: type(of: database)).hasPrefix("FluentPostgresDriver.") else { return nil }
        let source = Mirror(reflecting: database).children.first { $0.label == "source" }?.value
        switch source.flatMap({ Mirror(reflecting: $0).children.first?.value }) {
        case let client as PostgresClient:
            return .client(client)
        case let bound as any PostgresDatabase:
            return .pinned(bound)
        default:
            throw BulkUpdateError(
                .configuration,
                "bulkUpdate cannot find the connections of \(type(of: database)): this version of"
                    + " fluent-postgres-driver keeps them where BulkUpdateFluent does not look"
            )
        }
    }
}

/// AsyncKit's pool as a lender of connections.
///
/// Its `withConnection` takes an escaping closure that returns a future, and the run's body is neither `Sendable`
/// nor escaping; so a task holds the lease open and hands the connection over, and gives it back when told to.
private struct EventLoopPool: PostgresConnectionLender {
    let database: any PostgresDatabase

    func lend<Result>(_ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        let (connections, connectionSink) = AsyncThrowingStream.makeStream(of: PostgresConnection.self)
        let (release, releaseSink) = AsyncStream.makeStream(of: Never.self)
        let database = self.database
        let holder = Task {
            do {
                try await database.withConnection { connection in
                    connection.eventLoop.makeFutureWithTask {
                        connectionSink.yield(connection)
                        for await _ in release {}
                    }
                }.get()
                connectionSink.finish()
            } catch {
                connectionSink.finish(throwing: error)
            }
        }
        defer { releaseSink.finish() }
        let connection = try await withTaskCancellationHandler {
            var iterator = connections.makeAsyncIterator()
            guard let connection = try await iterator.next() else { throw CancellationError() }
            return connection
        } onCancel: {
            holder.cancel()
        }
        let result = try await body(connection)
        releaseSink.finish()
        await holder.value
        return result
    }
}
