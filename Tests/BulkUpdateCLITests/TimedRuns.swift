import Testing

/// The suites whose tests start a run and act on it while it goes — signals, pauses, kills, a lagging standby —
/// timed against the run's own progress. They run one at a time: each blocks a thread while it waits for its run,
/// and tests share only as many threads as the machine has cores, so several at once would starve every other test
/// (and each other's timing).
@Suite("runs acted on while they go", .serialized)
enum TimedRuns {}
