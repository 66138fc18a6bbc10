import Foundation
import Testing

// End-to-end tests of `bulk-update apply`: each test runs the built executable against a fresh table (a fresh SQLite
// file, or a uniquely named PostgreSQL table), then reads the rows back with an outside client (python3's sqlite3
// module, or psql) and compares them exactly.
//
// PostgreSQL: `BULK_UPDATE_TEST_POSTGRES_URL` (set by scripts/with-postgres and scripts/test). Without it the
// PostgreSQL cases are skipped locally and fail under `CI=true`. Likewise a missing python3 skips the SQLite cases
// locally and fails them under CI.

// MARK: - Backends

/// The databases `apply` is tested against.
enum ApplyBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { self == .sqlite ? "SQLite" : "PostgreSQL" }

    /// The strategies this backend accepts, other than `auto`.
    var strategies: [String] {
        self == .sqlite ? ["values", "tempTable", "caseWhen"] : ["unnest", "values", "caseWhen"]
    }

    /// What `auto` resolves to.
    var automaticStrategy: String { self == .sqlite ? "values" : "unnest" }

    /// The backends whose cases run: PostgreSQL when `BULK_UPDATE_TEST_POSTGRES_URL` is set or under CI (where a
    /// missing URL then fails the case), SQLite when python3 is there to read rows back or under CI.
    static var enabled: [ApplyBackend] {
        var backends: [ApplyBackend] = []
        if ApplyTestEnvironment.sqliteEnabled { backends.append(.sqlite) }
        if ApplyTestEnvironment.postgresEnabled { backends.append(.postgres) }
        return backends
    }

    /// The schema a table lands in when none is named.
    var defaultSchema: String { self == .sqlite ? "main" : "public" }
}

/// One backend with one of its strategies.
struct BackendStrategy: Sendable, CustomTestStringConvertible {
    var backend: ApplyBackend
    var strategy: String

    static var all: [BackendStrategy] {
        ApplyBackend.enabled.flatMap { backend in
            backend.strategies.map { BackendStrategy(backend: backend, strategy: $0) }
        }
    }

    var testDescription: String { "\(self.backend.testDescription), \(self.strategy)" }
}

/// How a JSON Lines file is recognised.
enum JSONLinesNaming: String, CaseIterable, Sendable {
    /// `changes.jsonl`, no `--format`.
    case fileExtension
    /// `changes.txt` with `--format jsonl`.
    case formatOption
}

// MARK: - Targets

/// A fresh table to apply changes to, in a fresh temporary directory for the input files (and the SQLite file).
struct ApplyTarget {
    let backend: ApplyBackend
    let directory: URL
    /// The `--database` argument.
    let database: String
    /// The table's name, unquoted (lower-case letters, digits and underscores).
    let table: String
    let orderBy: String

    /// Creates the table from `columns` (what goes inside `CREATE TABLE t (…)`), inserts `rows` (the text after
    /// `VALUES`, if any), runs `body`, and drops everything whatever happens.
    static func with(
        _ backend: ApplyBackend,
        columns: String,
        rows: String? = nil,
        orderBy: String = "id",
        _ body: (ApplyTarget) throws -> Void
    ) throws {
        try ApplyTestEnvironment.requireAvailable(backend)
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ApplyCommandTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let table = "bu_cli_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        let database: String
        switch backend {
        case .sqlite: database = directory.appendingPathComponent("test.db").path
        case .postgres: database = ApplyTestEnvironment.postgresURL!
        }
        let target = ApplyTarget(
            backend: backend,
            directory: directory,
            database: database,
            table: table,
            orderBy: orderBy
        )
        var setup = "CREATE TABLE \(table) (\(columns));"
        if let rows { setup += " INSERT INTO \(table) VALUES \(rows);" }
        try target.execute(setup)
        defer {
            if backend == .postgres { try? target.execute("DROP TABLE IF EXISTS \(table)") }
        }
        try body(target)
    }

    func execute(_ sql: String) throws {
        switch self.backend {
        case .sqlite: try PythonSQLite.execute(self.database, sql)
        case .postgres: try PSQL.execute(self.database, sql)
        }
    }

    /// Every row, every column as text (NULL as nil), ordered by ``orderBy``.
    func contents() throws -> [[String?]] {
        switch self.backend {
        case .sqlite:
            try PythonSQLite.query(self.database, "SELECT * FROM \(self.table) ORDER BY \(self.orderBy)")
        case .postgres:
            try PSQL.rows(self.database, table: self.table, orderBy: self.orderBy)
        }
    }

    /// The table's name as `apply` reports it.
    var qualifiedName: String { "\(self.backend.defaultSchema).\(self.table)" }

    /// Writes `text` as UTF-8 to a file in the temporary directory; returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try self.write(name, bytes: Array(text.utf8))
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let url = self.directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func path(_ name: String) -> String { self.directory.appendingPathComponent(name).path }

    /// Runs `bulk-update apply --database … --table … arguments`.
    func apply(_ arguments: [String], standardInput: Data? = nil) throws -> Executable.Result {
        try Executable.run(
            ["apply", "--database", self.database, "--table", self.table] + arguments,
            standardInput: standardInput
        )
    }
}

/// `result`'s output streams, for failure messages.
func streams(_ result: Executable.Result) -> Comment {
    "exit \(result.status)\nstdout: \(result.standardOutput)\nstderr: \(result.standardError)"
}

/// The chunks listed after `committed chunks` in an error message: `  0.1: 3 … 4 (2 rows)`.
struct ListedChunk: Equatable {
    var worker: Int
    var number: Int
    var firstKey: String
    var lastKey: String
    var rows: Int

