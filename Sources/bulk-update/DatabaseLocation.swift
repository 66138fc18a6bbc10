import BulkUpdate
import BulkUpdatePostgres
import BulkUpdateSQLite
import Foundation

/// A database named on the command line: a PostgreSQL URL or a SQLite URL or path.
enum DatabaseLocation: CustomStringConvertible {
    case postgres(PostgresURL)
    case sqlite(SQLiteURL)

    /// Parses `text`; SQLite forms are recognised first, anything else must be a PostgreSQL URL.
    init(_ text: String) throws {
        if SQLiteURL.isSQLite(text) {
            self = .sqlite(try SQLiteURL(text))
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(try PostgresURL(text))
        } else {
            throw BulkUpdateError(
                .configuration,
                "\(SQLText.literal(text)) is not a database URL: use postgres://user:password@host:port/database"
                    + " or a SQLite file (sqlite:path.db, path.db, path.sqlite)"
            )
        }
    }

    /// `--database` if given, else `$DATABASE_URL`.
    static func fromCommandLine(_ option: String?) throws -> DatabaseLocation? {
        guard let text = option ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !text.isEmpty else {
            return nil
        }
        return try DatabaseLocation(text)
    }

    /// `--database` if given, else `$DATABASE_URL`, else a new SQLite file `name` in a new temporary directory,
    /// which `body` may use and which is removed afterwards.
    static func withDefault<Result>(
        _ option: String?,
        temporaryName name: String,
        _ body: (DatabaseLocation) async throws -> Result
    ) async throws -> Result {
        if let given = try Self.fromCommandLine(option) { return try await body(given) }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("bulk-update-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(.sqlite(try SQLiteURL(directory.appendingPathComponent("\(name).db").path)))
    }

    var description: String {
        switch self {
        case .postgres(let url): url.description
        case .sqlite(let url): url.description
        }
    }
}
