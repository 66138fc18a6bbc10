public import BulkUpdate
import Foundation
import NIOSSL
public import PostgresNIO

/// A PostgreSQL connection URL, `postgres://user:password@host:port/database?sslmode=…`, completed the way libpq
/// (and so psql, pg_dump and every driver built on it) completes one.
///
/// `postgresql://` is accepted too. User, password and database may be percent-encoded. What the URL leaves out
/// comes from the environment, as with libpq:
///
/// | part | URL | query parameter | environment | default |
/// |---|---|---|---|---|
/// | host | `@host` | `host` | `PGHOST` | the Unix socket in `/var/run/postgresql` or `/tmp`, if there is one; else `localhost` |
/// | port | `:port` | `port` | `PGPORT` | 5432 |
/// | user | `user@` | `user` | `PGUSER` | the operating-system user |
/// | password | `:password@` | `password` | `PGPASSWORD` | the matching line of `PGPASSFILE` or `~/.pgpass` |
/// | database | `/database` | `dbname` | `PGDATABASE` | the user name |
/// | TLS | | `sslmode` | `PGSSLMODE` | `prefer` |
/// | application name | | `application_name` | `PGAPPNAME` | `bulk-update` |
/// | connect timeout | | `connect_timeout` (seconds) | `PGCONNECT_TIMEOUT` | 10 (0: no limit) |
///
/// A host that starts with `/` is the directory of a Unix socket. `sslmode` is `disable`, `prefer` (TLS when the
/// server offers it, like libpq), `require` (TLS without verifying the certificate) or `verify-full`. The password
/// file is read as libpq reads it (`host:port:database:user:password`, `*` matching anything, `\` escaping `:` and
/// `\`, `localhost` matching a Unix socket) and ignored when others may read it. Errors name the bad part and never
/// repeat the password.
public struct PostgresURL: Sendable, CustomStringConvertible {
    /// How to use TLS.
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    /// A host name or address, or (starting with `/`) the directory of a Unix socket.
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var sslMode: SSLMode
    /// Shown in `pg_stat_activity`, so a DBA can tell the backfill's sessions apart. Defaults to `bulk-update`.
    public var applicationName: String
    /// How long connecting and logging in may take; `nil` waits as long as it takes. Defaults to 10 seconds.
    public var connectTimeout: Duration?
    /// A password file that was there but ignored because others may read it, for the error a login then gets.
    var ignoredPasswordFile: String?

    /// Parses a URL, completing it from the process's environment and password file.
    ///
    /// - Throws: ``BulkUpdateError`` with code ``BulkUpdateError/Code-swift.struct/configuration`` naming the part
    ///   that is wrong.
    public init(_ text: String) throws(BulkUpdateError) {
        try self.init(text, environment: ProcessInfo.processInfo.environment)
    }

    /// Parses a URL, completing it from `environment` (the `PG…` variables, `HOME`) instead of the process's.
    public init(_ text: String, environment: [String: String]) throws(BulkUpdateError) {
        try self.init(text, environment: environment, socketDirectories: Self.socketDirectories)
    }

    /// libpq's default socket directories, in its order.
    static let socketDirectories = ["/var/run/postgresql", "/tmp"]

