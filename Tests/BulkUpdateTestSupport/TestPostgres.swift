import Foundation
public import Testing

/// What the environment says about the run.
public enum TestEnvironment {
    /// `CI=true`: a test that needs something missing fails instead of being skipped.
    public static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
}

/// The test server: one URL from `BULK_UPDATE_TEST_POSTGRES_URL`, set by `scripts/with-postgres`.
///
/// Without it the PostgreSQL tests are skipped locally; under `CI=true` they run and fail, because a missing database
/// in CI is an error, never a silent skip.
public enum TestPostgres {
    public static let url = ProcessInfo.processInfo.environment["BULK_UPDATE_TEST_POSTGRES_URL"]
        .flatMap { $0.isEmpty ? nil : $0 }
    /// Whether the PostgreSQL tests run: with a server, and always under CI.
    public static let isEnabled = url != nil || TestEnvironment.isCI
    public static let skipReason: Comment = "BULK_UPDATE_TEST_POSTGRES_URL is not set: run the tests with scripts/test"

    /// The test server was asked for and is not there.
    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String {
            "BULK_UPDATE_TEST_POSTGRES_URL is not set (run the tests with scripts/test)"
                + (TestEnvironment.isCI ? "; CI=true, so this is a failure" : "")
        }
    }

    /// The server's URL; throws ``NotConfigured`` without one.
    public static func requireURL() throws -> String {
        guard let url else { throw NotConfigured() }
        return url
    }
}
