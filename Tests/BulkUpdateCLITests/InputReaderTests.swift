import BulkUpdate
import Foundation
import Testing

@testable import bulk_update

/// A fresh temporary directory for fixture files, removed when the test ends.
private final class InputFixtureDirectory {
    let url: URL

    init() throws {
        self.url = FileManager.default.temporaryDirectory
            .appendingPathComponent("InputReaderTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: self.url)
    }

    /// Writes `bytes` to `name` and returns its path.
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = self.url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file.path
    }

    /// Writes `text` as UTF-8 to `name` and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        try self.write(name, Array(text.utf8))
    }
}

/// Reads every record of a delimited file.
private func readAll(
    _ path: String,
    delimiter: UInt8 = DelimitedReader.comma,
    nullString: String? = DelimitedReader.defaultNullString,
    blockSize: Int = ByteSource.defaultBlockSize
) throws -> (header: [String], records: [DelimitedReader.Record], reader: DelimitedReader) {
    var reader = try DelimitedReader(
        source: ByteSource(path: path, blockSize: blockSize),
        delimiter: delimiter,
        nullString: nullString
    )
    var records: [DelimitedReader.Record] = []
    while let record = try reader.next() { records.append(record) }
    return (reader.header, records, reader)
}

/// The error thrown while reading every record of a delimited file.
private func delimitedError(
    _ path: String,
    delimiter: UInt8 = DelimitedReader.comma,
    blockSize: Int = ByteSource.defaultBlockSize
) throws -> BulkUpdateError {
    let error = #expect(throws: BulkUpdateError.self) {
        _ = try readAll(path, delimiter: delimiter, blockSize: blockSize)
    }
    return try #require(error)
}

/// Reads every object of a JSON Lines file.
private func readAllJSON(_ path: String, blockSize: Int = ByteSource.defaultBlockSize) throws -> [JSONRecord] {
    var reader = JSONLinesReader(source: try ByteSource(path: path, blockSize: blockSize))
    var records: [JSONRecord] = []
    while let record = try reader.next() { records.append(record) }
    #expect(reader.rowsRead == records.count)
    return records
}

/// The error thrown while reading a JSON Lines file.
private func jsonError(_ path: String) throws -> BulkUpdateError {
    let error = #expect(throws: BulkUpdateError.self) { _ = try readAllJSON(path) }
    return try #require(error)
}

@Suite("Input readers: CSV and TSV")
struct DelimitedReaderTests {
    private let files: InputFixtureDirectory

    init() throws { self.files = try InputFixtureDirectory() }

    @Test("reads the header and the rows with their line numbers")
    func headerAndRows() throws {
        let path = try self.files.write("users.csv", "id,username\n1,alice\n2,bob\n")
        let (header, records, reader) = try readAll(path)
        #expect(header == ["id", "username"])
        #expect(records == [.init(line: 2, fields: ["1", "alice"]), .init(line: 3, fields: ["2", "bob"])])
        #expect(reader.rowsRead == 2)
        #expect(reader.bytesRead == 26)
    }

