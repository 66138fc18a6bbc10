import BulkUpdate
import FluentSQL
import PostgresNIO
import Synchronization

/// A statement whose text already has its `$1`, `$2`… placeholders, with its binds in that order.
///
/// The text comes from ``UpdateSQL`` and the catalog (identifiers quoted by ``SQLIdentifier``); values only ever
/// travel as binds.
struct PreparedSQL: SQLExpression {
    let text: String
    let binds: [any Encodable & Sendable]

    init(_ text: String, _ binds: [any Encodable & Sendable] = []) {
        self.text = text
        self.binds = binds
    }

    // See `SQLExpression.serialize(to:)`.
    func serialize(to serializer: inout SQLSerializer) {
        serializer.write(self.text)
        serializer.binds.append(contentsOf: self.binds)
    }
}

extension SQLDatabase {
    /// Runs `query` and returns its rows.
    func rows(_ query: PreparedSQL) async throws -> [any SQLRow] {
        let collected = RowCollector()
        try await self.execute(sql: query) { row in collected.append(row) }
        return collected.rows
    }

    /// Runs a statement that returns no rows.
    func run(_ text: String) async throws {
        try await self.execute(sql: PreparedSQL(text)) { _ in }
    }
}

/// Rows as the driver delivers them, from whichever thread it calls back on.
private final class RowCollector: Sendable {
    private let storage = Mutex<[any SQLRow]>([])

    func append(_ row: any SQLRow) { self.storage.withLock { $0.append(row) } }

    var rows: [any SQLRow] { self.storage.withLock { $0 } }
}

/// Turns driver errors into ``BulkUpdateError`` with the server's own words.
enum FluentPostgresErrors {
    static func map(_ error: any Error, doing action: String) -> any Error {
        if error is BulkUpdateError || error is CancellationError { return error }
        guard let error = error as? PSQLError else {
            return BulkUpdateError(.server, "\(action) failed: \(String(reflecting: error))")
        }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            var message = error.serverInfo?[.message] ?? "unknown server error"
            if let detail = error.serverInfo?[.detail] { message += " (\(detail))" }
            let code: BulkUpdateError.Code =
                switch state {
                case "40001", "40P01", "55P03": .conflict
                case "57014": .timeout
                case "57P01", "57P02", "57P03": .connection
                case _ where state.hasPrefix("08"): .connection
                case _ where state.hasPrefix("23"): .constraint
                case _ where state.hasPrefix("22"): .input
                default: .server
                }
            return BulkUpdateError(
                code,
                "PostgreSQL rejected \(action): \(message)",
                column: error.serverInfo?[.columnName],
                sqlState: state.isEmpty ? nil : state,
                underlying: error
            )
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed:
            return BulkUpdateError(
                .connection,
                "\(action) failed: the connection to PostgreSQL failed (\(error.code))",
                underlying: error
            )
        default:
            return BulkUpdateError(.server, "\(action) failed: \(String(reflecting: error))", underlying: error)
        }
    }
}
