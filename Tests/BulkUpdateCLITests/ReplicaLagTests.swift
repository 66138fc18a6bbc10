import BulkUpdateTestSupport
import Foundation
import Testing

/// `--max-replica-lag` against a real streaming standby (scripts/with-postgres --standby), whose lag is made real by
/// pausing its replay: while the lag is over the limit no chunk starts on the primary, and the run finishes once
/// replay resumes. Serialized: a paused replay is seen by every run that watches the standby.
extension TimedRuns {
    @Suite("apply: replica lag", .serialized, .timeLimit(.minutes(3)))
    struct ReplicaLagTests {
        static let standbyURL = ProcessInfo.processInfo.environment["BULK_UPDATE_TEST_STANDBY_URL"]
            .flatMap { $0.isEmpty ? nil : $0 }
        static var enabled: Bool {
            (Self.standbyURL != nil && ApplyTestEnvironment.postgresURL != nil) || TestEnvironment.isCI
        }

        static func requireStandby() throws -> String {
            guard let url = Self.standbyURL else {
                throw ApplyTestEnvironment.Missing(
                    description: "BULK_UPDATE_TEST_STANDBY_URL is not set: run the tests with scripts/test"
                        + (TestEnvironment.isCI ? " (CI=true: this is a failure)" : "")
                )
            }
            return url
        }

        @Test(
            "while a standby's replay is paused no chunk starts; after it resumes the run finishes exactly",
            .enabled(if: Self.enabled),
            arguments: ["pg_stat_replication", "--replica"]
        )
        func pausedReplay(_ source: String) throws {
            let standby = try Self.requireStandby()
            try ApplyTarget.with(.postgres, columns: LiveRunTests.columns) { target in
                let input = try LiveRunTests.prepare(target)
                // The standby has the table before its replay is paused.
                try Self.waitFor("the standby to have the table") {
                    try PSQL.count(standby, "SELECT count(*) FROM pg_tables WHERE tablename = '\(target.table)'") == 1
                }
                _ = try Tool.check(["psql", standby, "-X", "-q", "-At", "-c", "SELECT pg_wal_replay_pause()"])
                defer {
                    _ = try? Tool.check(["psql", standby, "-X", "-q", "-At", "-c", "SELECT pg_wal_replay_resume()"])
                }

                let runID = LiveRunTests.newRunID()
                let watch = source == "--replica" ? ["--replica", standby] : []
                let run = try BackgroundApply(
                    target,
                    [
                        "--input", input, "--chunk-size", "1000", "--max-rows-per-second", "20000", "--run-id", runID,
                        "--max-replica-lag", "1", "--progress", "json",
                    ] + watch
                )
                try Self.waitFor("the run to pause for replica lag") {
                    run.progressLines.contains {
                        ($0["pauses"] as? [String])?.first?.hasPrefix("replica lag: ") ?? false
                    }
                }
                try Journal.expectHeld(target, runID, while: "the standby lagged", seconds: 2)
                #expect(
                    try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") > 0,
                    "the run finished before it paused"
                )
                let line = try #require(run.progressLines.last)
                #expect((line["replicaLagSeconds"] as? Double ?? 0) > 1, "\(line)")

                _ = try Tool.check(["psql", standby, "-X", "-q", "-At", "-c", "SELECT pg_wal_replay_resume()"])
                let status = run.finish()
                #expect(status == 0, "\(run.standardError)")
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)
                let paused = run.standardOutput.split(separator: "\n").first { $0.hasPrefix("paused: ") } ?? ""
                let seconds = Double(paused.dropFirst("paused: ".count).prefix { $0 != " " }) ?? 0
                #expect(seconds >= 3 && paused.hasSuffix(" s for replica lag"), "\(run.standardOutput)")
            }
        }

        @Test(
            "without pg_monitor, the lag from pg_stat_replication is refused before anything is written (exit 77)",
            .enabled(if: Self.enabled)
        )
        func needsMonitorRole() throws {
            _ = try Self.requireStandby()
            try ApplyTarget.with(.postgres, columns: LiveRunTests.columns, rows: ApplyHardeningTests.seed(3)) {
                target in
                let input = try target.write("c.csv", ApplyHardeningTests.csv(1...3))
                try TestRole.with(grants: ["GRANT SELECT, UPDATE ON \(target.table) TO {role}"]) { role in
                    let refused = try Executable.run([
                        "apply", "--database", role.url, "--table", target.table, "--input", input, "--no-journal",
                        "--max-replica-lag", "5",
                    ])
                    #expect(refused.status == 77, streams(refused))
                    #expect(refused.standardError.contains("GRANT pg_monitor TO \"\(role.name)\""), streams(refused))
                    #expect(refused.standardError.contains("--replica URL"), streams(refused))
                    #expect(try target.contents().map { $0[1] } == ["user1", "user2", "user3"])
                }
            }
        }

        @Test("--replica naming a server that is not a standby is refused (exit 64)", .enabled(if: Self.enabled))
        func replicaMustBeAStandby() throws {
            _ = try Self.requireStandby()
            try ApplyTarget.with(.postgres, columns: LiveRunTests.columns, rows: ApplyHardeningTests.seed(3)) {
                target in
                let input = try target.write("c.csv", ApplyHardeningTests.csv(1...3))
                let refused = try target.apply([
                    "--input", input, "--no-journal", "--max-replica-lag", "5", "--replica", target.database,
                ])
                #expect(refused.status == 64, streams(refused))
                #expect(refused.standardError.contains("is not a standby"), streams(refused))
                // And the other way round: a standby as the target is refused before anything, in a dry run too.
                let standby = try Self.requireStandby()
                try Self.waitFor("the standby to have the table") {
                    try PSQL.count(standby, "SELECT count(*) FROM pg_tables WHERE tablename = '\(target.table)'") == 1
                }
                for extra in [[], ["--dry-run"]] {
                    let onStandby = try Executable.run(
                        ["apply", "--database", standby, "--table", target.table, "--input", input, "--no-journal"]
                            + extra
                    )
                    #expect(onStandby.status == 64, streams(onStandby))
                    #expect(onStandby.standardError.contains("the server is a standby"), streams(onStandby))
                }
                #expect(try target.contents().map { $0[1] } == ["user1", "user2", "user3"])
            }
        }

        static func waitFor(_ what: String, _ condition: () throws -> Bool) throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if try condition() { return }
                usleep(50_000)
            }
            throw ApplyTestEnvironment.Missing(description: "timed out waiting for \(what)")
        }
    }
}
