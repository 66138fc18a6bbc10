import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateTestSupport
import CoreMetrics
import Foundation
import InMemoryTracing
import MetricsTestKit
import PostgresNIO
import Testing
import Tracing

/// Metrics through swift-metrics' test backend and spans through an in-memory tracer, both bound to the test's task
/// (`withMetricsFactory`, `withTracer`), so no global bootstrap is needed and suites run in parallel.
@Suite("PostgreSQL metrics and traces", .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason))
struct PostgresObservabilityTests {
    /// The rows of the run: 900 changed, 100 unchanged, 50 keys not found.
    static let rows: [BulkUpdateRow] = (1...1050).map { (id: Int) -> BulkUpdateRow in
        let value: BulkUpdateValue = id <= 900 ? .string("new \(id)") : id <= 1000 ? .string("old") : .string("none")
        return [.int(id), value]
    }

    @Test("a run with changed, unchanged and not-found rows and a forced retry: exact counts and spans")
    func countsAndSpans() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 1000) g")
            // The first UPDATE statement fails with a serialization failure; the sequence is not rolled back, so
            // the retry passes: exactly one retry.
            let marker = "bu_once_\(UUID().uuidString.prefix(6).lowercased())"
            try await client.run("CREATE SEQUENCE \(marker)")
            try await client.run(
                """
                CREATE FUNCTION \(marker)() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                IF nextval('\(marker)') = 1 THEN RAISE EXCEPTION 'forced' USING ERRCODE = 'serialization_failure';
                END IF; RETURN NULL; END $$
                """
            )
            try await client.run(
                "CREATE TRIGGER \(marker) BEFORE UPDATE ON \(table) FOR EACH STATEMENT EXECUTE FUNCTION \(marker)()"
            )
            var options = BulkUpdateOptions(workers: 2, chunkSize: 100, skipUnchanged: true)
            options.maximumRetries = 3
            let metrics = TestMetrics()
            let tracer = InMemoryTracer()
            let (report, jobSpanID) = try await withMetricsFactory(metrics) {
                try await withTracer(tracer) {
                    try await withSpan("job") { span in
                        let report = try await updater.update(table, set: ["v"], rows: Self.rows, options: options)
                        return (report, span.context.inMemorySpanContext?.spanID)
                    }
                }
            }
            try await client.run("DROP FUNCTION \(marker)() CASCADE")
            try await client.run("DROP SEQUENCE \(marker)")
            #expect(try await client.rows("SELECT count(*)::text FROM \(table) WHERE v LIKE 'new %'") == [["900"]])
            #expect(report.rowsChanged == 900)
            #expect(report.rowsUnchanged == 100)
            #expect(report.keysNotFound == 50)
            #expect(report.retries == ["40001": 1])

            // Metrics: each counter equals the report.
            let dimensions = [("table", report.table), ("strategy", report.strategy), ("backend", "postgresql")]
            func total(_ name: String, _ extra: [(String, String)] = []) throws -> Int64 {
                try metrics.expectCounter(name, dimensions + extra).totalValue
            }
            #expect(try total(MetricName.rowsRead) == 1050)
            #expect(try total(MetricName.rowsWritten) == 1050)
            #expect(try total(MetricName.rowsChanged) == 900)
            #expect(try total(MetricName.rowsUnchanged) == 100)
            #expect(try total(MetricName.rowsNotFound) == 50)
            #expect(try total(MetricName.rowsConflicting) == 0)
            #expect(try total(MetricName.chunks) == Int64(report.chunks))
            #expect(report.chunks >= 11)
            #expect(try total(MetricName.retries, [("cause", "40001")]) == 1)
            #expect(metrics.counters(label: MetricName.retries).count == 1)
            let durations = try metrics.expectTimer(MetricName.chunkDuration, dimensions)
            #expect(durations.values.count == report.chunks)
            #expect(durations.values.allSatisfy { $0 > 0 })
            // Once the run has ended: no rate, not running, and the time since the last chunk was measured.
            #expect(try metrics.expectGauge(MetricName.rowsPerSecond, dimensions).lastValue == 0)
            #expect(try metrics.expectGauge(MetricName.running, dimensions).lastValue == 0)
            #expect(try metrics.expectGauge(MetricName.running, dimensions).values.contains(1))
            let since = try #require(try metrics.expectGauge(MetricName.secondsSinceLastChunk, dimensions).lastValue)
            #expect(since >= 0 && since < 60)
            // No standby is watched: no lag gauge.
            #expect(metrics.recorders(label: MetricName.replicaLag).isEmpty)
            // Labels are bounded: no metric carries a key or a value.
            let labels = metrics.counters.flatMap(\.dimensions).map(\.0)
            #expect(Set(labels).isSubset(of: ["table", "strategy", "backend", "cause"]))

            // Spans: the run is a child of the caller's span, every chunk a child of the run.
            let spans = tracer.finishedSpans
            let run = try #require(spans.first { $0.operationName == RunSpans.run })
            #expect(run.parentSpanID == jobSpanID)
            #expect(run.attributes.get(RunSpans.Attribute.system) == .string("postgresql"))
            #expect(run.attributes.get(RunSpans.Attribute.collection) == .string(report.table))
            #expect(run.attributes.get(RunSpans.Attribute.rowsChanged) == .int64(900))
            #expect(run.attributes.get(RunSpans.Attribute.rowsNotFound) == .int64(50))
            #expect(run.attributes.get(RunSpans.Attribute.retries) == .int64(1))
            #expect(run.status == nil)
            let chunks = spans.filter { $0.operationName == RunSpans.chunk }
            #expect(chunks.count == report.chunks)
            #expect(chunks.allSatisfy { $0.parentSpanID == run.spanID && $0.traceID == run.traceID })
            #expect(
                chunks.map { $0.attributes.get(RunSpans.Attribute.rows) }.reduce(0) { sum, rows in
                    if case .int64(let count) = rows { return sum + Int(count) }
                    return sum
                } == 1050
            )
            let retried = chunks.filter { !$0.events.isEmpty }
            try #require(retried.count == 1)
            #expect(retried[0].events.map(\.name) == [RunSpans.retryEvent])
            #expect(retried[0].events[0].attributes.get(RunSpans.Attribute.sqlState) == .string("40001"))
            #expect(retried[0].attributes.get(RunSpans.Attribute.attempt) == .int64(2))
            #expect(
                chunks.filter { $0.attributes.get(RunSpans.Attribute.attempt) == .int64(1) }.count
                    == report.chunks - 1
            )
        }
    }

    @Test("a failed run: the spans name the error code and SQLSTATE, never the message (it may quote values)")
    func failedRunSpans() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, u text UNIQUE") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'u' || g FROM generate_series(1, 10) g")
            let metrics = TestMetrics()
            let tracer = InMemoryTracer()
            let error = try await withMetricsFactory(metrics) {
                try await withTracer(tracer) {
                    try await #require(throws: BulkUpdateError.self) {
                        try await updater.update(
                            table,
                            set: ["u"],
                            rows: [[1, "secret"], [2, "secret"]],
                            options: BulkUpdateOptions(workers: 1)
                        )
                    }
                }
            }
            #expect(error.sqlState == "23505")
            let spans = tracer.finishedSpans
            for name in [RunSpans.run, RunSpans.chunk] {
                let span = try #require(spans.first { $0.operationName == name })
                #expect(span.status?.code == .error)
                #expect(span.attributes.get(RunSpans.Attribute.errorType) == .string("constraint"))
                #expect(span.attributes.get(RunSpans.Attribute.sqlState) == .string("23505"))
                #expect(span.errors.isEmpty)
                #expect(!"\(span.attributes) \(String(describing: span.status))".contains("secret"))
            }
            // Nothing committed: no chunk counted, and the run is not running any more.
            let name = try #require(error.partialReport?.table)
            let dimensions = [("table", name), ("strategy", "unnest"), ("backend", "postgresql")]
            #expect(try metrics.expectCounter(MetricName.chunks, dimensions).totalValue == 0)
            #expect(try metrics.expectGauge(MetricName.running, dimensions).lastValue == 0)
            #expect(try await client.rows("SELECT count(*)::text FROM \(table) WHERE u = 'secret'") == [["0"]])
        }
    }

    @Test("a dry run records no metrics (it writes nothing) but is traced")
    func dryRunRecordsNoMetrics() async throws {
        try await TestDatabase.withTestTable("id int PRIMARY KEY, v text") { client, updater, table in
            try await client.run("INSERT INTO \(table) SELECT g, 'old' FROM generate_series(1, 10) g")
            var options = BulkUpdateOptions()
            options.dryRun = true
            let metrics = TestMetrics()
            let tracer = InMemoryTracer()
            let report = try await withMetricsFactory(metrics) {
                try await withTracer(tracer) {
                    try await updater.update(table, set: ["v"], rows: [[1, "new"]], options: options)
                }
            }
            #expect(report.dryRun && report.rowsChanged == 1)
            #expect(metrics.counters.isEmpty && metrics.timers.isEmpty && metrics.recorders.isEmpty)
            let chunk = try #require(tracer.finishedSpans.first { $0.operationName == RunSpans.chunk })
            #expect(chunk.attributes.get(RunSpans.Attribute.operation) == .string("SELECT"))
            #expect(try await client.rows("SELECT count(*)::text FROM \(table) WHERE v = 'old'") == [["10"]])
        }
    }
}
