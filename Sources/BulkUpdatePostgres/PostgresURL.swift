public import BulkUpdate
import Foundation
import NIOSSL
public import PostgresNIO

/// A PostgreSQL connection URL: `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
///
/// `postgresql://` is accepted too. User, password and database may be percent-encoded. `sslmode` defaults to
/// `prefer` (TLS when the server offers it, like libpq); `require` insists on TLS without verifying the
/// certificate, `verify-full` also verifies it. Errors name the bad part and never repeat the password.
public struct PostgresURL: Sendable, CustomStringConvertible {
    /// How to use TLS.
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var sslMode: SSLMode

    /// Parses a URL.
    ///
    /// - Throws: ``BulkUpdateError`` with code ``BulkUpdateError/Code-swift.struct/configuration`` naming the part
    ///   that is wrong.
    public init(_ text: String) throws(BulkUpdateError) {
        func fail(_ why: String) -> BulkUpdateError {
            BulkUpdateError(.configuration, "database URL is not valid: \(why)")
        }
        guard let components = URLComponents(string: text) else {
            throw fail("it is not a URL (expected postgres://user:password@host:port/database)")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw fail("the scheme must be postgres:// or postgresql://")
        }
        guard var host = components.host, !host.isEmpty else { throw fail("the host is missing") }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }  // IPv6
        // URLComponents has already decoded user, password and path once; decode nothing again.
        guard let user = components.user, !user.isEmpty else { throw fail("the user name is missing") }
        if let port = components.port, !(1...65535).contains(port) {
            throw fail("port \(port) is out of range")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user
        self.password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? nil : path
        self.sslMode = .prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: item.value ?? "") else {
                    throw fail(
                        "sslmode '\(item.value ?? "")' is not one of "
                            + SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
                    )
                }
                self.sslMode = mode
            default:
                throw fail("unknown parameter '\(item.name)' (only sslmode is supported)")
            }
        }
    }

    /// The client configuration for this URL.
    public var configuration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch self.sslMode {
        case .disable:
            tls = .disable
        case .prefer, .require:
            var settings = TLSConfiguration.makeClientConfiguration()
            settings.certificateVerification = .none
            tls = self.sslMode == .prefer ? .prefer(settings) : .require(settings)
        case .verifyFull:
            tls = .require(.makeClientConfiguration())
        }
        return PostgresClient.Configuration(
            host: self.host,
            port: self.port,
            username: self.username,
            password: self.password,
            database: self.database,
            tls: tls
        )
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        let credentials = self.password == nil ? self.username : "\(self.username):***"
        return
            "postgres://\(credentials)@\(self.host):\(self.port)/\(self.database ?? "")?sslmode=\(self.sslMode.rawValue)"
    }
}
