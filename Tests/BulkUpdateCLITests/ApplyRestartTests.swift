import BulkUpdateTestSupport
import Foundation
import Testing

/// A server restart in the middle of an apply, on a private PostgreSQL of its own: restarting the shared test
/// server would break the suites that run beside this one.
@Suite("bulk-update apply: the server restarts mid-run", .timeLimit(.minutes(4)))
struct ApplyRestartTests {
    static let enabled = TestPostgres.isEnabled

    @Test(
        "fast shutdown and start while chunks are being written: retried, resumable, exact",
        .enabled(if: enabled, "needs PostgreSQL: run the tests with scripts/test")
    )
    func restartDuringApply() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ApplyRestartTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Everything below runs inside scripts/with-postgres, against its private server.
        let script = #"""
            set -euo pipefail
            rows=200000
            psql "$DATABASE_URL" -q -c "CREATE TABLE r (id int PRIMARY KEY, v text NOT NULL)" \
                -c "INSERT INTO r SELECT g, 'old' FROM generate_series(1, $rows) g"
            awk -v n="$rows" 'BEGIN { print "id,v"; for (i = 1; i <= n; i++) printf "%d,new %d\n", i, i }' >"$DIR/changes.csv"
            "$BIN" apply --table r --input "$DIR/changes.csv" --workers 2 --chunk-size 1000 --retries 12 \
                --run-id restart --quiet >"$DIR/out" 2>&1 &
            pid=$!
            # Restart once some chunks have committed, so the restart lands while chunks are being written.
            for _ in $(seq 1 400); do
                done_chunks=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM bulk_update_journal" 2>/dev/null || echo 0)
                [ "${done_chunks:-0}" -gt 0 ] && break
                sleep 0.05
            done
            echo "chunks-before-restart=$done_chunks"
            "$BULK_UPDATE_TEST_POSTGRES_RESTART" >/dev/null
            status=0
            wait "$pid" || status=$?
            echo "apply-exit=$status"
            if [ "$status" -ne 0 ]; then
                cat "$DIR/out"
                "$BIN" apply --table r --input "$DIR/changes.csv" --workers 2 --chunk-size 1000 --resume restart \
                    --quiet >/dev/null 2>&1 && echo "resumed=0"
            fi
            echo "correct=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM r WHERE v = 'new ' || id")"
            echo "journal=$(psql "$DATABASE_URL" -Atc "SELECT count(*) = count(DISTINCT (worker, chunk)) AND sum(rows) = $rows FROM bulk_update_journal")"
            """#
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "bash", root.appendingPathComponent("scripts/with-postgres").path, "--fast", "bash", "-c", script,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["BIN"] = Executable.url.path
        environment["DIR"] = directory.path
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("correct=200000"), "\(text)")
        #expect(text.contains("journal=t"), "\(text)")
        // Retries carry the run through the restart; if they ever do not, resuming must finish it.
        #expect(text.contains("apply-exit=0") || text.contains("resumed=0"), "\(text)")
    }
}
