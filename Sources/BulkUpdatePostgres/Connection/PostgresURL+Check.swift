public import BulkUpdate
public import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

extension PostgresURL {
    /// Connects and logs in once, then disconnects: the check to make before handing work to a `PostgresClient`.
    ///
    /// A `PostgresClient`'s pool retries a connection that fails until its circuit breaker trips (about a minute,
    /// and with a wrong password dozens of failed logins in the server's log, which can lock an account). One
    /// direct connection fails within ``connectTimeout`` with the server's own message, and a rejected login is
    /// never tried again.
    ///
    /// - Throws: ``BulkUpdateError`` with code ``BulkUpdateError/Code-swift.struct/connection`` naming the server,
    ///   the user, the database and what went wrong (refused, timed out, password rejected, database missing, TLS
    ///   not offered), never the password.
    public func checkConnection(logger: Logger? = nil) async throws(BulkUpdateError) {
        let logger = logger ?? Logger.silent
        do {
            let connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(),
                configuration: try self.connectionConfiguration(),
                id: 0,
                logger: logger
            ).get()
            try? await connection.close()
        } catch {
            throw self.connectionError(error)
        }
    }

    /// The same settings as ``configuration``, for a single `PostgresConnection`.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socketPath {
            configuration = .init(
                unixSocketPath: socketPath,
                username: self.username,
                password: self.password,
                database: self.database
            )
        } else {
            var tls = PostgresConnection.Configuration.TLS.disable
            if let (settings, required) = self.tls {
                let context = try NIOSSLContext(configuration: settings)
                tls = required ? .require(context) : .prefer(context)
            }
            configuration = .init(
                host: self.host,
                port: self.port,
                username: self.username,
                password: self.password,
                database: self.database,
                tls: tls
            )
        }
        let timeout = self.connectDeadline.components
        configuration.options.connectTimeout = .nanoseconds(
            timeout.seconds * 1_000_000_000 + timeout.attoseconds / 1_000_000_000
        )
        configuration.options.additionalStartupParameters = self.startupParameters
        return configuration
    }

    /// What went wrong while connecting, in words, with the server's own message where it sent one.
    func connectionError(_ error: any Error) -> BulkUpdateError {
        let target =
            "PostgreSQL at \(self.isUnixSocket ? self.socketPath ?? self.host : "\(self.host):\(self.port)")"
            + " as user \(SQLText.literal(self.username)), database \(SQLText.literal(self.database ?? self.username))"
        var reason: String
        var state: String?
        if let error = error as? PSQLError {
            switch error.code {
            case .server:
                state = error.serverInfo?[.sqlState]
                reason = error.serverInfo?[.message] ?? "the server refused the connection"
                switch state {
                case "28P01", "28000":
                    reason +=
                        " (a rejected login is not retried; check the user, the password — URL, PGPASSWORD or"
                        + " ~/.pgpass — and the server's pg_hba.conf)"
                case "3D000":
                    reason += " (check the database name in the URL or PGDATABASE)"
                default: break
                }
            case .sslUnsupported:
                reason = "the server does not offer TLS, and sslmode=\(self.sslMode.rawValue) requires it"
            case .authMechanismRequiresPassword:
                reason = "the server asks for a password and none was given (URL, PGPASSWORD or ~/.pgpass)"
            case .unsupportedAuthMechanism:
                reason = "the server asks for an authentication method this client does not support"
            case .saslError:
                reason = "the password was rejected during SCRAM authentication"
            default:
                reason = Self.describe(error.underlying) ?? "\(error.code)"
            }
        } else {
            reason = Self.describe(error) ?? String(describing: error)
        }
        if let file = self.ignoredPasswordFile {
            reason += "; the password file \(file) was ignored because others may read it (chmod 600 \(file))"
        }
        return BulkUpdateError(
            .connection,
            "could not connect to \(target): \(reason)",
            sqlState: state,
            underlying: error
        )
    }

    /// A readable reason for a socket-level error: refused, timed out, unknown host.
    private static func describe(_ error: (any Error)?) -> String? {
        guard let error else { return nil }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if let error = error as? ChannelError, case .connectTimeout(let amount) = error {
            return "no answer within the connect timeout (\(amount.nanoseconds / 1_000_000_000) s)"
        }
        if let error = error as? NIOConnectionError {
            if let resolution = error.dnsAAAAError ?? error.dnsAError {
                return "the host name could not be resolved (\(resolution))"
            }
            if let attempt = error.connectionErrors.first {
                return Self.describe(attempt.error) ?? "\(attempt.error)"
            }
            return "the host has no address"
        }
        return String(describing: error)
    }
}
