import BulkUpdate
import BulkUpdateSQLite
import BulkUpdateTestSupport
import Foundation
import SQLiteNIO
import Testing

/// Another process holding SQLite's write lock: the update waits up to its busy timeout, then fails cleanly.
@Suite(
    "SQLite write lock held by another process",
    .serialized,
    .enabled(if: LockHolder.python3 != nil || TestEnvironment.isCI, LockHolder.skipReason),
    // Long enough to outlast the command-line suites' synchronous tests holding every shared thread (see
    // FluentSQLiteTests).
    .timeLimit(.minutes(10))
)
struct SQLiteLockingTests {
    @Test("the update waits for the other process's lock within the busy timeout, then succeeds")
    func waitsForTheLock() async throws {
        try await withTestDatabase(busyTimeout: .seconds(10)) { updater, connection, path in
            try await Self.seed(connection)
            try await LockHolder.holding(path, seconds: 1) { holder in
                let report = try await updater.update(
                    "items",
                    set: ["v"],
                    rows: (1...10).map { BulkUpdateRow.of(.int($0), .string("new \($0)")) },
                    options: .init(workers: 2, chunkSize: 4)
                )
                #expect(report.rowsChanged == 10)
                try await holder.waitForExit()
                #expect(holder.exitStatus == 0, "python: \(holder.standardError)")
            }
            let stored = try await connection.column("SELECT v FROM items ORDER BY id")
            #expect(stored == (1...10).map { "new \($0)" })
            // The other process's own write committed too.
            #expect(try await connection.column("SELECT who FROM holder_log") == ["python"])
        }
    }

    @Test("a lock held past the busy timeout fails the run with a clear error and leaves the table unchanged")
    func failsAfterTheBusyTimeout() async throws {
        try await withTestDatabase(busyTimeout: .milliseconds(300)) { updater, connection, path in
            try await Self.seed(connection)
            let before = try await connection.checksum("items")
            try await LockHolder.holding(path, seconds: 4) { holder in
                let error = try await #require(throws: BulkUpdateError.self) {
                    try await updater.update(
                        "items",
                        set: ["v"],
                        rows: (1...10).map { BulkUpdateRow.of(.int($0), .string("new \($0)")) },
                        options: .init(workers: 2, chunkSize: 4)
                    )
                }
                #expect(error.code == .conflict)
                #expect(error.isTransient)
                #expect(error.description.contains("locked"))
                #expect(error.description.contains("busy timeout"))
                #expect(error.chunk != nil)
                #expect(error.partialReport?.chunks == 0)
                #expect(error.partialReport?.rowsChanged == 0)
                try await holder.waitForExit()
                #expect(holder.exitStatus == 0, "python: \(holder.standardError)")
            }
            // Nothing was half-applied; only the other process's write is there.
            #expect(try await connection.checksum("items") == before)
            #expect(try await connection.column("SELECT who FROM holder_log") == ["python"])

            // Once the lock is gone, the same update goes through on the same connection.
            let report = try await updater.update(
                "items",
                set: ["v"],
                rows: (1...10).map { BulkUpdateRow.of(.int($0), .string("new \($0)")) },
                options: .init(workers: 2, chunkSize: 4)
            )
            #expect(report.rowsChanged == 10)
            #expect(try await connection.column("SELECT v FROM items ORDER BY id") == (1...10).map { "new \($0)" })
        }
    }

    static func seed(_ connection: SQLiteConnection) async throws {
        try await connection.run("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        try await connection.run("CREATE TABLE holder_log (who TEXT)")
        try await connection.run("INSERT INTO items SELECT n, 'old' FROM \(TestDatabase.series(1...10))")
    }
}

/// A `python3` process that opens the database with the standard `sqlite3` module, takes the write lock with
/// `BEGIN IMMEDIATE`, writes one row to `holder_log`, prints `locked`, sleeps, then commits.
final class LockHolder: @unchecked Sendable {
    /// `python3` on `PATH`, if any.
    static let python3: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/python3" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }()

    static let skipReason: Comment =
        "python3 is not on PATH: these tests need a second process to hold SQLite's write lock (required when CI=true)"

    static let script = """
        import sqlite3, sys, time
        connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO holder_log (who) VALUES ('python')")
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
        connection.execute("COMMIT")
        connection.close()
        print("committed", flush=True)
        """

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let process = Process()
    private let output = Pipe()
    private let errors = Pipe()

    /// Starts the process and waits until it holds the lock, runs `body`, and always terminates and reaps the
    /// process, whether `body` succeeds or fails.
    static func holding<Result>(
        _ path: String,
        seconds: Double,
        _ body: (LockHolder) async throws -> Result
    ) async throws -> Result {
        guard let python3 else {
            throw Failure(description: "python3 is not on PATH; it is required when CI=true")
        }
        let holder = LockHolder()
        holder.process.executableURL = URL(fileURLWithPath: python3)
        holder.process.arguments = ["-c", Self.script, path, String(seconds)]
        holder.process.standardOutput = holder.output
        holder.process.standardError = holder.errors
        try holder.process.run()
        do {
            try await holder.waitForLine("locked")
            let result = try await body(holder)
            holder.stop()
            return result
        } catch {
            holder.stop()
            throw error
        }
    }

    /// Reads standard output until `line` arrives; fails if the process ends first.
    func waitForLine(_ line: String) async throws {
        let handle = self.output.fileHandleForReading
        let text = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            Thread.detachNewThread {
                var buffer = Data()
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }  // end of file: the process is gone
                    buffer.append(data)
                    if String(decoding: buffer, as: UTF8.self).split(separator: "\n").contains(Substring(line)) {
                        break
                    }
                }
                continuation.resume(returning: String(decoding: buffer, as: UTF8.self))
            }
        }
        guard text.split(separator: "\n").contains(Substring(line)) else {
            self.stop()
            throw Failure(
                description: "python3 ended before printing \(line): stdout \(text.debugDescription),"
                    + " stderr \(self.standardError.debugDescription)"
            )
        }
    }

    /// Waits, without blocking a thread, until the process has ended by itself.
    func waitForExit() async throws {
        while self.process.isRunning {
            try await Task.sleep(for: .milliseconds(20))
        }
        self.process.waitUntilExit()
    }

    /// The exit status, once the process has ended.
    var exitStatus: Int32 { self.process.terminationStatus }

    /// What the process wrote to standard error, once it has ended.
    var standardError: String {
        guard !self.process.isRunning else { return "" }
        let data = (try? self.errors.fileHandleForReading.readToEnd()) ?? nil
        return String(decoding: data ?? Data(), as: UTF8.self)
    }

    /// Terminates the process if it still runs, and reaps it.
    func stop() {
        if self.process.isRunning { self.process.terminate() }
        self.process.waitUntilExit()
    }
}
