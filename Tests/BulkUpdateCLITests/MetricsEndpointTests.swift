import BulkUpdateTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `apply --metrics-port`: the run's metrics scraped over HTTP while it goes, then, during `--metrics-linger`, the
/// final values, equal to the report; a signal ends the wait. And `--log-level`: the library's log on standard error,
/// without values.
extension TimedRuns {
    @Suite("apply: metrics endpoint and log", .timeLimit(.minutes(3)))
    struct MetricsEndpointTests {
        static let rows = 20_000

        @Test(
            "scraped mid-run the counters grow; after the run they equal the report; SIGINT ends the linger",
            arguments: ApplyBackend.enabled
        )
        func scrapedMidRun(_ backend: ApplyBackend) throws {
            try ApplyTarget.with(backend, columns: ApplyHardeningTests.columns) { target in
                try ApplyHardeningTests.fill(target, Self.rows)
                let input = try target.write("all.csv", ApplyHardeningTests.csv(1...Self.rows))
                let reportPath = target.path("report.json")
                let run = try BackgroundApply(
                    target,
                    [
                        "--input", input, "--chunk-size", "500", "--max-rows-per-second", "8000", "--metrics-port", "0",
                        "--metrics-linger", "60", "--report", reportPath, "--quiet", "--log-level", "debug",
                    ]
                )
                var port = 0
                try run.wait("the metrics address") {
                    port = Self.port(in: run.standardError) ?? 0
                    return port > 0
                }
                // Mid-run: two scrapes, the second with more chunks than the first.
                var first: [String: Double] = [:]
                try run.wait("a first chunk in the metrics") {
                    first = try Self.scrape(port)
                    return (first["bulk_update_chunks_committed_total"] ?? 0) >= 1
                }
                #expect(first["bulk_update_running"] == 1)
                var second: [String: Double] = [:]
                try run.wait("more chunks and a rate in the metrics (gauges are updated every second)") {
                    second = try Self.scrape(port)
                    return (second["bulk_update_chunks_committed_total"] ?? 0)
                        > (first["bulk_update_chunks_committed_total"] ?? 0)
                        && (second["bulk_update_rows_per_second"] ?? 0) > 0
                }
                #expect(second["bulk_update_rows_changed_total"]! > first["bulk_update_rows_changed_total"]!)
                #expect(second["bulk_update_rows_changed_total"]! < Double(Self.rows))

                // The run ends, the report is written, and the endpoint still answers with the final values.
                try run.wait("the report") {
                    ((try? Data(contentsOf: URL(fileURLWithPath: reportPath)))?.count ?? 0) > 0
                }
                let report = try #require(
                    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reportPath)))
                        as? [String: Any]
                )
                let last = try Self.scrape(port)
                #expect(last["bulk_update_rows_changed_total"] == Double(Self.rows))
                #expect(report["rowsChanged"] as? Int == Self.rows)
                #expect(last["bulk_update_rows_read_total"] == Double(report["rowsRead"] as? Int ?? -1))
                #expect(last["bulk_update_chunks_committed_total"] == Double(report["chunks"] as? Int ?? -1))
                #expect(last["bulk_update_rows_not_found_total"] == 0)
                #expect(last["bulk_update_chunk_duration_seconds_count"] == Double(report["chunks"] as? Int ?? -1))
                #expect(last["bulk_update_running"] == 0)
                #expect(last["bulk_update_rows_per_second"] == 0)
                #expect(run.process.isRunning, "the endpoint lingers")

                run.signal(SIGINT)
                let status = run.finish()
                #expect(status == 0, "\(run.standardError)")
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 1") == 0)
                // The debug log went to standard error, with the library's metadata and no row values.
                let errors = run.standardError
                #expect(errors.contains("bulk update started"), "\(errors)")
                #expect(errors.contains("bulk_update.table="), "\(errors)")
                #expect(!errors.contains("USER1"), "\(errors)")
                #expect(!errors.contains("stopping; chunks in flight"), "\(errors)")
            }
        }

        @Test("a port in use fails before anything is written (exit 64); bad values are refused")
        func badPorts() throws {
            try ApplyTarget.with(.sqlite, columns: ApplyHardeningTests.columns) { target in
                try ApplyHardeningTests.fill(target, 10)
                let input = try target.write("all.csv", ApplyHardeningTests.csv(1...10))
                let holder = try BackgroundApply(
                    target,
                    ["--input", input, "--metrics-port", "0", "--metrics-linger", "60", "--quiet"]
                )
                var port = 0
                try holder.wait("the metrics address") {
                    port = Self.port(in: holder.standardError) ?? 0
                    return port > 0
                }
                try holder.wait("the first run's end") { (try? Self.scrape(port))?["bulk_update_running"] == 0 }
                try target.execute("UPDATE \(target.table) SET username = 'user' || id")
                let busy = try target.apply(["--input", input, "--metrics-port", String(port), "--quiet"])
                #expect(busy.status == 64, streams(busy))
                #expect(busy.standardError.contains("cannot serve metrics on 127.0.0.1:\(port)"), streams(busy))
                #expect(try ApplyHardeningTests.wrongRows(target, changed: "1 = 0") == 0)
                holder.signal(SIGTERM)
                #expect(holder.finish() == 0)

                for arguments in [
                    ["--metrics-port", "70000"], ["--metrics-linger", "5"], ["--log-level", "loud"],
                    ["--metrics-port", "0", "--metrics-linger", "-1"],
                ] {
                    let result = try target.apply(["--input", input] + arguments)
                    #expect(result.status == 64, streams(result))
                }
            }
        }

        @Test("a run that fails says so at once, then lingers; a signal ends the wait with the failure's exit code")
        func failureIsPrintedBeforeTheLinger() throws {
            try ApplyTarget.with(.sqlite, columns: ApplyHardeningTests.columns) { target in
                try ApplyHardeningTests.fill(target, 10)
                let input = try target.write("bad.csv", "id,nosuch\n1,x\n")
                let run = try BackgroundApply(
                    target,
                    ["--input", input, "--metrics-port", "0", "--metrics-linger", "60", "--quiet"]
                )
                try run.wait("the error while the endpoint lingers") {
                    run.standardError.contains("error:") && run.process.isRunning
                }
                #expect(run.standardError.contains("nosuch"), "\(run.standardError)")
                run.signal(SIGTERM)
                #expect(run.finish() == 65, "\(run.standardError)")
            }
        }

        @Test("a run stopped by a signal still lingers with its final values; a second signal ends the wait (exit 75)")
        func stoppedRunLingers() throws {
            try ApplyTarget.with(.sqlite, columns: ApplyHardeningTests.columns) { target in
                try ApplyHardeningTests.fill(target, 5_000)
                let input = try target.write("all.csv", ApplyHardeningTests.csv(1...5_000))
                let run = try BackgroundApply(
                    target,
                    [
                        "--input", input, "--chunk-size", "100", "--max-rows-per-second", "1000", "--metrics-port", "0",
                        "--metrics-linger", "60", "--quiet",
                    ]
                )
                var port = 0
                try run.wait("a committed chunk in the metrics") {
                    port = Self.port(in: run.standardError) ?? 0
                    return port > 0 && ((try? Self.scrape(port))?["bulk_update_chunks_committed_total"] ?? 0) >= 1
                }
                run.signal(SIGTERM)
                try run.wait("the linger after the stop") {
                    run.standardError.contains("serving the final metrics for 60.0 s")
                }
                let last = try Self.scrape(port)
                #expect(last["bulk_update_running"] == 0)
                #expect(run.process.isRunning)
                run.signal(SIGTERM)
                #expect(run.finish() == 75, "\(run.standardError)")
                #expect(run.standardError.contains("the run was stopped by SIGTERM"), "\(run.standardError)")
                // What the metrics said was committed is what the table holds.
                // (Rows that no longer hold 'user<id>' are the ones the run changed.)
                let changed = try ApplyHardeningTests.wrongRows(target, changed: "1 = 0")
                #expect(changed > 0 && changed == Int(last["bulk_update_rows_changed_total"] ?? -1))
            }
        }

        /// The port in the `metrics: http://127.0.0.1:PORT/metrics` line.
        static func port(in text: String) -> Int? {
            guard let range = text.range(of: "metrics: http://127.0.0.1:") else { return nil }
            return Int(text[range.upperBound...].prefix { $0.isNumber })
        }

        /// GETs /metrics from 127.0.0.1:`port` and returns each sample without labels (`name value`), summed over
        /// label sets.
        static func scrape(_ port: Int) throws -> [String: Double] {
            let body = try Self.get(port: port, path: "/metrics")
            var samples: [String: Double] = [:]
            for line in body.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...])
                else { continue }
                let name = String(line[..<(line.firstIndex(of: "{") ?? space)])
                samples[name, default: 0] += value
            }
            return samples
        }

        /// A plain HTTP/1.0 GET over a socket: the body of a 200 response.
        static func get(port: Int, path: String) throws -> String {
            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard socket >= 0 else { throw ApplyTestEnvironment.Missing(description: "socket() failed") }
            defer { close(socket) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                throw ApplyTestEnvironment.Missing(description: "cannot connect to 127.0.0.1:\(port)")
            }
            let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
            var response: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                response += buffer[0..<count]
            }
            let text = String(decoding: response, as: UTF8.self)
            guard text.hasPrefix("HTTP/1.0 200") || text.hasPrefix("HTTP/1.1 200"),
                let split = text.range(of: "\r\n\r\n")
            else {
                throw ApplyTestEnvironment.Missing(description: "GET \(path): \(text.prefix(200))")
            }
            return String(text[split.upperBound...])
        }
    }
}
