import BulkUpdate
import Foundation

/// A streaming reader of delimited text: CSV (`,`) or TSV (`\t`), quoted as in RFC 4180.
///
/// The first record is the header naming the columns; every later record must have as many fields. The input is
/// read in blocks from a ``ByteSource`` and parsed as bytes, so memory stays proportional to the longest record.
///
/// Rules:
/// - A field may be enclosed in double quotes; inside, `""` is one literal quote, and delimiters, CR and LF are
///   ordinary text (such a record spans several physical lines).
/// - Records end with LF or CRLF; the last record may lack a line end, and blank lines at the very end of the
///   input are ignored. A UTF-8 byte order mark at the start is skipped.
/// - Each field becomes ``BulkUpdateValue/string(_:)`` with its text, except that an **unquoted** field equal to
///   the null string (by default `\N`, as in PostgreSQL's `COPY` text format) becomes ``BulkUpdateValue/null``.
///   A quoted `"\N"` is the two-character text `\N`; an empty unquoted field is the empty string (unless the null
///   string is empty).
/// - A quote in the middle of an unquoted field, text after a closing quote, a quoted field left open at the end
///   of the input, a record with the wrong number of fields and text that is not UTF-8 are errors.
///
/// ```swift
/// var reader = try DelimitedReader(source: ByteSource(path: "changes.csv"), delimiter: DelimitedReader.comma)
/// print(reader.header)                      // ["id", "username"]
/// while let record = try reader.next() {
///     print(record.line, record.fields)     // 2 ['1', 'ALICE']
/// }
/// ```
///
/// Errors are ``BulkUpdateError``s with code `input` and ``BulkUpdateError/inputLine`` set to the physical line
/// at fault (1 is the header).
struct DelimitedReader {
    /// One record after the header.
    struct Record: Sendable, Hashable {
        /// The 1-based physical line where the record starts; the header is line 1.
        var line: Int
        /// One value per header column, in header order.
        var fields: [BulkUpdateValue]
    }

    /// The CSV delimiter, `,`.
    static let comma = UInt8(ascii: ",")
    /// The TSV delimiter, a horizontal tab.
    static let tab = UInt8(ascii: "\t")
    /// The default null string, `\N` (PostgreSQL `COPY` text convention).
    static let defaultNullString = "\\N"

    /// The delimiter byte.
    let delimiter: UInt8
    /// The text that, unquoted, means NULL; `nil` when no field is NULL.
    let nullString: String?
    /// The column names from the first record, valid UTF-8, non-empty and unique.
    private(set) var header: [String] = []
    /// How many records after the header have been returned.
    private(set) var rowsRead = 0
    /// How many input bytes have been consumed so far (byte order mark and header included), for progress.
    var bytesRead: Int { self.window.consumed }
    /// The input's name for messages: a path or `standard input`.
    var inputName: String { self.source.name }

    private let source: ByteSource
    private var window: InputWindow
    private let nullBytes: [UInt8]?
    /// The physical line of `window.start`.
    private var line = 1
    /// The fields of the record just scanned.
    private var spans: [FieldSpan] = []
    /// Whether the record just scanned was an empty line.
    private var recordWasEmpty = false
    /// The last record's values. Reused: once the caller has let go of the record, the next one fills the same
    /// storage instead of allocating an array per record.
    private var fields: [BulkUpdateValue] = []
    /// Unescaped bytes of a quoted field with doubled quotes.
    private var scratch: [UInt8] = []

    private struct FieldSpan {
        var start: Int
        var end: Int
        var line: Int
        var quoted: Bool
        var doubledQuotes: Bool
    }

    private enum ScanResult {
        case record(next: Int, nextLine: Int)
        case incomplete
        case endOfInput
    }

    private static let quote = UInt8(ascii: "\"")
    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")

