import BulkUpdate
import Dispatch
import Foundation
import Synchronization

/// SIGINT (Ctrl-C) and SIGTERM (`kill`, a container's eviction) during `apply`: the first asks the run to stop
/// cleanly — no new chunk starts, chunks in flight finish — and the run ends with exit code 75 and the command that
/// resumes it. If the chunks in flight have not finished within the grace period, or a second signal comes, the
/// process exits at once with 75: the server rolls back what those chunks had not committed, and the journal, which
/// commits with each chunk, says exactly which chunks are applied.
final class StopSignals: Sendable {
    /// What the process knows when it must exit at once: the run id, and the progress so far.
    struct Context {
        var runID: String?
        var atomic = false
        var progress: BulkUpdateProgress?
        var reportFile: ReportFile?
        /// The run has ended and its outcome is out; the process only serves its metrics a while longer
        /// (`--metrics-linger`), which a signal ends.
        var ended = false
        /// A signal came after the run ended: the linger ends.
        var lingerEnded = false
    }

    let control = BulkUpdateControl()
    let context = Mutex(Context())
    private let grace: Duration
    private let signals = Mutex(0)
    /// The write end of the pipe the signal handler writes a signal's number to: set once in ``install()`` before
    /// the handler is installed, and only read afterwards (by the handler: one `write`, which is async-signal-safe).
    nonisolated(unsafe) private static var pipeWrite: Int32 = -1

    init(grace: Duration) {
        self.grace = grace
    }

    /// Takes SIGINT and SIGTERM over from their default action (ending the process) for the rest of the process.
    ///
    /// A plain handler writes the signal's number to a pipe, and a thread of its own reads it and acts. The signals
    /// are unblocked on that thread and on this one: a process started from a thread that blocks them (a thread pool
    /// of the parent) inherits that mask, and would otherwise never see them.
    func install() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        Self.pipeWrite = ends[1]
        let readEnd = ends[0]
        for number in [SIGINT, SIGTERM] {
            _ = signal(number) { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(StopSignals.pipeWrite, &byte, 1)
            }
        }
        Self.unblockStopSignals()
        let thread = Thread { [self] in
            Self.unblockStopSignals()
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) == 1 { self.received(Int32(byte)) }
        }
        thread.start()
    }

    private static func unblockStopSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    private func received(_ number: Int32) {
        let name = number == SIGINT ? "SIGINT" : "SIGTERM"
        let count = self.signals.withLock {
            $0 += 1
            return $0
        }
        let ended = self.context.withLock { context in
            if context.ended { context.lingerEnded = true }
            return context.ended
        }
        if ended { return }
        guard count == 1 else { self.exitNow("a second signal (\(name)) came") }
        self.control.stop(reason: name)
        let seconds = BulkUpdateEngine.seconds(self.grace)
        Self.say(
            "\(name): stopping; chunks in flight finish (up to \(Self.format(seconds)) s), no new chunk starts;"
                + " signal again to stop at once"
        )
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            // A run that ended within the grace period has printed its outcome; the process may be lingering.
            guard !self.context.withLock({ $0.ended }) else { return }
            self.exitNow("chunks in flight did not finish within the grace period of \(Self.format(seconds)) s")
        }
    }

    /// Ends the process with exit code 75, saying what the journal holds and how to resume.
    private func exitNow(_ why: String) -> Never {
        let context = self.context.withLock { $0 }
        var text: String
        if context.atomic {
            text = "error: stopped at once (\(why)); the run is atomic: nothing was applied"
            if let progress = context.progress { text += " (\(progress.rowsCommitted) rows had been staged)" }
        } else {
            text = "error: stopped at once (\(why)); chunks not yet committed are rolled back by the server"
            if let progress = context.progress {
                text += "; \(progress.rowsCommitted) rows in \(progress.chunks) chunks had committed"
            }
        }
        if !context.atomic, let runID = context.runID {
            text +=
                "\nresume with: --resume \(runID) (same input and options); the journal lists what is applied"
                + " (bulk-update runs)"
        }
        Self.say(text)
        context.reportFile?.write(nil, error: text, exitCode: ApplyFailure.interrupted)
        exit(ApplyFailure.interrupted)
    }

    private static func say(_ text: String) {
        FileHandle.standardError.write(Data(("\n" + text + "\n").utf8))
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
