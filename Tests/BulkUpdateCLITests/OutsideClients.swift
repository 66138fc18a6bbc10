import BulkUpdateTestSupport
import Foundation
import Testing

// MARK: - Outside clients

/// What the environment provides: the PostgreSQL URL, CI mode and the clients used to read rows back.
enum ApplyTestEnvironment {
    static let variables = ProcessInfo.processInfo.environment
    static let postgresURL = TestPostgres.url
    static let isCI = TestEnvironment.isCI

    static let postgresMissing =
        "BULK_UPDATE_TEST_POSTGRES_URL is not set: run the tests with scripts/test or scripts/with-postgres"
    static let pythonMissing = "python3 with its sqlite3 module was not found; it is needed to read SQLite rows back"

    static let hasPython: Bool = (try? Tool.run(["python3", "-c", "import sqlite3, json"]).status == 0) ?? false
    static let hasPsql: Bool = (try? Tool.run(["psql", "--version"]).status == 0) ?? false

    static var postgresEnabled: Bool { self.postgresURL != nil || self.isCI }
    static var sqliteEnabled: Bool { self.hasPython || self.isCI }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// Fails the current test case when `backend` cannot run here (under CI; locally such cases are not generated,
    /// see ``ApplyBackend/enabled``, and this only cancels them).
    static func requireAvailable(_ backend: ApplyBackend) throws {
        switch backend {
        case .sqlite:
            guard self.hasPython else {
                if self.isCI { throw Missing(description: self.pythonMissing + " (CI=true: this is a failure)") }
                try Test.cancel(Comment(rawValue: self.pythonMissing))
            }
        case .postgres:
            guard self.postgresURL != nil else {
                if self.isCI { throw Missing(description: self.postgresMissing + " (CI=true: this is a failure)") }
                try Test.cancel(Comment(rawValue: self.postgresMissing))
            }
            guard self.hasPsql else {
                throw Missing(description: "psql was not found, but BULK_UPDATE_TEST_POSTGRES_URL is set")
            }
        }
    }
}

/// Runs a helper program (python3, psql) found on the PATH.
enum Tool {
    struct Output {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Standard error is drained on another thread so neither pipe can fill up and stall the helper.
        final class Box: @unchecked Sendable { var data = Data() }
        let errorBox = Box()
        let drained = DispatchGroup()
        let errorHandle = errors.fileHandleForReading
        DispatchQueue.global().async(group: drained) { errorBox.data = errorHandle.readDataToEndOfFile() }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorBox.data, as: UTF8.self)
        )
    }

    /// Runs `arguments` and returns standard output; throws with standard error when the exit status is not 0.
    static func check(_ arguments: [String]) throws -> String {
        let output = try self.run(arguments)
        guard output.status == 0 else {
            throw Failed(
                description: "\(arguments.first ?? "?") exited with \(output.status): \(output.standardError)"
            )
        }
        return output.standardOutput
    }
}

/// Reads and writes SQLite files through python3's sqlite3 module.
enum PythonSQLite {
    /// `exec PATH SQL` runs a script; `query PATH SQL` prints the rows as JSON arrays of text (NULL as null).
    static let script = """
        import json, sqlite3, sys
        mode, path, sql = sys.argv[1:4]
        connection = sqlite3.connect(path)
        if mode == "exec":
            connection.executescript(sql)
            connection.commit()
        else:
            rows = connection.execute(sql).fetchall()
            sys.stdout.write(json.dumps([[None if v is None else str(v) for v in row] for row in rows]))
        connection.close()
        """

    static func execute(_ path: String, _ sql: String) throws {
        _ = try Tool.check(["python3", "-c", self.script, "exec", path, sql])
    }

    static func query(_ path: String, _ sql: String) throws -> [[String?]] {
        try decodeRows(try Tool.check(["python3", "-c", self.script, "query", path, sql]))
    }
}

/// Runs SQL through psql.
enum PSQL {
    static func execute(_ url: String, _ sql: String) throws {
        _ = try Tool.check(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
    }

    /// Every row of `table` as text cells in column order (NULL as nil), ordered by `orderBy`.
    static func rows(_ url: String, table: String, orderBy: String) throws -> [[String?]] {
        let sql = """
            SELECT coalesce(json_agg(r.cells ORDER BY r.k), '[]'::json) FROM (
              SELECT (SELECT json_agg(e.value ORDER BY e.n)
                      FROM json_each_text(row_to_json(t)) WITH ORDINALITY AS e(key, value, n)) AS cells,
                     t.\(orderBy) AS k
              FROM \(table) t) r
            """
        let text = try Tool.check(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        return try decodeRows(text)
    }
}

/// `[[text or null]]` from JSON.
func decodeRows(_ text: String) throws -> [[String?]] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    guard let rows = object as? [[Any]] else {
        throw Tool.Failed(description: "expected rows as JSON arrays, got \(text)")
    }
    return rows.map { row in row.map { $0 as? String } }
}

// MARK: - Roles

/// A login role of its own for one test, with a password; dropped (with everything it owns) afterwards.
struct TestRole {
    let name: String
    let password: String
    /// The test server's URL, logging in as this role.
    let url: String

    /// Creates the role with `grants` (SQL run as the superuser after `CREATE ROLE`, with `{role}` standing for the
    /// role's quoted name), runs `body`, and drops the role whatever happens.
    static func with(grants: [String] = [], _ body: (TestRole) throws -> Void) throws {
        try ApplyTestEnvironment.requireAvailable(.postgres)
        let admin = ApplyTestEnvironment.postgresURL!
        let name = "bu_role_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased()
        let password = "pw-" + UUID().uuidString.prefix(8)
        try PSQL.execute(admin, "CREATE ROLE \(name) LOGIN PASSWORD '\(password)'")
        defer {
            try? PSQL.execute(admin, "DROP OWNED BY \(name) CASCADE")
            try? PSQL.execute(admin, "DROP ROLE IF EXISTS \(name)")
        }
        for grant in grants { try PSQL.execute(admin, grant.replacingOccurrences(of: "{role}", with: name)) }
        try body(TestRole(name: name, password: password, url: Self.url(admin, user: name, password: password)))
    }

    /// `url` with its user and password replaced (`nil` leaves the password out).
    static func url(_ url: String, user: String, password: String?) -> String {
        var components = URLComponents(string: url)!
        components.user = user
        components.password = password
        return components.string!
    }

    /// `url` pointing at `port` instead.
    static func url(_ url: String, port: Int) -> String {
        var components = URLComponents(string: url)!
        components.port = port
        return components.string!
    }

    /// `url` naming `database` instead.
    static func url(_ url: String, database: String) -> String {
        var components = URLComponents(string: url)!
        components.path = "/" + database
        return components.string!
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound once to find it, then released).
func unusedPort() -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
