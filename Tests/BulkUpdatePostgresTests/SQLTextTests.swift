import BulkUpdate
import Foundation
import PostgresNIO
import Testing

@testable import BulkUpdatePostgres

/// SQL text built from a plan, and connection URL parsing: no database needed.
@Suite("SQL text")
struct SQLTextTests {
    private static let integer = ColumnType(kind: .int32, sqlName: "integer")
    private static let varchar = ColumnType(
        kind: .text,
        sqlName: "character varying",
        displayName: "character varying(150)",
        maximumLength: 150
    )

    private static func statements(
        table: BulkUpdateTableName = BulkUpdateTableName(schema: "public", name: "users"),
        columns: [ColumnSchema] = [
            ColumnSchema(name: "id", type: integer, isNullable: false),
            ColumnSchema(name: "username", type: varchar, isNullable: true),
        ],
        key: [String] = ["id"],
        set: [String] = ["username"],
        skipUnchanged: Bool = false
    ) throws -> PostgresStatements {
        let schema = TableSchema(name: table, columns: columns, primaryKey: key, uniqueKeys: [key])
        let options = BulkUpdateOptions(skipUnchanged: skipUnchanged)
        let plan = try UpdatePlan(table: schema, keyColumns: key, setColumns: set, options: options)
        return PostgresStatements(plan: plan)
    }

    /// The text PostgreSQL is sent for `sql`.
    static func text(_ sql: SQL) -> String { PostgresStatement(sql).text }

    // MARK: a chunk's transaction