    @Test("quoted fields hold delimiters, quotes, LF and CRLF; later line numbers stay right")
    func quotedFields() throws {
        let text =
            "id,bio\n"
            + "1,\"a, b\"\n"
            + "2,\"she said \"\"hi\"\"\"\n"
            + "3,\"line one\nline two\"\n"
            + "4,\"crlf one\r\ncrlf two\r\ncrlf three\"\r\n"
            + "\"5\",\"\"\n"
            + "6,after\n"
        let path = try self.files.write("quoted.csv", text)
        let (_, records, _) = try readAll(path)
        #expect(
            records == [
                .init(line: 2, fields: ["1", "a, b"]),
                .init(line: 3, fields: ["2", "she said \"hi\""]),
                .init(line: 4, fields: ["3", "line one\nline two"]),
                .init(line: 6, fields: ["4", "crlf one\r\ncrlf two\r\ncrlf three"]),
                .init(line: 9, fields: ["5", ""]),
                .init(line: 10, fields: ["6", "after"]),
            ]
        )
    }

    @Test("every block size gives the same records", arguments: [1, 2, 3, 5, 7, 16, 64])
    func blockBoundaries(blockSize: Int) throws {
        let text =
            "\u{FEFF}id,bio,note\r\n"
            + "1,\"a, b\",\\N\r\n"
            + "2,\"q \"\"x\"\" \r\n y\",\"\\N\"\r\n"
            + "3,,plain text that is long enough to span blocks\r\n"
            + "4,\"\",\"é ü 漢字 🎉\"\r\n"
            + "\r\n\r\n"
        let path = try self.files.write("blocks.csv", text)
        let whole = try readAll(path)
        let small = try readAll(path, blockSize: blockSize)
        #expect(small.header == ["id", "bio", "note"])
        #expect(small.records == whole.records)
        #expect(
            small.records == [
                .init(line: 2, fields: ["1", "a, b", nil]),
                .init(line: 3, fields: ["2", "q \"x\" \r\n y", "\\N"]),
                .init(line: 5, fields: ["3", "", "plain text that is long enough to span blocks"]),
                .init(line: 6, fields: ["4", "", "é ü 漢字 🎉"]),
            ]
        )
        #expect(small.reader.bytesRead == Array(text.utf8).count)
    }

    @Test("a field much longer than a block is read whole")
    func longField() throws {
        let long = String(repeating: "x,\"y\"\n", count: 40_000)
        let quoted = long.replacingOccurrences(of: "\"", with: "\"\"")
        let path = try self.files.write("long.csv", "id,text\n1,\"\(quoted)\"\n2,after\n")
        let (_, records, _) = try readAll(path, blockSize: 4096)
        #expect(records.count == 2)
        #expect(records.first?.fields == ["1", .string(long)])
        #expect(records.last == .init(line: 40_003, fields: ["2", "after"]))
    }

    @Test("CRLF record ends")
    func crlf() throws {
        let path = try self.files.write("crlf.csv", "id,name\r\n1,a\r\n2,b\r\n")
        let (header, records, _) = try readAll(path)
        #expect(header == ["id", "name"])
        #expect(records == [.init(line: 2, fields: ["1", "a"]), .init(line: 3, fields: ["2", "b"])])
    }

    @Test("the last record may lack a line end", arguments: ["1,a\n2,b", "1,a\n2,\"b\"", "1,a\r\n2,b\r"])
    func noTrailingNewline(body: String) throws {
        let path = try self.files.write("last.csv", "id,name\n" + body)
        let (_, records, _) = try readAll(path)
        #expect(records == [.init(line: 2, fields: ["1", "a"]), .init(line: 3, fields: ["2", "b"])])
    }

    @Test("a trailing empty line is ignored, and so are several")
    func trailingEmptyLines() throws {
        for tail in ["\n", "\n\n", "\r\n", "\r\n\r\n\n"] {
            let path = try self.files.write("tail.csv", "id\n1\n2\n" + tail)
            let (_, records, _) = try readAll(path)
            #expect(
                records == [.init(line: 2, fields: ["1"]), .init(line: 3, fields: ["2"])],
                "tail \(tail.debugDescription)"
            )
        }
    }

    @Test("an empty line in the middle of a one-column file is an empty value")
    func emptyLineOneColumn() throws {
        let path = try self.files.write("one.csv", "name\na\n\nb\n")
        let (_, records, _) = try readAll(path)
        #expect(
            records == [.init(line: 2, fields: ["a"]), .init(line: 3, fields: [""]), .init(line: 4, fields: ["b"])]
        )
    }

    @Test("a UTF-8 byte order mark is skipped")
    func byteOrderMark() throws {
        let path = try self.files.write("bom.csv", [0xEF, 0xBB, 0xBF] + Array("id,name\n1,a\n".utf8))
        let (header, records, _) = try readAll(path)
        #expect(header == ["id", "name"])
        #expect(records == [.init(line: 2, fields: ["1", "a"])])
    }

    @Test("unquoted \\N is NULL, quoted \"\\N\" is the text, an empty field is the empty string")
    func nulls() throws {
        let path = try self.files.write("nulls.csv", "id,a,b,c\n1,\\N,\"\\N\",\n2,\\NN,\"\",x\\N\n")
        let (_, records, _) = try readAll(path)
        #expect(
            records == [
                .init(line: 2, fields: ["1", nil, "\\N", ""]),
                .init(line: 3, fields: ["2", "\\NN", "", "x\\N"]),
            ]
        )
        #expect(records[0].fields[1].isNull)
        #expect(!records[0].fields[2].isNull)
    }

    @Test("the null string can be changed or turned off")
    func otherNullStrings() throws {
        let path = try self.files.write("nulls.csv", "a,b,c\n\\N,,\"\"\n")
        #expect(try readAll(path, nullString: nil).records == [.init(line: 2, fields: ["\\N", "", ""])])
        #expect(try readAll(path, nullString: "").records == [.init(line: 2, fields: ["\\N", nil, ""])])
        #expect(try readAll(path, nullString: "\\N").records == [.init(line: 2, fields: [nil, "", ""])])
    }

    @Test("TSV uses tabs; commas are ordinary text")
    func tsv() throws {
        let path = try self.files.write("users.tsv", "id\tname\tnote\n1\ta, b\t\\N\n2\t\"tab\there\"\t\n")
        let (header, records, _) = try readAll(path, delimiter: DelimitedReader.tab)
        #expect(header == ["id", "name", "note"])
        #expect(
            records == [.init(line: 2, fields: ["1", "a, b", nil]), .init(line: 3, fields: ["2", "tab\there", ""])]
        )
    }

    @Test("a header alone gives no records")
    func headerOnly() throws {
        let path = try self.files.write("header.csv", "id,name")
        let (header, records, reader) = try readAll(path)
        #expect(header == ["id", "name"])
        #expect(records.isEmpty)
        #expect(reader.rowsRead == 0)
    }

    @Test("reads 200,000 rows and counts them")
    func manyRows() throws {
        var text = "id,username,email\n"
        text.reserveCapacity(200_000 * 40)
        for id in 1...200_000 { text += "\(id),user_\(id),\"user\(id)@example.com\"\n" }
        let path = try self.files.write("many.csv", text)
        var reader = try DelimitedReader(source: ByteSource(path: path), delimiter: DelimitedReader.comma)
        var last: DelimitedReader.Record?
        var count = 0
        while let record = try reader.next() {
            count += 1
            last = record
        }
        #expect(count == 200_000)
        #expect(reader.rowsRead == 200_000)
        #expect(reader.bytesRead == text.utf8.count)
        #expect(last == .init(line: 200_001, fields: ["200000", "user_200000", "user200000@example.com"]))
    }

    // MARK: Errors

    @Test("a record with the wrong number of fields names the line and the columns")
    func wrongFieldCount() throws {
        let path = try self.files.write("count.csv", "id,username\n1,a\n2,b\n3,c\n4,d\n5,e\n6,x,y\n")
        let error = try delimitedError(path)
        #expect(error.code == .input)
        #expect(error.inputLine == 7)
        #expect(error.message == "line 7 has 3 fields, expected 2 (id, username)")
        let short = try self.files.write("short.csv", "id,username\n1\n")
        #expect(try delimitedError(short).message == "line 2 has 1 field, expected 2 (id, username)")
    }

    @Test("an empty line in the middle is reported as empty")
    func emptyLineInMiddle() throws {
        let path = try self.files.write("gap.csv", "id,username\n1,a\n\n2,b\n")
        let error = try delimitedError(path)
        #expect(error.inputLine == 3)
        #expect(error.message == "line 3 is empty, expected 2 fields (id, username)")
    }

    @Test("an unterminated quote names the line where the quoted field started", arguments: [1, 4, 256 * 1024])
    func unterminatedQuote(blockSize: Int) throws {
        let path = try self.files.write("open.csv", "id,bio\n1,a\n2,\"starts here\nand goes on\nto the end\n")
        let error = try delimitedError(path, blockSize: blockSize)
        #expect(error.code == .input)
        #expect(error.inputLine == 3)
        #expect(error.column == "bio")
        #expect(error.message.contains("line 3"))
        #expect(error.message.contains("column \"bio\""))
        #expect(error.message.contains("no closing quote"))
    }

    @Test("a quote inside an unquoted field is an error")
    func quoteInUnquoted() throws {
        let path = try self.files.write("stray.csv", "id,name\n1,ok\n2,ab\"c\"\n")
        let error = try delimitedError(path)
        #expect(error.inputLine == 3)
        #expect(error.column == "name")
        #expect(error.message.hasPrefix("line 3: unexpected quote (\") inside the unquoted value of column \"name\""))
    }

    @Test("text after a closing quote is an error", arguments: ["\"ab\"c", "\"ab\" ", "\"ab\"\rx"])
    func textAfterClosingQuote(field: String) throws {
        let path = try self.files.write("after.csv", "id,name\n1,\"multi\nline\"\n2,\(field)\n")
        let error = try delimitedError(path)
        #expect(error.inputLine == 4)
        #expect(error.column == "name")
        #expect(error.message.contains("line 4: unexpected"))
        #expect(error.message.contains("after the closing quote of column \"name\""))
        #expect(error.message.contains("expected the delimiter ',' or the end of the line"))
    }

    @Test("invalid UTF-8 names the column, the offset and the bytes")
    func invalidUTF8() throws {
        let path = try self.files.write(
            "latin1.csv",
            Array("id,name\n1,ok\n2,".utf8) + [0x4A, 0x6F, 0xEB, 0x6C] + [0x0A]
        )
        let error = try delimitedError(path)
        #expect(error.inputLine == 3)
        #expect(error.column == "name")
        #expect(
            error.message
                == "line 3: column \"name\" is not valid UTF-8: bytes eb 6c at byte offset 2 of the value;"
                + " convert the input to UTF-8"
        )
        let quoted = try self.files.write("quoted.csv", Array("id,name\n1,\"a\"\"".utf8) + [0xFF] + Array("\"\n".utf8))
        let quotedError = try delimitedError(quoted)
        #expect(quotedError.message.contains("bytes ff at byte offset 2"))
    }

    @Test("the header must be UTF-8 with non-empty, unique names")
    func badHeaders() throws {
        let empty = try self.files.write("empty-name.csv", "id,,name\n")
        let emptyError = try delimitedError(empty)
        #expect(emptyError.inputLine == 1)
        #expect(emptyError.message == "header line 1: column name 2 of 3 is empty; every column needs a name")

        let twice = try self.files.write("twice.csv", "id,name,id\n1,a,1\n")
        let twiceError = try delimitedError(twice)
        #expect(twiceError.inputLine == 1)
        #expect(twiceError.message == "header line 1: column \"id\" appears twice (fields 1 and 3)")

        let binary = try self.files.write("binary.csv", [0x69, 0x64, 0x2C, 0xC3, 0x28, 0x0A])
        let binaryError = try delimitedError(binary)
        #expect(binaryError.inputLine == 1)
        #expect(binaryError.message.hasPrefix("line 1: field 2 is not valid UTF-8: bytes c3 28 at byte offset 0"))

        let nothing = try self.files.write("nothing.csv", "")
        let nothingError = try delimitedError(nothing)
        #expect(nothingError.message.hasSuffix("is empty: expected a header line naming the columns"))
    }

    @Test("a missing file or a directory is reported with its path and the reason")
    func unreadableFiles() throws {
        let missing = self.files.url.appendingPathComponent("missing.csv").path
        let error = try #require(#expect(throws: BulkUpdateError.self) { try ByteSource(path: missing) })
        #expect(error.message.contains(missing))
        #expect(error.message.contains("No such file or directory"))

        let directoryError = try #require(
            #expect(throws: BulkUpdateError.self) { try ByteSource(path: self.files.url.path) }
        )
        #expect(directoryError.message.contains("it is a directory"))
    }

    @Test("a quote or a line end cannot be the delimiter")
    func badDelimiter() throws {
        let path = try self.files.write("x.csv", "a\n")
        let error = try #require(
            #expect(throws: BulkUpdateError.self) {
                try DelimitedReader(source: ByteSource(path: path), delimiter: UInt8(ascii: "\""))
            }
        )
        #expect(error.code == .configuration)
    }
}

