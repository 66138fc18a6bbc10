import ArgumentParser
import BulkUpdate
import BulkUpdateTestSupport
import Foundation
import Testing

@testable import bulk_update

#if canImport(FoundationXML)
    import FoundationXML
#endif

@Suite("bulk-update bench")
struct BenchCommandTests {
    @Test("parses its options with the documented defaults")
    func defaults() throws {
        let command = try BenchCommand.parse([])
        #expect(command.database == nil)
        #expect(command.rows == 100_000)
        #expect(command.repeat == 3)
        #expect(try command.workerCounts() == [1, 2])
        #expect(try command.strategyList() == nil)
        #expect(command.chunkSize == 10_000)
        #expect(command.caseWhenChunkSize == 1_000)
        #expect(command.json == nil)
        #expect(command.chart == nil)
        #expect(command.fromJSON == nil)
    }

    @Test("parses every option")
    func everyOption() throws {
        let command = try BenchCommand.parse([
            "--database", "postgres://bench@localhost/bench", "--rows", "300", "--repeat", "2",
            "--workers", "1, 2,4,2", "--strategies", "unnest,case-when,values", "--chunk-size", "5000",
            "--case-when-chunk-size", "500", "--table", "t", "--json", "out.json", "--chart", "out.svg",
            "--from-json", "old.json",
        ])
        #expect(command.database == "postgres://bench@localhost/bench")
        #expect(command.rows == 300)
        #expect(command.repeat == 2)
        #expect(try command.workerCounts() == [1, 2, 4])
        #expect(try command.strategyList() == [.unnest, .caseWhen, .values])
        #expect(command.chunkSize == 5_000)
        #expect(command.caseWhenChunkSize == 500)
        #expect(command.table == "t")
        #expect(command.json == "out.json")
        #expect(command.chart == "out.svg")
        #expect(command.fromJSON == "old.json")
    }

