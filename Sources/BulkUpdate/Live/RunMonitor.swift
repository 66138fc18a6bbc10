import Foundation
import Logging

/// Watches a running run from beside the workers: twice a second it exchanges the heartbeat with the runs table
/// (taking pause, continue, stop and rate requests from there), and every
/// ``BulkUpdateOptions/healthCheckInterval`` it runs the health checks — replica lag and the user's pause
/// query — turning their pause causes on and off in the run's ``BulkUpdateControl``. Workers read the control
/// before each chunk, so a check costs the run nothing but its own query.
///
/// A check that fails (a standby that cannot be reached, a query that errs) pauses the run for its cause until it
/// succeeds again: the run never writes blind.
struct RunMonitor: Sendable {
    let probe: any RunProbe
    let state: RunState
    let options: BulkUpdateOptions
    let total: Int?
    let logger: Logger

    /// How often the heartbeat is exchanged with the runs table.
    static let heartbeatInterval = Duration.milliseconds(500)

    /// Loops until the task is cancelled.
    func run() async {
        let control = self.state.control
        var lastRequest: RunRequest?
        var nextCheck = ContinuousClock.now
        var lastCommitted = 0
        var lastBeat = ContinuousClock.now
        var rate = 0.0
        while !Task.isCancelled {
            let now = ContinuousClock.now
            if now >= nextCheck {
                nextCheck = now + self.options.healthCheckInterval
                await self.checkHealth(control)
            }
            let progress = self.state.progress
            let seconds = BulkUpdateEngine.seconds(now - lastBeat)
            if seconds > 0 {
                // Smoothed over a few seconds, so one slow chunk does not swing the ETA.
                let recent = Double(progress.rowsCommitted - lastCommitted) / seconds
                rate = rate == 0 ? recent : 0.8 * rate + 0.2 * recent
            }
            lastCommitted = progress.rowsCommitted
            lastBeat = now
            let heartbeat = RunHeartbeat(
                state: progress.state.rawValue,
                pauses: progress.pauses.isEmpty ? nil : progress.pauses.joined(separator: "; "),
                rowsPerSecond: rate,
                rowsTotal: self.total
            )
            do {
                if let request = try await self.probe.exchange(heartbeat), request != lastRequest {
                    self.apply(request, previous: lastRequest, to: control)
                    lastRequest = request
                }
            } catch {
                // The heartbeat goes stale and `runs` will say so; the run itself is not stopped by it.
                self.logger.debug("run heartbeat failed", metadata: [LogKey.error: "\(type(of: error))"])
            }
            self.state.publish()
            try? await Task.sleep(for: Self.heartbeatInterval)
        }
    }

    /// Acts on what changed in the runs table since the last exchange.
    private func apply(_ request: RunRequest, previous: RunRequest?, to control: BulkUpdateControl) {
        if request.state != previous?.state {
            switch request.state {
            case "paused": control.pause(reason: "bulk-update runs pause")
            case "stopped": control.stop(reason: "bulk-update runs stop")
            case "running": control.continue()
            default: break
            }
        }
        if let previous, request.maximumRowsPerSecond != previous.maximumRowsPerSecond {
            control.setMaximumRowsPerSecond(request.maximumRowsPerSecond)
        }
        if let previous, request.targetChunkSeconds != previous.targetChunkSeconds,
            let seconds = request.targetChunkSeconds,
            seconds >= 0.01
        {
            control.setTargetChunkDuration(.seconds(seconds))
        }
    }

    private func checkHealth(_ control: BulkUpdateControl) async {
        if let limit = self.options.maximumReplicaLag {
            let limitSeconds = BulkUpdateEngine.seconds(limit)
            do {
                let lags = try await self.probe.replicaLags()
                let known = lags.compactMap(\.seconds)
                control.setReplicaLag(known.max())
                if let unknown = lags.first(where: { $0.seconds == nil }) {
                    control.setPause(.replicaLag, "the lag of \(unknown.standby) is not known", active: true)
                } else if let worst = lags.max(by: { ($0.seconds ?? 0) < ($1.seconds ?? 0) }),
                    let seconds = worst.seconds, seconds > limitSeconds
                {
                    let text = String(
                        format: "%@ is %.1f s behind (limit %.1f s)",
                        worst.standby,
                        seconds,
                        limitSeconds
                    )
                    control.setPause(.replicaLag, text, active: true)
                } else {
                    control.setPause(.replicaLag, "", active: false)
                }
            } catch {
                control.setReplicaLag(nil)
                control.setPause(.replicaLag, "the lag could not be read: \(Self.summary(error))", active: true)
            }
        }
        if self.options.pauseWhen != nil {
            do {
                let pause = try await self.probe.pauseWhen()
                control.setPause(.healthCheck, "the pause-when query returned true", active: pause)
            } catch {
                control.setPause(.healthCheck, "the pause-when query failed: \(Self.summary(error))", active: true)
            }
        }
    }

    /// An error's first line, without values: the library's own errors, or the error's type.
    private static func summary(_ error: any Error) -> String {
        if let error = error as? BulkUpdateError { return error.message }
        return String(describing: type(of: error))
    }
}
