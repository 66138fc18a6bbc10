import Foundation
import Testing

/// A least-privileged role: what it may do runs; what it may not is refused before the first write, naming the
/// privilege, the GRANT that gives it and the way around it.
@Suite("apply with a least-privileged role", .serialized, .timeLimit(.minutes(2)))
struct PrivilegeTests {
    static let columns = "id integer primary key, username varchar(150) not null, email text"
    static let rows = "(1, 'alice', 'a@example.com'), (2, 'bob', NULL)"
    static let csv = "id,username,email\n1,ALICE,a2@example.com\n2,BOB,\\N\n"
    static let applied: [[String?]] = [["1", "ALICE", "a2@example.com"], ["2", "BOB", nil]]
    static let untouched: [[String?]] = [["1", "alice", "a@example.com"], ["2", "bob", nil]]

    /// A schema of its own for the journal, owned by the superuser: the role gets USAGE on it and nothing else.
    static func withJournalSchema(_ role: TestRole, _ body: (String) throws -> Void) throws {
        let schema = "bu_journal_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
        let admin = ApplyTestEnvironment.postgresURL!
        try PSQL.execute(admin, "CREATE SCHEMA \(schema); GRANT USAGE ON SCHEMA \(schema) TO \(role.name)")
        defer { try? PSQL.execute(admin, "DROP SCHEMA \(schema) CASCADE") }
        try body(schema)
    }

    static func apply(_ target: ApplyTarget, as role: TestRole, _ arguments: [String]) throws -> Executable.Result {
        let path = try target.write("changes.csv", Self.csv)
        return try Executable.run(
            ["apply", "--database", role.url, "--table", target.table, "--input", path] + arguments
        )
    }

