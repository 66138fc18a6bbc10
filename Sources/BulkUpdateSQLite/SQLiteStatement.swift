package import BulkUpdate
package import SQLiteNIO

/// SQL rendered for SQLite: parameters are `?n` (SQLite is dynamically typed; values are bound as they are stored,
/// so no cast is written).
///
/// The one place `BulkUpdateSQLite` turns ``SQL`` into text and hands text to sqlite-nio.
package struct SQLiteStatement: Sendable {
    package let text: String

    package init(_ sql: SQL) {
        self.text = sql.rendered { number, _ in "?\(number)" }
    }
}

extension SQLiteConnection {
    /// Runs a statement rendered before, with `binds` as its parameters in order.
    @discardableResult
    package func execute(_ statement: SQLiteStatement, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await self.query(statement.text, binds)
    }

    /// Runs `sql` with `binds` as its parameters in order.
    @discardableResult
    package func execute(_ sql: SQL, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await self.execute(SQLiteStatement(sql), binds)
    }
}
