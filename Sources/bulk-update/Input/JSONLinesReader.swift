import BulkUpdate
import Foundation

/// One object read by ``JSONLinesReader``.
struct JSONRecord: Sendable, Hashable {
    /// The 1-based physical line of the object.
    var line: Int
    /// The object's members by key.
    var values: [String: BulkUpdateValue]
}

/// A streaming reader of JSON Lines: one JSON object per line.
///
/// Blank lines (only spaces and tabs) are skipped but counted, CRLF line ends are accepted and a UTF-8 byte
/// order mark at the start is skipped. Each member value becomes a ``BulkUpdateValue``:
///
/// | JSON                                   | value                                                    |
/// |----------------------------------------|----------------------------------------------------------|
/// | string                                 | ``BulkUpdateValue/string(_:)``                           |
/// | integer that fits `Int64`              | ``BulkUpdateValue/int(_:)``                              |
/// | other number (fraction, exponent, big) | ``BulkUpdateValue/string(_:)`` of the exact literal text |
/// | `true`, `false`                        | ``BulkUpdateValue/bool(_:)``                             |
/// | `null`                                 | ``BulkUpdateValue/null``                                 |
/// | object, array                          | ``BulkUpdateValue/string(_:)`` of its compact JSON text  |
///
/// Whether a value fits its column is decided by the column's type: strings are the column's text form (as in CSV),
/// numbers go to numeric columns, booleans to boolean columns, objects and arrays to json and jsonb columns, and a
/// text column takes any value, a string as its content and anything else as its JSON text (`42`, `true`,
/// `{"a":1}`).
///
/// Numbers that are not `Int64` stay text so that no digit is lost: the column's type parses the text later, so
/// `12345.678901234567890123` reaches a `numeric` column exactly. Nested objects and arrays keep their members
/// as written, minus the whitespace between tokens (string escapes are kept as written).
///
/// The parser is strict RFC 8259: no comments, trailing commas, single quotes or unescaped control characters.
/// A key repeated in the same top-level object is an error (nested objects are passed through as text).
/// Errors are ``BulkUpdateError``s with code `input` and ``BulkUpdateError/inputLine`` set.
///
/// ```swift
/// var reader = JSONLinesReader(source: try ByteSource(path: "changes.jsonl"))
/// while let record = try reader.next() {
///     print(record.line, record.values["id"] ?? .null)
/// }
/// ```
struct JSONLinesReader {
    /// One object and its line.
    typealias Record = JSONRecord

    /// How many objects have been returned.
    private(set) var rowsRead = 0
    /// How many input bytes have been consumed so far, for progress.
    var bytesRead: Int { self.window.consumed }
    /// The input's name for messages: a path or `standard input`.
    var inputName: String { self.source.name }

    private let source: ByteSource
    private var window: InputWindow
    private var line = 0
    private var startedReading = false
    private var parser = JSONLineParser()

    /// Creates a reader; nothing is read until the first ``next()``.
    init(source: ByteSource) {
        self.source = source
        self.window = InputWindow(capacity: source.blockSize)
    }

    /// Reads the next object, skipping blank lines.
    ///
    /// - Returns: The object, or `nil` at the end of the input.
    /// - Throws: ``BulkUpdateError`` with code `input` naming the line and what was found when a line is not one
    ///   JSON object, is not UTF-8 or repeats a key.
    mutating func next() throws -> JSONRecord? {
        if !self.startedReading {
            self.startedReading = true
            try self.window.skipByteOrderMark(from: self.source)
        }
        while true {
            guard let (lineStart, lineEnd) = try self.nextLine() else { return nil }
            let bytes = self.window.bytes
            let lineNumber = self.line
            let values = try bytes.withUnsafeBufferPointer { pointer in
                try self.parser.parse(UnsafeBufferPointer(rebasing: pointer[lineStart..<lineEnd]), line: lineNumber)
            }
            if let values {
                self.rowsRead += 1
                return JSONRecord(line: lineNumber, values: values)
            }
        }
    }

