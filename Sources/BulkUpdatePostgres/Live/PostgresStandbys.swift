import BulkUpdate
import Logging
import NIOPosix
import PostgresNIO

/// Connections to the standbys named by URL (``BulkUpdateOptions/replicaURLs``), each kept open for the run and
/// opened again after it fails, and the replay lag each reports.
actor PostgresStandbys {
    private struct Standby {
        let url: PostgresURL
        var connection: PostgresConnection?
        /// `host:port`, for progress and the report.
        var name: String { "\(self.url.host):\(self.url.port)" }
    }

    private var standbys: [Standby]
    private let logger: Logger

    private init(standbys: [Standby], logger: Logger) {
        self.standbys = standbys
        self.logger = logger
    }

    /// Parses the URLs and connects to each standby once, checking that it is one; the caller closes them.
    ///
    /// - Throws: ``BulkUpdateError`` for a URL that does not parse, a standby that cannot be reached, or a server
    ///   that is not in recovery (with every connection it opened closed).
    static func open(urls: [String], logger: Logger) async throws -> PostgresStandbys {
        var standbys: [Standby] = []
        for text in urls {
            do {
                standbys.append(Standby(url: try PostgresURL(text)))
            } catch {
                throw BulkUpdateError(.configuration, "a replica URL is not valid: \(error.message)")
            }
        }
        let opened = PostgresStandbys(standbys: standbys, logger: logger)
        do {
            try await opened.checkAreStandbys()
        } catch {
            await opened.close()
            throw error
        }
        return opened
    }

    private func checkAreStandbys() async throws {
        for index in self.standbys.indices {
            guard try await self.lag(index).isStandby else {
                throw BulkUpdateError(
                    .configuration,
                    "\(self.standbys[index].url.description) is not a standby (it is not in recovery), so it has no"
                        + " replay lag to watch; name the standbys (--replica URL, replicaURLs)"
                )
            }
        }
    }

    /// Each standby's replay lag in seconds; `nil` for one that cannot be reached or read.
    func lags() async -> [(standby: String, seconds: Double?)] {
        var lags: [(standby: String, seconds: Double?)] = []
        for index in self.standbys.indices {
            let name = self.standbys[index].name
            do {
                lags.append((standby: name, seconds: try await self.lag(index).seconds))
            } catch {
                lags.append((standby: name, seconds: nil))
            }
        }
        return lags
    }

    /// Closes every connection.
    func close() async {
        for index in self.standbys.indices {
            try? await self.standbys[index].connection?.close()
            self.standbys[index].connection = nil
        }
    }

    /// The lag on a standby: zero when it has replayed all it received, else the age of the last transaction it
    /// replayed (which grows while replay is stuck).
    private func lag(_ index: Int) async throws -> (isStandby: Bool, seconds: Double?) {
        let query: SQL = """
            SELECT pg_catalog.pg_is_in_recovery(),
                   CASE WHEN pg_catalog.pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_catalog.pg_last_wal_replay_lsn()
                        THEN 0::float8
                        ELSE extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp())::float8 END
            """
        do {
            let db = try await self.connection(index)
            for row in try await db.query(query).rows {
                let (recovering, seconds) = try row.decode((Bool, Double?).self)
                return (recovering, recovering ? seconds.map { max(0, $0) } : nil)
            }
            return (false, nil)
        } catch {
            // Opened again at the next check.
            try? await self.standbys[index].connection?.close()
            self.standbys[index].connection = nil
            if let error = error as? BulkUpdateError { throw error }
            throw PostgresErrors.map(error, doing: "reading the replay lag of \(self.standbys[index].url.description)")
        }
    }

    private func connection(_ index: Int) async throws -> DeadlineConnection {
        if let connection = self.standbys[index].connection, !connection.isClosed {
            return DeadlineConnection(connection: connection, statementTimeout: .seconds(5), logger: self.logger)
        }
        let url = self.standbys[index].url
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(),
                configuration: try url.connectionConfiguration(),
                id: 0,
                logger: self.logger
            ).get()
        } catch {
            var failure = url.connectionError(error)
            failure.message = "the standby to watch for replica lag (--replica URL, replicaURLs): " + failure.message
            throw failure
        }
        self.standbys[index].connection = connection
        return DeadlineConnection(connection: connection, statementTimeout: .seconds(5), logger: self.logger)
    }
}
