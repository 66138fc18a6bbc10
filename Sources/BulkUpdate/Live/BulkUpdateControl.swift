import Synchronization

/// Steers a running bulk update from outside it: pause, continue, stop cleanly, change the rate limit.
///
/// Pass one in ``BulkUpdateOptions/control`` and keep it; call its methods from any task or thread while the run goes.
/// Every decision takes effect between chunks: a chunk in flight always finishes (or rolls back) whole.
///
/// ```swift
/// let control = BulkUpdateControl()
/// var options = BulkUpdateOptions()
/// options.control = control
/// // elsewhere, on SIGTERM or when the app shuts down:
/// control.stop(reason: "the app is shutting down")
/// ```
///
/// A stopped run throws ``BulkUpdateError`` with code ``BulkUpdateError/Code-swift.struct/interrupted``; its
/// ``BulkUpdateError/partialReport`` lists the committed chunks, and a journaled run can be resumed.
public final class BulkUpdateControl: Sendable {
    /// Why a run is paused. New causes may be added in later versions.
    public struct PauseCause: Hashable, Sendable, CustomStringConvertible {
        private let name: String

        /// Someone asked: ``BulkUpdateControl/pause()`` or `bulk-update runs pause`.
        public static let requested = PauseCause(name: "requested")
        /// A standby's replay lag is over ``BulkUpdateOptions/maximumReplicaLag``, or cannot be read.
        public static let replicaLag = PauseCause(name: "replica lag")
        /// The query of ``BulkUpdateOptions/pauseWhen`` returned true, or failed.
        public static let healthCheck = PauseCause(name: "health check")

        private init(name: String) { self.name = name }

        public var description: String { self.name }
    }

    struct State {
        /// Active pause causes, each with a detail for people (`standby s1: 12.3 s behind`) and when it began.
        var pauses: [PauseCause: (detail: String, since: ContinuousClock.Instant)] = [:]
        /// Seconds paused so far by cause, for the report (a pause that is still on counts up to now).
        var pausedSeconds: [PauseCause: Double] = [:]
        var stopReason: String?
        var rowsPerSecond: Int?
        var rowsPerSecondChanged = false
        var targetChunkSeconds: Double?
        var replicaLagSeconds: Double?
        /// Pause causes on only until their check first answers (``awaitFirstAnswer(_:_:)``): not counted as paused
        /// time unless the check then pauses the run.
        var unanswered: Set<PauseCause> = []

        /// The pauses shown and counted as paused time: those whose check has answered.
        var shownPauses: [PauseCause: (detail: String, since: ContinuousClock.Instant)] {
            self.pauses.filter { !self.unanswered.contains($0.key) }
        }
    }

    let state = Mutex(State())

    /// Creates a control for one run.
    public init() {}

    /// Pauses the run: no chunk starts until ``continue()``; chunks in flight finish.
    ///
    /// - Parameter reason: Who asked, for progress and the runs table (`bulk-update runs pause`).
    public func pause(reason: String = "") {
        self.setPause(.requested, reason, active: true)
    }

    /// Ends a pause asked for with ``pause()``. Pauses for other causes (replica lag, the health check) end on
    /// their own.
    public func `continue`() {
        self.setPause(.requested, "", active: false)
    }

    /// Stops the run cleanly: no new chunk starts, chunks in flight finish, and the run throws
    /// ``BulkUpdateError/Code-swift.struct/interrupted`` naming `reason` ("the run was stopped by `reason`").
    public func stop(reason: String = "BulkUpdateControl.stop()") {
        self.state.withLock { state in
            if state.stopReason == nil { state.stopReason = reason }
        }
    }

    /// Changes the rate limit (``BulkUpdateOptions/maximumRowsPerSecond``) of the running run; `nil` lifts it.
    public func setMaximumRowsPerSecond(_ rate: Int?) {
        precondition(rate.map { $0 >= 1 } ?? true, "maximumRowsPerSecond must be at least 1")
        self.state.withLock {
            $0.rowsPerSecond = rate
            $0.rowsPerSecondChanged = true
        }
    }

    /// Changes the target of an adaptive run's chunks (``BulkUpdateOptions/targetChunkDuration``) while it goes; a
    /// run started with fixed chunks stays fixed.
    public func setTargetChunkDuration(_ target: Duration) {
        precondition(target >= .milliseconds(10), "targetChunkDuration must be at least 10 ms")
        self.state.withLock { $0.targetChunkSeconds = BulkUpdateEngine.seconds(target) }
    }

    /// The chunk target set while the run goes, if any.
    package var changedTargetChunkSeconds: Double? { self.state.withLock { $0.targetChunkSeconds } }

    /// Whether a stop was asked for.
    public var isStopping: Bool { self.state.withLock { $0.stopReason != nil } }

    /// Whether the run is paused, for any cause.
    public var isPaused: Bool { self.state.withLock { !$0.pauses.isEmpty } }

    /// The causes the run is paused for now, each with a detail (`standby s1: 12.3 s behind`).
    public var pauseCauses: [PauseCause: String] {
        self.state.withLock { state in
            state.shownPauses.mapValues(\.detail)
        }
    }

    /// Why the run is stopping (the `reason` given to ``stop(reason:)``); `nil` while it is not.
    public var stopReason: String? { self.state.withLock { $0.stopReason } }

    /// Turns the pause for `cause` on or off; `detail` says why, for progress and the runs table.
    package func setPause(_ cause: PauseCause, _ detail: String, active: Bool) {
        let now = ContinuousClock.now
        self.state.withLock { state in
            if active {
                // A check that pauses at its first answer paused the run from the start.
                state.unanswered.remove(cause)
                if let current = state.pauses[cause] {
                    state.pauses[cause] = (detail, current.since)
                } else {
                    state.pauses[cause] = (detail, now)
                }
            } else if let ended = state.pauses.removeValue(forKey: cause), state.unanswered.remove(cause) == nil {
                state.pausedSeconds[cause, default: 0] += BulkUpdateEngine.seconds(now - ended.since)
            }
        }
    }

    /// Holds the run for `cause` until its check first answers (``setPause(_:_:active:)``): no chunk starts before
    /// the check has said whether the run may write. The wait counts as paused time only if the check then pauses
    /// the run.
    package func awaitFirstAnswer(_ cause: PauseCause, _ detail: String) {
        let now = ContinuousClock.now
        self.state.withLock { state in
            guard state.pauses[cause] == nil else { return }
            state.pauses[cause] = (detail, now)
            state.unanswered.insert(cause)
        }
    }

    package func setReplicaLag(_ seconds: Double?) {
        self.state.withLock { $0.replicaLagSeconds = seconds }
    }

    /// Seconds paused by cause so far, pauses still on included.
    package var pausedSeconds: [PauseCause: Double] {
        let now = ContinuousClock.now
        return self.state.withLock { state in
            var total = state.pausedSeconds
            for (cause, pause) in state.shownPauses {
                total[cause, default: 0] += BulkUpdateEngine.seconds(now - pause.since)
            }
            return total
        }
    }

    /// The rate limit set while the run goes, if any was: `(rate)`; `nil` when it was never changed.
    package var changedRowsPerSecond: Int?? {
        self.state.withLock { $0.rowsPerSecondChanged ? .some($0.rowsPerSecond) : .none }
    }
}
