import Foundation
import Testing

@testable import bulk_update

/// `demo` and `bench` create their own table and drop it at the end; they must never drop or change a table they did
/// not create, even when told its name, and a marked table a killed run left behind is theirs to replace.
@Suite("demo and bench never touch a table they did not create")
struct ScenarioTableTests {
    /// A user's table with a few rows, named like the scenario table would be.
    static let victimColumns = "id integer primary key, username varchar(150) not null, email text"
    static let victimRows = "(1, 'alice', 'a@example.com'), (2, 'bob', NULL)"
    static let victimContents: [[String?]] = [["1", "alice", "a@example.com"], ["2", "bob", nil]]

    @Test("bench --table naming an existing table: refused, the table is unchanged", arguments: ApplyBackend.enabled)
    func benchRefusesExistingTable(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.victimColumns, rows: Self.victimRows) { target in
            let result = try Executable.run([
                "bench", "--database", target.database, "--table", target.table, "--rows", "20", "--repeat", "1",
                "--workers", "1", "--strategies", "values",
            ])
            #expect(result.status != 0, streams(result))
            #expect(result.standardError.contains("already exists and was not created by bulk-update"), streams(result))
            #expect(try target.contents() == Self.victimContents)
        }
    }

    @Test("demo --table naming an existing table: refused, the table is unchanged", arguments: ApplyBackend.enabled)
    func demoRefusesExistingTable(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.victimColumns, rows: Self.victimRows) { target in
            let result = try Executable.run([
                "demo", "--database", target.database, "--table", target.table, "--rows", "20",
            ])
            #expect(result.status != 0, streams(result))
            #expect(result.standardError.contains("already exists and was not created by bulk-update"), streams(result))
            #expect(try target.contents() == Self.victimContents)
        }
    }

    @Test("demo with its default table name on a database that has such a table of its own: refused, kept")
    func demoRefusesDefaultName() throws {
        try ApplyTarget.with(.sqlite, columns: Self.victimColumns) { target in
            try target.execute(
                "CREATE TABLE bulk_update_demo_users (\(Self.victimColumns)); "
                    + "INSERT INTO bulk_update_demo_users VALUES \(Self.victimRows);"
            )
            let result = try Executable.run(["demo", "--database", target.database, "--rows", "20"])
            #expect(result.status != 0, streams(result))
            #expect(result.standardError.contains("\"bulk_update_demo_users\" already exists"), streams(result))
            #expect(
                try PythonSQLite.query(target.database, "SELECT * FROM bulk_update_demo_users ORDER BY id")
                    == Self.victimContents
            )
        }
    }

    @Test(
        "a marked table left behind by a killed run is replaced, and the run drops it",
        arguments: ApplyBackend.enabled
    )
    func leftoverIsReplaced(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.victimColumns) { target in
            // What a demo killed after creating its table leaves: a table carrying the mark.
            let leftover = target.table + "_left"
            switch backend {
            case .postgres:
                try target.execute(
                    "CREATE TABLE \(leftover) (id integer primary key); COMMENT ON TABLE \(leftover) IS '\(UsersScenario.mark)'"
                )
            case .sqlite:
                try target.execute("CREATE TABLE \(leftover) (/* \(UsersScenario.mark) */ id integer primary key)")
            }
            defer { if backend == .postgres { try? target.execute("DROP TABLE IF EXISTS \(leftover)") } }
            let result = try Executable.run([
                "demo", "--database", target.database, "--table", leftover, "--rows", "30", "--chunk-size", "10",
            ])
            #expect(result.status == 0, streams(result))
            #expect(result.standardOutput.contains("verified: all 30 usernames read back upper-case"), streams(result))
            #expect(try Self.tableExists(leftover, in: target) == false)
        }
    }

    @Test("a second demo on a table a running one uses refuses to start (PostgreSQL)")
    func concurrentDemo() throws {
        try ApplyTarget.with(.postgres, columns: "id integer primary key") { target in
            let table = target.table + "_demo"
            // A running demo holds this advisory lock for its table while it runs; here psql holds it for 20 s.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            holder.arguments = [
                "psql", target.database, "-X", "-q", "-c",
                "SELECT pg_advisory_lock(\(UsersScenario.lockSpace), hashtext('\(table)'))", "-c", "\\echo locked",
                "-c", "SELECT pg_sleep(20)",
            ]
            let output = Pipe()
            holder.standardOutput = output
            try holder.run()
            defer {
                holder.terminate()
                holder.waitUntilExit()
            }
            _ = output.fileHandleForReading.availableData  // "locked"
            let result = try Executable.run(["demo", "--database", target.database, "--table", table, "--rows", "10"])
            #expect(result.status != 0, streams(result))
            #expect(result.standardError.contains("is in use by another bulk-update demo or bench"), streams(result))
            #expect(try Self.tableExists(table, in: target) == false)
        }
    }

    @Test("demo and bench on a SQLite file leave no statistics table behind")
    func sqliteStatistics() throws {
        try ApplyTarget.with(.sqlite, columns: "id integer primary key") { target in
            let result = try Executable.run(["demo", "--database", target.database, "--rows", "50"])
            #expect(result.status == 0, streams(result))
            #expect(
                try PythonSQLite.query(target.database, "SELECT name FROM sqlite_schema ORDER BY name") == [
                    [target.table]
                ]
            )
        }
    }

    @Test("bench: an unwritable --json or --chart path stops it before it runs anything")
    func benchOutputChecked() throws {
        let result = try Executable.run(["bench", "--rows", "10", "--json", "/nonexistent-directory/bench.json"])
        #expect(result.status != 0, streams(result))
        #expect(result.standardError.contains("cannot write '/nonexistent-directory/bench.json'"), streams(result))
        #expect(!result.standardError.contains("round 1"), streams(result))
    }

    static func tableExists(_ name: String, in target: ApplyTarget) throws -> Bool {
        switch target.backend {
        case .sqlite:
            try !PythonSQLite.query(target.database, "SELECT name FROM sqlite_schema WHERE name = '\(name)'").isEmpty
        case .postgres:
            try Tool.check(["psql", target.database, "-X", "-At", "-c", "SELECT to_regclass('\(name)') IS NOT NULL"])
                .trimmingCharacters(in: .whitespacesAndNewlines) == "t"
        }
    }
}
