import BulkUpdate
import Foundation

/// The change file's rows as they come: CSV/TSV records by header position, or JSON Lines objects by name.
struct RecordStream {
    enum Format: String, CaseIterable {
        case csv, tsv, jsonl

        /// The format a file name implies: `.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`.
        static func implied(by path: String) -> Format? {
            switch URL(fileURLWithPath: path).pathExtension.lowercased() {
            case "csv": .csv
            case "tsv", "tab": .tsv
            case "jsonl", "ndjson": .jsonl
            default: nil
            }
        }
    }

    enum Fields {
        case positional([BulkUpdateValue])
        case named([String: BulkUpdateValue])
    }

    private var delimited: DelimitedReader?
    private var json: JSONLinesReader?
    private var pending: JSONRecord?
    /// The columns the input names: the CSV header, or the keys of the first JSON object in table order later.
    let columns: [String]
    let name: String
    /// Whether the input can be read again from the start (a regular file).
    let isRegularFile: Bool
    /// A regular file's size in bytes; `nil` for anything else.
    let fileSize: Int?

    /// Opens `path` (`-` for standard input) and reads the header, or the first JSON object.
    init(path: String, format: Format, nullString: String?) throws {
        let source = try ByteSource(path: path)
        self.name = source.name
        self.isRegularFile = source.isRegularFile
        self.fileSize = source.fileSize
        switch format {
        case .csv, .tsv:
            let reader = try DelimitedReader(
                source: source,
                delimiter: format == .csv ? DelimitedReader.comma : DelimitedReader.tab,
                nullString: nullString
            )
            self.columns = reader.header
            self.delimited = reader
        case .jsonl:
            var reader = JSONLinesReader(source: source)
            guard let first = try reader.next() else {
                throw BulkUpdateError(.input, "\(source.name) is empty: expected one JSON object per line")
            }
            self.pending = first
            self.columns = first.values.keys.sorted()
            self.json = reader
        }
    }

    /// The next record, or `nil` at the end.
    mutating func next() throws -> (line: Int, fields: Fields)? {
        if let pending {
            self.pending = nil
            return (pending.line, .named(pending.values))
        }
        if self.delimited != nil {
            return try self.delimited!.next().map { ($0.line, .positional($0.fields)) }
        }
        return try self.json!.next().map { ($0.line, .named($0.values)) }
    }

    /// Input bytes consumed so far.
    var bytesRead: Int {
        self.delimited?.bytesRead ?? self.json?.bytesRead ?? 0
    }
}

/// Turns input records into rows in the plan's column order.
struct RowMapping {
    let columns: [String]
    /// For positional input: where each plan column is in a record.
    let positions: [Int]
    /// Whether the input's columns are the plan's, in its order (the usual file): rows are then taken as they are.
    let inPlanOrder: Bool
    /// For named input: whether names that are neither key nor set columns are ignored (`--columns` was given).
    let ignoresOthers: Bool

    /// - Parameters:
    ///   - inputColumns: The header (positional) or the first object's keys.
    ///   - ignoreOthers: Whether input columns that are neither key nor set columns are ignored (`--columns` was
    ///     given) rather than an error.
    ///   - expectedInputs: The input column of each of the plan's expected columns (`--expect COLUMN=INPUT`).
    init(plan: UpdatePlan, expectedInputs: [String] = [], inputColumns: [String], ignoreOthers: Bool, inputName: String)
        throws
    {
        precondition(expectedInputs.count == plan.expectedColumns.count, "one input column per expected column")
        // The input's name for each plan column: a key or set column's own, an expected column's input column.
        self.columns = (plan.keyColumns + plan.setColumns).map(\.name) + expectedInputs
        var positions: [Int] = []
        for (index, name) in self.columns.enumerated() {
            guard let position = inputColumns.firstIndex(of: name) else {
                let expected = index - plan.keyColumns.count - plan.setColumns.count
                let role =
                    plan.keyColumns.contains { $0.name == name } && expected < 0
                    ? "key column \"\(name)\""
                    : expected >= 0
                        ? "column \"\(name)\" (the expected values of \"\(plan.expectedColumns[expected].name)\", --expect)"
                        : "column \"\(name)\""
                throw BulkUpdateError(
                    .input,
                    "\(inputName) has no \(role); its columns are "
                        + inputColumns.map { "\"\($0)\"" }.joined(separator: ", "),
                    column: name
                )
            }
            positions.append(position)
        }
        let used = Set(self.columns)
        let others = inputColumns.filter { !used.contains($0) }
        if !ignoreOthers, let extra = others.first {
            throw BulkUpdateError(
                .input,
                "\(inputName) has column \"\(extra)\", which is neither a key nor a column to set",
                column: extra
            )
        }
        self.positions = positions
        self.inPlanOrder = positions.elementsEqual(positions.indices)
        self.ignoresOthers = ignoreOthers
    }

    func row(_ fields: RecordStream.Fields, line: Int) throws(BulkUpdateError) -> BulkUpdateRow {
        switch fields {
        case .positional(let values):
            if self.inPlanOrder && values.count == self.positions.count {
                return BulkUpdateRow(values, line: line)
            }
            return BulkUpdateRow(self.positions.map { values[$0] }, line: line)
        case .named(let values):
            var row: [BulkUpdateValue] = []
            row.reserveCapacity(self.columns.count)
            for column in self.columns {
                guard let value = values[column] else {
                    throw BulkUpdateError(.input, "the object has no \"\(column)\"", inputLine: line, column: column)
                }
                row.append(value)
            }
            if values.count > row.count && !self.ignoresOthers {
                let used = Set(self.columns)
                for name in values.keys.sorted() where !used.contains(name) {
                    throw BulkUpdateError(
                        .input,
                        "the object has \"\(name)\", which is neither a key nor a column to set",
                        inputLine: line,
                        column: name
                    )
                }
            }
            return BulkUpdateRow(row, line: line)
        }
    }
}

/// The rows of a record stream as an `AsyncSequence`, for the engine; read once.
struct InputRows: AsyncSequence {
    typealias Element = BulkUpdateRow

    let stream: RecordStream
    let mapping: RowMapping

    struct AsyncIterator: AsyncIteratorProtocol, SynchronousRows {
        var stream: RecordStream
        let mapping: RowMapping

        mutating func next() async throws -> BulkUpdateRow? {
            try self.nextRow()
        }

        mutating func nextRow() throws -> BulkUpdateRow? {
            guard let (line, fields) = try self.stream.next() else { return nil }
            return try self.mapping.row(fields, line: line)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self.stream, mapping: self.mapping) }
}
