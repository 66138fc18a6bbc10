public import BulkUpdate
import Foundation

/// Where a SQLite database lives, written as a URL or a path.
///
/// Accepted forms: `sqlite:///absolute/path.db`, `sqlite:relative/path.db`, `sqlite://relative/path.db`,
/// a bare path ending in `.db`, `.sqlite` or `.sqlite3`, and `:memory:` (or `sqlite::memory:`) for a private
/// in-memory database.
public struct SQLiteURL: Sendable, Hashable, CustomStringConvertible {
    /// The file's path, or `nil` for an in-memory database.
    public var path: String?

    /// Parses a URL or path.
    ///
    /// - Throws: ``BulkUpdateError`` with code ``BulkUpdateError/Code-swift.struct/configuration`` saying which
    ///   forms are accepted.
    public init(_ text: String) throws(BulkUpdateError) {
        if text == ":memory:" || text == "sqlite::memory:" || text == "sqlite://:memory:" {
            self.path = nil
            return
        }
        var path: String
        if text.hasPrefix("sqlite://") {
            path = String(text.dropFirst("sqlite://".count))  // sqlite:///abs → /abs, sqlite://rel → rel
            path = path.removingPercentEncoding ?? path
        } else if text.hasPrefix("sqlite:") {
            path = String(text.dropFirst("sqlite:".count))
            path = path.removingPercentEncoding ?? path
        } else if Self.isSQLitePath(text) {
            path = text  // a plain path is taken as written
        } else {
            throw BulkUpdateError(
                .configuration,
                "\(SQLText.literal(SQLText.redactingPassword(text))) is not a SQLite database: use sqlite:///absolute/path.db, sqlite:relative.db,"
                    + " a path ending in .db, .sqlite or .sqlite3, or :memory:"
            )
        }
        guard !path.isEmpty else {
            throw BulkUpdateError(
                .configuration,
                "the SQLite URL \(SQLText.literal(SQLText.redactingPassword(text))) has no path"
            )
        }
        self.path = path
    }

    /// Whether `text` names a SQLite database rather than a server URL.
    public static func isSQLite(_ text: String) -> Bool {
        text.hasPrefix("sqlite:") || text == ":memory:" || Self.isSQLitePath(text)
    }

    private static func isSQLitePath(_ text: String) -> Bool {
        !text.contains("://") && [".db", ".sqlite", ".sqlite3"].contains { text.lowercased().hasSuffix($0) }
    }

    public var description: String { self.path.map { "sqlite:\($0)" } ?? ":memory:" }
}
