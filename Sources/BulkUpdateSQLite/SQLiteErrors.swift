import BulkUpdate
import SQLiteNIO

/// Turns SQLite errors into ``BulkUpdateError`` with SQLite's own words.
enum SQLiteErrors {
    static func map(_ error: any Error, doing action: String) -> any Error {
        // Only SQLite's own errors are translated; anything else (the caller's, cancellation) passes unchanged.
        guard let error = error as? SQLiteError else { return error }
        switch error.reason {
        case .busy, .busyTimeout, .locked, .busyInRecovery, .busyInSnapshot:
            return BulkUpdateError(
                .conflict,
                "\(action) failed: the database file is locked by another connection or process and stayed locked"
                    + " for the whole busy timeout (\(error.message))",
                underlying: error
            )
        case .constraint, .constraintCheckFailed, .constraintForeignKeyFailed, .constraintNotNullFailed,
            .constraintPrimaryKeyFailed, .constraintUniqueFailed, .constraintTriggerFailed,
            .constraintUniqueRowIDFailed, .constraintStrictDataTypeFailed:
            return BulkUpdateError(.constraint, "SQLite rejected \(action): \(error.message)", underlying: error)
        case .readOnly, .cantOpen, .ioError, .full, .corrupt, .notADatabase:
            return BulkUpdateError(.connection, "\(action) failed: \(error.message)", underlying: error)
        default:
            return BulkUpdateError(.server, "SQLite rejected \(action): \(error.message)", underlying: error)
        }
    }
}
