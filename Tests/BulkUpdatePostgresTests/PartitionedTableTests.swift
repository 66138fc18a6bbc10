import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateTestSupport
import Foundation
import PostgresNIO
import Testing

/// Partitioned tables of each kind, keyed by the partition key itself or by a unique key that contains it (as
/// PostgreSQL requires of every unique key of a partitioned table): every strategy, per chunk and atomic, writes
/// exactly the rows of the input and nothing else.
@Suite("PostgreSQL partitioned tables", .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason))
struct PartitionedTableTests {
    enum Kind: String, CaseIterable, Sendable { case range, list, hash }
    enum KeyShape: String, CaseIterable, Sendable {
        /// `id` is the primary key and the partition key.
        case partitionKey
        /// The primary key is (`id`, `bucket`); the table is partitioned by `bucket`.
        case containsPartitionKey
    }

    static let rows = 1_200
    static let partitions = 4

    /// The partition column's value of row `id`: `id` itself, or its bucket (0 to 3).
    static func partitionValue(_ id: Int, _ shape: KeyShape) -> Int {
        shape == .partitionKey ? id : id % Self.partitions
    }

    /// The `CREATE TABLE` statements of a table of `kind`, partitioned on `column`, whose values run over `values`.
    static func create(_ table: String, _ kind: Kind, _ shape: KeyShape) -> [String] {
        let column = shape == .partitionKey ? "id" : "bucket"
        let columns =
            shape == .partitionKey
            ? "id int PRIMARY KEY, v text NOT NULL"
            : "id int NOT NULL, bucket int NOT NULL, v text NOT NULL, PRIMARY KEY (id, bucket)"
        var statements = ["CREATE TABLE \(table) (\(columns)) PARTITION BY \(kind.rawValue.uppercased()) (\(column))"]
        let values = shape == .partitionKey ? Array(1...Self.rows) : Array(0..<Self.partitions)
        let size = values.count / Self.partitions
        for part in 0..<Self.partitions {
            let bounds: String
            switch kind {
            case .range:
                bounds =
                    "FROM (\(values[part * size])) TO (\(part == Self.partitions - 1 ? values.last! + 1 : values[(part + 1) * size]))"
            case .list:
                let slice = values[(part * size)..<(part == Self.partitions - 1 ? values.count : (part + 1) * size)]
                bounds = "IN (\(slice.map(String.init).joined(separator: ", ")))"
            case .hash:
                bounds = "WITH (MODULUS \(Self.partitions), REMAINDER \(part))"
            }
            statements.append("CREATE TABLE \(table)_p\(part) PARTITION OF \(table) FOR VALUES \(bounds)")
        }
        let insert =
            shape == .partitionKey
            ? "INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, \(Self.rows)) g"
            : "INSERT INTO \(table) SELECT g, g % \(Self.partitions), 'old' FROM generate_series(1, \(Self.rows)) g"
        return statements + [insert, "ANALYZE \(table)"]
    }

    @Test(
        "every strategy, per chunk and atomic, on each kind and key shape",
        arguments: Kind.allCases,
        KeyShape.allCases
    )
    func everyStrategy(_ kind: Kind, _ shape: KeyShape) async throws {
        try await TestDatabase.withClient { client, updater in
            let table = "bu_part_\(UUID().uuidString.prefix(8).lowercased())"
            do {
                for statement in Self.create(table, kind, shape) { try await client.run(statement) }
                let key = shape == .partitionKey ? ["id"] : ["id", "bucket"]
                // Every third row, spread over every partition, and a key with no row.
                let ids = Array(stride(from: 1, through: Self.rows, by: 3))
                var expected = Dictionary(uniqueKeysWithValues: (1...Self.rows).map { ($0, "old") })
                for (number, strategy) in ["unnest", "copy", "values", "caseWhen"].enumerated() {
                    // An atomic run on PostgreSQL stages its rows with COPY.
                    for atomic in strategy == "copy" ? [false, true] : [false] {
                        let value = "\(strategy)-\(atomic)"
                        var rows: [BulkUpdateRow] = ids.map { id in
                            shape == .partitionKey
                                ? [.int(id), .string(value)]
                                : [.int(id), .int(Self.partitionValue(id, shape)), .string(value)]
                        }
                        rows.append(
                            shape == .partitionKey ? [.int(Self.rows + 1), "none"] : [.int(1), .int(3), "none"]
                        )
                        var options = BulkUpdateOptions(
                            workers: 2,
                            chunkSize: 97,
                            strategy: .init(name: strategy)!,
                            skipUnchanged: number % 2 == 1
                        )
                        options.atomic = atomic
                        let report = try await updater.update(table, key: key, set: ["v"], rows: rows, options: options)
                        #expect(report.rowsChanged == ids.count, "\(strategy) atomic \(atomic): \(report)")
                        #expect(report.keysNotFound == 1)
                        for id in ids { expected[id] = value }
                    }
                }
                // A journaled run that keeps undo and checks what each row holds (the tracked statements), with one
                // row changed since the input was made: a conflict, left alone.
                try await client.run("UPDATE \(table) SET v = 'changed meanwhile' WHERE id = 4")
                let previous = expected[1]!
                var options = BulkUpdateOptions(workers: 2, chunkSize: 97)
                options.runID = "part-\(UUID().uuidString.prefix(8))"
                options.expectedColumns = ["v"]
                let guarded: [BulkUpdateRow] = ids.map { id in
                    shape == .partitionKey
                        ? [.int(id), "guarded", .string(previous)]
                        : [.int(id), .int(Self.partitionValue(id, shape)), "guarded", .string(previous)]
                }
                let report = try await updater.update(table, key: key, set: ["v"], rows: guarded, options: options)
                #expect(report.rowsChanged == ids.count - 1 && report.rowsConflicting == 1, "\(report)")
                #expect(report.undoKept)
                for id in ids { expected[id] = id == 4 ? "changed meanwhile" : "guarded" }

                let stored = try await client.rows("SELECT id::text, v FROM \(table) ORDER BY id")
                #expect(stored.count == Self.rows)
                let wrong = stored.filter { expected[Int($0[0]!)!] != $0[1] }
                #expect(wrong.isEmpty, "\(wrong.prefix(5))")
                try await client.run("DROP TABLE \(table)")
            } catch {
                try? await client.run("DROP TABLE IF EXISTS \(table)")
                throw error
            }
        }
    }
}