    /// Finds the next line, reading more input as needed; consumes it and its line end.
    ///
    /// - Returns: The line's range in `window.bytes` without CR LF, valid until the next call, or `nil` at the end.
    private mutating func nextLine() throws -> (start: Int, end: Int)? {
        var searched = 0
        while true {
            let start = self.window.start
            let end = self.window.end
            if start == end && self.window.isAtEnd { return nil }
            let found: Int? = self.window.bytes.withUnsafeBufferPointer { pointer in
                guard end > start + searched,
                    let match = memchr(pointer.baseAddress! + start + searched, 0x0A, end - start - searched)
                else { return nil }
                return pointer.baseAddress!.distance(to: match.assumingMemoryBound(to: UInt8.self))
            }
            if let found {
                self.line += 1
                self.window.start = found + 1
                let lineEnd = found > start && self.window.bytes[found - 1] == UInt8(ascii: "\r") ? found - 1 : found
                return (start, lineEnd)
            }
            if self.window.isAtEnd {
                self.line += 1
                self.window.start = end
                let lineEnd = self.window.bytes[end - 1] == UInt8(ascii: "\r") ? end - 1 : end
                return (start, lineEnd)
            }
            searched = end - start
            try self.window.fill(from: self.source)
        }
    }
}

/// A strict JSON parser for one line holding one object, over its bytes.
struct JSONLineParser {
    private var scratch: [UInt8] = []
    /// Nesting deeper than this is rejected rather than risking the stack.
    static let maximumDepth = 512

    private struct Failure: Error {
        var message: String
        var offset: Int
    }

    /// The members of the object on `bytes`, or `nil` for a blank line.
    mutating func parse(_ bytes: UnsafeBufferPointer<UInt8>, line: Int) throws -> [String: BulkUpdateValue]? {
        if let offset = UTF8Check.firstInvalidOffset(bytes) {
            throw BulkUpdateError(
                .input,
                "line \(line) is not valid UTF-8: bytes \(UTF8Check.hex(bytes, from: offset)) at column \(offset + 1);"
                    + " convert the input to UTF-8",
                inputLine: line
            )
        }
        var cursor = Cursor(bytes: bytes)
        do {
            cursor.skipWhitespace()
            if cursor.atEnd { return nil }
            return try self.parseObject(&cursor)
        } catch let failure as Failure {
            throw BulkUpdateError(
                .input,
                "line \(line), column \(failure.offset + 1): \(failure.message)",
                inputLine: line
            )
        }
    }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var atEnd: Bool { self.index >= self.bytes.count }
        var current: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

        mutating func skipWhitespace() {
            while self.index < self.bytes.count {
                switch self.bytes[self.index] {
                case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
                default: return
                }
            }
        }

        /// How the byte at the cursor reads in a message: `'x'`, `byte 0x07` or `the end of the line`.
        var found: String {
            guard let byte = self.current else { return "the end of the line" }
            if (0x21...0x7E).contains(byte) { return "'\(Character(Unicode.Scalar(byte)))'" }
            if byte == 0x20 { return "a space" }
            if byte >= 0x80 {
                // Show the whole character, the line is valid UTF-8.
                var end = self.index + 1
                while end < self.bytes.count && self.bytes[end] & 0xC0 == 0x80 { end += 1 }
                return "'"
                    + String(decoding: UnsafeBufferPointer(rebasing: self.bytes[self.index..<end]), as: UTF8.self)
                    + "'"
            }
            return "byte 0x\(SQLText.hex(byte))"
        }