    @Test func chunkTransactionSettings() {
        var options = BulkUpdateOptions()
        options.statementTimeout = .seconds(2)
        options.lockTimeout = .milliseconds(250)
        let (chunk, chunkBinds) = PostgresChunkExecutor.transactionSettings(options, indexJoins: true)
        // Index joins only, and generic plans: a custom plan of a partitioned table's UPDATE costs 3–4 times as much.
        #expect(
            Self.text(chunk)
                == "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true),"
                + " set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true),"
                + " set_config('plan_cache_mode', 'force_generic_plan', true), set_config('DateStyle', 'ISO', true),"
                + " set_config('extra_float_digits', '3', true), set_config('bytea_output', 'hex', true),"
                + " set_config('array_nulls', 'on', true), set_config('xmloption', 'content', true)"
        )
        #expect(chunkBinds.count == 2)
        // An atomic run's one statement is planned for the whole stage, as PostgreSQL sees fit.
        let (atomic, _) = PostgresChunkExecutor.transactionSettings(BulkUpdateOptions(), indexJoins: false)
        // Values the server writes as text read back exactly, whatever the role sets.
        #expect(
            Self.text(atomic)
                == "SELECT set_config('statement_timeout', $1, true), set_config('DateStyle', 'ISO', true),"
                + " set_config('extra_float_digits', '3', true), set_config('bytea_output', 'hex', true),"
                + " set_config('array_nulls', 'on', true), set_config('xmloption', 'content', true)"
        )
    }

    // MARK: unnest

    @Test func unnestUpdate() throws {
        let statements = try Self.statements()
        #expect(
            Self.text(statements.unnestSource)
                == #"unnest($1::integer[], $2::character varying[]) AS u("id", "username")"#
        )
        #expect(
            Self.text(statements.update(from: statements.unnestSource))
                == #"UPDATE "public"."users" AS t SET "username" = u."username" FROM "#
                + #"unnest($1::integer[], $2::character varying[]) AS u("id", "username") WHERE t."id" = u."id""#
        )
    }

    @Test func unnestUpdateSkippingUnchangedRows() throws {
        let statements = try Self.statements(skipUnchanged: true)
        #expect(
            Self.text(statements.update(from: statements.unnestSource))
                == #"WITH u AS (SELECT * FROM unnest($1::integer[], $2::character varying[]) AS u("id", "username")), "#
                + #"w AS (UPDATE "public"."users" AS t SET "username" = u."username" FROM u WHERE t."id" = u."id""#
                + #" AND (t."username" IS DISTINCT FROM u."username") RETURNING 1) "#
                + #"SELECT (SELECT count(*) FROM w)::int8, "#
                + #"(SELECT count(*) FROM "public"."users" AS t JOIN u ON t."id" = u."id")::int8"#
        )
    }

    @Test func jsonColumnsAreComparedAsText() throws {
        let statements = try Self.statements(
            columns: [
                ColumnSchema(name: "id", type: Self.integer, isNullable: false),
                ColumnSchema(name: "doc", type: ColumnType(kind: .json, sqlName: "json"), isNullable: true),
                ColumnSchema(name: "tags", type: ColumnType(kind: .jsonb, sqlName: "jsonb"), isNullable: true),
            ],
            set: ["doc", "tags"],
            skipUnchanged: true
        )
        #expect(
            Self.text(statements.sql.changed)
                == #"t."doc"::text IS DISTINCT FROM u."doc"::text OR t."tags" IS DISTINCT FROM u."tags""#
        )
    }

    // MARK: Quoting

    @Test func identifiersWithQuotesAreDoubled() throws {
        let statements = try Self.statements(
            table: BulkUpdateTableName(schema: "My Schema", name: #"Order "Lines""#),
            columns: [
                ColumnSchema(name: #"line "id""#, type: Self.integer, isNullable: false),
                ColumnSchema(name: #"say "hi""#, type: ColumnType(kind: .text, sqlName: "text"), isNullable: true),
            ],
            key: [#"line "id""#],
            set: [#"say "hi""#]
        )
        #expect(Self.text(statements.sql.table) == #""My Schema"."Order ""Lines""""#)
        #expect(
            Self.text(statements.update(from: statements.unnestSource))
                == #"UPDATE "My Schema"."Order ""Lines""" AS t SET "say ""hi""" = u."say ""hi""" FROM "#
                + #"unnest($1::integer[], $2::text[]) AS u("line ""id""", "say ""hi""") "#
                + #"WHERE t."line ""id""" = u."line ""id""""#
        )
    }

    @Test func quoteDoublesEveryQuote() {
        #expect(SQLIdentifier.quote("plain") == #""plain""#)
        #expect(SQLIdentifier.quote(#"a"b"#) == #""a""b""#)
        #expect(SQLIdentifier.quote(#""""#) == #""""""""#)
        #expect(SQLIdentifier.quote("") == #""""#)
    }

    // MARK: VALUES

    @Test func valuesSourceForTwoRows() throws {
        let statements = try Self.statements()
        #expect(
            Self.text(statements.sql.valuesSource(rows: 2))
                == #"(SELECT column1 AS "id", column2 AS "username" FROM "#
                + #"(VALUES ($1::integer, $2::character varying), ($3::integer, $4::character varying)) AS v) AS u"#
        )
        #expect(
            Self.text(statements.update(from: statements.sql.valuesSource(rows: 1)))
                == #"UPDATE "public"."users" AS t SET "username" = u."username" FROM "#
                + #"(SELECT column1 AS "id", column2 AS "username" FROM "#
                + #"(VALUES ($1::integer, $2::character varying)) AS v) AS u WHERE t."id" = u."id""#
        )
    }

    @Test func rowsPerStatementRespectsTheParameterLimit() throws {
        #expect(try Self.statements().rowsPerStatement == 32_767)
        #expect(PostgresStatements.maximumParameters == 65_535)
    }

    // MARK: CASE WHEN

    @Test func caseWhenForTwoRows() throws {
        let statements = try Self.statements()
        #expect(
            Self.text(statements.caseWhen(rows: 2))
                == #"UPDATE "public"."users" SET "username" = CASE"#
                + #" WHEN ("id" = $1::integer) THEN $2::character varying"#
                + #" WHEN ("id" = $3::integer) THEN $4::character varying"#
                + #" ELSE "username" END WHERE "id" IN ($1::integer, $3::integer)"#
        )
    }

    @Test func caseWhenWithCompositeKeyAndTwoSetColumns() throws {
        let text = ColumnType(kind: .text, sqlName: "text")
        let statements = try Self.statements(
            columns: [
                ColumnSchema(name: "org", type: Self.integer, isNullable: false),
                ColumnSchema(name: "code", type: text, isNullable: false),
                ColumnSchema(name: "a", type: text, isNullable: true),
                ColumnSchema(name: "b", type: Self.integer, isNullable: true),
            ],
            key: ["org", "code"],
            set: ["a", "b"]
        )
        let first = #"("org" = $1::integer AND "code" = $2::text)"#
        let second = #"("org" = $5::integer AND "code" = $6::text)"#
        #expect(
            Self.text(statements.caseWhen(rows: 2))
                == #"UPDATE "public"."users" SET "#
                + #""a" = CASE WHEN \#(first) THEN $3::text WHEN \#(second) THEN $7::text ELSE "a" END, "#
                + #""b" = CASE WHEN \#(first) THEN $4::integer WHEN \#(second) THEN $8::integer ELSE "b" END "#
                + #"WHERE ("org", "code") IN (($1::integer, $2::text), ($5::integer, $6::text))"#
        )
    }

    @Test func caseWhenSkippingUnchangedRows() throws {
        let statements = try Self.statements(skipUnchanged: true)
        let value = #"CASE WHEN ("id" = $1::integer) THEN $2::character varying ELSE "username" END"#
        #expect(
            Self.text(statements.caseWhen(rows: 1))
                == #"WITH w AS (UPDATE "public"."users" SET "username" = \#(value) WHERE "id" IN ($1::integer)"#
                + #" AND ("username" IS DISTINCT FROM (\#(value))) RETURNING 1) "#
                + #"SELECT (SELECT count(*) FROM w)::int8, "#
                + #"(SELECT count(*) FROM "public"."users" WHERE "id" IN ($1::integer))::int8"#
        )
    }

    // MARK: Not-found lookup

    @Test func notFoundLookupBindsOnlyTheKeyArrays() throws {
        let statements = try Self.statements()
        #expect(
            Self.text(statements.notFoundLookup)
                == #"SELECT u."bulk_update ordinal"::int8 FROM unnest($1::integer[]) WITH ORDINALITY"#
                + #" AS u("id", "bulk_update ordinal") WHERE NOT EXISTS"#
                + #" (SELECT 1 FROM "public"."users" AS t WHERE t."id" = u."id")"#
                + #" ORDER BY u."bulk_update ordinal" LIMIT 10"#
        )
    }
}

