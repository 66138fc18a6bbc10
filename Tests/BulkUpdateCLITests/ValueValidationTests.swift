import Foundation
import Testing

/// Every value the table would refuse is refused before the first write, and what is written is what was given:
/// no silent change (an overflow to infinity, a NaN turned NULL, a label that is not an enum's).
@Suite("apply: values are checked before anything is written", .timeLimit(.minutes(3)))
struct ValueValidationTests {
    /// Rows of `SELECT expressions FROM table ORDER BY id`, each expression as text (NULL as nil).
    static func texts(_ target: ApplyTarget, _ expressions: [String]) throws -> [[String?]] {
        let list = expressions.joined(separator: ", ")
        let sql = "SELECT coalesce(json_agg(json_build_array(\(list)) ORDER BY id), '[]') FROM \(target.table)"
        return try decodeRows(try Tool.check(["psql", target.database, "-X", "-q", "-At", "-c", sql]))
    }

    static func md5(_ target: ApplyTarget) throws -> String {
        try Tool.check([
            "psql", target.database, "-X", "-q", "-At", "-c",
            "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM \(target.table) t",
        ])
    }

    @Test("an enum label the type lacks at row 900 of 1,000 (chunks of 100): exit 65, nothing written, dry run too")
    func enumLabel() throws {
        let type = "bu_mood_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
        try ApplyTarget.with(.postgres, columns: "id integer primary key") { target in
            try target.execute(
                "CREATE TYPE \(type) AS ENUM ('sad', 'ok', 'happy'); ALTER TABLE \(target.table) ADD COLUMN mood \(type);"
                    + " INSERT INTO \(target.table) SELECT g, 'ok' FROM generate_series(1, 1000) g"
            )
            defer { try? target.execute("DROP TABLE IF EXISTS \(target.table); DROP TYPE IF EXISTS \(type)") }
            let before = try Self.md5(target)
            var csv = "id,mood\n"
            for id in 1...1000 { csv += "\(id),\(id == 900 ? "ecstatic" : "happy")\n" }
            let input = try target.write("moods.csv", csv)
            for extra in [[], ["--dry-run"]] {
                let result = try target.apply(["--input", input, "--chunk-size", "100"] + extra)
                #expect(result.status == 65, streams(result))
                #expect(result.standardError.contains("input line 901"), streams(result))
                #expect(result.standardError.contains("not a label of enum \(type)"), streams(result))
                #expect(result.standardError.contains("'sad', 'ok', 'happy'"), streams(result))
                #expect(try Self.md5(target) == before)
            }
        }
    }

