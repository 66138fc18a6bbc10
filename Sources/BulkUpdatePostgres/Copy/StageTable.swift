import BulkUpdate
import Foundation

/// A table rows are copied into before one `UPDATE … FROM` applies them.
///
/// - A per-chunk stage is a temporary table of the connection (`ON COMMIT DELETE ROWS`), created once per
///   connection and emptied by every commit; its extra column holds each row's position in its chunk.
/// - An atomic stage is a temporary table of the run's one staging connection, named `bulk_update_atomic_<random>`,
///   kept across the COPY of every chunk and dropped when the run ends (and by the server with the session, if the
///   process dies). Its extra column holds each row's chunk number, so that when a key was written by several
///   chunks (of the one worker that owns it) the last one wins.
///
/// Both live in the session's temporary schema: a run needs no CREATE privilege on any schema and can leave no
/// table behind.
struct StageTable: Sendable {
    /// Prefix of atomic stage names.
    static let atomicPrefix = "bulk_update_atomic_"

    let name: String
    /// Every plan column, then the extra column.
    let columnNames: [String]
    let extraColumn: String
    private let definitions: [SQL]

    /// The connection's temporary stage for `plan`, named after its columns and types so that different plans
    /// never share one.
    static func temporary(for plan: UpdatePlan) -> StageTable {
        let signature = plan.columns.map { "\($0.name):\($0.type.sqlName)" }.joined(separator: ",")
        return StageTable(
            name: "bulk_update_stage_" + String(signature.stableHash, radix: 16),
            plan: plan,
            extraColumn: UpdateSQL.ordinalColumn
        )
    }

    /// A new stage for an atomic run: a temporary table of its staging connection.
    static func atomic(for plan: UpdatePlan) -> StageTable {
        let random = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        return StageTable(name: Self.atomicPrefix + random, plan: plan, extraColumn: "bulk_update chunk")
    }

    private init(name: String, plan: UpdatePlan, extraColumn: String) {
        self.name = name
        self.extraColumn = extraColumn
        self.columnNames = plan.columns.map(\.name) + [extraColumn]
        self.definitions =
            plan.columns.map { "\(identifier: $0.name) \(type: $0.type.sqlName)" }
            + ["\(identifier: extraColumn) int8 NOT NULL"]
    }

    /// `pg_temp."name"`.
    var qualified: SQL { "pg_temp.\(identifier: self.name)" }

    /// The extra column.
    var extra: SQL { .identifier(self.extraColumn) }

    /// The table argument for PostgresNIO's `copyFrom`.
    var copyTable: String { CopyText.name(["pg_temp", self.name]) }

    /// The column arguments for PostgresNIO's `copyFrom`.
    var copyColumns: [String] { self.columnNames.map { CopyText.name([$0]) } }

    /// The per-chunk stage, emptied by every commit.
    var create: SQL {
        "CREATE TEMP TABLE IF NOT EXISTS \(identifier: self.name) (\(SQL.list(self.definitions))) ON COMMIT DELETE ROWS"
    }

    /// The atomic stage, which keeps its rows until the run drops it.
    var createAtomic: SQL {
        "CREATE TEMP TABLE \(identifier: self.name) (\(SQL.list(self.definitions)))"
    }

    /// Empties the stage (inside a caller's transaction, where no commit does).
    var clear: SQL { "DELETE FROM \(self.qualified)" }

    var drop: SQL { "DROP TABLE \(self.qualified)" }
    var dropIfExists: SQL { "DROP TABLE IF EXISTS \(self.qualified)" }
    var analyze: SQL { "ANALYZE \(self.qualified)" }
}
