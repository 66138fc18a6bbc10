import BulkUpdate
import Foundation

/// The bytes of an input file or of standard input, read in fixed-size blocks.
///
/// The whole input is never held in memory: each ``read(into:)`` is one `read(2)` call of at most the free space
/// given. The file descriptor is closed when the source is released (standard input is left open).
///
/// ```swift
/// let source = try ByteSource(path: "changes.csv")   // or "-" for standard input
/// ```
final class ByteSource {
    /// The block size used when none is given: 256 KiB.
    static let defaultBlockSize = 256 * 1024

    /// How the input is named in messages: the path, or `standard input`.
    let name: String
    /// How many bytes the readers ask for at a time; also the initial size of their buffers.
    let blockSize: Int

    private let descriptor: Int32
    private let ownsDescriptor: Bool
    /// Whether the input is a regular file, which can be opened again and read a second time. Standard input, pipes,
    /// FIFOs, `/dev/stdin` and process substitutions are not: they are read once.
    let isRegularFile: Bool
    /// A regular file's size in bytes when it was opened; `nil` for anything else.
    let fileSize: Int?

    /// Opens `path` for reading; `-` means standard input.
    ///
    /// - Parameters:
    ///   - path: A file path, or `-` for standard input.
    ///   - blockSize: Bytes per read; at least 1. Tests use tiny blocks to exercise every block boundary.
    /// - Throws: ``BulkUpdateError`` with code `configuration` naming the path and the reason (for example
    ///   `No such file or directory`) when the file cannot be opened or is a directory.
    init(path: String, blockSize: Int = ByteSource.defaultBlockSize) throws {
        precondition(blockSize > 0, "blockSize must be positive")
        self.blockSize = blockSize
        if path == "-" {
            self.name = "standard input"
            self.descriptor = STDIN_FILENO
            self.ownsDescriptor = false
            self.isRegularFile = false
            self.fileSize = nil
            return
        }
        self.name = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw BulkUpdateError(.unreadableInput, "cannot open input file '\(path)': \(reason)")
        }
        var status = stat()
        let described = fstat(descriptor, &status) == 0
        if described, (status.st_mode & S_IFMT) == S_IFDIR {
            close(descriptor)
            throw BulkUpdateError(
                .unreadableInput,
                "cannot open input file '\(path)': it is a directory"
            )
        }
        self.descriptor = descriptor
        self.ownsDescriptor = true
        self.isRegularFile = described && (status.st_mode & S_IFMT) == S_IFREG
        self.fileSize = self.isRegularFile ? Int(status.st_size) : nil
    }

    /// Whether `path` names a regular file: one that can be read twice, and whose name tells its format (a pipe, a
    /// FIFO or a device has neither).
    static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    deinit {
        if self.ownsDescriptor { close(self.descriptor) }
    }

    /// Reads up to `buffer.count` bytes (and at most ``blockSize``) into `buffer`.
    ///
    /// - Returns: The number of bytes read; `0` only at the end of the input (or when `buffer` is empty).
    /// - Throws: ``BulkUpdateError`` with code `input` naming the input and the system's reason.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try self.readResult(into: buffer).get()
    }

    /// ``read(into:)`` without `throws`, so callers can use it inside `withUnsafe...` closures and throw outside
    /// them (a throwing closure there crashes the 6.3 optimizer in release builds).
    func readResult(into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, BulkUpdateError> {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .success(0) }
        let wanted = min(buffer.count, self.blockSize)
        while true {
            let count = Foundation.read(self.descriptor, base, wanted)
            if count >= 0 { return .success(count) }
            let number = errno
            if number == EINTR { continue }
            let reason = String(cString: strerror(number))
            return .failure(BulkUpdateError(.unreadableInput, "cannot read \(self.describedName): \(reason)"))
        }
    }

    private var describedName: String {
        self.ownsDescriptor ? "input file '\(self.name)'" : self.name
    }
}