    @Test("numeric(p,s), char(n), bit(n), varbit(n) and float limits are checked as PostgreSQL checks them")
    func typeLimits() throws {
        try ApplyTarget.with(
            .postgres,
            columns: "id integer primary key, amount numeric(5,2), code char(3), flags bit(4), vflags varbit(4),"
                + " ratio float8, small real",
            rows: "(1, 1, 'a', B'0000', B'0', 0, 0), (2, 2, 'b', B'0000', B'0', 0, 0), (3, 3, 'c', B'0000', B'0', 0, 0)"
        ) { target in
            let before = try Self.md5(target)
            // One bad value per line: a row stops at its first value that does not fit.
            let cases: [(line: String, message: String)] = [
                ("1234.5,a,0000,0,0,0", "numeric field overflow: 1234.5 needs 4 digits before the point"),
                ("999.995,a,0000,0,0,0", "999.995 needs 4 digits before the point after rounding to 2 decimals"),
                ("1,abcd,0000,0,0,0", "value is too long for character(3)"),
                ("1,a,101,0,0,0", "bit string length 3 does not match type bit(4)"),
                ("1,a,X1F,0,0,0", "bit string length 8 does not match type bit(4)"),
                ("1,a,0000,10101,0,0", "bit string too long for type bit varying(4)"),
                ("1,a,0000,0,1e400,0", "'1e400' is out of range for type double precision"),
                ("1,a,0000,0,-1e400,0", "'-1e400' is out of range for type double precision"),
                ("1,a,0000,0,1e-400,0", "'1e-400' is out of range for type double precision"),
                ("1,a,0000,0,0,1e39", "'1e39' is out of range for type real"),
                ("1,a,0000,0,0,1e-50", "'1e-50' is out of range for type real"),
                ("Infinity,a,0000,0,0,0", "an infinite value cannot be held"),
            ]
            var bad = "id,amount,code,flags,vflags,ratio,small\n"
            for (index, entry) in cases.enumerated() { bad += "\(index % 3 + 1),\(entry.line)\n" }
            let result = try target.apply(["--input", try target.write("bad.csv", bad), "--no-journal"])
            #expect(result.status == 65, streams(result))
            #expect(result.standardError.contains("\(cases.count) invalid lines"), streams(result))
            for (index, entry) in cases.enumerated() {
                let line = result.standardError.split(separator: "\n").first {
                    $0.contains("[input line \(index + 2),")
                }
                #expect(
                    line?.contains(entry.message) == true,
                    "line \(index + 2): \(entry.message)\n\(streams(result))"
                )
            }
            #expect(try Self.md5(target) == before)

            // The edges that fit: rounding that stays within the precision, spaces past char(n)'s length, NaN.
            let good = """
                id,amount,code,flags,vflags,ratio,small
                1,999.994,ab  ,X1,1,1e308,3.4e38
                2,-0.004,abc   ,0101,,NaN,NaN
                3,0.5e2,a,1111,1010,-Infinity,1e-38

                """
            let applied = try target.apply(["--input", try target.write("good.csv", good), "--no-journal"])
            #expect(applied.status == 0, streams(applied))
            #expect(
                try Self.texts(target, ["amount::text", "code::text", "flags::text", "vflags::text", "ratio::text"])
                    == [
                        // char(n) read as text drops its padding.
                        ["999.99", "ab", "0001", "1", "1e+308"], ["0.00", "abc", "0101", "", "NaN"],
                        ["50.00", "a", "1111", "1010", "-Infinity"],
                    ]
            )
        }
    }

    @Test("a domain's CHECK is checked by the server before writing; every refused line is named, in order")
    func domainCheck() throws {
        let domain = "bu_positive_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
        try ApplyTarget.with(.postgres, columns: "id integer primary key") { target in
            try target.execute(
                "CREATE DOMAIN \(domain) AS integer CHECK (VALUE > 0); ALTER TABLE \(target.table) ADD COLUMN n \(domain);"
                    + " INSERT INTO \(target.table) SELECT g, 1 FROM generate_series(1, 30000) g"
            )
            defer { try? target.execute("DROP TABLE IF EXISTS \(target.table); DROP DOMAIN IF EXISTS \(domain)") }
            let before = try Self.md5(target)
            var csv = "id,n\n"
            for id in 1...30000 { csv += "\(id),\([500, 12345, 29999].contains(id) ? -id : id)\n" }
            let input = try target.write("n.csv", csv)
            for extra in [[], ["--dry-run"], ["--atomic"]] {
                let result = try target.apply(["--input", input] + extra)
                #expect(result.status == 65, streams(result))
                #expect(result.standardError.contains("3 invalid lines"), streams(result))
                let lines = result.standardError.split(separator: "\n").filter {
                    $0.contains("violates check constraint")
                }
                #expect(lines.count == 3, streams(result))
                #expect(
                    lines.map {
                        $0.contains("input line 501") || $0.contains("input line 12346")
                            || $0.contains("input line 30000")
                    }
                        == [true, true, true],
                    streams(result)
                )
                #expect(try Self.md5(target) == before)
            }
        }
    }

    /// Every type a real schema has, written by every strategy and read back as PostgreSQL prints it.
    static let everyTypeColumns = """
        id integer primary key, tags integer[], names text[], dur interval, ip inet, net cidr, t time, tz timetz,
        price money, flags bit(4), vflags varbit(8), ci citext, r int4range, days daterange, p point, doc xml,
        js jsonb, amount numeric(7,2)
        """
    static let everyTypeExpressions = [
        "id::text", "tags::text", "names::text", "dur::text", "ip::text", "net::text", "t::text", "tz::text",
        "price::text", "flags::text", "vflags::text", "ci::text", "r::text", "days::text", "p::text", "doc::text",
        "js::text", "amount::text",
    ]

    @Test(
        "arrays, interval, inet, cidr, time, timetz, money, bit, varbit, citext, ranges, point, xml: every strategy",
        arguments: ["unnest", "values", "caseWhen", "copy", "atomic"]
    )
    func everyType(strategy: String) throws {
        try ApplyTarget.with(.postgres, columns: "id integer primary key") { target in
            // The cases run in parallel, and CREATE EXTENSION IF NOT EXISTS is not safe against itself: one
            // transaction-scoped advisory lock makes them take turns.
            try target.execute("SELECT pg_advisory_xact_lock(7425001); CREATE EXTENSION IF NOT EXISTS citext")
            try target.execute(
                "DROP TABLE \(target.table); CREATE TABLE \(target.table) (\(Self.everyTypeColumns));"
                    + " INSERT INTO \(target.table) (id) VALUES (1), (2)"
            )
            let csv = #"""
                id,tags,names,dur,ip,net,t,tz,price,flags,vflags,ci,r,days,p,doc,js,amount
                1,"{1,2,3}","{""a b"",""c,d"",NULL}",1 day 02:00:00,192.168.0.1/24,10.0.0.0/8,12:34:56,12:34:56+02,12.5,1010,101,MixedCase,"[1,5)","[2024-01-01,2024-02-01)","(1,2)",<a>1</a>,"{""k"": [1, 2]}",12345.67
                2,{},{},-3 mons,::1,2001:db8::/32,00:00:00.5,23:59:59-05:30,0,0000,,x,empty,"(,2024-01-01)","(-1.5,0)",<b/>,null,-0.01

                """#
            let input = try target.write("types.csv", csv)
            let arguments = strategy == "atomic" ? ["--atomic"] : ["--strategy", strategy, "--no-journal"]
            let result = try target.apply(["--input", input] + arguments)
            #expect(result.status == 0, streams(result))
            let expected: [[String?]] = [
                [
                    "1", "{1,2,3}", #"{"a b","c,d",NULL}"#, "1 day 02:00:00", "192.168.0.1/24", "10.0.0.0/8",
                    "12:34:56",
                    "12:34:56+02", "$12.50", "1010", "101", "MixedCase", "[1,5)", "[2024-01-01,2024-02-01)", "(1,2)",
                    "<a>1</a>", #"{"k": [1, 2]}"#, "12345.67",
                ],
                [
                    "2", "{}", "{}", "-3 mons", "::1/128", "2001:db8::/32", "00:00:00.5", "23:59:59-05:30", "$0.00",
                    "0000",
                    "", "x", "empty", "(,2024-01-01)", "(-1.5,0)", "<b/>", "null", "-0.01",
                ],
            ]
            #expect(try Self.texts(target, Self.everyTypeExpressions) == expected)

            // The same file again: every row is unchanged, types without an equality operator included.
            let again = try target.apply(["--input", input, "--skip-unchanged"] + arguments)
            #expect(again.status == 0, streams(again))
            #expect(again.standardOutput.contains("matched 2, changed 0, unchanged 2"), streams(again))
        }
    }

    @Test("bad values of types the server parses: every line named before anything is written")
    func serverParsedTypes() throws {
        try ApplyTarget.with(.postgres, columns: "id integer primary key, tags integer[], ip inet, dur interval") {
            target in
            try target.execute(
                "INSERT INTO \(target.table) SELECT g, '{}', '::1', '1 day' FROM generate_series(1, 40) g"
            )
            let before = try Self.md5(target)
            var csv = "id,tags,ip,dur\n"
            for id in 1...40 {
                let tags = id == 19 ? "\"{1,x}\"" : "\"{\(id)}\""
                let ip = id == 7 ? "not-an-ip" : "10.0.0.\(id)"
                let dur = id == 25 ? "soon" : "\(id) hours"
                csv += "\(id),\(tags),\(ip),\(dur)\n"
            }
            let result = try target.apply(["--input", try target.write("bad.csv", csv)])
            #expect(result.status == 65, streams(result))
            let listed = result.standardError.split(separator: "\n").filter { $0.hasPrefix("  ") }
            #expect(listed.count == 3, streams(result))
            #expect(
                listed.first?.contains("invalid input syntax for type inet: \"not-an-ip\"") == true,
                streams(result)
            )
            #expect(listed.first?.contains("input line 8") == true, streams(result))
            #expect(listed.dropFirst().first?.contains("input line 20") == true, streams(result))
            #expect(listed.last?.contains("input line 26") == true, streams(result))
            #expect(try Self.md5(target) == before)
        }
    }

    @Test("SQLite: NaN is refused (SQLite would store NULL); infinities and large numbers are kept")
    func sqliteNaN() throws {
        try ApplyTarget.with(.sqlite, columns: "id integer primary key, x real", rows: "(1, 1.5), (2, 2.5)") { target in
            let refused = try target.apply(["--input", try target.write("nan.csv", "id,x\n1,NaN\n2,1e400\n")])
            #expect(refused.status == 65, streams(refused))
            #expect(refused.standardError.contains("NaN cannot be stored in REAL"), streams(refused))
            #expect(refused.standardError.contains("'1e400' is out of range"), streams(refused))
            #expect(try target.contents() == [["1", "1.5"], ["2", "2.5"]])
        }
    }

    @Test(
        "JSON Lines: a text column takes any JSON value as its text; a line that is not JSON says what it has",
        arguments: ApplyBackend.enabled
    )
    func jsonIntoText(_ backend: ApplyBackend) throws {
        try ApplyTarget.with(
            backend,
            columns: "id integer primary key, note text",
            rows: "(1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')"
        ) { target in
            let jsonl = #"""
                {"id": 1, "note": {"a": 1, "b": [true, null]}}
                {"id": 2, "note": true}
                {"id": 3, "note": 12.50}
                {"id": 4, "note": "plain"}

                """#
            let result = try target.apply(["--input", try target.write("notes.jsonl", jsonl)])
            #expect(result.status == 0, streams(result))
            #expect(
                try target.contents() == [
                    ["1", #"{"a":1,"b":[true,null]}"#], ["2", "true"], ["3", "12.50"], ["4", "plain"],
                ]
            )

            let broken = try target.apply([
                "--input", try target.write("broken.jsonl", "{\"id\": 1, \"note\": \"x\"}\nnot json\n"),
            ])
            #expect(broken.status == 65, streams(broken))
            #expect(broken.standardError.contains("found 'not'"), streams(broken))
            #expect(!broken.standardError.contains("found null"), streams(broken))
        }
    }
}
