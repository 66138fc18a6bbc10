import BulkUpdate
import BulkUpdatePostgres
import Foundation
import PostgresNIO

/// The users scenario on PostgreSQL: build the table once, then time each configuration from the same start.
struct UsersBench {
    enum Configuration: Hashable, CustomStringConvertible {
        case floor
        case parallelFloor(workers: Int)
        case bulkUpdate(strategy: BulkUpdateOptions.Strategy, workers: Int, chunkSize: Int)

        var description: String {
            switch self {
            case .floor: "server floor: UPDATE … SET username = upper(username)"
            case .parallelFloor(let workers): "parallel server floor, \(workers) statements"
            case .bulkUpdate(let strategy, let workers, let chunkSize):
                "\(strategy), chunk \(chunkSize), \(workers) worker\(workers == 1 ? "" : "s")"
            }
        }
    }

    let client: PostgresClient
    let table: String
    let rows: Int

    var quoted: String { SQLIdentifier.quote(self.table) }

    func run(_ configurations: [Configuration], repeat count: Int) async throws {
        let version = try await self.scalar("SHOW server_version")
        print(
            "users scenario: \(self.rows) rows, PostgreSQL \(version), \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        try await self.create()
        let input = (1...self.rows).map { BulkUpdateRow([.int($0), .string("USER_\($0)")]) }
        var times: [Configuration: [Double]] = [:]
        var failures: [Configuration: String] = [:]
        for round in 1...count {
            for configuration in configurations where failures[configuration] == nil {
                try await self.reset()
                let seconds: Double
                do {
                    seconds = try await self.time(configuration, input: input)
                } catch {
                    failures[configuration] = "\(error)"
                    continue
                }
                let wrong = try await self.scalar(
                    "SELECT count(*)::text FROM \(self.quoted) WHERE username <> 'USER_' || id"
                )
                guard wrong == "0" else {
                    failures[configuration] = "\(wrong) rows were not upper-cased"
                    continue
                }
                times[configuration, default: []].append(seconds)
                print("  round \(round): \(configuration): \(Self.format(seconds)) s")
            }
        }
        try await self.client.run("DROP TABLE IF EXISTS \(self.quoted)")
        self.printTable(configurations, times: times, failures: failures)
    }

    private func time(_ configuration: Configuration, input: [BulkUpdateRow]) async throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        switch configuration {
        case .floor:
            try await self.client.run("UPDATE \(self.quoted) SET username = upper(username)")
        case .parallelFloor(let workers):
            let size = (self.rows + workers - 1) / workers
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    let low = worker * size + 1
                    let high = min(self.rows, (worker + 1) * size)
                    group.addTask {
                        try await self.client.run(
                            "UPDATE \(self.quoted) SET username = upper(username) WHERE id BETWEEN \(low) AND \(high)"
                        )
                    }
                }
                try await group.waitForAll()
            }
        case .bulkUpdate(let strategy, let workers, let chunkSize):
            let report = try await PostgresBulkUpdater(client: self.client).update(
                self.quoted,
                set: ["username"],
                rows: input,
                options: BulkUpdateOptions(workers: workers, chunkSize: chunkSize, strategy: strategy)
            )
            guard report.rowsChanged == self.rows else {
                throw BenchFailure("report counted \(report.rowsChanged) changed rows, expected \(self.rows)")
            }
        }
        let elapsed = clock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private func create() async throws {
        try await self.client.run("DROP TABLE IF EXISTS \(self.quoted)")
        try await self.client.run(
            """
            CREATE TABLE \(self.quoted) (
                id serial PRIMARY KEY, password varchar(128) NOT NULL DEFAULT '', last_login timestamptz NULL,
                is_superuser bool NOT NULL DEFAULT false, username varchar(150) NOT NULL UNIQUE,
                first_name varchar(150) NOT NULL DEFAULT '', last_name varchar(150) NOT NULL DEFAULT '',
                email varchar(254) NOT NULL DEFAULT '', is_staff bool NOT NULL DEFAULT false,
                is_active bool NOT NULL DEFAULT true, date_joined timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        let index = SQLIdentifier.quote(self.table + "_username_like")
        try await self.client.run("CREATE INDEX \(index) ON \(self.quoted) (username varchar_pattern_ops)")
        try await self.client.run(
            "INSERT INTO \(self.quoted) (id, username, email) "
                + "SELECT g, 'user_' || g, 'user_' || g || '@example.com' FROM generate_series(1, \(self.rows)) g"
        )
    }

    private func reset() async throws {
        try await self.client.run("UPDATE \(self.quoted) SET username = 'user_' || id")
        try await self.client.run("VACUUM ANALYZE \(self.quoted)")
    }

    private func scalar(_ sql: String) async throws -> String {
        for try await row in try await self.client.query(PostgresQuery(unsafeSQL: sql)) {
            return try row.decode(String.self)
        }
        return ""
    }

    private func printTable(
        _ configurations: [Configuration],
        times: [Configuration: [Double]],
        failures: [Configuration: String]
    ) {
        let floor = times[.floor].map(Self.median)
        print("")
        print("| configuration | median s | min–max s | rows/s | × floor |")
        print("|---|---:|---:|---:|---:|")
        for configuration in configurations {
            if let failure = failures[configuration] {
                print("| \(configuration) | failed: \(failure) | | | |")
                continue
            }
            guard let samples = times[configuration], !samples.isEmpty else { continue }
            let median = Self.median(samples)
            let ratio = floor.map { String(format: "%.2f", median / $0) } ?? "–"
            print(
                "| \(configuration) | \(Self.format(median)) | \(Self.format(samples.min()!))–\(Self.format(samples.max()!))"
                    + " | \(Int(Double(self.rows) / median)) | \(ratio) |"
            )
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    static func format(_ seconds: Double) -> String { String(format: "%.3f", seconds) }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
