import ArgumentParser
import BulkUpdate
import BulkUpdatePostgres
import Foundation
import Logging
import PostgresNIO

/// Runs the users scenario with every strategy and worker count, against the server's own floor.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the users scenario with every strategy, against the server's own floor.",
        discussion: """
            Builds a table shaped like Django's auth_user with N rows (username = 'user_<i>'), then for each
            configuration resets the usernames, runs VACUUM ANALYZE, upper-cases every username through BulkUpdate
            exactly as a user would, and checks the result by reading it back (a wrong result is reported as
            failed, never timed). The floor is the same change done inside the server:
            UPDATE users SET username = upper(username). Configurations run interleaved, R times each; the table
            shows the median and the min-max.
            """
    )

    @Option(help: "PostgreSQL URL. Defaults to $DATABASE_URL.")
    var database: String?

    @Option(help: "Rows in the users table.")
    var rows: Int = 100_000

    @Option(help: "Runs of each configuration.")
    var `repeat`: Int = 3

    @Option(help: "Worker counts to try, comma-separated.")
    var workers: String = "1,2"

    @Option(help: "Strategies to try, comma-separated: unnest, values, caseWhen.")
    var strategies: String = "unnest,values,caseWhen"

    @Option(help: "Chunk size for unnest and values.")
    var chunkSize: Int = 10_000

    @Option(help: "Chunk size for caseWhen (Django's batch_size).")
    var caseWhenChunkSize: Int = 1_000

    @Option(help: "Name of the table the benchmark creates and drops.")
    var table: String = "bulk_update_bench_users"

    func validate() throws {
        guard self.rows >= 1 else { throw ValidationError("--rows must be at least 1") }
        guard self.`repeat` >= 1 else { throw ValidationError("--repeat must be at least 1") }
        _ = try self.workerCounts()
        _ = try self.strategyList()
    }

    func workerCounts() throws -> [Int] {
        let counts = self.workers.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--workers must be positive whole numbers separated by commas, got '\(self.workers)'")
        }
        return counts.map { $0! }
    }

    func strategyList() throws -> [BulkUpdateOptions.Strategy] {
        try self.strategies.split(separator: ",").map { name in
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let strategy = BulkUpdateOptions.Strategy(name: trimmed) else {
                throw ValidationError(
                    "unknown strategy '\(trimmed)'; choose from "
                        + BulkUpdateOptions.Strategy.all.map(\.description).joined(separator: ", ")
                )
            }
            return strategy
        }
    }

    func run() async throws {
        guard let url = self.database ?? ProcessInfo.processInfo.environment["DATABASE_URL"] else {
            throw ValidationError("no database: pass --database postgres://… or set DATABASE_URL")
        }
        let workerCounts = try self.workerCounts()
        let strategies = try self.strategyList()
        var configuration = try PostgresURL(url).configuration
        configuration.options.maximumConnections = max(4, (workerCounts.max() ?? 1) + 1)
        let client = PostgresClient(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let bench = UsersBench(client: client, table: self.table, rows: self.rows)
            try await bench.run(
                self.configurations(strategies: strategies, workerCounts: workerCounts),
                repeat: self.`repeat`
            )
        }
    }

    func configurations(strategies: [BulkUpdateOptions.Strategy], workerCounts: [Int]) -> [UsersBench.Configuration] {
        var list: [UsersBench.Configuration] = [.floor]
        for workers in workerCounts where workers > 1 { list.append(.parallelFloor(workers: workers)) }
        for strategy in strategies {
            for workers in workerCounts {
                let chunk = strategy == .caseWhen ? self.caseWhenChunkSize : self.chunkSize
                list.append(.bulkUpdate(strategy: strategy, workers: workers, chunkSize: chunk))
            }
        }
        return list
    }
}
