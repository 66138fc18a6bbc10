import BulkUpdate
import Foundation
import Synchronization

/// The `--conflicts` file: created (or emptied) before anything else happens, like the report file, then appended to
/// as chunks finish. CSV with a header: the key columns, then `column`, `expected`, `actual`; NULL is an unquoted
/// `\N`, as `apply` reads it, so the file can be edited into a change file.
final class ConflictsFile: Sendable {
    let path: String
    private let handle: Mutex<(file: FileHandle, wroteHeader: Bool, failed: Bool)>

    /// Opens `path` for writing.
    ///
    /// - Throws: ``ApplyFailure`` with exit code 73 naming the path and the system's reason.
    init(path: String) throws {
        let descriptor = try ReportFile.create(path, for: "the conflicts")
        self.path = path
        self.handle = Mutex((FileHandle(fileDescriptor: descriptor, closeOnDealloc: true), false, false))
    }

    /// Writes the header, once the key columns are known; a file with only a header means no conflict.
    func start(keyColumns: [String]) {
        self.handle.withLock { state in
            guard !state.wroteHeader else { return }
            state.wroteHeader = true
            self.append(Self.line(keyColumns + ["column", "expected", "actual"]), to: &state)
        }
    }

    /// Appends one chunk's conflicts, one line each.
    func write(_ conflicts: [BulkUpdateConflict]) {
        var text = ""
        for conflict in conflicts {
            text += Self.line(conflict.keyValues + [conflict.column, conflict.expected, conflict.actual])
        }
        self.handle.withLock { self.append(text, to: &$0) }
    }

    /// Whether every write succeeded.
    var isComplete: Bool { self.handle.withLock { !$0.failed } }

    private func append(_ text: String, to state: inout (file: FileHandle, wroteHeader: Bool, failed: Bool)) {
        guard !state.failed else { return }
        do {
            try state.file.write(contentsOf: Data(text.utf8))
        } catch {
            state.failed = true
            FileHandle.standardError.write(
                Data("error: could not write the conflicts to '\(self.path)': \(error)\n".utf8)
            )
        }
    }

    /// One CSV line: NULL as an unquoted `\N`; a field quoted when it holds a comma, quote or line break, starts or
    /// ends with a space, or is the text `\N`.
    static func line(_ fields: [String?]) -> String {
        fields.map { field -> String in
            guard let field else { return "\\N" }
            let plain =
                field != "\\N" && !field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                && field.first != " " && field.last != " "
            return plain ? field : "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",") + "\n"
    }
}
