import BulkUpdate
import Foundation
import Synchronization

/// Prints progress to standard error: a live line redrawn in place on a terminal, a plain line every few seconds
/// otherwise (logs, CI), one JSON object per line about every second with `--progress json`, nothing with `--quiet`.
///
/// Hand-written rather than console-kit's `ActivityIndicator`, which draws on standard output: standard output is
/// kept for the summary (and may be piped), so progress must go to standard error.
final class ProgressLine: Sendable {
    enum Mode {
        case live, plain, json, quiet

        /// `--progress`: `text` (live or plain, as standard error is a terminal or not), `json`, `none`.
        init?(option: String) {
            switch option {
            case "text": self = isatty(STDERR_FILENO) == 1 ? .live : .plain
            case "json": self = .json
            case "none": self = .quiet
            default: return nil
            }
        }
    }

    private struct State {
        var lastPrint: Double = -1
        var drewLive = false
        var last: BulkUpdateProgress?
    }

    let mode: Mode
    private let total: Int?
    private let runID: String?
    private let interval: Double
    private let state = Mutex(State())

    init(mode: Mode, total: Int?, runID: String? = nil) {
        self.mode = mode
        self.total = total
        self.runID = runID
        self.interval = mode == .live ? 0.2 : mode == .json ? 1 : 5
    }

    /// `.quiet` with `--quiet`, else as `--progress` says.
    static func mode(quiet: Bool, option: String) -> Mode {
        if quiet { return .quiet }
        return Mode(option: option) ?? .plain
    }

    func update(_ progress: BulkUpdateProgress) {
        guard self.mode != .quiet else { return }
        let due = self.state.withLock { state -> Bool in
            state.last = progress
            guard progress.elapsedSeconds - state.lastPrint >= self.interval else { return false }
            state.lastPrint = progress.elapsedSeconds
            state.drewLive = self.mode == .live
            return true
        }
        guard due else { return }
        self.write(self.mode == .json ? self.json(progress) : self.describe(progress))
    }

    /// Ends a live line so the summary starts on a fresh line; with `--progress json`, writes a last line whose
    /// state is how the run ended (`finished`, `interrupted`, `failed`), with the report's counts when it finished.
    func finish(_ ending: String, report: BulkUpdateReport? = nil) {
        if self.mode == .live, self.state.withLock({ $0.drewLive }) {
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard self.mode == .json else { return }
        var progress =
            self.state.withLock { $0.last }
            ?? BulkUpdateProgress(rowsRead: 0, rowsCommitted: 0, chunks: 0, elapsedSeconds: 0)
        if let report {
            progress.rowsRead = report.rowsRead
            progress.rowsCommitted = report.rowsRead - report.duplicateKeys
            progress.chunks = report.chunks + report.chunksAlreadyApplied
            progress.elapsedSeconds = report.elapsedSeconds
            progress.pausedSeconds = report.pausedSeconds.values.reduce(0, +)
        }
        progress.pauses = []
        self.write(self.json(progress, state: ending))
    }

    /// With `--progress json`, the line that says a run has started: its id and whether it resumes another.
    func start(resuming: Bool) {
        guard self.mode == .json else { return }
        self.write(
            self.json(
                BulkUpdateProgress(rowsRead: 0, rowsCommitted: 0, chunks: 0, elapsedSeconds: 0),
                state: resuming ? "resuming" : "starting"
            )
        )
    }

    func describe(_ progress: BulkUpdateProgress) -> String {
        let rate = progress.elapsedSeconds > 0 ? Double(progress.rowsCommitted) / progress.elapsedSeconds : 0
        var text = "\(progress.rowsCommitted) rows committed"
        if let total, total > 0 {
            let percent = Double(progress.rowsCommitted) / Double(total) * 100
            text += String(format: " of %d (%.1f%%)", total, percent)
        }
        text += ", \(Int(rate)) rows/s, \(progress.chunks) chunks"
        if let eta = self.eta(progress, rate: rate) {
            text += String(format: ", about %.0f s left", eta)
        }
        if let lag = progress.replicaLagSeconds {
            text += String(format: ", replica lag %.1f s", lag)
        }
        switch progress.state {
        case .paused: text += " — paused: " + progress.pauses.joined(separator: "; ")
        case .stopping: text += " — stopping"
        case .running: break
        }
        return text
    }

    /// One line of `--progress json`: what `describe` says, as fields.
    func json(_ progress: BulkUpdateProgress, state: String? = nil) -> String {
        let rate = progress.elapsedSeconds > 0 ? Double(progress.rowsCommitted) / progress.elapsedSeconds : 0
        var object: [String: Any] = [
            "rowsCommitted": progress.rowsCommitted, "rowsRead": progress.rowsRead, "chunks": progress.chunks,
            "elapsedSeconds": Self.rounded(progress.elapsedSeconds), "rowsPerSecond": Self.rounded(rate),
            "state": state ?? progress.state.rawValue, "pauses": progress.pauses,
            "pausedSeconds": Self.rounded(progress.pausedSeconds),
        ]
        if let total { object["rowsTotal"] = total }
        if let runID = self.runID { object["runID"] = runID }
        if let eta = self.eta(progress, rate: rate) { object["etaSeconds"] = Self.rounded(eta) }
        if let lag = progress.replicaLagSeconds { object["replicaLagSeconds"] = Self.rounded(lag) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func eta(_ progress: BulkUpdateProgress, rate: Double) -> Double? {
        guard let total, rate > 0, total > progress.rowsCommitted else { return nil }
        return Double(total - progress.rowsCommitted) / rate
    }

    private static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    private func write(_ text: String) {
        let line = self.mode == .live ? "\r\u{1B}[2K" + text : text + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
