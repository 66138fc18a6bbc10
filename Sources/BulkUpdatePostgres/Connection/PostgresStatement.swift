package import BulkUpdate
package import PostgresNIO

/// SQL rendered for PostgreSQL: parameters are `$n`, cast to their type where one is given (`$3::integer`).
///
/// The one place `BulkUpdatePostgres` turns ``SQL`` into text and hands text to PostgresNIO; render a statement once
/// and keep it when it runs for every chunk.
package struct PostgresStatement: Sendable {
    package let text: String

    package init(_ sql: SQL) {
        self.text = sql.rendered { number, type in type.map { "$\(number)::\($0)" } ?? "$\(number)" }
    }

    /// The statement with its parameters' values, in order.
    package func query(_ binds: PostgresBindings = PostgresBindings()) -> PostgresQuery {
        PostgresQuery(unsafeSQL: self.text, binds: binds)
    }
}

extension DeadlineConnection {
    /// Runs `sql` with `binds` (see ``query(_:)-(PostgresQuery)``).
    func query(_ sql: SQL, _ binds: PostgresBindings = PostgresBindings()) async throws -> PostgresQueryResult {
        try await self.query(PostgresStatement(sql).query(binds))
    }

    /// Runs a statement that does no work of its own under the short ``controlDeadline``.
    func control(_ sql: SQL, _ binds: PostgresBindings = PostgresBindings()) async throws -> PostgresQueryResult {
        try await self.control(PostgresStatement(sql).query(binds))
    }

    /// Runs a statement rendered before.
    func query(_ statement: PostgresStatement, _ binds: PostgresBindings = PostgresBindings()) async throws
        -> PostgresQueryResult
    {
        try await self.query(statement.query(binds))
    }
}