    /// ``init(_:environment:)``, looking for a server's socket in `socketDirectories` when no host is given.
    package init(_ text: String, environment: [String: String], socketDirectories: [String]) throws(BulkUpdateError) {
        func fail(_ why: String) -> BulkUpdateError {
            BulkUpdateError(.configuration, "database URL is not valid: \(why)")
        }
        guard let components = URLComponents(string: text) else {
            throw fail("it is not a URL (expected postgres://user:password@host:port/database)")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw fail("the scheme must be postgres:// or postgresql://")
        }
        // URLComponents has already decoded user, password and path once; decode nothing again.
        var host = components.host.flatMap { $0.isEmpty ? nil : $0 }
        if let bracketed = host, bracketed.hasPrefix("[") && bracketed.hasSuffix("]") {
            host = String(bracketed.dropFirst().dropLast())  // IPv6
        }
        var port = components.port
        var user = components.user.flatMap { $0.isEmpty ? nil : $0 }
        var password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        var database = path.isEmpty ? nil : path
        var sslMode: String?
        var applicationName: String?
        var connectTimeout: String?
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode": sslMode = value
            case "application_name": applicationName = value
            case "connect_timeout": connectTimeout = value
            case "host": host = value.isEmpty ? nil : value
            case "port":
                guard let number = Int(value) else { throw fail("port '\(value)' is not a number") }
                port = number
            case "user": user = value.isEmpty ? nil : value
            case "password": password = value
            case "dbname": database = value.isEmpty ? nil : value
            default:
                throw fail(
                    "unknown parameter '\(item.name)' (known: sslmode, application_name, connect_timeout, host, port,"
                        + " user, password, dbname)"
                )
            }
        }

        let environment = environment.filter { !$0.value.isEmpty }
        if port == nil, let text = environment["PGPORT"] {
            guard let number = Int(text) else { throw fail("PGPORT '\(text)' is not a number") }
            port = number
        }
        self.port = port ?? 5432
        guard (1...65535).contains(self.port) else { throw fail("port \(self.port) is out of range") }
        self.host =
            host ?? environment["PGHOST"]
            ?? Self.socketDirectory(port: self.port, among: socketDirectories) ?? "localhost"
        guard let username = user ?? environment["PGUSER"] ?? Self.operatingSystemUser() else {
            throw fail("the user name is missing (give it in the URL or in PGUSER)")
        }
        self.username = username
        self.database = database ?? environment["PGDATABASE"]
        let mode = sslMode ?? environment["PGSSLMODE"] ?? "prefer"
        guard let parsedMode = SSLMode(rawValue: mode) else {
            throw fail(
                "sslmode '\(mode)' is not one of " + SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        self.sslMode = parsedMode
        self.applicationName = applicationName ?? environment["PGAPPNAME"] ?? "bulk-update"
        let timeout = connectTimeout ?? environment["PGCONNECT_TIMEOUT"] ?? "10"
        guard let seconds = Int(timeout), seconds >= 0 else {
            throw fail("connect_timeout '\(timeout)' is not a whole number of seconds")
        }
        // As in libpq: 0 means no limit, and anything shorter than 2 seconds is 2 seconds.
        self.connectTimeout = seconds == 0 ? nil : .seconds(max(2, seconds))
        let passwordFile = environment["PGPASSFILE"] ?? environment["HOME"].map { $0 + "/.pgpass" }
        self.password =
            password ?? environment["PGPASSWORD"]
            ?? PasswordFile.lookup(
                path: passwordFile,
                host: self.host,
                port: self.port,
                database: self.database ?? self.username,
                user: self.username
            )
        if self.password == nil, let passwordFile, PasswordFile.isReadableByOthers(passwordFile) {
            self.ignoredPasswordFile = passwordFile
        }
    }

    /// Whether ``host`` names the directory of a Unix socket.
    public var isUnixSocket: Bool { self.host.hasPrefix("/") }

    /// The socket file for ``port`` in ``host`` (`/var/run/postgresql/.s.PGSQL.5432`), when the host is a directory.
    var socketPath: String? { self.isUnixSocket ? "\(self.host)/.s.PGSQL.\(self.port)" : nil }

    /// The client configuration for this URL.
    public var configuration: PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketPath {
            configuration = PostgresClient.Configuration(
                unixSocketPath: socketPath,
                username: self.username,
                password: self.password,
                database: self.database
            )
        } else {
            configuration = PostgresClient.Configuration(
                host: self.host,
                port: self.port,
                username: self.username,
                password: self.password,
                database: self.database,
                tls: self.tls.map { $0.required ? .require($0.settings) : .prefer($0.settings) } ?? .disable
            )
        }
        configuration.options.connectTimeout = self.connectDeadline
        configuration.options.additionalStartupParameters = self.startupParameters
        return configuration
    }

    /// What every connection sends when it starts: its `application_name`, and `client_encoding` UTF8. PostgresNIO
    /// reads and writes text as UTF-8 but sends no encoding of its own, so the server's default applied: the
    /// database's encoding, or a role's `client_encoding` (a role with LATIN1 had `é` written as `Ã©`, and a revert
    /// write back mangled text). A parameter of the startup message takes precedence over the role's and the
    /// database's settings.
    var startupParameters: [(String, String)] {
        [("application_name", self.applicationName), ("client_encoding", "UTF8")]
    }

    /// The TLS settings of ``sslMode`` and whether TLS is required; `nil` for `disable`. Shared by the pool's and the
    /// single check connection's configurations.
    var tls: (settings: TLSConfiguration, required: Bool)? {
        switch self.sslMode {
        case .disable:
            return nil
        case .prefer, .require:
            var settings = TLSConfiguration.makeClientConfiguration()
            settings.certificateVerification = .none
            return (settings, self.sslMode == .require)
        case .verifyFull:
            return (.makeClientConfiguration(), true)
        }
    }

    /// ``connectTimeout``, or a year for no limit (a connection attempt must end some time).
    var connectDeadline: Duration { self.connectTimeout ?? .seconds(365 * 86_400) }

    /// The URL with the password replaced by `***`: `postgres://app:***@db.example.com:5432/app?sslmode=prefer`.
    public var description: String {
        let database = self.database ?? ""
        let credentials = self.password == nil ? self.username : "\(self.username):***"
        if self.isUnixSocket {
            return "postgres://\(credentials)@/\(database)?host=\(self.host)&port=\(self.port)"
        }
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(credentials)@\(host):\(self.port)/\(database)?sslmode=\(self.sslMode.rawValue)"
    }

    /// The first of `directories` that holds a server's socket for `port`.
    static func socketDirectory(port: Int, among directories: [String]) -> String? {
        directories.first { directory in
            var status = stat()
            return stat("\(directory)/.s.PGSQL.\(port)", &status) == 0 && (status.st_mode & S_IFMT) == S_IFSOCK
        }
    }

    static func operatingSystemUser() -> String? {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}

/// libpq's password file: `hostname:port:database:username:password` lines, the first match wins.
enum PasswordFile {
    static func lookup(path: String?, host: String, port: Int, database: String, user: String) -> String? {
        guard let path else { return nil }
        var status = stat()
        // libpq ignores a password file that is not a plain file, or that its group or others may read.
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_mode & 0o077 == 0,
            let text = try? String(contentsOfFile: path, encoding: .utf8)
        else { return nil }
        let wanted = [host.hasPrefix("/") ? "localhost" : host, String(port), database, user]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let fields = Self.fields(Substring(line))
            guard fields.count >= 5 else { continue }
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) {
                return fields[4...].joined(separator: ":")
            }
        }
        return nil
    }

    /// Whether `path` is a file that its group or others may read (libpq then ignores it, and says so).
    static func isReadableByOthers(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG && status.st_mode & 0o077 != 0
    }

    /// The line's fields, split at unescaped `:` with `\:` and `\\` unescaped.
    static func fields(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}
