import Foundation

/// Everything one `bench` run measured; written as JSON by `--json` and drawn by `--chart`.
struct BenchReport: Codable, Sendable {
    struct Database: Codable, Sendable {
        /// `PostgreSQL` or `SQLite`.
        var product: String
        /// The server's (`SHOW server_version`) or the library's version.
        var version: String
        /// The URL or path, with any password hidden.
        var location: String
        /// Whether writers on several connections run concurrently (false on SQLite: one writer).
        var concurrentWriters: Bool
    }

    struct Machine: Codable, Sendable {
        /// `ProcessInfo.activeProcessorCount`: the cores this process may use.
        var activeProcessorCount: Int
        var processorCount: Int
        var physicalMemoryBytes: UInt64
        var operatingSystem: String
        /// The load averages over 1, 5 and 15 minutes when the run started and when it ended: other work on the
        /// machine shows here.
        var loadAverageAtStart: [Double]?
        var loadAverageAtEnd: [Double]?
    }

    /// One timed run of one configuration.
    struct Sample: Codable, Sendable {
        /// The round it ran in, from 1.
        var round: Int
        /// Wall time of the change alone (the reset before and the check after are not timed).
        var seconds: Double
        /// User CPU time of this process during the change.
        var clientUserSeconds: Double
        /// System CPU time of this process during the change.
        var clientSystemSeconds: Double

        var clientCPUSeconds: Double { self.clientUserSeconds + self.clientSystemSeconds }
        /// Client CPU as a share of wall time (may exceed 1 with several busy threads).
        var clientCPUShare: Double { self.seconds > 0 ? self.clientCPUSeconds / self.seconds : 0 }

        private enum CodingKeys: String, CodingKey {
            case round, seconds, clientUserSeconds, clientSystemSeconds, clientCPUSeconds, clientCPUShare
        }

