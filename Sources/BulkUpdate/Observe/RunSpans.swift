import Tracing

/// The spans a run records through swift-distributed-tracing: one per run, one per chunk (a child of the run's),
/// started from the task's current context, so that a run inside a request or a job is traced as part of it. The
/// tracer is `InstrumentationSystem.tracer`, which `withTracer` overrides for a task; with none bootstrapped,
/// nothing is recorded.
///
/// Spans never carry row values: a failure is recorded as its error code and SQLSTATE, not its message (which may
/// quote a value).
package enum RunSpans {
    /// The span of a whole run.
    package static let run = "bulk_update.run"
    /// The span of one chunk: all its attempts, and the write that committed it (or the preview that read it).
    package static let chunk = "bulk_update.chunk"
    /// The event added to a chunk's span for each attempt that failed and is retried.
    package static let retryEvent = "bulk_update.retry"

    /// Attribute names: OpenTelemetry's database conventions where one fits, `bulk_update.` for the rest.
    package enum Attribute {
        package static let system = "db.system.name"
        package static let collection = "db.collection.name"
        package static let operation = "db.operation.name"
        package static let sqlState = "db.response.status_code"
        package static let errorType = "error.type"
        package static let strategy = "bulk_update.strategy"
        package static let workers = "bulk_update.workers"
        package static let chunkSize = "bulk_update.chunk_size"
        package static let atomic = "bulk_update.atomic"
        package static let dryRun = "bulk_update.dry_run"
        package static let runID = "bulk_update.run_id"
        package static let worker = "bulk_update.worker"
        package static let chunk = "bulk_update.chunk"
        package static let rows = "bulk_update.rows"
        package static let attempt = "bulk_update.attempt"
        package static let rowsRead = "bulk_update.rows_read"
        package static let rowsMatched = "bulk_update.rows_matched"
        package static let rowsChanged = "bulk_update.rows_changed"
        package static let rowsUnchanged = "bulk_update.rows_unchanged"
        package static let rowsNotFound = "bulk_update.rows_not_found"
        package static let rowsConflicting = "bulk_update.rows_conflicting"
        package static let chunks = "bulk_update.chunks"
        package static let retries = "bulk_update.retries"
        package static let pausedSeconds = "bulk_update.paused_seconds"
    }

    /// Runs `body` inside a new span that is the current context for it (so spans started within are its
    /// children), and ends the span when `body` returns or throws.
    static func with<T>(
        _ name: String,
        kind: SpanKind,
        _ body: (any Span) async throws -> T
    ) async throws -> T {
        let span = InstrumentationSystem.tracer.startSpan(name, context: .current ?? .topLevel, ofKind: kind)
        defer { span.end() }
        do {
            return try await InstrumentationContext.withValue(span.context) { try await body(span) }
        } catch {
            Self.failed(span, error)
            throw error
        }
    }

    /// Marks `span` as failed by `error`, naming its code and SQLSTATE only.
    static func failed(_ span: any Span, _ error: any Error) {
        let type: String
        if let error = error as? BulkUpdateError {
            type = error.code.description
            if let sqlState = error.sqlState { span.attributes[Attribute.sqlState] = sqlState }
        } else if error is CancellationError {
            type = "cancelled"
        } else {
            type = String(describing: Swift.type(of: error))
        }
        span.attributes[Attribute.errorType] = type
        span.setStatus(SpanStatus(code: .error, message: type))
    }

    /// The counts of a report, on the run's span.
    static func record(_ report: BulkUpdateReport, on span: any Span) {
        span.attributes[Attribute.rowsRead] = report.rowsRead
        span.attributes[Attribute.rowsMatched] = report.rowsMatched
        span.attributes[Attribute.rowsChanged] = report.rowsChanged
        span.attributes[Attribute.rowsUnchanged] = report.rowsUnchanged
        span.attributes[Attribute.rowsNotFound] = report.keysNotFound
        span.attributes[Attribute.rowsConflicting] = report.rowsConflicting
        span.attributes[Attribute.chunks] = report.chunks
        span.attributes[Attribute.retries] = report.retries.values.reduce(0, +)
        span.attributes[Attribute.pausedSeconds] = report.pausedSeconds.values.reduce(0, +)
    }
}