    @Test("a revert refused for a missing grant after marking the run: runs says so, and it is finished once granted")
    func revertRefusedAfterTheMark() throws {
        try TestRole.with { role in
            try ApplyTarget.with(.postgres, columns: Self.columns, rows: Self.rows) { target in
                try PSQL.execute(target.database, "GRANT SELECT ON \(target.table) TO \(role.name)")
                try Self.withJournalSchema(role) { schema in
                    let sql = try Executable.run([
                        "runs", "--create-sql", "--journal-schema", schema, "--grant-to", role.name,
                    ])
                    #expect(sql.status == 0, streams(sql))
                    try PSQL.execute(target.database, sql.standardOutput)
                    let path = try target.write("changes.csv", Self.csv)
                    let journal = ["--journal-schema", schema]
                    let applied = try target.apply(["--input", path, "--run-id", "lp-marked", "--quiet"] + journal)
                    #expect(applied.status == 0, streams(applied))
                    // The role may read the undo and mark the run, but not UPDATE the table.
                    let revert = ["runs", "revert", "lp-marked", "--database", role.url] + journal
                    let refused = try Executable.run(revert)
                    #expect(refused.status == 77, streams(refused))
                    #expect(refused.standardError.contains("UPDATE"), streams(refused))
                    #expect(try target.contents() == Self.applied)
                    let listed = try Executable.run(["runs", "--database", target.database] + journal)
                    #expect(
                        listed.standardOutput.contains(
                            "; being reverted, not begun (bulk-update runs revert lp-marked)"
                        ),
                        streams(listed)
                    )
                    let resumed = try target.apply(["--input", path, "--resume", "lp-marked"] + journal)
                    #expect(resumed.status == 64, streams(resumed))
                    try PSQL.execute(target.database, "GRANT UPDATE ON \(target.table) TO \(role.name)")
                    let finished = try Executable.run(revert)
                    #expect(finished.status == 0, streams(finished))
                    #expect(try target.contents() == Self.untouched)
                }
            }
        }
    }

    @Test("SELECT and UPDATE on the table only: the journal needs CREATE or tables made by an owner (exit 77)")
    func journalWithoutCreate() throws {
        try TestRole.with { role in
            try ApplyTarget.with(.postgres, columns: Self.columns, rows: Self.rows) { target in
                try PSQL.execute(target.database, "GRANT SELECT, UPDATE ON \(target.table) TO \(role.name)")
                try Self.withJournalSchema(role) { schema in
                    for arguments in [["--journal-schema", schema], ["--journal-schema", schema, "--dry-run"]] {
                        let refused = try Self.apply(target, as: role, arguments)
                        #expect(refused.status == 77, streams(refused))
                        #expect(
                            refused.standardError.contains("lacks CREATE on schema \"\(schema)\""),
                            streams(refused)
                        )
                        #expect(refused.standardError.contains("--create-sql"), streams(refused))
                        #expect(refused.standardError.contains("--no-journal"), streams(refused))
                        #expect(try target.contents() == Self.untouched)
                    }
                    // Without a journal, or all or nothing (a temporary stage), the same role can apply.
                    let atomic = try Self.apply(target, as: role, ["--atomic"])
                    #expect(atomic.status == 0, streams(atomic))
                    #expect(try target.contents() == Self.applied)
                    try target.execute("UPDATE \(target.table) SET username = lower(username)")

                    // An owner creates the journal once with the statements runs --create-sql prints; then the role
                    // journals its runs there without any DDL, and lists them.
                    let sql = try Executable.run([
                        "runs", "--create-sql", "--journal-schema", schema, "--grant-to", role.name,
                    ])
                    #expect(sql.status == 0, streams(sql))
                    try PSQL.execute(target.database, sql.standardOutput)
                    let journaled = try Self.apply(
                        target,
                        as: role,
                        ["--journal-schema", schema, "--run-id", "lp-run", "--quiet"]
                    )
                    #expect(journaled.status == 0, streams(journaled))
                    #expect(try target.contents().map { $0[1] } == ["ALICE", "BOB"])
                    let runs = try Executable.run(["runs", "--database", role.url, "--journal-schema", schema])
                    #expect(runs.status == 0, streams(runs))
                    #expect(runs.standardOutput.contains("lp-run | public.\(target.table) |"), streams(runs))
                }
            }
        }
    }

    @Test(
        "undo needs INSERT on bulk_update_undo_chunks, checked before writing, dry run too; column grants do"
    )
    func undoPrivileges() throws {
        try TestRole.with { role in
            try ApplyTarget.with(.postgres, columns: Self.columns, rows: Self.rows) { target in
                // Only the columns the run reads and the one it sets: no table-wide SELECT.
                try PSQL.execute(
                    target.database,
                    "GRANT SELECT (id, username), UPDATE (username) ON \(target.table) TO \(role.name)"
                )
                try Self.withJournalSchema(role) { schema in
                    let sql = try Executable.run(["runs", "--create-sql", "--journal-schema", schema])
                    #expect(sql.status == 0, streams(sql))
                    try PSQL.execute(
                        target.database,
                        sql.standardOutput + "; GRANT SELECT, INSERT, UPDATE ON \(schema).bulk_update_runs,"
                            + " \(schema).bulk_update_journal TO \(role.name)"
                    )
                    let path = try target.write("names.csv", "id,username\n1,ALICE\n2,BOB\n")
                    let arguments = [
                        "apply", "--database", role.url, "--table", target.table, "--input", path, "--journal-schema",
                        schema,
                    ]
                    for extra in [[], ["--dry-run"]] {
                        let refused = try Executable.run(arguments + extra)
                        #expect(refused.status == 77, streams(refused))
                        #expect(
                            refused.standardError.contains(
                                "GRANT INSERT ON \"\(schema)\".\"bulk_update_undo_chunks\" TO"
                            ),
                            streams(refused)
                        )
                        #expect(refused.standardError.contains("(--no-undo)"), streams(refused))
                    }
                    #expect(try target.contents() == Self.untouched)
                    let plain = try Executable.run(arguments + ["--no-undo"])
                    #expect(plain.status == 0, streams(plain))
                    try PSQL.execute(
                        target.database,
                        "UPDATE \(target.table) SET username = lower(username);"
                            + " GRANT INSERT ON \(schema).bulk_update_undo_chunks TO \(role.name)"
                    )
                    let kept = try Executable.run(arguments + ["--run-id", "lp-undo"])
                    #expect(kept.status == 0, streams(kept))
                    #expect(kept.standardOutput.contains("undo kept"), streams(kept))
                    #expect(try target.contents().map { $0[1] } == ["ALICE", "BOB"])
                    // Reading the undo back needs SELECT on it: named when missing, enough once granted.
                    let revert = ["runs", "revert", "lp-undo", "--database", role.url, "--journal-schema", schema]
                    let unread = try Executable.run(revert)
                    #expect(unread.status == 77, streams(unread))
                    #expect(
                        unread.standardError.contains(
                            "GRANT SELECT ON \"\(schema)\".\"bulk_update_undo_chunks\" TO \"\(role.name)\""
                        ),
                        streams(unread)
                    )
                    // runs export names the same grant, and only it: the runs tables' grants are not what is missing.
                    let export = try Executable.run([
                        "runs", "export", "lp-undo", "--undo", "-", "--database", role.url, "--journal-schema", schema,
                    ])
                    #expect(export.status == 77, streams(export))
                    #expect(
                        export.standardError.contains("GRANT SELECT ON \"\(schema)\".\"bulk_update_undo_chunks\" TO"),
                        streams(export)
                    )
                    #expect(!export.standardError.contains("GRANT SELECT, UPDATE ON"), streams(export))
                    try PSQL.execute(
                        target.database,
                        "GRANT SELECT ON \(schema).bulk_update_undo_chunks TO \(role.name)"
                    )
                    let reverted = try Executable.run(revert)
                    #expect(reverted.status == 0, streams(reverted))
                    #expect(try target.contents().map { $0[1] } == ["alice", "bob"])
                }
            }
        }
    }

    @Test("UPDATE on one column only: setting another is refused before writing, in a dry run too (exit 77)")
    func columnPrivileges() throws {
        try TestRole.with { role in
            try ApplyTarget.with(.postgres, columns: Self.columns, rows: Self.rows) { target in
                try PSQL.execute(
                    target.database,
                    "GRANT SELECT (id, username), UPDATE (username) ON \(target.table) TO \(role.name)"
                )
                for arguments in [["--no-journal"], ["--no-journal", "--dry-run"]] {
                    let refused = try Self.apply(target, as: role, arguments)
                    #expect(refused.status == 77, streams(refused))
                    #expect(
                        refused.standardError.contains(
                            "lacks UPDATE on column \"email\" of public.\(target.table):"
                                + " GRANT UPDATE (\"email\") ON \"public\".\"\(target.table)\" TO \"\(role.name)\""
                        ),
                        streams(refused)
                    )
                    #expect(try target.contents() == Self.untouched)
                }
                // --columns username needs only what was granted.
                let allowed = try Self.apply(target, as: role, ["--no-journal", "--columns", "username"])
                #expect(allowed.status == 0, streams(allowed))
                #expect(try target.contents() == [["1", "ALICE", "a@example.com"], ["2", "BOB", nil]])
                // --skip-unchanged reads the set columns too.
                try PSQL.execute(target.database, "REVOKE SELECT (username) ON \(target.table) FROM \(role.name)")
                let skip = try Self.apply(
                    target,
                    as: role,
                    ["--no-journal", "--columns", "username", "--skip-unchanged"]
                )
                #expect(skip.status == 77, streams(skip))
                #expect(skip.standardError.contains("lacks SELECT on column \"username\""), streams(skip))
            }
        }
    }

    @Test("UPDATE alone, without SELECT: the keys cannot be matched, refused before writing (exit 77)")
    func updateOnly() throws {
        try TestRole.with { role in
            try ApplyTarget.with(.postgres, columns: Self.columns, rows: Self.rows) { target in
                try PSQL.execute(target.database, "GRANT UPDATE ON \(target.table) TO \(role.name)")
                for arguments in [["--no-journal"], ["--atomic"], ["--no-journal", "--dry-run"]] {
                    let refused = try Self.apply(target, as: role, arguments)
                    #expect(refused.status == 77, streams(refused))
                    // A dry run also reads the set columns, to compare them with the new values.
                    let missing =
                        arguments.contains("--dry-run")
                        ? "lacks SELECT on columns \"id\", \"username\", \"email\" of public.\(target.table)"
                        : "lacks SELECT on column \"id\" of public.\(target.table): GRANT SELECT (\"id\")"
                    #expect(refused.standardError.contains(missing), streams(refused))
                    #expect(try target.contents() == Self.untouched)
                }
            }
        }
    }

    @Test("no TEMPORARY on the database: copy and --atomic are refused before writing (exit 77)")
    func temporaryPrivilege() throws {
        try TestRole.with { role in
            try ApplyTarget.with(.postgres, columns: Self.columns, rows: Self.rows) { target in
                try PSQL.execute(target.database, "GRANT SELECT, UPDATE ON \(target.table) TO \(role.name)")
                let database = URL(string: target.database)!.path.dropFirst()
                try PSQL.execute(target.database, "REVOKE TEMPORARY ON DATABASE \"\(database)\" FROM PUBLIC")
                defer { try? PSQL.execute(target.database, "GRANT TEMPORARY ON DATABASE \"\(database)\" TO PUBLIC") }
                for arguments in [["--atomic"], ["--no-journal", "--strategy", "copy"]] {
                    let refused = try Self.apply(target, as: role, arguments)
                    #expect(refused.status == 77, streams(refused))
                    #expect(refused.standardError.contains("lacks TEMPORARY on database"), streams(refused))
                    #expect(try target.contents() == Self.untouched)
                }
                let unnest = try Self.apply(target, as: role, ["--no-journal"])
                #expect(unnest.status == 0, streams(unnest))
                #expect(try target.contents() == Self.applied)
            }
        }
    }

    @Test("a table named like the journal that is not one is left alone, and named (exit 64)")
    func foreignJournalTable() throws {
        try ApplyTarget.with(.postgres, columns: Self.columns, rows: Self.rows) { target in
            let schema = "bu_fake_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).lowercased()
            try target.execute("CREATE SCHEMA \(schema); CREATE TABLE \(schema).bulk_update_runs (x int)")
            defer { try? target.execute("DROP SCHEMA \(schema) CASCADE") }
            let path = try target.write("changes.csv", Self.csv)
            let refused = try target.apply(["--input", path, "--journal-schema", schema])
            #expect(refused.status == 64, streams(refused))
            #expect(refused.standardError.contains("is not a bulk-update journal table"), streams(refused))
            #expect(try target.contents() == Self.untouched)
        }
    }
}
