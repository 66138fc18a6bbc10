import BulkUpdate
import PostgresNIO

/// Checks, from the catalog and before anything is written, that the current role may do everything a run will do:
/// read the key columns (and, with `skipUnchanged` or `caseWhen`, the set columns), update the set columns, use the
/// journal or create it, and create temporary tables for COPY. Every missing privilege is named with the statement that grants
/// it, and the way around it when there is one.
enum PostgresPrivileges {
    /// The privileges a run needs on each journal table: the undo table (``BulkUpdateOptions/keepsUndo``) only
    /// gets inserts.
    static let journalPrivileges: [String: [String]] = [
        "bulk_update_runs": ["SELECT", "INSERT", "UPDATE"], "bulk_update_journal": ["SELECT", "INSERT"],
        RunJournal.undoTableName: ["INSERT"],
    ]

    /// The journal tables `plan`'s run needs (``RunJournal/tables(for:)``), with the privileges it needs on each.
    static func journalTables(_ plan: UpdatePlan) -> [(name: String, privileges: [String])] {
        RunJournal.tables(for: plan.options).map { ($0.name, Self.journalPrivileges[$0.name] ?? []) }
    }

    static func check(_ plan: UpdatePlan, on db: DeadlineConnection) async throws {
        let table = plan.table.name
        var missing: [String] = []
        var role = "the current role"
        for row in try await db.query("SELECT current_user::text" as SQL).rows {
            role = SQLIdentifier.quote(try row.decode(String.self))
        }

        // The target's columns.
        // Unchanged rows are found by reading the set columns, and Django's CASE statement reads them in its ELSE;
        // a dry run compares them, a guarded run reads them to tell why a row was left alone, and undo saves them.
        // Expected columns are read to compare them.
        let readsSetColumns =
            plan.options.skipUnchanged || plan.options.strategy == .caseWhen || plan.options.dryRun || plan.isGuarded
            || plan.options.writesUndo
        let readColumns = plan.keyColumns + (readsSetColumns ? plan.setColumns : []) + plan.expectedColumns
        let names = (plan.keyColumns + plan.setColumns + plan.expectedColumns).map(\.name)
        let columnQuery: SQL = """
            SELECT c, pg_catalog.has_column_privilege(\(parameter: 1), c, 'SELECT'),
                   pg_catalog.has_column_privilege(\(parameter: 2), c, 'UPDATE')
            FROM unnest(\(parameter: 3)::text[]) AS c
            """
        var columnQueryBinds = PostgresBindings(capacity: 3)
        columnQueryBinds.append(table.quoted)
        columnQueryBinds.append(table.quoted)
        columnQueryBinds.append(names)
        var mayRead: Set<String> = []
        var mayUpdate: Set<String> = []
        for row in try await db.query(columnQuery, columnQueryBinds).rows {
            let (name, read, update) = try row.decode((String, Bool, Bool).self)
            if read { mayRead.insert(name) }
            if update { mayUpdate.insert(name) }
        }
        let cannotRead = readColumns.map(\.name).filter { !mayRead.contains($0) }
        let cannotUpdate = plan.setColumns.map(\.name).filter { !mayUpdate.contains($0) }
        if !cannotUpdate.isEmpty {
            missing.append(Self.columns("UPDATE", cannotUpdate, of: table, role: role))
        }
        if !cannotRead.isEmpty {
            missing.append(Self.columns("SELECT", cannotRead, of: table, role: role))
        }

        // Temporary tables: the `copy` strategy and atomic runs stage rows in one.
        if plan.options.strategy == .copy || plan.options.atomic {
            let temporary = try await db.query(
                "SELECT pg_catalog.has_database_privilege(current_database(), 'TEMPORARY'), current_database()::text"
            )
            if let row = temporary.rows.first {
                let (allowed, database) = try row.decode((Bool, String).self)
                if !allowed {
                    missing.append(
                        "it lacks TEMPORARY on database \(SQLIdentifier.quote(database)) (the copy strategy and atomic runs"
                            + " stage rows in a temporary table): GRANT TEMPORARY ON DATABASE"
                            + " \(SQLIdentifier.quote(database)) TO \(role)"
                    )
                }
            }
        }

        // The journal.
        if plan.options.runID != nil {
            switch try await Self.journalProblem(plan, role: role, on: db) {
            case .none: break
            case .privilege(let text): missing.append(text)
            case .configuration(let text): throw BulkUpdateError(.configuration, text + "")
            }
        }

        guard !missing.isEmpty else { return }
        throw BulkUpdateError(
            .privilege,
            "role \(role) cannot run this update of \(table); nothing was written:\n  - "
                + missing.joined(separator: "\n  - ")
        )
    }

    /// Whether the journal's tables exist in the run's journal schema (else the run creates them); ``check(_:on:)``
    /// has made sure the role may use them or create them.
    static func journalExists(_ plan: UpdatePlan, on db: DeadlineConnection) async throws -> Bool {
        let schema = Self.journalSchema(plan)
        let tables = Self.journalTables(plan).map(\.name)
        let query: SQL = """
            SELECT count(*)::int8 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(parameter: 1) AND c.relname = ANY(\(parameter: 2)::text[]) AND c.relkind IN ('r', 'p')
            """
        var queryBinds = PostgresBindings(capacity: 2)
        queryBinds.append(schema)
        queryBinds.append(tables)
        let count = try await db.query(query, queryBinds).rows.first?.decode(Int64.self) ?? 0
        return count == Int64(tables.count)
    }