        init(round: Int, seconds: Double, clientUserSeconds: Double, clientSystemSeconds: Double) {
            self.round = round
            self.seconds = seconds
            self.clientUserSeconds = clientUserSeconds
            self.clientSystemSeconds = clientSystemSeconds
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.round = try container.decode(Int.self, forKey: .round)
            self.seconds = try container.decode(Double.self, forKey: .seconds)
            self.clientUserSeconds = try container.decode(Double.self, forKey: .clientUserSeconds)
            self.clientSystemSeconds = try container.decode(Double.self, forKey: .clientSystemSeconds)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.round, forKey: .round)
            try container.encode(self.seconds, forKey: .seconds)
            try container.encode(self.clientUserSeconds, forKey: .clientUserSeconds)
            try container.encode(self.clientSystemSeconds, forKey: .clientSystemSeconds)
            try container.encode(self.clientCPUSeconds, forKey: .clientCPUSeconds)
            try container.encode(self.clientCPUShare, forKey: .clientCPUShare)
        }
    }

    /// One configuration: its samples and what they add up to.
    struct Result: Codable, Sendable {
        /// `floor`, `parallelFloor-w2`, `unnest-c10000-w2`.
        var id: String
        /// `floor`, `parallelFloor` or `bulkUpdate`.
        var kind: String
        /// What was run: `unnest, chunk 10000, 2 workers`.
        var title: String
        /// What it stands for, if anything: `Django bulk_update(batch_size=1000)`, `SQLite: 1 writer`.
        var note: String?
        var strategy: String?
        /// Workers asked for (statements, for the parallel floor).
        var workers: Int
        /// Workers the backend ran with, from BulkUpdate's report (SQLite writes with one).
        var workersUsed: Int?
        var chunkSize: Int?
        var samples: [Sample] = []
        /// Why the configuration failed (it is not run again, and its samples are dropped); `nil` if it did not.
        var failure: String?
        var medianSeconds: Double?
        var minSeconds: Double?
        var maxSeconds: Double?
        var rowsPerSecond: Double?
        /// Median over the single-statement floor's median.
        var ratioToFloor: Double?
        /// Median of the samples' client CPU shares.
        var medianClientCPUShare: Double?

        var label: String { self.note.map { "\(self.title) (\($0))" } ?? self.title }
    }

    /// The best BulkUpdate configuration against the floors and the `caseWhen` baselines.
    struct Summary: Codable, Sendable {
        var best: String?
        var bestMedianSeconds: Double?
        var bestRatioToFloor: Double?
        /// The parallel floor it is compared with (the fastest one) and the ratio.
        var parallelFloor: String?
        var bestRatioToParallelFloor: Double?
        /// How many times faster than `caseWhen` with 1 worker (Django's statement).
        var speedupOverDjango: Double?
        /// How many times faster than the fastest `caseWhen` with several workers (the process-pool approach).
        var speedupOverProcessPool: Double?
        /// The best configuration's client CPU share.
        var bestClientCPUShare: Double?
    }

    var tool = "bulk-update bench"
    var scenario = "users: upper-case every username of a Django auth_user-shaped table"
    /// When the run started, ISO 8601.
    var date: String
    var database: Database
    var machine: Machine
    var table: String
    var rows: Int
    var `repeat`: Int
    var workerCounts: [Int]
    var strategies: [String]
    var chunkSize: Int
    var caseWhenChunkSize: Int
    var results: [Result]
    var summary = Summary()

    /// Fills in every result's statistics and the summary from the samples.
    mutating func summarize() {
        let floor = self.results.first { $0.kind == "floor" && $0.failure == nil && !$0.samples.isEmpty }
            .map { Self.median($0.samples.map(\.seconds)) }
        for index in self.results.indices {
            var result = self.results[index]
            let times = result.samples.map(\.seconds)
            if result.failure == nil, !times.isEmpty {
                let median = Self.median(times)
                result.medianSeconds = median
                result.minSeconds = times.min()
                result.maxSeconds = times.max()
                result.rowsPerSecond = median > 0 ? Double(self.rows) / median : nil
                result.ratioToFloor = floor.map { median / $0 }
                result.medianClientCPUShare = Self.median(result.samples.map(\.clientCPUShare))
            } else {
                result.medianSeconds = nil
                result.minSeconds = nil
                result.maxSeconds = nil
                result.rowsPerSecond = nil
                result.ratioToFloor = nil
                result.medianClientCPUShare = nil
            }
            self.results[index] = result
        }
        let timed = self.results.filter { $0.medianSeconds != nil }
        var summary = Summary()
        let updates = timed.filter { $0.kind == "bulkUpdate" }
        if let best = updates.min(by: { $0.medianSeconds! < $1.medianSeconds! }) {
            summary.best = best.label
            summary.bestMedianSeconds = best.medianSeconds
            summary.bestRatioToFloor = best.ratioToFloor
            summary.bestClientCPUShare = best.medianClientCPUShare
            if let parallel = timed.filter({ $0.kind == "parallelFloor" }).min(by: {
                $0.medianSeconds! < $1.medianSeconds!
            }) {
                summary.parallelFloor = "parallel floor (\(parallel.workers) statements)"
                summary.bestRatioToParallelFloor = best.medianSeconds! / parallel.medianSeconds!
            }
            let caseWhen = updates.filter { $0.strategy == "caseWhen" && $0.chunkSize == self.caseWhenChunkSize }
            if let django = caseWhen.first(where: { $0.workers == 1 }), django.id != best.id {
                summary.speedupOverDjango = django.medianSeconds! / best.medianSeconds!
            }
            if let pool = caseWhen.filter({ $0.workers > 1 }).min(by: { $0.medianSeconds! < $1.medianSeconds! }),
                pool.id != best.id
            {
                summary.speedupOverProcessPool = pool.medianSeconds! / best.medianSeconds!
            }
        }
        self.summary = summary
    }

    /// The results as a Markdown table, one row per configuration in run order, and a line on the best one.
    var markdown: String {
        var lines = [
            "| configuration | median s | min–max s | rows/s | × floor | client CPU % of wall |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for result in self.results {
            let label = Self.cell(result.label)
            if let failure = result.failure {
                lines.append("| \(label) | failed: \(Self.cell(failure)) | | | | |")
                continue
            }
            guard let median = result.medianSeconds, let low = result.minSeconds, let high = result.maxSeconds else {
                continue
            }
            let rate = result.rowsPerSecond.map { String(Int($0.rounded())) } ?? "–"
            let ratio = result.ratioToFloor.map { String(format: "%.2f", $0) } ?? "–"
            let cpu = result.medianClientCPUShare.map { Self.percent($0) } ?? "–"
            lines.append(
                "| \(label) | \(Self.seconds(median)) | \(Self.seconds(low))–\(Self.seconds(high)) | \(rate) "
                    + "| \(ratio) | \(cpu) |"
            )
        }
        var text = lines.joined(separator: "\n") + "\n"
        let summary = self.summary
        if let best = summary.best {
            var facts: [String] = []
            if let ratio = summary.bestRatioToFloor { facts.append(String(format: "%.2f× the floor", ratio)) }
            if let ratio = summary.bestRatioToParallelFloor, let parallel = summary.parallelFloor {
                facts.append(String(format: "%.2f× the ", ratio) + parallel)
            }
            if let speedup = summary.speedupOverDjango {
                facts.append(String(format: "%.2f× faster than caseWhen with 1 worker (Django's statement)", speedup))
            }
            if let speedup = summary.speedupOverProcessPool {
                facts.append(String(format: "%.2f× faster than caseWhen with several workers (process pool)", speedup))
            }
            if let share = summary.bestClientCPUShare { facts.append("client CPU \(Self.percent(share)) of wall") }
            text += "\nBest: \(best)" + (facts.isEmpty ? "" : ": " + facts.joined(separator: ", ")) + ".\n"
        }
        return text
    }

    /// The JSON `--json` writes.
    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

    static func percent(_ share: Double) -> String {
        share < 0.1 ? String(format: "%.1f%%", share * 100) : String(format: "%.0f%%", share * 100)
    }

    /// Text made safe for a Markdown table cell.
    private static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