    /// Opens a reader and reads the header.
    ///
    /// - Parameters:
    ///   - source: The input.
    ///   - delimiter: ``comma`` for CSV, ``tab`` for TSV; any byte except `"`, CR and LF.
    ///   - nullString: The unquoted field text that means NULL, ``defaultNullString`` (`\N`) unless given;
    ///     `nil` turns NULLs off, `""` makes every empty unquoted field NULL.
    /// - Throws: ``BulkUpdateError`` with code `input` when the input is empty or the header is not valid (not
    ///   UTF-8, an empty or a repeated column name, bad quoting); `configuration` for an unusable delimiter.
    init(source: ByteSource, delimiter: UInt8, nullString: String? = DelimitedReader.defaultNullString) throws {
        guard delimiter != Self.quote, delimiter != Self.lineFeed, delimiter != Self.carriageReturn else {
            throw BulkUpdateError(
                .configuration,
                "the delimiter cannot be a double quote, CR or LF (got byte 0x\(SQLText.hex(delimiter)))"
            )
        }
        self.source = source
        self.delimiter = delimiter
        self.nullString = nullString
        self.nullBytes = nullString.map { Array($0.utf8) }
        self.window = InputWindow(capacity: source.blockSize)
        try self.window.skipByteOrderMark(from: source)
        guard let headerLine = try self.scanNextRecord() else {
            throw BulkUpdateError(
                .input,
                "\(self.source.name) is empty: expected a header line naming the columns",
                inputLine: 1
            )
        }
        let bytes = self.window.bytes
        let names = try bytes.withUnsafeBufferPointer { pointer in
            try self.spans.indices.map { try self.decode(pointer, field: $0) }
        }
        var seen: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            guard !name.isEmpty else {
                throw BulkUpdateError(
                    .input,
                    "header line \(headerLine): column name \(index + 1) of \(names.count) is empty;"
                        + " every column needs a name",
                    inputLine: headerLine
                )
            }
            if let first = seen.updateValue(index, forKey: name) {
                throw BulkUpdateError(
                    .input,
                    "header line \(headerLine): column \"\(name)\" appears twice (fields \(first + 1)"
                        + " and \(index + 1))",
                    inputLine: headerLine,
                    column: name
                )
            }
        }
        self.header = names
    }

    /// Reads the next record.
    ///
    /// - Returns: The record, or `nil` at the end of the input.
    /// - Throws: ``BulkUpdateError`` with code `input` and the line at fault, for the wrong number of fields, bad
    ///   quoting or invalid UTF-8.
    mutating func next() throws -> Record? {
        guard let recordLine = try self.scanNextRecord() else { return nil }
        guard self.spans.count == self.header.count else {
            let names = self.header.joined(separator: ", ")
            let message =
                self.recordWasEmpty
                ? "line \(recordLine) is empty, expected \(self.header.count) field\(self.header.count == 1 ? "" : "s")"
                    + " (\(names))"
                : "line \(recordLine) has \(self.spans.count) field\(self.spans.count == 1 ? "" : "s"),"
                    + " expected \(self.header.count) (\(names))"
            throw BulkUpdateError(.input, message, inputLine: recordLine)
        }
        let bytes = self.window.bytes
        var fields = self.fields
        self.fields = []
        fields.removeAll(keepingCapacity: true)
        try bytes.withUnsafeBufferPointer { pointer in
            for index in self.spans.indices {
                if self.isNull(pointer, self.spans[index]) {
                    fields.append(.null)
                } else {
                    fields.append(.string(try self.decode(pointer, field: index)))
                }
            }
        }
        self.fields = fields
        self.rowsRead += 1
        return Record(line: recordLine, fields: fields)
    }

    // MARK: - Scanning

    /// Finds the next record's fields, reading more input as needed.
    ///
    /// - Returns: The line where the record starts, or `nil` at the end; the fields are in ``spans``, indexing
    ///   ``window``'s bytes, valid until the next call.
    private mutating func scanNextRecord() throws -> Int? {
        while true {
            let result = try self.scanWindow()
            switch result {
            case .record(let next, let nextLine):
                let recordLine = self.line
                self.window.start = next
                self.line = nextLine
                return recordLine
            case .endOfInput:
                self.window.start = self.window.end
                return nil
            case .incomplete:
                try self.window.fill(from: self.source)
            }
        }
    }

    private mutating func scanWindow() throws -> ScanResult {
        let bytes = self.window.bytes
        let (start, end, atEnd) = (self.window.start, self.window.end, self.window.isAtEnd)
        return try bytes.withUnsafeBufferPointer { pointer in
            try self.scan(pointer, from: start, to: end, atEnd: atEnd)
        }
    }

    /// Scans one record starting at `start`; records its fields in ``spans``.
    ///
    /// Returns `.incomplete` when the record may continue past `end` and more input may come; the caller reads
    /// more and scans the record again from its start.
    private mutating func scan(
        _ bytes: UnsafeBufferPointer<UInt8>,
        from start: Int,
        to end: Int,
        atEnd: Bool
    ) throws -> ScanResult {
        let quote = Self.quote
        let lineFeed = Self.lineFeed
        let carriageReturn = Self.carriageReturn
        let delimiter = self.delimiter
        self.spans.removeAll(keepingCapacity: true)
        self.recordWasEmpty = false
        if start == end { return atEnd ? .endOfInput : .incomplete }
        if bytes[start] == lineFeed || bytes[start] == carriageReturn {
            // Blank lines at the very end are ignored; anywhere else the line is a record of one empty field.
            var index = start
            while index < end && (bytes[index] == lineFeed || bytes[index] == carriageReturn) { index += 1 }
            if index == end { return atEnd ? .endOfInput : .incomplete }
            self.recordWasEmpty = bytes[start] == lineFeed || (bytes[start + 1] == lineFeed)
        }
        var line = self.line
        var index = start
        while true {
            let fieldLine = line
            if index < end && bytes[index] == quote {
                let contentStart = index + 1
                var cursor = contentStart
                var doubled = false
                while true {
                    while cursor < end {
                        let byte = bytes[cursor]
                        if byte == quote { break }
                        if byte == lineFeed { line += 1 }
                        cursor += 1
                    }
                    if cursor == end {
                        if atEnd { throw self.unterminatedQuote(line: fieldLine, field: self.spans.count) }
                        return .incomplete
                    }
                    if cursor + 1 == end {
                        guard atEnd else { return .incomplete }
                        self.spans.append(
                            FieldSpan(
                                start: contentStart,
                                end: cursor,
                                line: fieldLine,
                                quoted: true,
                                doubledQuotes: doubled
                            )
                        )
                        return .record(next: end, nextLine: line)
                    }
                    let after = bytes[cursor + 1]
                    if after == quote {
                        doubled = true
                        cursor += 2
                        continue
                    }
                    let span = FieldSpan(
                        start: contentStart,
                        end: cursor,
                        line: fieldLine,
                        quoted: true,
                        doubledQuotes: doubled
                    )
                    if after == delimiter {
                        self.spans.append(span)
                        index = cursor + 2
                        break
                    }
                    if after == lineFeed {
                        self.spans.append(span)
                        return .record(next: cursor + 2, nextLine: line + 1)
                    }
                    if after == carriageReturn {
                        if cursor + 2 < end {
                            if bytes[cursor + 2] == lineFeed {
                                self.spans.append(span)
                                return .record(next: cursor + 3, nextLine: line + 1)
                            }
                        } else if atEnd {
                            self.spans.append(span)
                            return .record(next: end, nextLine: line)
                        } else {
                            return .incomplete
                        }
                    }
                    throw self.textAfterQuote(after, line: line, field: self.spans.count)
                }
            } else {
                var cursor = index
                while cursor < end {
                    let byte = bytes[cursor]
                    if byte == delimiter || byte == lineFeed || byte == quote { break }
                    cursor += 1
                }
                if cursor == end {
                    guard atEnd else { return .incomplete }
                    var fieldEnd = end
                    if fieldEnd > index && bytes[fieldEnd - 1] == carriageReturn { fieldEnd -= 1 }
                    self.spans.append(
                        FieldSpan(
                            start: index,
                            end: fieldEnd,
                            line: fieldLine,
                            quoted: false,
                            doubledQuotes: false
                        )
                    )
                    return .record(next: end, nextLine: line)
                }
                let byte = bytes[cursor]
                if byte == delimiter {
                    self.spans.append(
                        FieldSpan(
                            start: index,
                            end: cursor,
                            line: fieldLine,
                            quoted: false,
                            doubledQuotes: false
                        )
                    )
                    index = cursor + 1
                } else if byte == lineFeed {
                    var fieldEnd = cursor
                    if fieldEnd > index && bytes[fieldEnd - 1] == carriageReturn { fieldEnd -= 1 }
                    self.spans.append(
                        FieldSpan(
                            start: index,
                            end: fieldEnd,
                            line: fieldLine,
                            quoted: false,
                            doubledQuotes: false
                        )
                    )
                    return .record(next: cursor + 1, nextLine: line + 1)
                } else {
                    throw self.quoteInUnquotedField(line: line, field: self.spans.count)
                }
            }
        }
    }

    // MARK: - Field values

    private func isNull(_ bytes: UnsafeBufferPointer<UInt8>, _ span: FieldSpan) -> Bool {
        guard let nullBytes = self.nullBytes, !span.quoted, span.end - span.start == nullBytes.count else {
            return false
        }
        var index = 0
        while index < nullBytes.count {
            if bytes[span.start + index] != nullBytes[index] { return false }
            index += 1
        }
        return true
    }

    /// The text of field `field` of the record just scanned, with doubled quotes undone.
    private mutating func decode(_ bytes: UnsafeBufferPointer<UInt8>, field: Int) throws -> String {
        let span = self.spans[field]
        if !span.doubledQuotes {
            let slice = UnsafeBufferPointer(rebasing: bytes[span.start..<span.end])
            if let text = Self.text(slice) { return text }
            throw self.invalidUTF8(slice, line: span.line, field: field)
        }
        self.scratch.removeAll(keepingCapacity: true)
        var index = span.start
        while index < span.end {
            let byte = bytes[index]
            self.scratch.append(byte)
            index += byte == Self.quote ? 2 : 1
        }
        return try self.scratch.withUnsafeBufferPointer { unescaped in
            if let text = Self.text(unescaped) { return text }
            throw self.invalidUTF8(unescaped, line: span.line, field: field)
        }
    }

    /// `bytes` as a string, or `nil` when they are not valid UTF-8. ASCII, most fields, takes a fast path: the
    /// generic validating initializer looked up type metadata for every field.
    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var bits: UInt8 = 0
        for byte in bytes { bits |= byte }
        if bits < 0x80 { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }

    // MARK: - Errors

    /// `column "name"` for a header column, else `field N` (in the header itself, or past the last column).
    private func fieldName(_ index: Int) -> String {
        index < self.header.count ? "column \"\(self.header[index])\"" : "field \(index + 1)"
    }

    private var delimiterName: String {
        switch self.delimiter {
        case Self.tab: "a tab"
        case 0x20...0x7E: "'\(Character(Unicode.Scalar(self.delimiter)))'"
        default: "byte 0x\(SQLText.hex(self.delimiter))"
        }
    }

    private func unterminatedQuote(line: Int, field: Int) -> BulkUpdateError {
        BulkUpdateError(
            .input,
            "line \(line): the quoted value of \(self.fieldName(field)) starting on this line has no closing quote"
                + " before the end of the input",
            inputLine: line,
            column: field < self.header.count ? self.header[field] : nil
        )
    }

    private func textAfterQuote(_ byte: UInt8, line: Int, field: Int) -> BulkUpdateError {
        let shown =
            (0x20...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(SQLText.hex(byte))"
        return BulkUpdateError(
            .input,
            "line \(line): unexpected \(shown) after the closing quote of \(self.fieldName(field));"
                + " expected the delimiter \(self.delimiterName) or the end of the line",
            inputLine: line,
            column: field < self.header.count ? self.header[field] : nil
        )
    }

    private func quoteInUnquotedField(line: Int, field: Int) -> BulkUpdateError {
        BulkUpdateError(
            .input,
            "line \(line): unexpected quote (\") inside the unquoted value of \(self.fieldName(field));"
                + " a value containing quotes must be enclosed in quotes, with each quote inside doubled (\"\")",
            inputLine: line,
            column: field < self.header.count ? self.header[field] : nil
        )
    }

    private func invalidUTF8(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, field: Int) -> BulkUpdateError {
        let offset = UTF8Check.firstInvalidOffset(bytes) ?? 0
        return BulkUpdateError(
            .input,
            "line \(line): \(self.fieldName(field)) is not valid UTF-8: bytes \(UTF8Check.hex(bytes, from: offset))"
                + " at byte offset \(offset) of the value; convert the input to UTF-8",
            inputLine: line,
            column: field < self.header.count ? self.header[field] : nil
        )
    }
}
