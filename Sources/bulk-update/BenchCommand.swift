import ArgumentParser
import BulkUpdate
import BulkUpdateSQLite
import Foundation

/// Runs the users scenario with every strategy and worker count, against the database's own floor.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the users scenario with every strategy, against the database's own floor.",
        discussion: """
            Builds a table shaped like Django's auth_user with N rows (username = 'user_<i>'). Then, round after \
            round, for each configuration: resets the usernames (then VACUUM ANALYZE on PostgreSQL, ANALYZE on \
            SQLite), upper-cases every username (through BulkUpdate's public API, or for a floor inside the \
            database), and checks the result by reading it back: a wrong result is reported as failed, never timed.

            Configurations: the floor, UPDATE … SET username = upper(username) as one statement, and on PostgreSQL \
            the parallel floor (W statements on disjoint key ranges); caseWhen with chunk 1000 and 1 worker (the \
            statement Django's bulk_update(batch_size=1000) sends) and with W workers (the process-pool approach); \
            then every other strategy at every worker count. SQLite has one writer: more workers are run and \
            labelled, but write one at a time.

            The Markdown table on standard output has, per configuration, the median and min-max of the runs, \
            rows/s, the ratio to the single-statement floor and this process's CPU time (user+sys) as a share of \
            wall time; progress goes to standard error. With no --database (and no $DATABASE_URL) it uses an \
            embedded SQLite database in a temporary directory. Measure release builds.

            The bench only ever drops the table it created: it is marked as a bulk-update scenario table (a table \
            comment on PostgreSQL, a comment in its CREATE TABLE on SQLite). If --table names a table without the \
            mark, the bench stops before writing anything; a marked one left behind by a killed run is replaced.
            """
    )

    @Option(help: "PostgreSQL URL or SQLite file. Defaults to $DATABASE_URL, else an embedded SQLite database.")
    var database: String?

    @Option(help: "Rows in the users table.")
    var rows: Int = 100_000

    @Option(help: "Runs of each configuration, interleaved.")
    var `repeat`: Int = 3

    @Option(help: "Worker counts to try, comma-separated.")
    var workers: String = "1,2"

    @Option(
        help: """
            Strategies to try, comma-separated. Default: every strategy of the backend (PostgreSQL: unnest, values, \
            caseWhen and copy where available; SQLite: values, tempTable, caseWhen).
            """
    )
    var strategies: String?

    @Flag(help: "Also time atomic runs (copy on PostgreSQL, values in one transaction on SQLite) at each worker count.")
    var atomic = false

    @Flag(
        help: """
            Insert the users in random order, so the table's physical order does not follow the key, as a \
            long-lived table's does not (PostgreSQL).
            """
    )
    var shuffled = false

    @Option(help: "Chunk size for every strategy but caseWhen.")
    var chunkSize: Int = 10_000

    @Option(help: "Chunk size for caseWhen (Django's batch_size).")
    var caseWhenChunkSize: Int = 1_000

    @Option(
        help: """
            The table the benchmark creates (marked as a bulk-update scenario table) and drops at the end. An \
            existing table that bulk-update did not create is never touched: the bench stops instead.
            """
    )
    var table: String = "bulk_update_bench_users"

    @Option(help: ArgumentHelp("Write every sample, the medians and the machine to this JSON file.", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Draw the medians as an SVG bar chart in this file.", valueName: "file.svg"))
    var chart: String?

    @Option(
        name: .customLong("from-json"),
        help: ArgumentHelp(
            "Run nothing: print the table of a file an earlier --json wrote (and redraw it with --chart).",
            valueName: "file"
        )
    )
    var fromJSON: String?

    func validate() throws {
        guard self.rows >= 1 else { throw ValidationError("--rows must be at least 1") }
        guard self.`repeat` >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard self.chunkSize >= 1, self.caseWhenChunkSize >= 1 else {
            throw ValidationError("--chunk-size and --case-when-chunk-size must be at least 1")
        }
        guard !self.table.isEmpty else { throw ValidationError("--table must not be empty") }
        do {
            _ = try BulkUpdateTableName(parsing: self.table)
        } catch {
            throw ValidationError("\(error)")
        }
        _ = try self.workerCounts()
        _ = try self.strategyList()
    }

    /// `--workers` as numbers, in the order given, without repeats.
    func workerCounts() throws -> [Int] {
        let counts = self.workers.split(separator: ",", omittingEmptySubsequences: false).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard !counts.isEmpty, counts.allSatisfy({ (1...256).contains($0 ?? 0) }) else {
            throw ValidationError(
                "--workers must be whole numbers from 1 to 256 separated by commas, got '\(self.workers)'"
            )
        }
        var seen = Set<Int>()
        return counts.map { $0! }.filter { seen.insert($0).inserted }
    }

    /// `--strategies` as strategies, or `nil` for the backend's own list.
    func strategyList() throws -> [BulkUpdateOptions.Strategy]? {
        guard let strategies = self.strategies else { return nil }
        var seen = Set<BulkUpdateOptions.Strategy>()
        let list = try strategies.split(separator: ",").map { name in
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let strategy = BulkUpdateOptions.Strategy(name: trimmed) else {
                throw ValidationError(
                    "unknown strategy '\(trimmed)'; choose from "
                        + BulkUpdateOptions.Strategy.all.map(\.description).joined(separator: ", ")
                )
            }
            return strategy
        }
        guard !list.isEmpty else { throw ValidationError("--strategies must name at least one strategy") }
        return list.filter { seen.insert($0).inserted }
    }

    func run() async throws {
        if let saved = self.fromJSON {
            var report = try JSONDecoder().decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: saved)))
            report.summarize()
            try self.output(report)
            return
        }
        // The output files are opened before the benchmark, not found unwritable after it.
        for path in [self.json, self.chart].compactMap({ $0 }) {
            let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw BenchFailure("cannot write '\(path)': \(String(cString: strerror(errno))); nothing was run")
            }
            close(descriptor)
        }
        let workerCounts = try self.workerCounts()
        let requested = try self.strategyList()
        let embedded = try DatabaseLocation.fromCommandLine(self.database) == nil
        let date = ISO8601DateFormatter().string(from: Date())
        let loadAtStart = systemLoadAverage()
        let connections = (workerCounts.max() ?? 1) + 1
        var report = try await DatabaseLocation.withDefault(self.database, temporaryName: "bench") { location in
            try await UsersScenario.withDatabase(location, connections: connections, table: self.table) { database in
                let strategies = requested ?? database.strategies
                let configurations = BenchConfiguration.plan(
                    strategies: strategies,
                    workerCounts: workerCounts,
                    chunkSize: self.chunkSize,
                    caseWhenChunkSize: self.caseWhenChunkSize,
                    concurrentWriters: database.hasConcurrentWriters,
                    atomic: self.atomic ? [database.hasConcurrentWriters ? .copy : .values] : []
                )
                let version = try await database.version
                let cores = ProcessInfo.processInfo.activeProcessorCount
                Self.progress(
                    "bulk-update bench: users scenario, \(self.rows) rows\(self.shuffled ? " in random order" : ""),"
                        + " \(database.product) \(version) (\(location)),"
                        + " \(cores) cores, \(configurations.count) configurations × \(self.`repeat`) runs, load average "
                        + (loadAtStart.map { $0.map { String($0) }.joined(separator: " ") } ?? "unknown")
                )
                var bench = UsersBench(database: database, table: self.table, rows: self.rows, log: Self.progress)
                bench.caseWhenChunkSize = self.caseWhenChunkSize
                bench.shuffled = self.shuffled
                let results = try await bench.run(configurations, repeat: self.`repeat`)
                return BenchReport(
                    date: date,
                    database: .init(
                        product: database.product,
                        version: version,
                        location: embedded ? "embedded (temporary file)" : location.description,
                        concurrentWriters: database.hasConcurrentWriters
                    ),
                    machine: .init(
                        activeProcessorCount: cores,
                        processorCount: ProcessInfo.processInfo.processorCount,
                        physicalMemoryBytes: ProcessInfo.processInfo.physicalMemory,
                        operatingSystem: ProcessInfo.processInfo.operatingSystemVersionString,
                        loadAverageAtStart: loadAtStart,
                        loadAverageAtEnd: systemLoadAverage()
                    ),
                    table: self.table,
                    rows: self.rows,
                    repeat: self.`repeat`,
                    workerCounts: workerCounts,
                    strategies: strategies.map(\.description),
                    chunkSize: self.chunkSize,
                    caseWhenChunkSize: self.caseWhenChunkSize,
                    results: results
                )
            }
        }
        report.summarize()
        try self.output(report)
        let failed = report.results.filter { $0.failure != nil }
        guard failed.isEmpty else {
            throw BenchFailure(
                "\(failed.count) configuration(s) failed: " + failed.map(\.label).joined(separator: "; ")
            )
        }
    }

    /// Prints the table and writes the JSON and the chart that were asked for.
    func output(_ report: BenchReport) throws {
        print(report.heading)
        print("")
        print(report.markdown, terminator: "")
        if let json = self.json {
            try report.json().write(to: URL(fileURLWithPath: json))
            Self.progress("wrote \(json)")
        }
        if let chart = self.chart {
            try Data(BenchChart(report: report).svg.utf8).write(to: URL(fileURLWithPath: chart))
            Self.progress("wrote \(chart)")
        }
    }

    /// A progress line on standard error, so standard output stays the Markdown table.
    @Sendable static func progress(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

extension BenchReport {
    /// One line naming what was measured, above the table.
    var heading: String {
        let cores = self.machine.activeProcessorCount
        return "Users scenario, \(self.rows) rows, \(self.database.product) \(self.database.version), "
            + "\(cores) core\(cores == 1 ? "" : "s"), "
            + (self.repeat == 1 ? "1 run" : "median of \(self.repeat) interleaved runs") + " per configuration, "
            + "\(self.date)" + self.loadNote + ":"
    }

    /// `, load average 1.52 → 2.10` (1-minute averages at the start and the end), when known.
    var loadNote: String {
        guard let start = self.machine.loadAverageAtStart?.first, let end = self.machine.loadAverageAtEnd?.first
        else { return "" }
        return String(format: ", load average %.2f → %.2f", start, end)
    }
}
