package import Logging

/// Metadata keys for log messages.
package enum LogKey {
    package static let table = "bulk_update.table"
    package static let strategy = "bulk_update.strategy"
    package static let workers = "bulk_update.workers"
    package static let worker = "bulk_update.worker"
    package static let chunk = "bulk_update.chunk"
    package static let chunkSize = "bulk_update.chunk_size"
    package static let rows = "bulk_update.rows"
    package static let chunks = "bulk_update.chunks"
    package static let error = "bulk_update.error"
    package static let sqlState = "bulk_update.sqlstate"
    package static let stage = "bulk_update.stage"
    package static let runID = "bulk_update.run_id"
    package static let attempt = "bulk_update.attempt"
    package static let changed = "bulk_update.changed"
    package static let seconds = "bulk_update.seconds"
}

extension Logger {
    /// A logger that drops every message: what the library logs to when the caller gives it no logger.
    package static let silent = Logger(label: "bulk-update", factory: { _ in SwiftLogNoOpLogHandler() })
}
