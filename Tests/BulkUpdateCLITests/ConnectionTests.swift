import Foundation
import Testing

/// Connecting to PostgreSQL as libpq's tools do, and failing fast and clearly when it cannot: one login attempt,
/// the server's own message, no pool retrying for a minute.
@Suite("apply: connecting to PostgreSQL", .timeLimit(.minutes(2)))
struct ConnectionTests {
    static let columns = "id integer primary key, v text"

    /// Runs `apply` of a one-row change against `url`, on a fresh table reachable through the test server.
    static func applyOne(_ target: ApplyTarget, database url: String, environment: [String: String] = [:]) throws
        -> Executable.Result
    {
        let path = try target.write("one.csv", "id,v\n1,changed\n")
        return try Executable.run(
            ["apply", "--database", url, "--table", target.table, "--input", path, "--quiet", "--no-journal"],
            environment: environment
        )
    }

    @Test("a wrong password: exit 69 at once with the server's message, tried once")
    func wrongPassword() throws {
        try TestRole.with(grants: []) { role in
            try ApplyTarget.with(.postgres, columns: Self.columns, rows: "(1, 'old')") { target in
                let url = TestRole.url(role.url, user: role.name, password: "not-the-password")
                let result = try Self.applyOne(target, database: url)
                #expect(result.status == 69, streams(result))
                #expect(result.standardError.contains("could not connect to PostgreSQL"), streams(result))
                #expect(result.standardError.contains("password authentication failed for user"), streams(result))
                #expect(result.standardError.contains("not retried"), streams(result))
                #expect(!result.standardError.contains("not-the-password"), streams(result))
                #expect(!result.standardError.contains("circuitBreaker"), streams(result))
                #expect(try target.contents() == [["1", "old"]])
            }
        }
    }

    @Test("a port nothing listens on, a database that does not exist, TLS the server does not offer")
    func unreachable() throws {
        try ApplyTarget.with(.postgres, columns: Self.columns, rows: "(1, 'old')") { target in
            let refused = try Self.applyOne(target, database: TestRole.url(target.database, port: unusedPort()))
            #expect(refused.status == 69, streams(refused))
            #expect(refused.standardError.contains("Connection refused"), streams(refused))

            let missing = try Self.applyOne(target, database: TestRole.url(target.database, database: "no_such_db"))
            #expect(missing.status == 69, streams(missing))
            #expect(missing.standardError.contains("database \"no_such_db\" does not exist"), streams(missing))

            let tls = target.database.replacingOccurrences(of: "sslmode=disable", with: "sslmode=require")
            let noTLS = try Self.applyOne(target, database: tls)
            #expect(noTLS.status == 69, streams(noTLS))
            #expect(noTLS.standardError.contains("does not offer TLS"), streams(noTLS))
            #expect(try target.contents() == [["1", "old"]])
        }
    }

    @Test("a server that accepts the connection and never answers: connect_timeout ends the wait")
    func connectTimeout() throws {
        // A listening socket that never accepts: the kernel completes the handshake, nobody ever answers.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        #expect(listen(listener, 8) == 0)
        let port = Int(UInt16(bigEndian: address.sin_port))
        try ApplyTarget.with(.postgres, columns: Self.columns, rows: "(1, 'old')") { target in
            let url = "postgres://nobody@127.0.0.1:\(port)/x?sslmode=disable&connect_timeout=2"
            let result = try Self.applyOne(target, database: url)
            #expect(result.status == 69, streams(result))
            #expect(result.standardError.contains("no answer within the connect timeout (2 s)"), streams(result))
        }
    }

    @Test("PGPASSWORD, PGUSER and ~/.pgpass complete a URL without credentials, as with psql")
    func libpqEnvironment() throws {
        try TestRole.with(grants: []) { role in
            try ApplyTarget.with(.postgres, columns: Self.columns, rows: "(1, 'old')") { target in
                try PSQL.execute(target.database, "GRANT SELECT, UPDATE ON \(target.table) TO \(role.name)")
                let bare = TestRole.url(role.url, user: role.name, password: nil)
                // No password anywhere: the server asks for one, and the error says where it could come from.
                let none = try Self.applyOne(target, database: bare, environment: ["HOME": target.directory.path])
                #expect(none.status == 69, streams(none))
                #expect(none.standardError.contains("PGPASSWORD"), streams(none))

                let fromEnvironment = try Self.applyOne(
                    target,
                    database: bare,
                    environment: ["PGPASSWORD": role.password, "HOME": target.directory.path]
                )
                #expect(fromEnvironment.status == 0, streams(fromEnvironment))
                #expect(try target.contents() == [["1", "changed"]])

                // The user from PGUSER, the password from the password file in $HOME; libpq ignores a password
                // file others may read, and the error says so.
                try PSQL.execute(target.database, "UPDATE \(target.table) SET v = 'old'")
                let file = target.directory.appendingPathComponent(".pgpass").path
                try "*:*:*:\(role.name):\(role.password)\n".write(toFile: file, atomically: true, encoding: .utf8)
                chmod(file, 0o644)
                let exposed = try Self.applyOne(target, database: bare, environment: ["HOME": target.directory.path])
                #expect(exposed.status == 69, streams(exposed))
                #expect(exposed.standardError.contains("was ignored because others may read it"), streams(exposed))
                chmod(file, 0o600)
                let noUser = TestRole.url(role.url, user: "", password: nil).replacingOccurrences(of: "//@", with: "//")
                let fromFile = try Self.applyOne(
                    target,
                    database: noUser,
                    environment: ["PGUSER": role.name, "HOME": target.directory.path]
                )
                #expect(fromFile.status == 0, streams(fromFile))
                #expect(try target.contents() == [["1", "changed"]])
            }
        }
    }
}
