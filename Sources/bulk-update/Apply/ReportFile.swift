import BulkUpdate
import Foundation

/// The `--report` file: opened (created or emptied) before anything else happens, so a path that cannot be written
/// stops the run before it connects, and written once at the end, whatever the outcome.
final class ReportFile: Sendable {
    let path: String
    private let descriptor: Int32

    /// Opens `path` for writing.
    ///
    /// - Throws: ``ApplyFailure`` with exit code 73 naming the path and the system's reason.
    init(path: String) throws {
        self.path = path
        self.descriptor = try Self.create(path, for: "the report")
    }

    /// Creates (or empties) `path` for writing `what`, and returns its descriptor.
    ///
    /// - Throws: ``ApplyFailure`` with exit code 73 naming the path and the system's reason.
    static func create(_ path: String, for what: String) throws -> Int32 {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ApplyFailure(
                description: "cannot write \(what) to '\(path)': \(String(cString: strerror(errno))); nothing was done",
                exitCode: ApplyFailure.reportUnwritable
            )
        }
        return descriptor
    }

    deinit { close(self.descriptor) }

    /// Writes the report's own fields (`dryRun` among them), plus `exitCode`, and `error` when the run failed.
    /// A failure before any work has no report: then only `exitCode` and `error` are written.
    ///
    /// - Returns: Whether the report was written; when not, the reason is on standard error.
    @discardableResult
    func write(_ report: BulkUpdateReport?, error: String? = nil, exitCode: Int32) -> Bool {
        var object: [String: Any] = [:]
        if let report, let data = try? JSONEncoder().encode(report),
            let fields = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            object = fields
        }
        object["exitCode"] = Int(exitCode)
        if let error { object["error"] = error }
        do {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            try FileHandle(fileDescriptor: self.descriptor, closeOnDealloc: false).write(
                contentsOf: data + Data("\n".utf8)
            )
            return true
        } catch {
            FileHandle.standardError.write(Data("error: could not write the report to '\(self.path)': \(error)\n".utf8))
            return false
        }
    }
}
