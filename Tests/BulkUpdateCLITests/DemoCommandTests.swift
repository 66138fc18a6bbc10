import ArgumentParser
import BulkUpdateTestSupport
import Foundation
import Testing

@testable import bulk_update

@Suite("bulk-update demo")
struct DemoCommandTests {
    @Test("parses its options with the documented defaults")
    func defaults() throws {
        let command = try DemoCommand.parse([])
        #expect(command.rows == 100_000)
        #expect(command.workers == 2)
        #expect(command.strategy == "auto")
        #expect(command.database == nil)
    }

    @Test("rejects an unknown strategy with the list of known ones")
    func unknownStrategy() {
        #expect {
            try DemoCommand.parse(["--strategy", "fastest"])
        } throws: { error in
            let message = DemoCommand.message(for: error)
            return message.contains("unknown strategy 'fastest'") && message.contains("caseWhen")
        }
    }

    @Test(
        "the built executable runs the users scenario on the embedded SQLite default",
        arguments: ["auto", "caseWhen"]
    )
    func embeddedDefault(strategy: String) throws {
        let result = try Executable.run(["demo", "--rows", "3000", "--chunk-size", "500", "--strategy", strategy])
        #expect(result.status == 0, "stderr: \(result.standardError)")
        #expect(result.standardOutput.contains("on SQLite 3."))
        #expect(result.standardOutput.contains("verified: all 3000 usernames read back upper-case"))
        #expect(result.standardOutput.contains("rows read 3000, matched 3000, changed 3000"))
    }

    @Test(
        "the demo on PostgreSQL verifies every row",
        .enabled(if: TestPostgres.isEnabled, TestPostgres.skipReason)
    )
    func postgres() throws {
        let url = try TestPostgres.requireURL()
        let result = try Executable.run(["demo", "--rows", "3000", "--database", url, "--workers", "2"])
        #expect(result.status == 0, "stderr: \(result.standardError)")
        #expect(result.standardOutput.contains("on PostgreSQL "))
        #expect(result.standardOutput.contains("strategy unnest, 2 worker(s)"))
        #expect(result.standardOutput.contains("verified: all 3000 usernames read back upper-case"))
    }

    @Test("a bad database URL is a clear error and a failing exit code")
    func badDatabase() throws {
        let result = try Executable.run(["demo", "--rows", "10", "--database", "mysql://x@y/z"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("is not a database URL"))
    }
}

/// Runs the built `bulk-update` executable, which SwiftPM places beside the test bundle.
enum Executable {
    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    static var url: URL {
        var directory = Bundle.main.bundleURL
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("bulk-update").path),
            directory.pathComponents.count > 1
        {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("bulk-update")
    }

    /// - Parameter standardInput: Bytes to pipe into the process's standard input, which is then closed; `nil`
    ///   leaves standard input as inherited.
    static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        standardInput: Data? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = Self.url
        process.arguments = arguments
        // DATABASE_URL and libpq's PG… variables of the environment the tests run in never leak into a case.
        var variables = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
        variables["DATABASE_URL"] = nil
        for (name, value) in environment { variables[name] = value }
        process.environment = variables
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let input = standardInput.map { _ in Pipe() }
        if let input { process.standardInput = input }
        try process.run()
        if let input, let standardInput {
            // Written on another thread so a large input cannot block against a full output pipe. The process may
            // exit without reading it all: ignore SIGPIPE so that is a write error here, not the test's death.
            signal(SIGPIPE, SIG_IGN)
            let writer = input.fileHandleForWriting
            DispatchQueue.global().async {
                try? writer.write(contentsOf: standardInput)
                try? writer.close()
            }
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self)
        )
    }
}
