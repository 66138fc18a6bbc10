import ArgumentParser
import BulkUpdate
import Foundation

/// `runs pause|continue|stop RUN_ID`: asks a running run, through its row in bulk_update_runs, to change state, and
/// waits up to a few seconds to say whether it did.
enum RunsRequest {
    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pause",
            abstract: "Pause a running run: no chunk starts until `runs continue`; chunks in flight finish."
        )
        @OptionGroup var journal: JournalOptions
        @Argument(help: "The run's id.") var runID: String

        func run() async throws {
            try await RunsRequest.send("paused", to: self.runID, in: self.journal, awaiting: ["paused"])
        }
    }

    struct Continue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "continue",
            abstract:
                "Continue a run paused with `runs pause` (pauses for replica lag or --pause-when end on their own)."
        )
        @OptionGroup var journal: JournalOptions
        @Argument(help: "The run's id.") var runID: String

        func run() async throws {
            try await RunsRequest.send("running", to: self.runID, in: self.journal, awaiting: ["running"])
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "Stop a running run cleanly, as SIGTERM does: chunks in flight finish; resume it later.",
            discussion: """
                The run's process prints what was committed and the resume command, and exits 75.
                """
        )
        @OptionGroup var journal: JournalOptions
        @Argument(help: "The run's id.") var runID: String

        func run() async throws {
            try await RunsRequest.send(
                "stopped",
                to: self.runID,
                in: self.journal,
                awaiting: ["stopping", "interrupted"]
            )
        }
    }

    /// How long a request waits to see the run take it up (the run reads its row twice a second).
    static let wait = 3.0

    /// Writes `state` as the run's requested state, then watches its state for up to ``wait`` seconds.
    static func send(_ state: String, to runID: String, in options: JournalOptions, awaiting: Set<String>) async throws
    {
        try await RunsJournal.with(try options.location(), schema: options.journalSchema, runID: runID) { journal in
            guard journal.exists, !(try await journal.rows(journal.journal.request, [runID, state]).isEmpty) else {
                throw RunsRequest.noSuchRun(runID, journal)
            }
            try await Self.watch(journal, runID: runID, awaiting: awaiting, asked: state)
        }
    }

    /// Waits for the run to show one of `awaiting`, and says what happened.
    /// Exit code when the request was recorded but no running process took it up: the run is not running (dead,
    /// interrupted) or did not answer within ``wait`` seconds.
    static let notTakenUp: Int32 = 75

    /// Waits for the run to show one of `awaiting`, and says what happened; exits 75 when no live process took the
    /// request up.
    static func watch(_ journal: RunsJournal, runID: String, awaiting: Set<String>, asked: String) async throws {
        let deadline = Date().addingTimeInterval(Self.wait)
        var last: [String?] = []
        while Date() < deadline {
            last = try await journal.rows(journal.journal.selectState, [runID]).first ?? []
            let state = last.first ?? nil
            let age = last.count > 1 ? last[1].flatMap(RunJournal.age) : nil
            if let state, awaiting.contains(state), (age ?? 0) <= RunJournal.deadAfterSeconds {
                print("run \(runID) is \(state)" + (last.count > 2 ? last[2].map { ": \($0)" } ?? "" : ""))
                return
            }
            if let age, age > RunJournal.deadAfterSeconds || ["interrupted", "failed"].contains(state ?? "") {
                FileHandle.standardError.write(
                    Data(
                        ("error: asked run \(runID) to be \(asked), but it is not running (\(state ?? "unknown"), no"
                            + " heartbeat for \(Int(age.rounded())) s); a resumed run starts afresh\n").utf8
                    )
                )
                throw ExitCode(Self.notTakenUp)
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        FileHandle.standardError.write(
            Data(
                ("error: asked run \(runID) to be \(asked); it is \(last.first.flatMap { $0 } ?? "unknown") after"
                    + " \(Int(Self.wait)) s; bulk-update runs shows when it takes it up\n").utf8
            )
        )
        throw ExitCode(Self.notTakenUp)
    }

    /// Says on standard error that there is no such unfinished run; exit code 64.
    static func noSuchRun(_ runID: String, _ journal: RunsJournal) -> ExitCode {
        FileHandle.standardError.write(
            Data(
                ("error: there is no unfinished run \(SQLText.literal(runID)) in the journal of \(journal.schema)"
                    + " (bulk-update runs lists them; pass the --journal-schema the run used)\n").utf8
            )
        )
        return ExitCode(64)
    }
}

/// `runs set RUN_ID --max-rows-per-second N | --target-chunk-seconds T`: retunes a running run.
struct RunsSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a running run's rate limit or chunk target; it takes effect within a second."
    )
    @OptionGroup var journal: JournalOptions
    @Argument(help: "The run's id.") var runID: String

    @Option(help: "The new limit, in rows per second across all workers; 0 lifts it.")
    var maxRowsPerSecond: Int?

    @Option(help: "The new chunk target in seconds, for a run started with --target-chunk-seconds.")
    var targetChunkSeconds: Double?

    func validate() throws {
        guard self.maxRowsPerSecond != nil || self.targetChunkSeconds != nil else {
            throw ValidationError("say what to set: --max-rows-per-second N or --target-chunk-seconds T")
        }
        if let rate = self.maxRowsPerSecond, rate < 0 {
            throw ValidationError("--max-rows-per-second cannot be negative (0 lifts the limit)")
        }
        if let target = self.targetChunkSeconds, !(target.isFinite && (0.01...3600).contains(target)) {
            throw ValidationError("--target-chunk-seconds must be between 0.01 and 3600, got \(target)")
        }
    }

    func run() async throws {
        let rate = self.maxRowsPerSecond.map { $0 == 0 ? nil : String($0) }
        try await RunsJournal.with(try self.journal.location(), schema: self.journal.journalSchema) { journal in
            var found = journal.exists
            if found, let rate {
                found = !(try await journal.rows(journal.journal.setRate, [self.runID, rate]).isEmpty)
            }
            guard found else { throw RunsRequest.noSuchRun(self.runID, journal) }
            if let target = self.targetChunkSeconds,
                try await journal.rows(journal.journal.setTarget, [self.runID, String(target)]).isEmpty
            {
                FileHandle.standardError.write(
                    Data(
                        ("error: run \(SQLText.literal(self.runID)) was not started with --target-chunk-seconds: its"
                            + " chunks have a fixed size, which cannot change while it runs\n").utf8
                    )
                )
                throw ExitCode(64)
            }
        }
        var changes: [String] = []
        if let rate { changes.append("rate limit \(rate.map { "\($0) rows/s" } ?? "lifted")") }
        if let target = self.targetChunkSeconds { changes.append("chunk target \(target) s") }
        print("run \(self.runID): \(changes.joined(separator: ", ")), taken up within a second")
    }
}