    static func parse(_ text: String) -> [ListedChunk] {
        guard let header = text.range(of: "committed chunks (worker.number: first key … last key):") else {
            return []
        }
        var chunks: [ListedChunk] = []
        for line in text[header.upperBound...].split(separator: "\n") {
            guard line.hasPrefix("  "), let colon = line.firstIndex(of: ":") else { break }
            let position = line[..<colon].trimmingCharacters(in: .whitespaces).split(separator: ".")
            let rest = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard position.count == 2, let worker = Int(position[0]), let number = Int(position[1]),
                let ellipsis = rest.range(of: " … "), let open = rest.range(of: " (", options: .backwards),
                let rows = Int(rest[open.upperBound...].split(separator: " ").first ?? "")
            else { break }
            chunks.append(
                ListedChunk(
                    worker: worker,
                    number: number,
                    firstKey: String(rest[..<ellipsis.lowerBound]),
                    lastKey: String(rest[ellipsis.upperBound..<open.lowerBound]),
                    rows: rows
                )
            )
        }
        return chunks
    }
}

/// The report file as a dictionary.
func readReport(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "the report is not an object")
}

// MARK: - Tests

@Suite("bulk-update apply, end to end")
struct ApplyCommandTests {
    /// Says, as a skipped test with its reason, that the PostgreSQL cases were left out.
    @Test(
        "PostgreSQL cases",
        .enabled(if: ApplyTestEnvironment.postgresEnabled, Comment(rawValue: ApplyTestEnvironment.postgresMissing))
    )
    func postgresCasesRun() throws {
        try ApplyTestEnvironment.requireAvailable(.postgres)
    }

    /// Says, as a skipped test with its reason, that the SQLite cases were left out.
    @Test(
        "SQLite cases",
        .enabled(if: ApplyTestEnvironment.sqliteEnabled, Comment(rawValue: ApplyTestEnvironment.pythonMissing))
    )
    func sqliteCasesRun() throws {
        try ApplyTestEnvironment.requireAvailable(.sqlite)
    }

    static let usersColumns = "id integer primary key, username varchar(150) not null, email text"