        func fail(_ message: String, at offset: Int? = nil) -> Failure {
            Failure(message: message, offset: offset ?? self.index)
        }
    }

    private mutating func parseObject(_ cursor: inout Cursor) throws -> [String: BulkUpdateValue] {
        guard cursor.current == UInt8(ascii: "{") else {
            let what: String
            switch cursor.current ?? 0 {
            case UInt8(ascii: "["): what = "an array"
            case UInt8(ascii: "\""): what = "a string"
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): what = "a number"
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                // `true`, `false` or `null` only when the whole word is one of them: `not json` is not null.
                let word = Self.word(at: cursor)
                what = ["true", "false"].contains(word) ? "a boolean" : word == "null" ? "null" : "'\(word)'"
            default: what = cursor.found
            }
            throw cursor.fail("expected a JSON object ({...}) on each line, found \(what)")
        }
        cursor.index += 1
        var values: [String: BulkUpdateValue] = [:]
        cursor.skipWhitespace()
        if cursor.current == UInt8(ascii: "}") {
            cursor.index += 1
        } else {
            while true {
                cursor.skipWhitespace()
                guard cursor.current == UInt8(ascii: "\"") else {
                    throw cursor.fail("expected a member name in double quotes, found \(cursor.found)")
                }
                let keyOffset = cursor.index
                let key = try self.parseString(&cursor)
                cursor.skipWhitespace()
                guard cursor.current == UInt8(ascii: ":") else {
                    throw cursor.fail("expected ':' after member name \"\(key)\", found \(cursor.found)")
                }
                cursor.index += 1
                cursor.skipWhitespace()
                let value = try self.parseMemberValue(&cursor)
                if values.updateValue(value, forKey: key) != nil {
                    throw cursor.fail("duplicate key \"\(key)\": each key may appear once per object", at: keyOffset)
                }
                cursor.skipWhitespace()
                if cursor.current == UInt8(ascii: ",") {
                    cursor.index += 1
                    continue
                }
                if cursor.current == UInt8(ascii: "}") {
                    cursor.index += 1
                    break
                }
                throw cursor.fail("expected ',' or '}' after the value of \"\(key)\", found \(cursor.found)")
            }
        }
        cursor.skipWhitespace()
        guard cursor.atEnd else {
            throw cursor.fail("unexpected \(cursor.found) after the end of the object; write one object per line")
        }
        return values
    }

    private mutating func parseMemberValue(_ cursor: inout Cursor) throws -> BulkUpdateValue {
        guard let byte = cursor.current else { throw cursor.fail("expected a value, found the end of the line") }
        switch byte {
        case UInt8(ascii: "\""):
            return .string(try self.parseString(&cursor))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try self.parseNumber(&cursor)
        case UInt8(ascii: "t"):
            try self.expectLiteral("true", &cursor)
            return .bool(true)
        case UInt8(ascii: "f"):
            try self.expectLiteral("false", &cursor)
            return .bool(false)
        case UInt8(ascii: "n"):
            try self.expectLiteral("null", &cursor)
            return .null
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let start = cursor.index
            try self.skipValue(&cursor, depth: 1)
            return .string(Self.compactText(UnsafeBufferPointer(rebasing: cursor.bytes[start..<cursor.index])))
        default:
            throw cursor.fail(
                "expected a value (string, number, true, false, null, object or array),"
                    + " found \(cursor.found)"
            )
        }
    }

    private func expectLiteral(_ literal: StaticString, _ cursor: inout Cursor) throws {
        let start = cursor.index
        let count = literal.utf8CodeUnitCount
        let matches =
            start + count <= cursor.bytes.count
            && (0..<count).allSatisfy { cursor.bytes[start + $0] == literal.utf8Start[$0] }
        guard matches else {
            var end = start
            while end < cursor.bytes.count, end - start < 16, Self.isWordByte(cursor.bytes[end]) { end += 1 }
            let word = String(
                decoding: UnsafeBufferPointer(rebasing: cursor.bytes[start..<max(end, start + 1)]),
                as: UTF8.self
            )
            throw cursor.fail("expected a value, found '\(word)' (did you mean \(literal)?)")
        }
        cursor.index += count
    }

    /// The run of letters, digits and underscores at the cursor (at most 16 bytes), for messages.
    private static func word(at cursor: Cursor) -> String {
        var end = cursor.index
        while end < cursor.bytes.count, end - cursor.index < 16, Self.isWordByte(cursor.bytes[end]) { end += 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: cursor.bytes[cursor.index..<end]), as: UTF8.self)
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    /// A number: `.int` when it is an integer that fits `Int64`, else its exact literal text.
    private func parseNumber(_ cursor: inout Cursor) throws -> BulkUpdateValue {
        let bytes = cursor.bytes
        let start = cursor.index
        var index = start
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.count, Self.isDigit(bytes[index]) else {
            throw cursor.fail("invalid number: expected a digit after '-'", at: index)
        }
        // Accumulate negatively so Int64.min fits.
        var value: Int64 = 0
        var fits = true
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, Self.isDigit(bytes[index]) {
                throw cursor.fail("invalid number: leading zeros are not allowed", at: start)
            }
        } else {
            while index < bytes.count, Self.isDigit(bytes[index]) {
                if fits {
                    let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
                    let (next, overflow2) = times10.subtractingReportingOverflow(Int64(bytes[index] - 48))
                    if overflow1 || overflow2 { fits = false } else { value = next }
                }
                index += 1
            }
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, Self.isDigit(bytes[index]) else {
                throw cursor.fail("invalid number: expected a digit after '.'", at: index)
            }
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, Self.isDigit(bytes[index]) else {
                throw cursor.fail("invalid number: expected a digit in the exponent", at: index)
            }
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        cursor.index = index
        if isInteger && fits {
            if negative { return .int(value) }
            if value != .min { return .int(-value) }
        }
        return .string(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    /// A string starting at the cursor's opening quote, escapes decoded.
    private mutating func parseString(_ cursor: inout Cursor) throws -> String {
        let bytes = cursor.bytes
        let contentStart = cursor.index + 1
        var index = contentStart
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                cursor.index = index + 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[contentStart..<index]), as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            index += 1
        }
        self.scratch.removeAll(keepingCapacity: true)
        self.scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[contentStart..<index]))
        while true {
            guard index < bytes.count else {
                throw cursor.fail("unterminated string: the line ends before its closing quote", at: contentStart - 1)
            }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                cursor.index = index + 1
                return String(decoding: self.scratch, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else {
                    throw cursor.fail("unterminated string: the line ends after a backslash", at: index - 1)
                }
                switch bytes[index] {
                case UInt8(ascii: "\""): self.scratch.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): self.scratch.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): self.scratch.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): self.scratch.append(0x08)
                case UInt8(ascii: "f"): self.scratch.append(0x0C)
                case UInt8(ascii: "n"): self.scratch.append(0x0A)
                case UInt8(ascii: "r"): self.scratch.append(0x0D)
                case UInt8(ascii: "t"): self.scratch.append(0x09)
                case UInt8(ascii: "u"):
                    let escapeStart = index - 1
                    let unit = try Self.hexQuad(bytes, at: index + 1, cursor: cursor)
                    index += 4
                    var scalarValue = UInt32(unit)
                    if (0xD800...0xDBFF).contains(unit) {
                        guard index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\\"),
                            bytes[index + 2] == UInt8(ascii: "u")
                        else {
                            throw cursor.fail(
                                "invalid escape: high surrogate \\u\(Self.hex16(unit)) is not followed by"
                                    + " a \\u low surrogate",
                                at: escapeStart
                            )
                        }
                        let low = try Self.hexQuad(bytes, at: index + 3, cursor: cursor)
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw cursor.fail(
                                "invalid escape: high surrogate \\u\(Self.hex16(unit)) is followed by"
                                    + " \\u\(Self.hex16(low)), not a low surrogate (\\udc00 to \\udfff)",
                                at: escapeStart
                            )
                        }
                        index += 6
                        scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(unit) {
                        throw cursor.fail(
                            "invalid escape: low surrogate \\u\(Self.hex16(unit)) without a high surrogate before it",
                            at: escapeStart
                        )
                    }
                    let scalar = Unicode.Scalar(scalarValue)!
                    self.scratch.append(contentsOf: UTF8.encode(scalar)!)
                default:
                    throw cursor.fail(
                        "invalid escape '\\\(Self.shown(bytes, at: index))' in a string; valid escapes are"
                            + " \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX",
                        at: index - 1
                    )
                }
                index += 1
            default:
                if byte < 0x20 {
                    throw cursor.fail(
                        "control character 0x\(SQLText.hex(byte)) must be escaped inside a string (for example \\n,"
                            + " \\t or \\u00\(SQLText.hex(byte)))",
                        at: index
                    )
                }
                // Copy the run up to the next quote, backslash or control character at once.
                var runEnd = index + 1
                while runEnd < bytes.count {
                    let next = bytes[runEnd]
                    if next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") || next < 0x20 { break }
                    runEnd += 1
                }
                self.scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<runEnd]))
                index = runEnd
            }
        }
    }

    private static func hexQuad(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, cursor: Cursor) throws -> UInt16 {
        var unit: UInt16 = 0
        for offset in 0..<4 {
            let position = index + offset
            guard position < bytes.count, let digit = Self.hexValue(bytes[position]) else {
                throw cursor.fail("invalid escape: \\u must be followed by four hex digits", at: index - 2)
            }
            unit = unit << 4 | UInt16(digit)
        }
        return unit
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func hex16(_ unit: UInt16) -> String {
        SQLText.hex(UInt8(unit >> 8)) + SQLText.hex(UInt8(unit & 0xFF))
    }

    private static func shown(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> String {
        let byte = bytes[index]
        if (0x21...0x7E).contains(byte) { return String(Character(Unicode.Scalar(byte))) }
        var end = index + 1
        while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
        return byte >= 0x80
            ? String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self)
            : "<0x\(SQLText.hex(byte))>"
    }

    /// Checks a nested object or array and moves past it, without building values.
    private mutating func skipValue(_ cursor: inout Cursor, depth: Int) throws {
        guard depth <= Self.maximumDepth else {
            throw cursor.fail("objects and arrays are nested more than \(Self.maximumDepth) levels deep")
        }
        guard let byte = cursor.current else { throw cursor.fail("expected a value, found the end of the line") }
        switch byte {
        case UInt8(ascii: "{"):
            cursor.index += 1
            cursor.skipWhitespace()
            if cursor.current == UInt8(ascii: "}") {
                cursor.index += 1
                return
            }
            while true {
                cursor.skipWhitespace()
                guard cursor.current == UInt8(ascii: "\"") else {
                    throw cursor.fail("expected a member name in double quotes, found \(cursor.found)")
                }
                _ = try self.parseString(&cursor)
                cursor.skipWhitespace()
                guard cursor.current == UInt8(ascii: ":") else {
                    throw cursor.fail("expected ':' after a member name, found \(cursor.found)")
                }
                cursor.index += 1
                cursor.skipWhitespace()
                try self.skipValue(&cursor, depth: depth + 1)
                cursor.skipWhitespace()
                if cursor.current == UInt8(ascii: ",") {
                    cursor.index += 1
                    continue
                }
                if cursor.current == UInt8(ascii: "}") {
                    cursor.index += 1
                    return
                }
                throw cursor.fail("expected ',' or '}' in a nested object, found \(cursor.found)")
            }
        case UInt8(ascii: "["):
            cursor.index += 1
            cursor.skipWhitespace()
            if cursor.current == UInt8(ascii: "]") {
                cursor.index += 1
                return
            }
            while true {
                cursor.skipWhitespace()
                try self.skipValue(&cursor, depth: depth + 1)
                cursor.skipWhitespace()
                if cursor.current == UInt8(ascii: ",") {
                    cursor.index += 1
                    continue
                }
                if cursor.current == UInt8(ascii: "]") {
                    cursor.index += 1
                    return
                }
                throw cursor.fail("expected ',' or ']' in an array, found \(cursor.found)")
            }
        default:
            _ = try self.parseMemberValue(&cursor)
        }
    }

    /// `text` without the whitespace between tokens; strings are copied as written.
    private static func compactText(_ text: UnsafeBufferPointer<UInt8>) -> String {
        var hasWhitespace = false
        var inString = false
        var index = 0
        while index < text.count {
            let byte = text[index]
            if inString {
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                hasWhitespace = true
                break
            }
            index += 1
        }
        guard hasWhitespace else { return String(decoding: text, as: UTF8.self) }
        var compact: [UInt8] = []
        compact.reserveCapacity(text.count)
        inString = false
        index = 0
        while index < text.count {
            let byte = text[index]
            if inString {
                compact.append(byte)
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    compact.append(text[index])
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
                compact.append(byte)
            } else if !(byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D) {
                compact.append(byte)
            }
            index += 1
        }
        return String(decoding: compact, as: UTF8.self)
    }
}