/// A growable window onto a ``ByteSource`` shared by the input readers.
///
/// Bytes `[start, end)` of ``bytes`` are read but not yet consumed. ``fill(from:)`` moves them to the front and
/// reads more behind them, doubling the buffer only when the unconsumed bytes already fill it (a record longer
/// than a block), so memory stays proportional to the longest record, not to the input.
struct InputWindow {
    /// The buffer; only `[start, end)` is meaningful.
    var bytes: [UInt8]
    /// The first unconsumed byte.
    var start = 0
    /// One past the last byte read.
    var end = 0
    /// Whether the source has reported its end; no more bytes will arrive.
    var isAtEnd = false
    /// The input offset of `bytes[0]`, so `offset + start` is the number of bytes consumed so far.
    var offset = 0

    init(capacity: Int) {
        self.bytes = [UInt8](repeating: 0, count: max(capacity, 4))
    }

    /// The number of input bytes before ``start``.
    var consumed: Int { self.offset + self.start }

    /// Keeps the unconsumed bytes and reads more after them; sets ``isAtEnd`` when none arrive.
    ///
    /// One read normally; when the buffer had to grow, reads until it is full or the input ends.
    mutating func fill(from source: ByteSource) throws {
        precondition(!self.isAtEnd, "fill after the end of the input")
        if self.start > 0 {
            let kept = self.end - self.start
            if kept > 0 {
                let from = self.start
                self.bytes.withUnsafeMutableBytes { raw in
                    _ = memmove(raw.baseAddress!, raw.baseAddress! + from, kept)
                }
            }
            self.offset += self.start
            self.start = 0
            self.end = kept
        }
        // A record longer than the buffer: double it, and fill it completely so that a reader scanning the record
        // again from its start does so once per doubling, not once per block.
        let grown = self.end == self.bytes.count
        if grown { self.bytes.append(contentsOf: repeatElement(0, count: self.bytes.count)) }
        try self.readOnce(from: source)
        while grown && !self.isAtEnd && self.end < self.bytes.count {
            try self.readOnce(from: source)
        }
    }

    /// One read into the free space after ``end``.
    private mutating func readOnce(from source: ByteSource) throws {
        let from = self.end
        let result = self.bytes.withUnsafeMutableBytes { raw in
            source.readResult(into: UnsafeMutableRawBufferPointer(rebasing: raw[from...]))
        }
        let count = try result.get()
        if count == 0 {
            self.isAtEnd = true
        } else {
            self.end += count
        }
    }

    /// Skips a UTF-8 byte order mark at the very start of the input, reading as much as needed to decide.
    mutating func skipByteOrderMark(from source: ByteSource) throws {
        while self.end - self.start < 3 && !self.isAtEnd { try self.fill(from: source) }
        if self.end - self.start >= 3, self.bytes[self.start] == 0xEF, self.bytes[self.start + 1] == 0xBB,
            self.bytes[self.start + 2] == 0xBF
        {
            self.start += 3
        }
    }
}

/// UTF-8 helpers for error messages.
enum UTF8Check {
    /// The offset of the first byte that starts an invalid UTF-8 sequence in `bytes`, or `nil` when all is valid.
    ///
    /// Rejects overlong forms, surrogates (`ED A0..BF`) and code points above U+10FFFF, like the standard library.
    static func firstInvalidOffset(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                high = 0x9F
            case 0xF0:
                length = 4
                low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                high = 0x8F
            default: return index
            }
            guard index + length <= count else { return index }
            let second = bytes[index + 1]
            guard second >= low && second <= high else { return index }
            var next = index + 2
            while next < index + length {
                guard bytes[next] & 0xC0 == 0x80 else { return index }
                next += 1
            }
            index += length
        }
        return nil
    }

    /// Up to `limit` bytes from `offset` as lower-case hex pairs, for example `ff 41`.
    static func hex(_ bytes: UnsafeBufferPointer<UInt8>, from offset: Int, limit: Int = 4) -> String {
        let upper = min(bytes.count, offset + limit)
        return bytes[offset..<upper].map { SQLText.hex($0) }.joined(separator: " ")
    }
}
