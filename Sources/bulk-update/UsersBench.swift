import BulkUpdate
import Foundation

/// The users scenario as a benchmark, on either backend: builds the table once, then runs every configuration
/// from the same start, round after round, timing only the change itself.
struct UsersBench {
    let database: any UsersDatabase
    let table: String
    let rows: Int
    /// The chunk size of the `caseWhen` baselines (Django's `batch_size`), to name them in the results.
    var caseWhenChunkSize = 1_000
    /// Whether the table's rows are inserted in random order (see ``UsersDatabase/create(_:rows:shuffled:)``).
    var shuffled = false
    /// Where progress lines go (standard error from the command).
    var log: (String) -> Void = { print($0) }

    /// Runs `configurations` `count` times each, interleaved: round 1 runs every configuration once, then round 2…
    /// A configuration that fails (an error, or a result that does not read back right) is not run again and its
    /// samples are dropped. The table is dropped at the end, also when something throws.
    func run(_ configurations: [BenchConfiguration], repeat count: Int) async throws -> [BenchReport.Result] {
        var results = configurations.map { configuration in
            BenchReport.Result(
                id: configuration.id,
                kind: configuration.kind,
                title: configuration.title,
                note: configuration.note(
                    concurrentWriters: self.database.hasConcurrentWriters,
                    caseWhenChunkSize: self.caseWhenChunkSize
                ),
                strategy: configuration.strategy?.description,
                workers: configuration.workers,
                chunkSize: configuration.chunkSize
            )
        }
        let clock = ContinuousClock()
        let started = clock.now
        try await self.database.create(self.table, rows: self.rows, shuffled: self.shuffled)
        self.log("created \(self.table) with \(self.rows) rows in \(Self.format(clock.now - started)) s")
        do {
            let input = (1...self.rows).map { BulkUpdateRow([.int($0), .string("USER_\($0)")]) }
            for round in 1...count {
                for (index, configuration) in configurations.enumerated() where results[index].failure == nil {
                    try await self.database.reset(self.table)
                    do {
                        let (sample, workersUsed) = try await self.measure(configuration, input: input, round: round)
                        let wrong = try await self.database.wrongUsernames(self.table)
                        guard wrong == 0 else {
                            throw BenchFailure("\(wrong) of \(self.rows) usernames did not read back upper-case")
                        }
                        results[index].samples.append(sample)
                        if let workersUsed { results[index].workersUsed = workersUsed }
                        self.log(
                            "round \(round)/\(count): \(results[index].label): \(BenchReport.seconds(sample.seconds)) s,"
                                + " client CPU \(BenchReport.percent(sample.clientCPUShare))"
                        )
                    } catch {
                        results[index].failure = "\(error)"
                        results[index].samples = []
                        self.log("round \(round)/\(count): \(results[index].label): FAILED: \(error)")
                    }
                }
            }
        } catch {
            try? await self.database.drop(self.table)
            throw error
        }
        try await self.database.drop(self.table)
        return results
    }

    /// Runs one configuration and returns its timing and, for BulkUpdate runs, the workers the backend used.
    private func measure(
        _ configuration: BenchConfiguration,
        input: [BulkUpdateRow],
        round: Int
    ) async throws -> (BenchReport.Sample, Int?) {
        let clock = ContinuousClock()
        let cpuBefore = ProcessCPU.now()
        let start = clock.now
        var workersUsed: Int?
        switch configuration {
        case .floor:
            try await self.database.floor(self.table)
        case .parallelFloor(let workers):
            try await self.database.parallelFloor(self.table, rows: self.rows, workers: workers)
        case .bulkUpdate(let strategy, let workers, let chunkSize, let atomic):
            var options = BulkUpdateOptions(workers: workers, chunkSize: chunkSize, strategy: strategy)
            options.atomic = atomic
            let report = try await self.database.update(self.table, rows: input, options: options)
            guard report.rowsChanged == self.rows else {
                throw BenchFailure("the report counted \(report.rowsChanged) changed rows, expected \(self.rows)")
            }
            workersUsed = report.workers
        }
        let elapsed = clock.now - start
        let cpu = ProcessCPU.now().since(cpuBefore)
        let sample = BenchReport.Sample(
            round: round,
            seconds: Self.seconds(elapsed),
            clientUserSeconds: cpu.user,
            clientSystemSeconds: cpu.system
        )
        return (sample, workersUsed)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func format(_ duration: Duration) -> String { String(format: "%.3f", Self.seconds(duration)) }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
