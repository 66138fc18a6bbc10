import Synchronization

/// Statements rendered once per size and kept for the run, shared by its workers: the strategies with one parameter
/// per value send a statement whose text depends only on its number of rows, the same for all but a chunk's last
/// batch.
package final class StatementCache<Statement: Sendable>: Sendable {
    private let statements = Mutex([Int: Statement]())

    package init() {}

    /// The statement for `rows` rows, rendered by `render` the first time.
    package func statement(rows: Int, _ render: (Int) -> Statement) -> Statement {
        if let cached = self.statements.withLock({ $0[rows] }) { return cached }
        let statement = render(rows)
        self.statements.withLock { $0[rows] = statement }
        return statement
    }
}