    // 1.
    @Test(
        "CSV: quoted commas, newlines and quotes, non-ASCII, \\N is NULL and \"\\N\" is text",
        arguments: BackendStrategy.all
    )
    func csvApply(_ run: BackendStrategy) throws {
        try ApplyTarget.with(
            run.backend,
            columns: Self.usersColumns,
            rows: """
                (1, 'alice', 'alice@example.com'), (2, 'bob', 'bob@example.com'), (3, 'carol', NULL),
                (4, 'dave', 'dave@example.com'), (5, 'erin', 'erin@example.com'), (6, 'frank', 'frank@example.com')
                """
        ) { target in
            let csv = #"""
                id,username,email
                1,"smith, john",john@example.com
                2,bob2,"first line
                second line"
                3,"say ""hi""",\N
                4,Jürgen 日本 🎉,"\N"
                5,"o'brien'); --",

                """#
            let path = try target.write("changes.csv", csv)
            let result = try target.apply(["--input", path, "--strategy", run.strategy])
            #expect(result.status == 0, streams(result))
            #expect(result.standardOutput.contains("rows read 5, matched 5, changed 5"), streams(result))
            #expect(result.standardOutput.contains("strategy \(run.strategy),"), streams(result))
            #expect(result.standardOutput.contains("table \(target.qualifiedName), key (id), set (username, email)"))
            let expected: [[String?]] = [
                ["1", "smith, john", "john@example.com"],
                ["2", "bob2", "first line\nsecond line"],
                ["3", "say \"hi\"", nil],
                ["4", "Jürgen 日本 🎉", "\\N"],
                ["5", "o'brien'); --", ""],
                ["6", "frank", "frank@example.com"],
            ]
            #expect(try target.contents() == expected)
        }
    }

    // 2.
    @Test(
        "JSON Lines: strings, null, integers and an exact decimal literal",
        arguments: ApplyBackend.enabled,
        JSONLinesNaming.allCases
    )
    func jsonLinesApply(_ backend: ApplyBackend, naming: JSONLinesNaming) throws {
        // SQLite gives a NUMERIC column numeric affinity, which stores 12345.678901234567890123 as an 8-byte REAL by
        // design; a TEXT column shows that the literal reaches SQLite unchanged.
        let amount = backend == .postgres ? "numeric" : "text"
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns + ", logins bigint, amount \(amount)",
            rows: "(1, 'alice', 'a@example.com', 1, '1.5'), (2, 'bob', 'b@example.com', 2, '2.5'),"
                + " (3, 'carol', NULL, 3, '3.5'), (4, 'dave', 'd@example.com', 4, '4.5')"
        ) { target in
            let jsonl = #"""
                {"id": 1, "username": "Zoë \"Z\" Ürün", "email": null, "logins": 42, "amount": 12345.678901234567890123}
                {"id":2,"username":"line\nbreak\tand tab","email":"b2@example.com","logins":9007199254740993,"amount":-0.5}

                {"amount":"42.00","logins":-7,"email":"","username":"\u65e5\u672c \ud83c\udf89","id":3}

                """#
            var arguments: [String]
            switch naming {
            case .fileExtension: arguments = ["--input", try target.write("changes.jsonl", jsonl)]
            case .formatOption: arguments = ["--input", try target.write("changes.txt", jsonl), "--format", "jsonl"]
            }
            arguments += ["--quiet"]
            let result = try target.apply(arguments)
            #expect(result.status == 0, streams(result))
            #expect(result.standardOutput.contains("rows read 3, matched 3, changed 3"), streams(result))
            #expect(result.standardOutput.contains("set (username, email, logins, amount)"), streams(result))
            let expected: [[String?]] = [
                ["1", "Zoë \"Z\" Ürün", nil, "42", "12345.678901234567890123"],
                ["2", "line\nbreak\tand tab", "b2@example.com", "9007199254740993", "-0.5"],
                ["3", "日本 🎉", "", "-7", "42.00"],
                ["4", "dave", "d@example.com", "4", "4.5"],
            ]
            #expect(try target.contents() == expected)
        }
    }

    // 3.
    @Test("standard input: CSV, and JSON Lines with --format", arguments: ApplyBackend.enabled)
    func standardInput(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: "(1, 'alice', 'a@example.com'), (2, 'bob', 'b@example.com'), (3, 'carol', NULL)"
        ) { target in
            let csv = "id,username,email\r\n2,\"Bob, Jr.\",\"multi\nline\"\r\n3,carol,\\N\r\n1,Ålice,\"\"\r\n"
            let result = try target.apply(["--input", "-"], standardInput: Data(csv.utf8))
            #expect(result.status == 0, streams(result))
            #expect(result.standardOutput.contains("rows read 3, matched 3, changed 3"), streams(result))
            #expect(
                try target.contents() == [
                    ["1", "Ålice", ""], ["2", "Bob, Jr.", "multi\nline"], ["3", "carol", nil],
                ]
            )

            let jsonl = #"{"id": 3, "username": "Carol", "email": "c@example.com"}"# + "\n"
            let second = try target.apply(["--input", "-", "--format", "jsonl"], standardInput: Data(jsonl.utf8))
            #expect(second.status == 0, streams(second))
            #expect(second.standardOutput.contains("rows read 1, matched 1, changed 1"), streams(second))
            #expect(try target.contents()[2] == ["3", "Carol", "c@example.com"])
        }
    }

    @Test(
        "standard input larger than a pipe buffer and a read block, quoted fields across block boundaries",
        arguments: ApplyBackend.enabled
    )
    func largeStandardInput(_ backend: ApplyBackend) throws {
        let count = 2_000
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: (1...count).map { "(\($0), 'u\($0)', NULL)" }.joined(separator: ", ")
        ) { target in
            // About 250 bytes a row, 500 KB in all: more than the 256 KiB read block and the 64 KiB pipe buffer.
            func email(_ id: Int) -> String { "line one, \(id)\n\"quoted\" ü " + String(repeating: "x", count: 200) }
            var csv = "id,username,email\n"
            for id in 1...count {
                let quoted = email(id).replacingOccurrences(of: "\"", with: "\"\"")
                csv += "\(id),U\(id),\"\(quoted)\"\n"
            }
            let result = try target.apply(
                ["--input", "-", "--quiet", "--chunk-size", "300"],
                standardInput: Data(csv.utf8)
            )
            #expect(result.status == 0, streams(result))
            #expect(
                result.standardOutput.contains("rows read \(count), matched \(count), changed \(count)"),
                streams(result)
            )
            let expected: [[String?]] = (1...count).map { ["\($0)", "U\($0)", email($0)] }
            #expect(try target.contents() == expected)
        }
    }

    // 4.
    @Test("a file with bad CSV lines: exit 65, every bad line named, nothing written", arguments: ApplyBackend.enabled)
    func badCSVLines(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: "(1, 'alice', 'a@example.com'), (2, 'bob', 'b@example.com'), (3, 'carol', NULL), (4, 'dave', NULL)"
        ) { target in
            let before = try target.contents()
            var bytes = Array("id,username,email\n1,ok,x@example.com\nabc,bad,x\n2,missing\n3,J".utf8)
            bytes += [0xFF, 0xFE]
            bytes += Array(",x\n4,fine,\\N\n".utf8)
            let path = try target.write("bad.csv", bytes: bytes)
            let result = try target.apply(["--input", path])
            #expect(result.status == 65, streams(result))
            let errors = result.standardError
            #expect(errors.contains("3 invalid lines in \(path); nothing was written"), streams(result))
            // Line 3: a text where an integer belongs.
            #expect(errors.contains("value 'abc' does not fit column \"id\""), streams(result))
            #expect(errors.contains("[input line 3, column \"id\"]"), streams(result))
            // Line 4: the key field is there but a field is missing.
            #expect(errors.contains("line 4 has 2 fields, expected 3"), streams(result))
            // Line 5: not UTF-8.
            #expect(errors.contains("not valid UTF-8: bytes ff fe"), streams(result))
            #expect(errors.contains("[input line 5, column \"username\"]"), streams(result))
            // The valid lines are not listed.
            #expect(!errors.contains("input line 2"), streams(result))
            #expect(!errors.contains("input line 6"), streams(result))
            #expect(result.standardOutput.isEmpty, streams(result))
            #expect(try target.contents() == before)
        }
    }

    @Test("a file with bad JSON Lines: exit 65, every bad line named, nothing written", arguments: ApplyBackend.enabled)
    func badJSONLines(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: "(1, 'alice', 'a@example.com'), (2, 'bob', 'b@example.com'), (3, 'carol', NULL)"
        ) { target in
            let before = try target.contents()
            let jsonl = """
                {"id": 1, "username": "ok", "email": null}
                {"id": "abc", "username": "bad", "email": null}
                {"id": 2, "email": "no username"}
                {"id": 3, "username": "x", "email": nul}
                {"id": 3, "username": "fine", "email": null}

                """
            let path = try target.write("bad.jsonl", jsonl)
            let result = try target.apply(["--input", path])
            #expect(result.status == 65, streams(result))
            let errors = result.standardError
            #expect(errors.contains("3 invalid lines in \(path); nothing was written"), streams(result))
            #expect(errors.contains("[input line 2, column \"id\"]"), streams(result))
            #expect(
                errors.contains("the object has no \"username\" [input line 3, column \"username\"]"),
                streams(result)
            )
            #expect(errors.contains("[input line 4]"), streams(result))
            #expect(!errors.contains("input line 5"), streams(result))
            #expect(try target.contents() == before)
        }
    }

    @Test("a header column the table does not have: exit 65, nothing written", arguments: ApplyBackend.enabled)
    func unknownHeaderColumn(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: "(1, 'alice', 'a@example.com'), (2, 'bob', NULL)"
        ) { target in
            let before = try target.contents()
            let path = try target.write("extra.csv", "id,username,email,nosuch\n1,x,y,z\n2,x,y,z\n")
            let result = try target.apply(["--input", path])
            #expect(result.status == 65, streams(result))
            #expect(
                result.standardError.contains("column \"nosuch\" does not exist in \(target.qualifiedName)"),
                streams(result)
            )
            #expect(try target.contents() == before)
        }
    }

    // 5.
    @Test("more than 20 bad lines: 20 are listed, the rest counted", arguments: ApplyBackend.enabled)
    func manyBadLines(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: "(1, 'alice', 'a@example.com')"
        ) { target in
            let before = try target.contents()
            var csv = "id,username,email\n1,ok,\\N\n"
            for index in 0..<25 { csv += "x\(index),user\(index),\\N\n" }
            let path = try target.write("many.csv", csv)
            let result = try target.apply(["--input", path])
            #expect(result.status == 65, streams(result))
            let errors = result.standardError
            #expect(errors.contains("25 invalid lines in \(path); nothing was written"), streams(result))
            let listed = errors.split(separator: "\n").filter { $0.contains("[input line ") }
            #expect(listed.count == 20, streams(result))
            #expect(listed.first?.contains("value 'x0' ") == true)
            #expect(listed.last?.contains("value 'x19' ") == true)
            #expect(!errors.contains("'x20'"), streams(result))
            #expect(errors.contains("… and 5 more"), streams(result))
            #expect(try target.contents() == before)
        }
    }

    // 6.
    @Test(
        "standard input with a bad line after some chunks: exit 75, the listed chunks stay applied",
        arguments: ApplyBackend.enabled
    )
    func partialStandardInput(_ backend: ApplyBackend) throws {
        let seed = (1...8).map { "(\($0), 'user\($0)', 'user\($0)@example.com')" }.joined(separator: ", ")
        try ApplyTarget.with(backend, columns: Self.usersColumns, rows: seed) { target in
            var csv = "id,username,email\n"
            for id in 1...7 { csv += "\(id),new\(id),\\N\n" }  // input lines 2 to 8
            csv += "oops,bad,\\N\n"  // input line 9
            csv += "8,new8,\\N\n"
            let reportPath = target.path("report.json")
            let result = try target.apply(
                ["--input", "-", "--chunk-size", "2", "--workers", "1", "--report", reportPath],
                standardInput: Data(csv.utf8)
            )
            #expect(result.status == 75, streams(result))
            #expect(result.standardError.contains("value 'oops' does not fit column \"id\""), streams(result))
            #expect(result.standardError.contains("input line 9"), streams(result))
            #expect(result.standardError.contains("stay applied"), streams(result))

            let chunks = ListedChunk.parse(result.standardError)
            // Chunks (1, 2) and (3, 4) are committed before the router can read the bad line; (5, 6) may be.
            #expect((2...3).contains(chunks.count), streams(result))
            var applied = Set<Int>()
            for chunk in chunks {
                #expect(chunk.worker == 0)
                #expect(chunk.rows == 2)
                let first = try #require(Int(chunk.firstKey), "chunk key \(chunk.firstKey)")
                let last = try #require(Int(chunk.lastKey), "chunk key \(chunk.lastKey)")
                #expect(last - first == 1)
                applied.formUnion(first...last)
            }
            #expect(applied.isSuperset(of: 1...4))
            #expect(applied.isSubset(of: 1...6))
            #expect(chunks.map(\.number) == Array(0..<chunks.count))

            let expected: [[String?]] = (1...8).map { id in
                applied.contains(id)
                    ? ["\(id)", "new\(id)", nil]
                    : ["\(id)", "user\(id)", "user\(id)@example.com"]
            }
            #expect(try target.contents() == expected)

            // The report written on failure lists the same chunks and the error.
            let report = try readReport(reportPath)
            #expect(report["chunks"] as? Int == chunks.count)
            #expect(report["rowsMatched"] as? Int == applied.count)
            let committed = try #require(report["committedChunks"] as? [[String: Any]])
            #expect(committed.map { $0["firstKey"] as? String } == chunks.map(\.firstKey))
            #expect(committed.map { $0["lastKey"] as? String } == chunks.map(\.lastKey))
            #expect((report["error"] as? String)?.contains("input line 9") == true)
            // rowsRead counts the rows read before the bad one too.
            #expect((report["rowsRead"] as? Int ?? 0) >= applied.count)
        }
    }

    // 7.
    @Test("--dry-run prints the plan and the preview, and writes nothing", arguments: ApplyBackend.enabled)
    func dryRun(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: "(1, 'alice', 'a@example.com'), (2, 'bob', 'b@example.com'), (3, 'carol', NULL)"
        ) { target in
            let before = try target.contents()
            let path = try target.write("changes.csv", "id,username,email\n1,A,\\N\n2,B,\\N\n3,C,c@example.com\n")
            let result = try target.apply(["--input", path, "--dry-run"])
            #expect(result.status == 0, streams(result))
            let output = result.standardOutput
            let lines = output.split(separator: "\n").map(String.init)
            #expect(lines.first == "dry run: nothing is written", streams(result))
            #expect(output.contains("target    \(target.qualifiedName) ("), streams(result))
            let key = try #require(lines.first { $0.hasPrefix("key ") }, streams(result))
            let set = try #require(lines.first { $0.hasPrefix("set ") }, streams(result))
            #expect(key.lowercased().hasPrefix("key       id integer"), streams(result))
            let varchar = backend == .postgres ? "character varying(150)" : "varchar(150)"
            #expect(set.lowercased() == "set       username \(varchar) not null, email text", streams(result))
            #expect(output.contains("input     \(path): 3 rows, all valid"), streams(result))
            #expect(output.contains("strategy  \(backend.automaticStrategy),"), streams(result))
            #expect(output.contains("duplicate keys: last"), streams(result))
            // A journaled run keeps undo: its statement is a WITH around the UPDATE.
            let update = try #require(
                lines.first { $0.hasPrefix("  UPDATE ") || $0.hasPrefix("  WITH ") && $0.contains(" AS (UPDATE ") },
                streams(result)
            )
            #expect(update.contains(target.table), streams(result))
            #expect(output.contains("3 of 3 row(s) matched: 3 would change, 0 already hold"), streams(result))
            #expect(
                output.contains("  1  username: 'alice' -> 'A'\n  1  email: 'a@example.com' -> NULL"),
                streams(result)
            )
            #expect(output.contains("  3  email: NULL -> 'c@example.com'"), streams(result))
            #expect(try target.contents() == before)

            // Standard input is checked too.
            let piped = try target.apply(
                ["--input", "-", "--dry-run", "--strategy", "caseWhen"],
                standardInput: Data("id,username,email\n1,A,\\N\n".utf8)
            )
            #expect(piped.status == 0, streams(piped))
            #expect(
                piped.standardOutput.contains("input     standard input: read once, checked as it streams"),
                streams(piped)
            )
            #expect(piped.standardOutput.contains("1 of 1 row(s) matched: 1 would change"), streams(piped))
            #expect(piped.standardOutput.contains("strategy  caseWhen,"), streams(piped))
            #expect(piped.standardOutput.contains("CASE"), streams(piped))
            #expect(try target.contents() == before)
        }
    }

    // 8.
    @Test("--report writes the counts as JSON, keys not found included", arguments: ApplyBackend.enabled)
    func reportFile(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: "(1, 'alice', 'a@example.com'), (2, 'bob', 'b@example.com'), (3, 'carol', NULL), (4, 'dave', NULL)"
        ) { target in
            let path = try target.write(
                "changes.csv",
                "id,username,email\n1,A,\\N\n98,ghost,\\N\n2,B,\\N\n3,C,\\N\n99,ghost,\\N\n"
            )
            let reportPath = target.path("report.json")
            let result = try target.apply(
                ["--input", path, "--report", reportPath, "--workers", "1", "--chunk-size", "2"]
            )
            #expect(result.status == 0, streams(result))
            #expect(result.standardOutput.contains("rows read 5, matched 3, changed 3"), streams(result))
            #expect(result.standardOutput.contains("keys not found 2"), streams(result))
            let report = try readReport(reportPath)
            #expect(report["table"] as? String == target.qualifiedName)
            #expect(report["keyColumns"] as? [String] == ["id"])
            #expect(report["setColumns"] as? [String] == ["username", "email"])
            #expect(report["strategy"] as? String == backend.automaticStrategy)
            #expect(report["rowsRead"] as? Int == 5)
            #expect(report["rowsMatched"] as? Int == 3)
            #expect(report["rowsChanged"] as? Int == 3)
            #expect(report["rowsUnchanged"] as? Int == 0)
            #expect(report["keysNotFound"] as? Int == 2)
            #expect(report["duplicateKeys"] as? Int == 0)
            #expect(report["chunks"] as? Int == 3)
            #expect(Set(report["notFoundExamples"] as? [String] ?? []) == ["98", "99"])
            let committed = try #require(report["committedChunks"] as? [[String: Any]])
            #expect(committed.count == 3)
            #expect(committed.compactMap { $0["rows"] as? Int }.reduce(0, +) == 5)
            #expect(report["error"] == nil)
            #expect(
                try target.contents() == [
                    ["1", "A", nil], ["2", "B", nil], ["3", "C", nil], ["4", "dave", nil],
                ]
            )
        }
    }

    // 9.
    @Test("--skip-unchanged: a second identical apply changes nothing", arguments: BackendStrategy.all)
    func skipUnchanged(_ run: BackendStrategy) throws {
        try ApplyTarget.with(
            run.backend,
            columns: Self.usersColumns,
            rows: "(1, 'alice', 'a@example.com'), (2, 'bob', 'b@example.com'), (3, 'carol', 'c@example.com')"
        ) { target in
            let path = try target.write(
                "changes.csv",
                "id,username,email\n1,ALICE,a@example.com\n2,bob,\\N\n3,carol,c@example.com\n"
            )
            let arguments = ["--input", path, "--strategy", run.strategy]
            let first = try target.apply(arguments + ["--skip-unchanged"])
            #expect(first.status == 0, streams(first))
            #expect(first.standardOutput.contains("rows read 3, matched 3, changed 2, unchanged 1"), streams(first))
            let after = try target.contents()
            #expect(after == [["1", "ALICE", "a@example.com"], ["2", "bob", nil], ["3", "carol", "c@example.com"]])

            let second = try target.apply(arguments + ["--skip-unchanged"])
            #expect(second.status == 0, streams(second))
            #expect(second.standardOutput.contains("rows read 3, matched 3, changed 0, unchanged 3"), streams(second))
            #expect(try target.contents() == after)

            let rewrite = try target.apply(arguments)
            #expect(rewrite.status == 0, streams(rewrite))
            #expect(rewrite.standardOutput.contains("rows read 3, matched 3, changed 3, unchanged 0"), streams(rewrite))
            #expect(try target.contents() == after)
        }
    }

    // 10.
    @Test(
        "a repeated key: --on-duplicate error names both lines; by default the last row wins",
        arguments: ApplyBackend.enabled
    )
    func duplicateKeys(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: "(1, 'alice', 'a@example.com'), (2, 'bob', 'b@example.com'), (3, 'carol', NULL)"
        ) { target in
            let before = try target.contents()
            let csv = "id,username,email\n1,first,x@example.com\n2,B,\\N\n1,second,\\N\n"
            let path = try target.write("dup.csv", csv)

            let strict = try target.apply(["--input", path, "--on-duplicate", "error"])
            #expect(strict.status == 65, streams(strict))
            #expect(
                strict.standardError.contains("key 1 appears more than once in the input (input lines 2 and 4)"),
                streams(strict)
            )
            #expect(strict.standardError.contains("nothing was written"), streams(strict))
            #expect(try target.contents() == before)

            // From standard input the repeat is found while writing. With one worker every row is in the one chunk
            // that fails, so nothing is committed. (With several workers another worker's chunk may already be
            // committed: exit 75, as for any bad line in standard input.)
            let piped = try target.apply(
                ["--input", "-", "--on-duplicate", "error", "--workers", "1"],
                standardInput: Data(csv.utf8)
            )
            #expect(piped.status == 65, streams(piped))
            #expect(piped.standardError.contains("(input lines 2 and 4)"), streams(piped))
            #expect(try target.contents() == before)

            let lastWins = try target.apply(["--input", path])
            #expect(lastWins.status == 0, streams(lastWins))
            #expect(lastWins.standardOutput.contains("rows read 3, matched 2, changed 2"), streams(lastWins))
            #expect(lastWins.standardOutput.contains("duplicate keys 1"), streams(lastWins))
            #expect(try target.contents() == [["1", "second", nil], ["2", "B", nil], ["3", "carol", nil]])

            // Across chunks (one row per chunk) the later row is applied later, so it still wins.
            let csv2 = "id,username,email\n3,early,\\N\n3,late,late@example.com\n"
            let chunked = try target.apply(
                ["--input", try target.write("dup2.csv", csv2), "--chunk-size", "1", "--workers", "1"]
            )
            #expect(chunked.status == 0, streams(chunked))
            #expect(chunked.standardOutput.contains("(+1 rewritten in later chunks)"), streams(chunked))
            #expect(try target.contents()[2] == ["3", "late", "late@example.com"])
        }
    }

    // 11.
    @Test("--key on a UNIQUE column with --columns: other input columns are ignored", arguments: ApplyBackend.enabled)
    func uniqueKeyAndColumnSubset(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: "id integer primary key, username varchar(150) not null unique, email text, note text",
            rows: "(1, 'alice', 'a@example.com', 'n1'), (2, 'bob', 'b@example.com', 'n2'), (3, 'carol', NULL, 'n3')"
        ) { target in
            let csv = "note,email,username,id\nchanged,alice@new.example,alice,999\nchanged,\\N,bob,998\nx,y,nobody,1\n"
            let path = try target.write("by-name.csv", csv)
            let result = try target.apply(["--input", path, "--key", "username", "--columns", "email"])
            #expect(result.status == 0, streams(result))
            #expect(result.standardOutput.contains("key (username), set (email)"), streams(result))
            #expect(result.standardOutput.contains("rows read 3, matched 2, changed 2"), streams(result))
            #expect(result.standardOutput.contains("keys not found 1"), streams(result))
            #expect(result.standardOutput.contains("'nobody'"), streams(result))
            let expected: [[String?]] = [
                ["1", "alice", "alice@new.example", "n1"],
                ["2", "bob", nil, "n2"],
                ["3", "carol", nil, "n3"],
            ]
            #expect(try target.contents() == expected)

            // The same from JSON Lines: members other than the key and --columns are ignored.
            let jsonl = #"{"id": 7, "username": "carol", "email": "carol@new.example", "note": "ignored"}"# + "\n"
            let named = try target.apply(
                ["--input", try target.write("by-name.jsonl", jsonl), "--key", "username", "--columns", "email"]
            )
            #expect(named.status == 0, streams(named))
            #expect(try target.contents()[2] == ["3", "carol", "carol@new.example", "n3"])

            // A key that is not unique is refused before anything is read.
            let notUnique = try target.apply(["--input", path, "--key", "note", "--columns", "email"])
            #expect(notUnique.status == 65, streams(notUnique))
            #expect(notUnique.standardError.contains("key (note) is not unique"), streams(notUnique))
        }
    }

    @Test("JSON Lines with --columns: a member first seen after line 1 is ignored too", arguments: ApplyBackend.enabled)
    func jsonLinesColumnsIgnoreLaterMembers(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: "(1, 'alice', 'a@example.com'), (2, 'bob', 'b@example.com')"
        ) { target in
            let jsonl = """
                {"id": 1, "username": "ALICE"}
                {"id": 2, "username": "BOB", "email": "not to be set"}

                """
            let result = try target.apply(["--input", try target.write("later.jsonl", jsonl), "--columns", "username"])
            let contents = try target.contents()
            #expect(result.status == 0, streams(result))
            #expect(contents == [["1", "ALICE", "a@example.com"], ["2", "BOB", "b@example.com"]])
        }
    }

    // 12.
    @Test("no --database and no DATABASE_URL: a clear error")
    func missingDatabase() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ApplyCommandTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("changes.csv").path
        try Data("id,username\n1,a\n".utf8).write(to: URL(fileURLWithPath: path))

        // Executable.run removes DATABASE_URL from the environment.
        let result = try Executable.run(["apply", "--table", "users", "--input", path])
        #expect(result.status == 64, streams(result))
        #expect(result.standardError.contains("DATABASE_URL"), streams(result))
        #expect(result.standardError.contains("no database"), streams(result))

        let empty = try Executable.run(
            ["apply", "--table", "users", "--input", path],
            environment: ["DATABASE_URL": ""]
        )
        #expect(empty.status == 64, streams(empty))
        #expect(empty.standardError.contains("DATABASE_URL"), streams(empty))
    }

    @Test("DATABASE_URL stands in for --database", arguments: ApplyBackend.enabled)
    func databaseFromEnvironment(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(backend, columns: Self.usersColumns, rows: "(1, 'alice', NULL)") { target in
            let path = try target.write("changes.csv", "id,username,email\n1,ALICE,\\N\n")
            let result = try Executable.run(
                ["apply", "--table", target.table, "--input", path],
                environment: ["DATABASE_URL": target.database]
            )
            #expect(result.status == 0, streams(result))
            #expect(try target.contents() == [["1", "ALICE", nil]])
        }
    }

    @Test(
        "a file read once (rows kept after the check) and a file read twice give the same chunks and table",
        arguments: ApplyBackend.enabled
    )
    func keptAndRereadFilesAgree(_ backend: ApplyBackend) throws {
        let rows = 3_000
        try ApplyTarget.with(backend, columns: "id integer PRIMARY KEY, v text NOT NULL") { target in
            var values: [String] = []
            for id in 1...rows { values.append("(\(id), 'old')") }
            try target.execute("INSERT INTO \(target.table) VALUES " + values.joined(separator: ", "))
            var csv = "id,v\n"
            // Out of key order, so that sorting and routing matter.
            for id in (1...rows).reversed() { csv += "\(id),new \(id)\n" }
            let input = try target.write("changes.csv", csv)
            var committed: [[String]] = []
            var fingerprints: [[[String?]]] = []
            // BULK_UPDATE_KEPT_FILE_LIMIT=0: the file is read again for the write; unset: the checked rows are kept.
            for limit in ["0", nil] {
                let runID = "kept-\(limit ?? "default")-" + UUID().uuidString.prefix(8).lowercased()
                try target.execute("UPDATE \(target.table) SET v = 'old'")
                let reportPath = target.path("report-\(limit ?? "kept").json")
                var environment = ["DATABASE_URL": ""]
                if let limit { environment["BULK_UPDATE_KEPT_FILE_LIMIT"] = limit }
                let result = try Executable.run(
                    [
                        "apply", "--database", target.database, "--table", target.table, "--input", input,
                        "--chunk-size", "500", "--workers", "2", "--report", reportPath, "--run-id", runID,
                    ],
                    environment: environment
                )
                #expect(result.status == 0, streams(result))
                #expect(result.standardOutput.contains("rows read 3000, matched 3000, changed 3000"), streams(result))
                let contents = try target.contents()
                #expect(contents.count == rows)
                #expect(contents.allSatisfy { $0[1] == "new \($0[0] ?? "")" })
                let report = try readReport(reportPath)
                let chunks = try #require(report["committedChunks"] as? [[String: Any]])
                committed.append(
                    chunks.map {
                        "\($0["worker"] ?? "")/\($0["number"] ?? ""): \($0["firstKey"] ?? "")..\($0["lastKey"] ?? "")"
                    }
                )
                // Every chunk's fingerprint (all its values, in order) as the journal recorded it.
                let sql =
                    "SELECT worker, chunk, rows, fingerprint FROM bulk_update_journal WHERE run_id = '\(runID)'"
                    + " ORDER BY worker, chunk"
                fingerprints.append(
                    backend == .sqlite
                        ? try PythonSQLite.query(target.database, sql)
                        : try ApplyKillResumeTests.psql(target.database, sql)
                )
            }
            #expect(committed.count == 2)
            #expect(committed[0].count >= 6)
            #expect(committed.first == committed.last)
            #expect(fingerprints[0].count == committed[0].count)
            #expect(fingerprints.first == fingerprints.last)
        }
    }

    @Test("an unknown strategy: exit 64 with the list of strategies")
    func unknownStrategy() throws {
        let result = try Executable.run(
            ["apply", "--database", "unused.db", "--table", "users", "--input", "changes.csv", "--strategy", "fastest"]
        )
        #expect(result.status == 64, streams(result))
        #expect(result.standardError.contains("unknown strategy 'fastest'"), streams(result))
        #expect(result.standardError.contains("auto, unnest, values, caseWhen, tempTable"), streams(result))
        #expect(!FileManager.default.fileExists(atPath: "unused.db"))
    }

    // 13.
    @Test(
        "--quiet: only a generated run id on standard error (a killed quiet run can be resumed), nothing else",
        arguments: ApplyBackend.enabled
    )
    func quiet(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: Self.usersColumns,
            rows: (1...50).map { "(\($0), 'user\($0)', NULL)" }.joined(separator: ", ")
        ) { target in
            var csv = "id,username,email\n"
            for id in 1...50 { csv += "\(id),USER\(id),\\N\n" }
            let path = try target.write("changes.csv", csv)
            let result = try target.apply(["--input", path, "--quiet", "--chunk-size", "7"])
            #expect(result.status == 0, streams(result))
            let lines = result.standardError.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("run "), streams(result))
            #expect(result.standardOutput.contains("rows read 50, matched 50, changed 50"), streams(result))
            // The printed id is the run's id, as the summary and the journal know it.
            let runID = String(lines.first?.dropFirst("run ".count) ?? "")
            #expect(result.standardOutput.contains("run \(runID)"), streams(result))

            let piped = try target.apply(
                ["--input", "-", "--quiet", "--chunk-size", "7", "--run-id", "chosen-\(target.table)"],
                standardInput: Data(csv.utf8)
            )
            #expect(piped.status == 0, streams(piped))
            #expect(piped.standardError.isEmpty, streams(piped))
            #expect(piped.standardOutput.contains("rows read 50, matched 50, changed 50"), streams(piped))
            #expect(try target.contents().map { $0[1] } == (1...50).map { "USER\($0)" })
        }
    }
}

// MARK: - Killed and resumed

@Suite("bulk-update apply: killed with SIGKILL and resumed", .serialized, .timeLimit(.minutes(4)))
struct ApplyKillResumeTests {
    /// Starts `apply` in the background, kills it with SIGKILL after `delay`, and waits for it.
    /// - Returns: Whether it had finished on its own before the kill.
    fileprivate static func runAndKill(_ target: ApplyTarget, _ arguments: [String], after delay: Duration) throws
        -> Bool
    {
        let process = Process()
        process.executableURL = Executable.url
        process.arguments = ["apply", "--database", target.database, "--table", target.table, "--quiet"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = nil
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + delay
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        let finished = !process.isRunning
        if !finished { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return finished && process.terminationStatus == 0
    }

    @Test(
        "10 kills at random points, each run resumed: the final table is exact and no chunk was applied twice",
        arguments: ApplyBackend.enabled
    )
    func killAndResume(_ backend: ApplyBackend) throws {
        let rows = backend == .postgres ? 200_000 : 100_000
        try ApplyTarget.with(backend, columns: "id integer PRIMARY KEY, v text NOT NULL") { target in
            switch backend {
            case .sqlite:
                try target.execute(
                    "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < \(rows))"
                        + " INSERT INTO \(target.table) SELECT i, 'old' FROM g"
                )
            case .postgres:
                try target.execute("INSERT INTO \(target.table) SELECT g, 'old' FROM generate_series(1, \(rows)) g")
            }
            var csv = "id,v\n"
            csv.reserveCapacity(rows * 16)
            for id in 1...rows { csv += "\(id),new \(id)\n" }
            let input = try target.write("changes.csv", csv)
            let runID = "kill-" + UUID().uuidString.prefix(8).lowercased()
            let options = ["--input", input, "--chunk-size", "2000", "--workers", "2"]
            var generator = SystemRandomNumberGenerator()
            var started = false
            var kills = 0
            var finished = false
            while kills < 10 && !finished {
                // A kill that lands after the run recorded its end (while it prints its report and closes) leaves a
                // finished run, which has nothing left to resume.
                if started, try Self.journal(target, runID).finished {
                    finished = true
                    break
                }
                // Resume once the run exists; before that (killed while checking the file) start it again.
                let arguments = options + (started ? ["--resume", runID] : ["--run-id", runID])
                let delay = Duration.milliseconds(Int.random(in: 100...900, using: &generator))
                finished = try Self.runAndKill(target, arguments, after: delay)
                if !finished { kills += 1 }
                if !started { started = try Self.runExists(target, runID) }
            }
            if !finished, !(try started && Self.journal(target, runID).finished) {
                let arguments = options + (started ? ["--resume", runID] : ["--run-id", runID])
                let result = try target.apply(arguments + ["--quiet"])
                #expect(result.status == 0, streams(result))
            }
            // Row by row.
            let contents = try target.contents()
            #expect(contents.count == rows)
            let wrong = contents.filter { $0[1] != "new \($0[0] ?? "")" }
            #expect(wrong.isEmpty, "\(wrong.count) rows differ, e.g. \(wrong.prefix(3))")
            // The journal holds every chunk once: its rows add up to the input exactly.
            let journal = try Self.journal(target, runID)
            #expect(journal.rows == rows, "journal: \(journal)")
            #expect(journal.entries == journal.distinct)
            #expect(journal.finished)
        }
    }

    fileprivate static func runExists(_ target: ApplyTarget, _ runID: String) throws -> Bool {
        let sql = "SELECT count(*) FROM bulk_update_runs WHERE run_id = '\(runID)'"
        let hasTable =
            target.backend == .sqlite
            ? try PythonSQLite.query(
                target.database,
                "SELECT count(*) FROM sqlite_schema WHERE name = 'bulk_update_runs'"
            )
            : try Self.psql(target.database, "SELECT count(*) FROM pg_tables WHERE tablename = 'bulk_update_runs'")
        guard hasTable.first?.first == "1" else { return false }
        let count =
            target.backend == .sqlite
            ? try PythonSQLite.query(target.database, sql) : try Self.psql(target.database, sql)
        return count.first?.first == "1"
    }

    fileprivate static func journal(_ target: ApplyTarget, _ runID: String) throws -> (
        entries: Int, distinct: Int, rows: Int, finished: Bool
    ) {
        let sql =
            "SELECT count(*), count(DISTINCT worker * 1000000 + chunk), coalesce(sum(rows), 0),"
            + " (SELECT count(*) FROM bulk_update_runs WHERE run_id = '\(runID)' AND finished_at IS NOT NULL)"
            + " FROM bulk_update_journal WHERE run_id = '\(runID)'"
        let row =
            (target.backend == .sqlite
            ? try PythonSQLite.query(target.database, sql) : try Self.psql(target.database, sql))
            .first ?? []
        func number(_ index: Int) -> Int { Int(row.count > index ? row[index] ?? "" : "") ?? -1 }
        return (number(0), number(1), number(2), number(3) == 1)
    }

    static func psql(_ url: String, _ sql: String) throws -> [[String?]] {
        let output = try Tool.check(["psql", url, "-X", "-A", "-t", "-F", "\t", "-c", sql])
        return output.split(separator: "\n").map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }
}
