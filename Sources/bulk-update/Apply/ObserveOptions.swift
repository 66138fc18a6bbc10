import ArgumentParser
import BulkUpdate
import CoreMetrics
import Foundation
import Logging
import NIOCore
import Prometheus
import Synchronization

/// `--log-level`, `--metrics-port` and `--metrics-linger`: a run seen through the operator's own tools.
struct ObserveOptions: ParsableArguments {
    @Option(
        help: """
            Log to standard error at this level: trace (every chunk), debug (each run's start and end), \
            info (retries and fallbacks), notice, warning, error, critical. Default: no log. Logs never carry row \
            values. They share standard error with the progress (with --progress json, a line that is not JSON is \
            a log line).
            """
    )
    var logLevel: String?

    @Option(
        help: """
            Serve the run's metrics as Prometheus text on http://127.0.0.1:PORT/metrics while it goes (0 picks a \
            free port; the address is printed on standard error when the run starts).
            """
    )
    var metricsPort: Int?

    @Option(
        help: """
            Seconds (0 to 86400) to keep serving --metrics-port after the run ends, also when a signal stopped \
            it, so that the last scrape sees its final values; a signal during the wait ends it.
            """
    )
    var metricsLinger: Double = 0

    func validate() throws {
        if let level = self.logLevel, Logger.Level(rawValue: level.lowercased()) == nil {
            throw ValidationError(
                "--log-level must be one of "
                    + Logger.Level.allCases.map(\.rawValue).joined(separator: ", ") + ", got '\(level)'"
            )
        }
        if let port = self.metricsPort, !(0...65_535).contains(port) {
            throw ValidationError("--metrics-port must be between 0 (any free port) and 65535, got \(port)")
        }
        guard self.metricsLinger.isFinite, (0...86_400).contains(self.metricsLinger) else {
            throw ValidationError("--metrics-linger must be between 0 and 86400 seconds, got \(self.metricsLinger)")
        }
        if self.metricsLinger > 0 && self.metricsPort == nil {
            throw ValidationError("--metrics-linger keeps --metrics-port serving; give the port too")
        }
    }

    /// Where the library logs: standard error at `--log-level`, else nowhere.
    var logger: Logger {
        guard let level = self.logLevel.flatMap({ Logger.Level(rawValue: $0.lowercased()) }) else {
            return Logger.silent
        }
        var logger = Logger(label: "bulk-update") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }

    /// Runs `body` with the run's metrics served on `--metrics-port` (recorded through a Prometheus registry made
    /// the task's metrics factory); after it, serves them `--metrics-linger` seconds more, or until a signal.
    ///
    /// - Throws: ``BulkUpdateError`` with code `configuration` when the port cannot be listened on; then `body`
    ///   does not run.
    func serving<T>(until signals: StopSignals, _ body: () async throws -> T) async throws -> T {
        guard let port = self.metricsPort else { return try await body() }
        let registry = PrometheusCollectorRegistry()
        let server: MetricsServer
        do {
            server = try await MetricsServer.start(registry: registry, port: port)
        } catch {
            let reason = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)"
            throw BulkUpdateError(
                .configuration,
                "cannot serve metrics on 127.0.0.1:\(port) (--metrics-port): \(reason)"
            )
        }
        FileHandle.standardError.write(Data("metrics: http://127.0.0.1:\(server.port)/metrics\n".utf8))
        let result: Result<T, any Error>
        do {
            result = .success(try await withMetricsFactory(PrometheusMetricsFactory(registry: registry), body))
        } catch {
            result = .failure(error)
        }
        signals.context.withLock { $0.ended = true }
        let end = ContinuousClock.now + .milliseconds(Int(self.metricsLinger * 1000))
        if self.metricsLinger > 0, signals.control.isStopping {
            // The run was stopped by a signal; its final values stay up too, until the time is up or another signal.
            FileHandle.standardError.write(
                Data("serving the final metrics for \(self.metricsLinger) s; signal again to exit now\n".utf8)
            )
        }
        while ContinuousClock.now < end, !signals.context.withLock({ $0.lingerEnded }) {
            try? await Task.sleep(for: min(.milliseconds(100), end - .now))
        }
        await server.stop()
        return try result.get()
    }
}
