import BulkUpdate
import Foundation
import Synchronization

/// Prints progress to standard error: a live line redrawn in place on a terminal, a plain line every few seconds
/// otherwise (logs, CI), nothing with `--quiet`.
///
/// Hand-written rather than console-kit's `ActivityIndicator`, which draws on standard output: standard output is
/// kept for the summary (and may be piped), so progress must go to standard error.
final class ProgressLine: Sendable {
    enum Mode { case live, plain, quiet }

    private struct State {
        var lastPrint: Double = -1
        var drewLive = false
    }

    private let mode: Mode
    private let total: Int?
    private let interval: Double
    private let state = Mutex(State())

    init(mode: Mode, total: Int?) {
        self.mode = mode
        self.total = total
        self.interval = mode == .live ? 0.2 : 5
    }

    /// `.live` on a terminal, `.plain` when standard error is redirected, `.quiet` when asked.
    static func mode(quiet: Bool) -> Mode {
        if quiet { return .quiet }
        return isatty(STDERR_FILENO) == 1 ? .live : .plain
    }

    func update(_ progress: BulkUpdateProgress) {
        guard self.mode != .quiet else { return }
        let due = self.state.withLock { state -> Bool in
            guard progress.elapsedSeconds - state.lastPrint >= self.interval else { return false }
            state.lastPrint = progress.elapsedSeconds
            state.drewLive = self.mode == .live
            return true
        }
        if due { self.write(self.describe(progress)) }
    }

    /// Ends a live line so the summary starts on a fresh line.
    func finish() {
        if self.mode == .live, self.state.withLock({ $0.drewLive }) {
            FileHandle.standardError.write(Data("\n".utf8))
        }
    }

    func describe(_ progress: BulkUpdateProgress) -> String {
        let rate = progress.elapsedSeconds > 0 ? Double(progress.rowsCommitted) / progress.elapsedSeconds : 0
        var text = "\(progress.rowsCommitted) rows committed"
        if let total, total > 0 {
            let percent = Double(progress.rowsCommitted) / Double(total) * 100
            text += String(format: " of %d (%.1f%%)", total, percent)
        }
        text += ", \(Int(rate)) rows/s, \(progress.chunks) chunks"
        if let total, rate > 0, total > progress.rowsCommitted {
            text += String(format: ", about %.0f s left", Double(total - progress.rowsCommitted) / rate)
        }
        return text
    }

    private func write(_ text: String) {
        let line = self.mode == .live ? "\r\u{1B}[2K" + text : text + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