@Suite("Input readers: JSON Lines")
struct JSONLinesReaderTests {
    private let files: InputFixtureDirectory

    init() throws { self.files = try InputFixtureDirectory() }

    @Test("maps JSON types to values")
    func types() throws {
        let path = try self.files.write(
            "types.jsonl",
            #"{"s": "text", "i": 42, "neg": -7, "t": true, "f": false, "n": null, "zero": 0}"# + "\n"
        )
        let records = try readAllJSON(path)
        #expect(
            records == [
                JSONRecord(
                    line: 1,
                    values: [
                        "s": "text", "i": .int(42), "neg": .int(-7), "t": true, "f": false, "n": nil,
                        "zero": .int(0),
                    ]
                )
            ]
        )
    }

    @Test("numbers keep their exact literal text when they are not Int64")
    func numbers() throws {
        let path = try self.files.write(
            "numbers.jsonl",
            #"{"d": 12345.678901234567890123, "big": 123456789012345678901234567890, "e": 1E+3, "f": -0.5e-2,"#
                + #" "max": 9223372036854775807, "min": -9223372036854775808, "over": 9223372036854775808}"#
        )
        let values = try #require(try readAllJSON(path).first).values
        #expect(values["d"] == .string("12345.678901234567890123"))
        #expect(values["big"] == .string("123456789012345678901234567890"))
        #expect(values["e"] == .string("1E+3"))
        #expect(values["f"] == .string("-0.5e-2"))
        #expect(values["max"] == .int(Int64.max))
        #expect(values["min"] == .int(Int64.min))
        #expect(values["over"] == .string("9223372036854775808"))
    }

    @Test("nested objects and arrays become compact JSON text")
    func nested() throws {
        let path = try self.files.write(
            "nested.jsonl",
            #"{"id": 1, "meta": { "tags" : [ "a b", 2, {"x": null} ], "s": "sp ace \" q" }, "list": [ ]}"#
        )
        let values = try #require(try readAllJSON(path).first).values
        #expect(values["meta"] == .string(#"{"tags":["a b",2,{"x":null}],"s":"sp ace \" q"}"#))
        #expect(values["list"] == .string("[]"))
        #expect(values["id"] == .int(1))
    }

    @Test("string escapes, including a surrogate pair")
    func escapes() throws {
        let path = try self.files.write(
            "escapes.jsonl",
            #"{"e": "q\" b\\ s\/ \b\f\n\r\t \u00e9 \u6F22 \ud83c\udf89 é", "k\u0041": 1}"#
        )
        let values = try #require(try readAllJSON(path).first).values
        #expect(values["e"] == .string("q\" b\\ s/ \u{08}\u{0C}\n\r\t é 漢 🎉 é"))
        #expect(values["kA"] == .int(1))
    }

    @Test("blank lines are skipped but counted; CRLF is accepted; the last line may lack a line end")
    func blankLines() throws {
        let path = try self.files.write("blank.jsonl", "\u{FEFF}{\"id\":1}\r\n\r\n   \n\t\n{\"id\":2}\n{\"id\":3}")
        let records = try readAllJSON(path)
        #expect(records.map(\.line) == [1, 5, 6])
        #expect(records.map { $0.values["id"] } == [.int(1), .int(2), .int(3)])
    }

    @Test("every block size gives the same objects", arguments: [1, 2, 3, 7, 64])
    func blockBoundaries(blockSize: Int) throws {
        var text = ""
        for id in 1...50 { text += #"{"id": \#(id), "name": "user \u00e9 \#(id) 漢字", "n": [1, 2.5]}"# + "\r\n" }
        text += "\n"
        let path = try self.files.write("blocks.jsonl", text)
        let whole = try readAllJSON(path)
        let small = try readAllJSON(path, blockSize: blockSize)
        #expect(whole.count == 50)
        #expect(small == whole)
        #expect(small.last?.values["name"] == .string("user é 50 漢字"))
        var reader = JSONLinesReader(source: try ByteSource(path: path, blockSize: blockSize))
        while try reader.next() != nil {}
        #expect(reader.bytesRead == text.utf8.count)
    }

    // MARK: Errors

    @Test(
        "a line that is not an object names what was found",
        arguments: [
            ("[1, 2]", "found an array"), ("\"text\"", "found a string"), ("42", "found a number"),
            ("true", "found a boolean"), ("null", "found null"), ("x", "found 'x'"),
        ]
    )
    func notAnObject(line: String, found: String) throws {
        let path = try self.files.write("not-object.jsonl", "{\"id\": 1}\n\n" + line + "\n")
        let error = try jsonError(path)
        #expect(error.code == .input)
        #expect(error.inputLine == 3)
        #expect(error.message == "line 3, column 1: expected a JSON object ({...}) on each line, \(found)")
    }

    @Test("text after the object is an error")
    func trailingGarbage() throws {
        let path = try self.files.write("trailing.jsonl", "{\"id\": 1}\n{\"id\": 2} {\"id\": 3}\n")
        let error = try jsonError(path)
        #expect(error.inputLine == 2)
        #expect(
            error.message == "line 2, column 11: unexpected '{' after the end of the object; write one object per line"
        )
    }

    @Test("a repeated key names the key")
    func duplicateKey() throws {
        let path = try self.files.write("dup.jsonl", #"{"id": 1, "name": "a", "id": 2}"#)
        let error = try jsonError(path)
        #expect(error.inputLine == 1)
        #expect(error.message == #"line 1, column 24: duplicate key "id": each key may appear once per object"#)
    }

    @Test(
        "bad escapes are errors",
        arguments: [
            (#"{"a": "\q"}"#, "invalid escape '\\q'"),
            (#"{"a": "\u12G4"}"#, "\\u must be followed by four hex digits"),
            (#"{"a": "\ud83c"}"#, "high surrogate \\ud83c is not followed by a \\u low surrogate"),
            (#"{"a": "\ud83c\u0041"}"#, "is followed by \\u0041, not a low surrogate"),
            (#"{"a": "\udf89"}"#, "low surrogate \\udf89 without a high surrogate"),
        ]
    )
    func badEscapes(line: String, expected: String) throws {
        let path = try self.files.write("escape.jsonl", "{}\n" + line + "\n")
        let error = try jsonError(path)
        #expect(error.inputLine == 2)
        #expect(error.message.contains(expected), "\(error.message)")
        #expect(error.message.hasPrefix("line 2, column 8: "), "\(error.message)")
    }

    @Test("control characters in strings are errors")
    func controlCharacters() throws {
        let path = try self.files.write("control.jsonl", "{\"a\": \"tab\there\"}\n")
        let error = try jsonError(path)
        #expect(error.message.hasPrefix("line 1, column 11: control character 0x09 must be escaped"))
    }

    @Test("invalid UTF-8 names the line, the column and the bytes")
    func invalidUTF8() throws {
        let path = try self.files.write(
            "latin1.jsonl",
            Array("{\"id\":1}\n{\"n\": \"Jo".utf8) + [0xEB] + Array("l\"}\n".utf8)
        )
        let error = try jsonError(path)
        #expect(error.inputLine == 2)
        #expect(
            error.message == "line 2 is not valid UTF-8: bytes eb 6c 22 7d at column 10; convert the input to UTF-8"
        )
    }

    @Test(
        "other syntax errors",
        arguments: [
            (#"{"a": 1,}"#, "expected a member name in double quotes, found '}'"),
            (#"{"a" 1}"#, "expected ':' after member name \"a\", found '1'"),
            (#"{"a": 1"#, "expected ',' or '}' after the value of \"a\", found the end of the line"),
            (#"{"a": tru}"#, "found 'tru' (did you mean true?)"),
            (#"{"a": 01}"#, "leading zeros are not allowed"),
            (#"{"a": 1.}"#, "expected a digit after '.'"),
            (#"{"a": "open}"#, "unterminated string"),
            (#"{"a": [1, 2}"#, "expected ',' or ']' in an array, found '}'"),
            (#"{'a': 1}"#, "expected a member name in double quotes, found '''"),
        ]
    )
    func syntaxErrors(line: String, expected: String) throws {
        let path = try self.files.write("syntax.jsonl", line + "\n")
        let error = try jsonError(path)
        #expect(error.inputLine == 1)
        #expect(error.message.contains(expected), "\(error.message)")
    }
}
