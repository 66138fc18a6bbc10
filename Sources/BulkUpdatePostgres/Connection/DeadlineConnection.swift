import BulkUpdate
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// A leased connection whose every query has a deadline.
///
/// PostgresNIO 1.33.2 can wait forever for a query sent over a connection that is already closed (the write is
/// dropped with no promise to fail). Queries here go through the `EventLoopFuture` API and race a timer on the
/// connection's event loop: when the deadline passes first, the caller gets ``BulkUpdateError/Code-swift.struct/timeout``
/// at once and the connection is closed, so the pool replaces it. This is the one place that works around it.
struct DeadlineConnection: Sendable {
    let connection: PostgresConnection
    /// How long a call may take: the statement timeout and 5 seconds for the server to report it; `nil` (for a
    /// statement timeout of zero, which means none, as in PostgreSQL) waits as long as it takes.
    let timeout: Duration?
    let logger: Logger

    /// A connection whose calls may take `statementTimeout` plus 5 seconds; none when `statementTimeout` is zero.
    init(connection: PostgresConnection, statementTimeout: Duration, logger: Logger) {
        self.connection = connection
        self.timeout = statementTimeout > .zero ? statementTimeout + .seconds(5) : nil
        self.logger = logger
    }

    /// How long a statement that does no work of its own (`BEGIN`, `SAVEPOINT`, `ROLLBACK`, `set_config`) may take
    /// before its connection is taken for dead. A connection the server has just closed can look open for a moment,
    /// and a statement sent on it then never answers: waiting the whole statement timeout would stall the chunk.
    static let controlDeadline: Duration = .seconds(10)

    /// Runs `query` and collects its rows and command tag.
    func query(_ query: PostgresQuery) async throws -> PostgresQueryResult {
        try await self.query(query, within: self.timeout) { timeout in
            BulkUpdateError(
                .timeout,
                "a PostgreSQL statement did not finish within \(timeout) (statementTimeout); the connection was closed"
            )
        }
    }

    /// Runs a statement that does no work of its own (see ``controlDeadline``); one that does not answer in time
    /// means a dead connection, a transient ``BulkUpdateError/Code-swift.struct/connection`` failure that is retried
    /// on a fresh connection.
    func control(_ query: PostgresQuery) async throws -> PostgresQueryResult {
        let limit = min(self.timeout ?? Self.controlDeadline, Self.controlDeadline)
        return try await self.query(query, within: limit) { timeout in
            BulkUpdateError(
                .connection,
                "PostgreSQL did not answer a transaction statement within \(timeout); the connection was closed"
            )
        }
    }

    private func query(
        _ query: PostgresQuery,
        within timeout: Duration?,
        deadlineError: (Duration) -> BulkUpdateError
    ) async throws -> PostgresQueryResult {
        guard !self.connection.isClosed else {
            throw BulkUpdateError(.connection, "the connection to PostgreSQL was closed")
        }
        guard let timeout else {
            return try await self.connection.query(query, logger: self.logger).get()
        }
        let eventLoop = self.connection.eventLoop
        let promise = eventLoop.makePromise(of: PostgresQueryResult.self)
        let settled = Mutex(false)
        let connection = self.connection
        let seconds = timeout.components.seconds
        let (nanoseconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let limit = overflow ? Int64.max : nanoseconds + timeout.components.attoseconds / 1_000_000_000
        let timer = eventLoop.scheduleTask(in: .nanoseconds(limit)) {
            guard
                settled.withLock({
                    let first = !$0; $0 = true; return first
                })
            else { return }
            promise.fail(DeadlineExceeded())
            let closing: EventLoopFuture<Void> = connection.close()
            closing.whenComplete { _ in }
        }
        self.connection.query(query, logger: self.logger).whenComplete { result in
            guard
                settled.withLock({
                    let first = !$0; $0 = true; return first
                })
            else { return }
            timer.cancel()
            promise.completeWith(result)
        }
        do {
            return try await promise.futureResult.get()
        } catch is DeadlineExceeded {
            throw deadlineError(timeout)
        }
    }

    /// Sends `payload` (COPY text rows) with `COPY table (columns) FROM STDIN`, in slices of 64 KiB.
    ///
    /// PostgresNIO's `copyFrom` is not future-based, so its deadline is a race in a task group: when the timer
    /// wins, the connection is closed, which fails the copy in flight. The copy also races the connection's closing:
    /// a COPY whose backend was terminated could wait forever (PostgresNIO 1.33.2) instead of failing, so a closed
    /// connection fails it at once, as a lost connection (retried on a fresh one).
    func copy(into table: String, columns: [String], _ payload: ByteBuffer) async throws {
        guard !self.connection.isClosed else {
            throw BulkUpdateError(.connection, "the connection to PostgreSQL was closed")
        }
        let connection = self.connection
        let logger = self.logger
        let timeout = self.timeout
        enum Ending: Sendable { case copied, timedOut, closed }
        try await withThrowingTaskGroup(of: Ending.self) { group in
            group.addTask {
                try await Self.send(payload, into: table, columns: columns, on: connection, logger: logger)
                return .copied
            }
            group.addTask {
                // Polled, not awaited on its future, so that this task ends when the group is cancelled.
                while !connection.isClosed { try await Task.sleep(for: .milliseconds(50)) }
                // Let a copy that failed with the server's own error report it first.
                try await Task.sleep(for: .milliseconds(200))
                return .closed
            }
            if let timeout {
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                }
            }
            let ending = try await group.next() ?? .closed
            group.cancelAll()
            switch ending {
            case .copied:
                return
            case .timedOut:
                try? await connection.close()
                throw BulkUpdateError(
                    .timeout,
                    "a PostgreSQL COPY did not finish within \(timeout ?? .zero) (statementTimeout); the connection was"
                        + " closed"
                )
            case .closed:
                throw BulkUpdateError(.connection, "the connection to PostgreSQL was closed during a COPY")
            }
        }
    }

    private static func send(
        _ payload: ByteBuffer,
        into table: String,
        columns: [String],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.copyFrom(table: table, columns: columns, logger: logger) { writer in
            var payload = payload
            while payload.readableBytes > 0 {
                guard let slice = payload.readSlice(length: min(65_536, payload.readableBytes)) else { break }
                try await writer.write(slice)
            }
        }
    }
}

struct DeadlineExceeded: Error {}
