import BulkUpdate
import Foundation

/// A table rows are copied into before one `UPDATE … FROM` applies them.
///
/// - A per-chunk stage is a temporary table of the connection (`ON COMMIT DELETE ROWS`), created once per
///   connection and emptied by every commit; its extra column holds each row's position in its chunk.
/// - An atomic stage is an unlogged table in the target's schema, shared by every worker, named
///   `bulk_update_atomic_<random>`; its extra column holds each row's chunk number, so that when a key was written
///   by several chunks (of the one worker that owns it) the last one wins.
struct StageTable: Sendable {
    /// Prefix of atomic stage names; leftovers of killed runs are found by it.
    static let atomicPrefix = "bulk_update_atomic_"

    /// The schema, or `pg_temp` for a temporary table.
    let schema: String
    let name: String
    let isTemporary: Bool
    /// Every plan column, then the extra column.
    let columnNames: [String]
    let extraColumn: String
    private let definitions: [String]

    /// The connection's temporary stage for `plan`, named after its columns and types so that different plans
    /// never share one.
    static func temporary(for plan: UpdatePlan) -> StageTable {
        let signature = plan.columns.map { "\($0.name):\($0.type.sqlName)" }.joined(separator: ",")
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in signature.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return StageTable(
            schema: "pg_temp",
            name: "bulk_update_stage_" + String(hash, radix: 16),
            isTemporary: true,
            plan: plan,
            extraColumn: "bulk_update ordinal"
        )
    }

    /// A new shared stage for an atomic run, in the target's schema.
    static func atomic(for plan: UpdatePlan) -> StageTable {
        let random = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        return StageTable(
            schema: plan.table.name.schema ?? "public",
            name: Self.atomicPrefix + random,
            isTemporary: false,
            plan: plan,
            extraColumn: "bulk_update chunk"
        )
    }

    private init(schema: String, name: String, isTemporary: Bool, plan: UpdatePlan, extraColumn: String) {
        self.schema = schema
        self.name = name
        self.isTemporary = isTemporary
        self.extraColumn = extraColumn
        self.columnNames = plan.columns.map(\.name) + [extraColumn]
        self.definitions =
            plan.columns.map { "\(SQLIdentifier.quote($0.name)) \($0.type.sqlName)" }
            + ["\(SQLIdentifier.quote(extraColumn)) int8 NOT NULL"]
    }

    /// `"schema"."name"` (or `pg_temp."name"`).
    var qualified: String {
        (self.isTemporary ? "pg_temp" : SQLIdentifier.quote(self.schema)) + "." + SQLIdentifier.quote(self.name)
    }

    /// The table argument for PostgresNIO's `copyFrom`.
    var copyTable: String { CopyText.name([self.schema, self.name]) }

    /// The column arguments for PostgresNIO's `copyFrom`.
    var copyColumns: [String] { self.columnNames.map { CopyText.name([$0]) } }

    var createSQL: String {
        let columns = self.definitions.joined(separator: ", ")
        if self.isTemporary {
            return
                "CREATE TEMP TABLE IF NOT EXISTS \(SQLIdentifier.quote(self.name)) (\(columns)) ON COMMIT DELETE ROWS"
        }
        return "CREATE UNLOGGED TABLE \(self.qualified) (\(columns))"
    }
}
