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

    /// Loops until the task is cancelled: the heartbeat and the health checks each in a loop of its own, so a check
    /// that hangs neither stops the heartbeat nor goes unnoticed.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.beat() }
            if self.options.watchesHealth { group.addTask { await self.watchHealth() } }
        }
    }

    /// Exchanges the heartbeat with the runs table twice a second and publishes progress.
    private func beat() async {
        let control = self.state.control
        var lastRequest: RunRequest?
        var lastCommitted = 0
        var lastBeat = ContinuousClock.now
        var rate = 0.0
        while !Task.isCancelled {
            let now = ContinuousClock.now
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

    /// Holds the run until each health check has answered once: a worker would otherwise start its first chunk
    /// before the first check, while the check may say the run must wait. Called before the workers start.
    func holdUntilFirstChecks() {
        let control = self.state.control
        if self.options.maximumReplicaLag != nil {
            control.awaitFirstAnswer(.replicaLag, "waiting for the first replica lag check")
        }
        if self.options.pauseWhen != nil {
            control.awaitFirstAnswer(.healthCheck, "waiting for the pause-when query's first answer")
        }
    }

    /// Runs the health checks every ``BulkUpdateOptions/healthCheckInterval``.
    private func watchHealth() async {
        let control = self.state.control
        while !Task.isCancelled {
            let next = ContinuousClock.now + self.options.healthCheckInterval
            if let limit = self.options.maximumReplicaLag {
                await self.watched(.replicaLag, "the replica lag check", control) {
                    try await self.checkLag(limit, control)
                }
            }
            if self.options.pauseWhen != nil {
                await self.watched(.healthCheck, "the pause-when query", control) {
                    let pause = try await self.probe.pauseWhen()
                    control.setPause(.healthCheck, "the pause-when query returned true", active: pause)
                }
            }
            try? await Task.sleep(until: next, clock: .continuous)
        }
    }

    /// Runs one check. One that has not answered within the check interval (at least a second) pauses the run for
    /// its cause until it answers; one that fails pauses it until a later check succeeds.
    private func watched(
        _ cause: BulkUpdateControl.PauseCause,
        _ name: String,
        _ control: BulkUpdateControl,
        _ check: @escaping @Sendable () async throws -> Void
    ) async {
        let patience = max(self.options.healthCheckInterval, .seconds(1))
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await check()
                } catch {
                    control.setPause(cause, "\(name) failed: \(Self.summary(error))", active: true)
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: patience)
                return false
            }
            if await group.next() == false {
                control.setPause(
                    cause,
                    "\(name) has not answered within \(BulkUpdateEngine.seconds(patience)) s",
                    active: true
                )
                _ = await group.next()
            }
            group.cancelAll()
        }
    }

    private func checkLag(_ limit: Duration, _ control: BulkUpdateControl) async throws {
        let limitSeconds = BulkUpdateEngine.seconds(limit)
        let lags: [(standby: String, seconds: Double?)]
        do {
            lags = try await self.probe.replicaLags()
        } catch {
            control.setReplicaLag(nil)
            throw error
        }
        control.setReplicaLag(lags.compactMap(\.seconds).max())
        if let unknown = lags.first(where: { $0.seconds == nil }) {
            control.setPause(.replicaLag, "the lag of \(unknown.standby) is not known", active: true)
        } else if let worst = lags.max(by: { ($0.seconds ?? 0) < ($1.seconds ?? 0) }), let seconds = worst.seconds,
            seconds > limitSeconds
        {
            let text = String(format: "%@ is %.2f s behind (limit %.2f s)", worst.standby, seconds, limitSeconds)
            control.setPause(.replicaLag, text, active: true)
        } else {
            control.setPause(.replicaLag, "", active: false)
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

    /// An error's first line, without values: the library's own errors, or the error's type.
    private static func summary(_ error: any Error) -> String {
        if let error = error as? BulkUpdateError { return error.message }
        return String(describing: type(of: error))
    }
}