    @Test(
        "rejects bad options with a clear message",
        arguments: [
            (["--workers", "0"], "--workers must be whole numbers"),
            (["--workers", "1,,2"], "--workers must be whole numbers"),
            (["--workers", "two"], "--workers must be whole numbers"),
            (["--strategies", "fastest"], "unknown strategy 'fastest'"),
            (["--strategies", ","], "at least one strategy"),
            (["--rows", "0"], "--rows must be at least 1"),
            (["--repeat", "0"], "--repeat must be at least 1"),
            (["--chunk-size", "0"], "must be at least 1"),
        ]
    )
    func badOptions(arguments: [String], message: String) {
        #expect {
            try BenchCommand.parse(arguments)
        } throws: { error in
            BenchCommand.message(for: error).contains(message)
        }
    }

    @Test("plans floors, the caseWhen baselines, then every other strategy at every worker count")
    func plan() {
        let postgres = BenchConfiguration.plan(
            strategies: [.unnest, .values, .caseWhen],
            workerCounts: [1, 2],
            chunkSize: 10_000,
            caseWhenChunkSize: 1_000,
            concurrentWriters: true
        )
        #expect(
            postgres.map(\.id) == [
                "floor", "parallelFloor-w2", "caseWhen-c1000-w1", "caseWhen-c1000-w2", "unnest-c10000-w1",
                "unnest-c10000-w2", "values-c10000-w1", "values-c10000-w2",
            ]
        )
        let sqlite = BenchConfiguration.plan(
            strategies: [.values, .tempTable, .caseWhen],
            workerCounts: [2],
            chunkSize: 10_000,
            caseWhenChunkSize: 1_000,
            concurrentWriters: false
        )
        // Django's single worker is always the baseline, even when --workers leaves 1 out; no parallel floor.
        #expect(
            sqlite.map(\.id) == [
                "floor", "caseWhen-c1000-w1", "caseWhen-c1000-w2", "values-c10000-w2", "tempTable-c10000-w2",
            ]
        )
        #expect(
            sqlite[1].label(concurrentWriters: false, caseWhenChunkSize: 1_000)
                == "caseWhen, chunk 1000, 1 worker (Django bulk_update(batch_size=1000))"
        )
        #expect(
            sqlite[2].label(concurrentWriters: false, caseWhenChunkSize: 1_000)
                == "caseWhen, chunk 1000, 2 workers (the process-pool approach; SQLite: 1 writer)"
        )
        #expect(sqlite[3].label(concurrentWriters: true, caseWhenChunkSize: 1_000) == "values, chunk 10000, 2 workers")
    }

    @Test("the default strategies are every strategy of the backend")
    func backendStrategies() {
        let copy = BulkUpdateOptions.Strategy(name: "copy")
        let expected: [BulkUpdateOptions.Strategy] = [.unnest, .values, .caseWhen] + (copy.map { [$0] } ?? [])
        #expect(PostgresUsers.strategies == expected)
        #expect(SQLiteUsers.strategies == [.values, .tempTable, .caseWhen])
    }

    @Test("summarises samples: medians, min–max, ratios to the floor, client CPU share, the best configuration")
    func summary() {
        var report = Self.report(results: [
            Self.result(.floor, seconds: [1.0, 3.0, 2.0], cpu: 0.02),
            Self.result(.parallelFloor(workers: 2), seconds: [1.0, 1.2, 1.1], cpu: 0.02),
            Self.result(.bulkUpdate(strategy: .caseWhen, workers: 1, chunkSize: 1_000), seconds: [8, 8, 8], cpu: 0.8),
            Self.result(.bulkUpdate(strategy: .caseWhen, workers: 2, chunkSize: 1_000), seconds: [4, 5, 6], cpu: 0.5),
            Self.result(
                .bulkUpdate(strategy: .unnest, workers: 2, chunkSize: 10_000),
                seconds: [1.5, 1.6, 1.4],
                cpu: 0.15
            ),
            BenchReport.Result(
                id: "values-c10000-w2",
                kind: "bulkUpdate",
                title: "values",
                workers: 2,
                failure: "boom"
            ),
        ])
        report.summarize()
        let floor = report.results[0]
        #expect(floor.medianSeconds == 2.0 && floor.minSeconds == 1.0 && floor.maxSeconds == 3.0)
        #expect(floor.rowsPerSecond == 500)
        #expect(floor.ratioToFloor == 1.0)
        let unnest = report.results[4]
        #expect(unnest.medianSeconds == 1.5)
        #expect(unnest.ratioToFloor == 0.75)
        #expect(abs((unnest.medianClientCPUShare ?? 0) - 0.15) < 1e-9)
        #expect(report.results[5].medianSeconds == nil)
        #expect(report.summary.best == "unnest, chunk 10000, 2 workers")
        #expect(abs((report.summary.bestRatioToParallelFloor ?? 0) - 1.5 / 1.1) < 1e-9)
        #expect(abs((report.summary.speedupOverDjango ?? 0) - 8 / 1.5) < 1e-9)
        #expect(abs((report.summary.speedupOverProcessPool ?? 0) - 5 / 1.5) < 1e-9)
        let markdown = report.markdown
        #expect(markdown.contains("| configuration | median s | min–max s | rows/s | × floor | client CPU % of wall |"))
        #expect(markdown.contains("| unnest, chunk 10000, 2 workers | 1.500 | 1.400–1.600 | 667 | 0.75 | 15% |"))
        #expect(markdown.contains("| values | failed: boom | | | | |"))
        #expect(
            markdown.contains(
                "Best: unnest, chunk 10000, 2 workers: 0.75× the floor, 1.36× the parallel floor (2 statements), "
                    + "5.33× faster than caseWhen with 1 worker (Django's statement), 3.33× faster than caseWhen with "
                    + "several workers (process pool), client CPU 15% of wall."
            )
        )
    }

    @Test("the chart axis ends on a round number at or above the slowest run")
    func axis() {
        let axis = BenchChart.axis(upTo: 2.803)
        #expect(axis.maximum >= 2.803)
        #expect(axis.step == 0.5)
        #expect(axis.ticks.first == 0 && axis.ticks.last == axis.maximum)
        #expect((4...10).contains(axis.ticks.count))
        #expect(BenchChart.axis(upTo: 0).maximum > 0)
    }

    @Test("the built executable benchmarks the embedded SQLite default and writes JSON and an SVG chart")
    func embeddedDefault() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("bench.json")
        let chart = directory.appendingPathComponent("bench.svg")
        let result = try Executable.run([
            "bench", "--rows", "300", "--repeat", "1", "--json", json.path, "--chart", chart.path,
        ])
        #expect(result.status == 0, "stderr: \(result.standardError)")
        #expect(result.standardOutput.contains("Users scenario, 300 rows, SQLite 3."))
        #expect(result.standardOutput.contains("| configuration | median s | min–max s | rows/s | × floor |"))
        #expect(result.standardError.contains("round 1/1: floor, 1 statement"))

        let report = try JSONDecoder().decode(BenchReport.self, from: Data(contentsOf: json))
        #expect(report.database.product == "SQLite")
        #expect(report.database.version.hasPrefix("3."))
        #expect(report.machine.activeProcessorCount == ProcessInfo.processInfo.activeProcessorCount)
        #expect(report.rows == 300 && report.repeat == 1)
        #expect(
            report.results.map(\.id) == [
                "floor", "caseWhen-c1000-w1", "caseWhen-c1000-w2", "values-c10000-w1", "values-c10000-w2",
                "tempTable-c10000-w1", "tempTable-c10000-w2",
            ]
        )
        for configuration in report.results {
            #expect(configuration.failure == nil, "\(configuration.id): \(configuration.failure ?? "")")
            #expect(configuration.samples.count == 1)
            #expect((configuration.medianSeconds ?? 0) > 0)
            #expect(configuration.ratioToFloor != nil)
            #expect(configuration.medianClientCPUShare != nil)
        }
        #expect(report.results.first { $0.id == "values-c10000-w2" }?.workersUsed == 1)
        #expect(report.results.first { $0.id == "caseWhen-c1000-w2" }?.note?.contains("SQLite: 1 writer") == true)
        // Fields that only exist in the JSON, not in the decoded report.
        let raw = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        let first = try #require((raw["results"] as? [[String: Any]])?.first)
        let sample = try #require((first["samples"] as? [[String: Any]])?.first)
        #expect(sample["clientCPUSeconds"] is Double && sample["clientCPUShare"] is Double)
        #expect(raw["date"] is String)

        let svg = try String(contentsOf: chart, encoding: .utf8)
        let outline = try Self.parseSVG(Data(svg.utf8))
        #expect(outline.root == "svg")
        #expect(outline.texts.contains { $0.hasPrefix("Users scenario: 300 rows on SQLite 3.") })
        #expect(outline.texts.contains { $0.hasPrefix("floor, 1 statement: ") })  // the floor line's label
        for configuration in report.results {
            #expect(outline.texts.contains(configuration.title), "\(configuration.title) is not in the chart")
        }

        // --from-json prints the same table again and redraws the same chart, without running anything.
        let redrawn = directory.appendingPathComponent("redrawn.svg")
        let again = try Executable.run(["bench", "--from-json", json.path, "--chart", redrawn.path])
        #expect(again.status == 0, "stderr: \(again.standardError)")
        #expect(again.standardOutput == result.standardOutput)
        #expect(try String(contentsOf: redrawn, encoding: .utf8) == svg)
    }

    @Test("a configuration the backend cannot run is reported as failed, and the exit code says so")
    func failedConfiguration() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("bench.json")
        let result = try Executable.run([
            "bench", "--rows", "50", "--repeat", "2", "--strategies", "unnest,values", "--workers", "1", "--json",
            json.path,
        ])
        #expect(result.status != 0)
        #expect(result.standardOutput.contains("| unnest, chunk 10000, 1 worker | failed: "))
        #expect(result.standardError.contains("1 configuration(s) failed"))
        let report = try JSONDecoder().decode(BenchReport.self, from: Data(contentsOf: json))
        let unnest = try #require(report.results.first { $0.id == "unnest-c10000-w1" })
        #expect(unnest.failure?.contains("not available on SQLite") == true)
        #expect(unnest.samples.isEmpty && unnest.medianSeconds == nil)
        #expect(report.results.first { $0.id == "values-c10000-w1" }?.samples.count == 2)
    }

    @Test(
        "the bench on PostgreSQL runs the floors and every PostgreSQL strategy",
        .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason)
    )
    func postgres() throws {
        let url = try TestPostgres.requireURL()
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("bench.json")
        let result = try Executable.run([
            "bench", "--database", url, "--rows", "300", "--repeat", "1", "--workers", "1,2", "--json", json.path,
            "--table", "bulk_update_bench_test_users",
        ])
        #expect(result.status == 0, "stderr: \(result.standardError)")
        let report = try JSONDecoder().decode(BenchReport.self, from: Data(contentsOf: json))
        #expect(report.database.product == "PostgreSQL")
        let strategies = PostgresUsers.strategies.filter { $0 != .caseWhen }
        #expect(
            report.results.map(\.id)
                == ["floor", "parallelFloor-w2", "caseWhen-c1000-w1", "caseWhen-c1000-w2"]
                + strategies.flatMap { ["\($0)-c10000-w1", "\($0)-c10000-w2"] }
        )
        #expect(report.results.allSatisfy { $0.failure == nil && $0.samples.count == 1 })
        #expect(report.summary.best != nil && report.summary.bestRatioToParallelFloor != nil)
    }

    // MARK: - Helpers

    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("bulk-update-bench-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    static func report(results: [BenchReport.Result]) -> BenchReport {
        BenchReport(
            date: "2025-01-01T00:00:00Z",
            database: .init(product: "PostgreSQL", version: "15.18", location: "test", concurrentWriters: true),
            machine: .init(activeProcessorCount: 2, processorCount: 2, physicalMemoryBytes: 0, operatingSystem: "test"),
            table: "users",
            rows: 1_000,
            repeat: 3,
            workerCounts: [1, 2],
            strategies: ["unnest", "caseWhen"],
            chunkSize: 10_000,
            caseWhenChunkSize: 1_000,
            results: results
        )
    }

    static func result(_ configuration: BenchConfiguration, seconds: [Double], cpu share: Double) -> BenchReport.Result
    {
        BenchReport.Result(
            id: configuration.id,
            kind: configuration.kind,
            title: configuration.title,
            strategy: configuration.strategy?.description,
            workers: configuration.workers,
            chunkSize: configuration.chunkSize,
            samples: seconds.enumerated().map { round, time in
                BenchReport.Sample(
                    round: round + 1,
                    seconds: time,
                    clientUserSeconds: time * share,
                    clientSystemSeconds: 0
                )
            }
        )
    }

    /// The root element and every text node of an XML document; throws if it is not well-formed.
    static func parseSVG(_ data: Data) throws -> (root: String?, texts: [String]) {
        final class Collector: NSObject, XMLParserDelegate {
            var root: String?
            var texts: [String] = []
            var current = ""
            func parser(
                _ parser: XMLParser,
                didStartElement name: String,
                namespaceURI: String?,
                qualifiedName: String?,
                attributes: [String: String] = [:]
            ) {
                if self.root == nil { self.root = name }
                self.current = ""
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { self.current += string }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?)
            {
                if name == "text" { self.texts.append(self.current) }
                self.current = ""
            }
        }
        let parser = XMLParser(data: data)
        let collector = Collector()
        parser.delegate = collector
        guard parser.parse() else {
            throw BenchFailure(
                "the SVG is not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "unknown error")"
                    + " at line \(parser.lineNumber)"
            )
        }
        return (collector.root, collector.texts)
    }
}