/// `PostgresURL`: parsing, defaults, and that the password never appears in text.
@Suite("PostgresURL")
struct PostgresURLTests {
    @Test func parsesEveryPart() throws {
        let url = try Self.url("postgres://u:p%40ss@h:5433/db?sslmode=disable")
        #expect(url.host == "h")
        #expect(url.port == 5433)
        #expect(url.username == "u")
        #expect(url.password == "p@ss")
        #expect(url.database == "db")
        #expect(url.sslMode == .disable)
    }

    @Test func defaults() throws {
        let url = try Self.url("postgresql://alice@db.example.com")
        #expect(url.host == "db.example.com")
        #expect(url.port == 5432)
        #expect(url.username == "alice")
        #expect(url.password == nil)
        #expect(url.database == nil)
        #expect(url.sslMode == .prefer)
        #expect(url.applicationName == "bulk-update")
        #expect(url.connectTimeout == .seconds(10))
    }

    @Test(arguments: PostgresURL.SSLMode.allCases)
    func everySSLModeParses(mode: PostgresURL.SSLMode) throws {
        #expect(try Self.url("postgres://u@h/db?sslmode=\(mode.rawValue)").sslMode == mode)
    }

    @Test func percentEncodedUserAndDatabaseAreDecoded() throws {
        let url = try Self.url("postgres://us%20er:pw@h/my%20db")
        #expect(url.username == "us er")
        #expect(url.database == "my db")
    }

    @Test func literalPercentSequencesAreDecodedOnlyOnce() throws {
        // `%2541` is the encoding of the four characters `%41`; decoding it twice would give `A`.
        let url = try Self.url("postgres://u%2541:a%2541@h/d%2541")
        #expect(url.password == "a%41")
        #expect(url.username == "u%41")
        #expect(url.database == "d%41")
    }

    @Test func ipv6HostLosesItsBrackets() throws {
        let url = try Self.url("postgres://u@[::1]:5433/db")
        #expect(url.port == 5433)
        // The host is handed to the driver, which resolves it; the brackets are URL syntax only.
        #expect(url.host == "::1")
    }

    @Test func descriptionHidesThePassword() throws {
        let url = try Self.url("postgres://u:p%40ss@h:5433/db?sslmode=disable")
        #expect(url.description == "postgres://u:***@h:5433/db?sslmode=disable")
        #expect(!url.description.contains("p@ss"))
        #expect(!url.description.contains("p%40ss"))
        #expect(!String(describing: url).contains("p@ss"))
    }

    @Test func descriptionWithoutPassword() throws {
        let url = try Self.url("postgres://u@h/db")
        #expect(url.description == "postgres://u@h:5432/db?sslmode=prefer")
    }

    /// Parses `text` with an empty environment and no socket directories, so the process's own `PG…` variables
    /// and servers do not leak in.
    static func url(_ text: String, environment: [String: String] = [:]) throws -> PostgresURL {
        try PostgresURL(text, environment: environment, socketDirectories: [])
    }

    private static func failure(
        _ text: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> BulkUpdateError? {
        #expect(throws: BulkUpdateError.self, "\(text)", sourceLocation: sourceLocation) {
            try Self.url(text)
        }
    }

    @Test(arguments: [
        ("mysql://u:s3cretPW@h/db", "the scheme must be postgres:// or postgresql://"),
        ("postgres://u:s3cretPW@h/db?port=x", "port 'x' is not a number"),
        ("postgres://u:s3cretPW@h/db?connect_timeout=-1", "connect_timeout '-1' is not a whole number"),
        ("postgres://u:s3cretPW@h:70000/db", "port 70000 is out of range"),
        ("postgres://u:s3cretPW@h/db?timeout=5", "unknown parameter 'timeout'"),
        ("not a url at all", "database URL is not valid"),
    ])
    func invalidURLsAreRejected(text: String, reason: String) {
        let error = Self.failure(text)
        #expect(error?.code == .configuration)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "no error")")
        #expect(error?.message.contains("s3cretPW") == false)
    }

