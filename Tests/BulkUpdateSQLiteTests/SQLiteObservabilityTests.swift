import BulkUpdate
import BulkUpdateSQLite
import CoreMetrics
import InMemoryTracing
import MetricsTestKit
import Testing
import Tracing

/// Metrics and spans on SQLite, through swift-metrics' test backend and an in-memory tracer bound to the test's task.
@Suite("SQLite metrics and traces")
struct SQLiteObservabilityTests {
    static let seed =
        "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 500) INSERT INTO t SELECT i, 0 FROM g"

    static let dimensions = [("table", "main.t"), ("strategy", "values"), ("backend", "sqlite")]

    @Test("per chunk: counts equal the report; a pause is counted by cause while the run waits")
    func perChunkAndPaused() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
            try await connection.run(Self.seed)
            // 400 changed, 100 unchanged, 20 not found.
            let rows = (1...520).map { BulkUpdateRow.of(.int($0), $0 <= 400 ? 1 : 0) }
            let control = BulkUpdateControl()
            control.pause(reason: "the test")
            let options = {
                var options = BulkUpdateOptions(workers: 1, chunkSize: 50, skipUnchanged: true)
                options.control = control
                return options
            }()
            let metrics = TestMetrics()
            let tracer = InMemoryTracer()
            let report = try await withMetricsFactory(metrics) {
                try await withTracer(tracer) {
                    async let run = updater.update("t", set: ["v"], rows: rows, options: options)
                    // Once the run has started and reported itself paused, it stays paused for over a second.
                    let deadline = ContinuousClock.now + .seconds(60)
                    while ContinuousClock.now < deadline,
                        (try? metrics.expectGauge(MetricName.paused, Self.dimensions))?.values.contains(1) != true
                    {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    try await Task.sleep(for: .milliseconds(1100))
                    control.continue()
                    return try await run
                }
            }
            #expect(try await connection.integer("SELECT count(*) FROM t WHERE v = 1") == 400)
            let dimensions = Self.dimensions
            #expect(report.table == "main.t" && report.strategy == "values")
            #expect(try metrics.expectCounter(MetricName.rowsRead, dimensions).totalValue == 520)
            #expect(try metrics.expectCounter(MetricName.rowsWritten, dimensions).totalValue == 520)
            #expect(try metrics.expectCounter(MetricName.rowsChanged, dimensions).totalValue == 400)
            #expect(try metrics.expectCounter(MetricName.rowsUnchanged, dimensions).totalValue == 100)
            #expect(try metrics.expectCounter(MetricName.rowsNotFound, dimensions).totalValue == 20)
            #expect(try metrics.expectCounter(MetricName.chunks, dimensions).totalValue == 11)
            #expect(report.chunks == 11)
            // The test backend has no floating-point counter: swift-metrics adds whole seconds to an integer one.
            let paused = try metrics.expectCounter(MetricName.pausedSeconds, dimensions + [("cause", "requested")])
            #expect(paused.totalValue >= 1)
            #expect((report.pausedSeconds["requested"] ?? 0) >= 1.1)
            // While paused the gauge said so; at the end it does not.
            let pausedGauge = try metrics.expectGauge(MetricName.paused, dimensions)
            #expect(pausedGauge.values.contains(1))
            #expect(pausedGauge.lastValue == 0)
            #expect(tracer.finishedSpans.filter { $0.operationName == RunSpans.chunk }.count == 11)
            let run = try #require(tracer.finishedSpans.first { $0.operationName == RunSpans.run })
            #expect(run.attributes.get(RunSpans.Attribute.system) == .string("sqlite"))
            #expect(run.parentSpanID == nil)
        }
    }

    @Test("atomic: the counts are recorded once the one transaction has committed, and not when it rolls back")
    func atomic() async throws {
        try await withTestDatabase { updater, connection, _ in
            try await connection.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL CHECK (v < 9))")
            try await connection.run(Self.seed)
            var options = BulkUpdateOptions(workers: 1, chunkSize: 100)
            options.atomic = true
            let metrics = TestMetrics()
            let report = try await withMetricsFactory(metrics) {
                try await updater.update("t", set: ["v"], rows: (1...500).map { .of(.int($0), 2) }, options: options)
            }
            let dimensions = [("table", report.table), ("strategy", report.strategy), ("backend", "sqlite")]
            #expect(try metrics.expectCounter(MetricName.rowsChanged, dimensions).totalValue == 500)
            #expect(try metrics.expectCounter(MetricName.chunks, dimensions).totalValue == 5)
            // Its chunks commit with the run, not one by one: none is timed as a committed chunk.
            #expect(try metrics.expectTimer(MetricName.chunkDuration, dimensions).values.isEmpty)

            // The last chunk breaks the CHECK: the whole run rolls back, and nothing is counted as changed.
            let failing = TestMetrics()
            let rows = (1...500).map { BulkUpdateRow.of(.int($0), $0 == 500 ? 9 : 3) }
            await #expect(throws: BulkUpdateError.self) {
                try await withMetricsFactory(failing) {
                    try await updater.update("t", set: ["v"], rows: rows, options: options)
                }
            }
            #expect(try await connection.integer("SELECT count(*) FROM t WHERE v = 2") == 500)
            #expect(try failing.expectCounter(MetricName.rowsChanged, dimensions).totalValue == 0)
            #expect(try failing.expectCounter(MetricName.rowsRead, dimensions).totalValue == 500)
        }
    }
}
