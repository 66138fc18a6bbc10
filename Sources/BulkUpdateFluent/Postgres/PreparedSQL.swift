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