    @Test("what the URL leaves out comes from libpq's environment variables")
    func environmentFillsTheGaps() throws {
        let environment = [
            "PGHOST": "db.internal", "PGPORT": "6543", "PGUSER": "backfill", "PGPASSWORD": "from-env",
            "PGDATABASE": "shop", "PGSSLMODE": "require", "PGAPPNAME": "nightly-fix", "PGCONNECT_TIMEOUT": "3",
        ]
        let url = try Self.url("postgres://", environment: environment)
        #expect(url.host == "db.internal")
        #expect(url.port == 6543)
        #expect(url.username == "backfill")
        #expect(url.password == "from-env")
        #expect(url.database == "shop")
        #expect(url.sslMode == .require)
        #expect(url.applicationName == "nightly-fix")
        #expect(url.connectTimeout == .seconds(3))
        // The URL wins over the environment, part by part.
        let given = try Self.url(
            "postgres://u:p@h:1234/db?sslmode=disable&application_name=x",
            environment: environment
        )
        #expect([given.host, given.username, given.password, given.database] == ["h", "u", "p", "db"])
        #expect(given.port == 1234 && given.sslMode == .disable && given.applicationName == "x")
    }

    @Test("query parameters name every part, a host starting with / is a socket directory")
    func queryParameters() throws {
        let url = try Self.url("postgresql:///?host=/run/pg&port=5433&user=a&password=b&dbname=c&connect_timeout=0")
        #expect(url.isUnixSocket)
        #expect(url.host == "/run/pg" && url.port == 5433)
        #expect(url.username == "a" && url.password == "b" && url.database == "c")
        #expect(url.connectTimeout == nil)
        #expect(url.configuration.unixSocketPath == "/run/pg/.s.PGSQL.5433")
        #expect(url.description == "postgres://a:***@/c?host=/run/pg&port=5433")
        // As libpq does, a connect timeout under 2 seconds is 2 seconds.
        #expect(try Self.url("postgres://u@h/db?connect_timeout=1").connectTimeout == .seconds(2))
    }

    @Test("with no user anywhere, the operating-system user is used")
    func operatingSystemUser() throws {
        let url = try Self.url("postgres://h/db")
        #expect(url.username == PostgresURL.operatingSystemUser())
        #expect(!url.username.isEmpty)
    }

    @Test(
        "the password file: first matching line, wildcards, escapes, localhost for sockets, ignored if readable by others"
    )
    func passwordFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("pgpass").path
        try #"""
        # comment
        other:5432:*:app:wrong
        db.internal:5432:shop:app:first
        db.internal:*:*:app:second
        localhost:5432:*:sock:pa\:ss\\word
        *:*:*:*:fallback
        """#.write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        let environment = ["PGPASSFILE": file]
        #expect(try Self.url("postgres://app@db.internal/shop", environment: environment).password == "first")
        #expect(try Self.url("postgres://app@db.internal:7000/x", environment: environment).password == "second")
        #expect(
            try Self.url("postgresql:///d?host=/run/pg&user=sock", environment: environment).password == "pa:ss\\word"
        )
        #expect(try Self.url("postgres://zed@elsewhere/d", environment: environment).password == "fallback")
        // A password given anywhere else wins over the file.
        #expect(try Self.url("postgres://app:given@db.internal/shop", environment: environment).password == "given")
        #expect(
            try Self.url(
                "postgres://app@db.internal/shop",
                environment: environment.merging(["PGPASSWORD": "env"]) { $1 }
            )
            .password == "env"
        )
        // libpq ignores a password file that others may read.
        chmod(file, 0o644)
        #expect(try Self.url("postgres://app@db.internal/shop", environment: environment).password == nil)
        // $HOME/.pgpass when PGPASSFILE is not set.
        let home = directory.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        try "*:*:*:*:from-home\n".write(
            toFile: home.appendingPathComponent(".pgpass").path,
            atomically: true,
            encoding: .utf8
        )
        chmod(home.appendingPathComponent(".pgpass").path, 0o600)
        #expect(try Self.url("postgres://a@h/d", environment: ["HOME": home.path]).password == "from-home")
    }

    @Test func badSSLModeIsNamedWithoutThePassword() {
        let error = Self.failure("postgres://u:s3cretPW@h/db?sslmode=bogus")
        #expect(error?.code == .configuration)
        let message = error?.message ?? ""
        #expect(message.contains("sslmode 'bogus' is not one of disable, prefer, require, verify-full"), "\(message)")
        #expect(!message.contains("s3cretPW"))
        #expect(!(error.map(String.init(describing:)) ?? "").contains("s3cretPW"))
    }
}
