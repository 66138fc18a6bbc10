package import BulkUpdate
import Foundation
package import Logging
package import SQLiteNIO

/// SQLite as a ``BulkUpdateBackend``: one writer connection shared by every worker through a ``WriterLock``.
package struct SQLiteBackend: BulkUpdateBackend {
    /// `UPDATE … FROM` first appeared in SQLite 3.33.0.
    static let minimumVersion: Int32 = 3_033_000

    let connection: SQLiteConnection
    let lock: WriterLock
    let busyTimeout: Duration

    package var databaseName: String { "SQLite" }

    // See `BulkUpdateBackend.statementText(_:rows:)`.
    package func statementText(_ plan: UpdatePlan, rows: Int) -> String {
        let sql = UpdateSQL(plan: plan, dialect: SQLiteChunkExecutor.dialect)
        let skip = plan.options.skipUnchanged
        switch plan.options.strategy {
        case .caseWhen: return sql.caseWhen(rows: rows, onlyChanged: skip).statement
        case .tempTable: return sql.update(from: "\(SQLiteChunkExecutor.stageTable) AS u", onlyChanged: skip)
        default: return sql.update(from: sql.valuesSource(rows: rows), onlyChanged: skip)
        }
    }

    // See `BulkUpdateBackend.resolve(_:logger:)`.
    package func resolve(_ options: BulkUpdateOptions, logger: Logger) throws(BulkUpdateError) -> BulkUpdateOptions {
        var options = options
        if options.workers > 1 {
            // One writer at a time: more workers would only interleave keys from the whole table in every chunk
            // (routing is by key hash) and lose the locality of sorted input. Checking and routing still run
            // beside the writer.
            logger.info(
                "SQLite has a single writer: running with one writing worker",
                metadata: [LogKey.workers: "\(options.workers)"]
            )
            options.workers = 1
        }
        switch options.strategy {
        case .auto:
            options.strategy = .values
            return options
        case .values, .caseWhen, .tempTable:
            return options
        default:
            throw BulkUpdateError(
                .configuration,
                "strategy \(options.strategy) is not available on SQLite; use values, tempTable or caseWhen"
            )
        }
    }

    // See `BulkUpdateBackend.describe(_:options:logger:)`.
    package func describe(_ table: BulkUpdateTableName, options: BulkUpdateOptions, logger: Logger) async throws
        -> TableSchema
    {
        let version = SQLiteConnection.libraryVersion()
        guard version >= Self.minimumVersion else {
            throw BulkUpdateError(
                .configuration,
                "SQLite \(SQLiteConnection.libraryVersionString()) is too old: UPDATE … FROM needs SQLite 3.33.0 or newer"
            )
        }
        do {
            return try await SQLiteCatalog.describe(table, on: self.connection)
        } catch {
            throw SQLiteErrors.map(error, doing: "reading the schema of \(table)")
        }
    }

    // See `BulkUpdateBackend.prepare(_:logger:)`.
    package func prepare(_ plan: UpdatePlan, logger: Logger) async throws -> SQLiteChunkExecutor {
        let milliseconds =
            self.busyTimeout.components.seconds * 1000 + self.busyTimeout.components.attoseconds / 1_000_000_000_000_000
        do {
            _ = try await self.connection.query("PRAGMA busy_timeout = \(max(0, milliseconds))")
            return SQLiteChunkExecutor(
                connection: self.connection,
                lock: self.lock,
                plan: plan,
                maximumParameters: try await Self.maximumParameters(on: self.connection)
            )
        } catch {
            throw SQLiteErrors.map(error, doing: "preparing the update")
        }
    }

    /// The connection's limit on parameters in one statement, read at run time: SQLite names it when asked to
    /// prepare a parameter past it (sqlite-nio builds SQLite with 250,000; SQLite's default is 32,766).
    static func maximumParameters(on connection: SQLiteConnection) async throws -> Int {
        do {
            _ = try await connection.query("SELECT ?2147483647", [])
        } catch let error as SQLiteError {
            // "variable number must be between ?1 and ?250000"
            if let range = error.message.range(of: "and ?"),
                let limit = Int(error.message[range.upperBound...].prefix { $0.isNumber })
            {
                return limit
            }
        }
        return 32_766
    }
}