    /// Adds the columns a journal made by an earlier version lacks (``RunJournal/addedColumns``). Only a table's owner
    /// may; another role gets the statements to hand to the owner.
    static func addControlColumns(_ journal: RunJournal, plan: UpdatePlan, on db: DeadlineConnection) async throws {
        let query: SQL = """
            SELECT c.relname::text, a.attname::text, pg_catalog.pg_has_role(c.relowner, 'USAGE')
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = \(parameter: 1) AND c.relname IN ('bulk_update_runs', 'bulk_update_journal')
            """
        var binds = PostgresBindings(capacity: 1)
        binds.append(Self.journalSchema(plan))
        var present: Set<String> = []
        var owns = true
        for row in try await db.query(query, binds).rows {
            let (table, name, owner) = try row.decode((String, String, Bool).self)
            present.insert(table + "." + name)
            owns = owns && owner
        }
        let missing = RunJournal.addedColumns.filter { !present.contains($0.table + "." + $0.name) }
        guard !missing.isEmpty else { return }
        guard owns else {
            throw BulkUpdateError(
                .privilege,
                "the journal tables in schema \(SQLIdentifier.quote(Self.journalSchema(plan))) were made by an earlier"
                    + " version and lack columns this one needs; have their owner run: "
                    + missing.map { PostgresStatement(journal.addColumn($0)).text + ";" }.joined(separator: " ")
            )
        }
        for column in missing { _ = try await db.query(journal.addColumn(column)) }
    }

    static func journalSchema(_ plan: UpdatePlan) -> String {
        plan.journalSchema ?? "public"
    }

    /// What stops a journal from working: a privilege the role lacks, or a schema or table that is not right.
    enum JournalProblem {
        case privilege(String)
        case configuration(String)
    }

    /// What stops the journal from working, if anything: a missing schema, a missing USAGE, missing privileges on
    /// its tables, no right to create them, or a table of the journal's name that is not a journal.
    private static func journalProblem(_ plan: UpdatePlan, role: String, on db: DeadlineConnection) async throws
        -> JournalProblem?
    {
        let schema = Self.journalSchema(plan)
        let quotedSchema = SQLIdentifier.quote(schema)
        let wayOut = RunJournal.wayOut(plan.options)
        let exists: SQL = """
            SELECT pg_catalog.has_schema_privilege(n.oid, 'USAGE'), pg_catalog.has_schema_privilege(n.oid, 'CREATE')
            FROM pg_catalog.pg_namespace n WHERE n.nspname = \(parameter: 1)
            """
        var existsBinds = PostgresBindings(capacity: 1)
        existsBinds.append(schema)
        guard let row = try await db.query(exists, existsBinds).rows.first else {
            return .configuration("the journal schema \(quotedSchema) does not exist: create it, \(wayOut)")
        }
        let (usage, create) = try row.decode((Bool, Bool).self)
        guard usage else {
            return .privilege(
                "it lacks USAGE on the journal schema \(quotedSchema): GRANT USAGE ON SCHEMA \(quotedSchema) TO \(role),"
                    + " \(wayOut)"
            )
        }
        let tables = Self.journalTables(plan).map(\.name)
        let privileges: SQL = """
            SELECT c.relname::text, pg_catalog.has_table_privilege(c.oid, 'SELECT'),
                   pg_catalog.has_table_privilege(c.oid, 'INSERT'), pg_catalog.has_table_privilege(c.oid, 'UPDATE'),
                   ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(parameter: 1) AND c.relname = ANY(\(parameter: 2)::text[])
            """
        var privilegesBinds = PostgresBindings(capacity: 2)
        privilegesBinds.append(schema)
        privilegesBinds.append(tables)
        var found: [String: Set<String>] = [:]
        for row in try await db.query(privileges, privilegesBinds).rows {
            let (name, select, insert, update, columns) = try row.decode((String, Bool, Bool, Bool, [String]).self)
            var granted: Set<String> = []
            if select { granted.insert("SELECT") }
            if insert { granted.insert("INSERT") }
            if update { granted.insert("UPDATE") }
            found[name] = granted
            if let foreign = RunJournal.foreignTable(name, schema: schema, columns: columns, options: plan.options) {
                return .configuration(foreign)
            }
        }
        if found.count < tables.count {
            guard create else {
                let absent = tables.filter { found[$0] == nil }.map { "\(quotedSchema).\(SQLIdentifier.quote($0))" }
                return .privilege(
                    "it lacks CREATE on schema \(quotedSchema), to create the run journal (\(absent.joined(separator: ", "))"
                        + " does not exist yet): GRANT CREATE ON SCHEMA \(quotedSchema) TO \(role), or have its owner"
                        + " create the tables once (bulk-update runs --create-sql prints the statements), \(wayOut)"
                )
            }
        }
        var lacking: [String] = []
        for (name, needed) in Self.journalTables(plan) {
            guard let granted = found[name] else { continue }
            let absent = needed.filter { !granted.contains($0) }
            if !absent.isEmpty {
                lacking.append(
                    "GRANT \(absent.joined(separator: ", ")) ON \(quotedSchema).\(SQLIdentifier.quote(name)) TO \(role)"
                )
            }
        }
        guard !lacking.isEmpty else { return nil }
        return .privilege("it lacks privileges on the run journal: \(lacking.joined(separator: "; ")), \(wayOut)")
    }

    private static func columns(_ privilege: String, _ names: [String], of table: BulkUpdateTableName, role: String)
        -> String
    {
        let list = names.map { SQLIdentifier.quote($0) }.joined(separator: ", ")
        let what = names.count == 1 ? "column" : "columns"
        return
            "it lacks \(privilege) on \(what) \(list) of \(table): GRANT \(privilege) (\(list)) ON \(table.quoted) TO \(role)"
    }
}
