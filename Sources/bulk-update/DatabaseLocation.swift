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

    var description: String {
        switch self {
        case .postgres(let url): url.description
        case .sqlite(let url): url.description
        }
    }
}
