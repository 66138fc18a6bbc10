/// Whether a text is one JSON value as PostgreSQL reads it (`src/common/jsonapi.c`, and `numeric` for `jsonb`
/// numbers): `json` checks the syntax only, so any number and any `\u` escape pass; `jsonb` also refuses `\u0000`,
/// an escaped surrogate that is not one of a pair, and a number `numeric` cannot hold (more than 131,072 digits
/// before the point or 16,383 after it). Iterative, so that a deeply nested document cannot exhaust the stack.
struct JSONSyntax {
    private let bytes: [UInt8]
    private let binary: Bool
    private var index = 0

    /// Whether `text` is valid for `jsonb` (`binary`) or `json`.
    static func isValid(_ text: String, binary: Bool) -> Bool {
        var syntax = JSONSyntax(bytes: Array(text.utf8), binary: binary)
        return syntax.document()
    }

    private init(bytes: [UInt8], binary: Bool) {
        self.bytes = bytes
        self.binary = binary
    }

    private var current: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    private mutating func document() -> Bool {
        // The closing bracket of each open container, innermost last.
        var open: [UInt8] = []
        var needsKey = false
        self.skipSpace()
        while true {
            if needsKey {
                guard self.current == UInt8(ascii: "\""), self.string() else { return false }
                self.skipSpace()
                guard self.current == UInt8(ascii: ":") else { return false }
                self.index += 1
                self.skipSpace()
                needsKey = false
            }
            // One value: a container opens (and its first member is read next) or a scalar ends.
            switch self.current {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = self.current == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                self.index += 1
                self.skipSpace()
                if self.current == close {
                    self.index += 1
                } else {
                    open.append(close)
                    needsKey = close == UInt8(ascii: "}")
                    continue
                }
            case UInt8(ascii: "\""):
                guard self.string() else { return false }
            case UInt8(ascii: "t"):
                guard self.literal("true") else { return false }
            case UInt8(ascii: "f"):
                guard self.literal("false") else { return false }
            case UInt8(ascii: "n"):
                guard self.literal("null") else { return false }
            default:
                guard self.number() else { return false }
            }
            // After a value: the next member, or the end of containers, or of the document.
            while true {
                self.skipSpace()
                guard let close = open.last else { return self.index == self.bytes.count }
                if self.current == UInt8(ascii: ",") {
                    self.index += 1
                    self.skipSpace()
                    needsKey = close == UInt8(ascii: "}")
                    break
                }
                guard self.current == close else { return false }
                self.index += 1
                open.removeLast()
            }
        }
    }

    private mutating func skipSpace() {
        while let byte = self.current,
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
                || byte == UInt8(ascii: "\r")
        {
            self.index += 1
        }
    }

    private mutating func literal(_ word: String) -> Bool {
        let expected = Array(word.utf8)
        guard self.index + expected.count <= self.bytes.count,
            Array(self.bytes[self.index..<(self.index + expected.count)]) == expected
        else { return false }
        self.index += expected.count
        return true
    }

    /// A string, from its opening quote.
    private mutating func string() -> Bool {
        self.index += 1
        var highSurrogate = false
        while let byte = self.current {
            if byte == UInt8(ascii: "\"") {
                self.index += 1
                return !(self.binary && highSurrogate)
            }
            guard byte >= 0x20 else { return false }  // control characters must be escaped
            guard byte == UInt8(ascii: "\\") else {
                if self.binary && highSurrogate { return false }
                self.index += 1
                continue
            }
            self.index += 1
            guard let escaped = self.current else { return false }
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                if self.binary && highSurrogate { return false }
                self.index += 1
            case UInt8(ascii: "u"):
                guard self.index + 4 < self.bytes.count else { return false }
                var code = 0
                for byte in self.bytes[(self.index + 1)...(self.index + 4)] {
                    guard let digit = Self.hexDigit(byte) else { return false }
                    code = code * 16 + digit
                }
                self.index += 5
                guard self.binary else { continue }
                switch code {
                case 0xD800...0xDBFF:
                    if highSurrogate { return false }
                    highSurrogate = true
                case 0xDC00...0xDFFF:
                    if !highSurrogate { return false }
                    highSurrogate = false
                default:
                    if highSurrogate || code == 0 { return false }
                }
            default:
                return false
            }
        }
        return false
    }

    private static func hexDigit(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: nil
        }
    }

    private static func isDigit(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; for `jsonb`, within what `numeric` holds.
    private mutating func number() -> Bool {
        if self.current == UInt8(ascii: "-") { self.index += 1 }
        guard Self.isDigit(self.current) else { return false }
        let integerStart = self.index
        if self.current == UInt8(ascii: "0") {
            self.index += 1
        } else {
            while Self.isDigit(self.current) { self.index += 1 }
        }
        let integer = self.bytes[integerStart..<self.index]
        var fraction = self.bytes[self.index..<self.index]
        if self.current == UInt8(ascii: ".") {
            self.index += 1
            let start = self.index
            guard Self.isDigit(self.current) else { return false }
            while Self.isDigit(self.current) { self.index += 1 }
            fraction = self.bytes[start..<self.index]
        }
        var exponent = 0
        if self.current == UInt8(ascii: "e") || self.current == UInt8(ascii: "E") {
            self.index += 1
            var negative = false
            if self.current == UInt8(ascii: "+") || self.current == UInt8(ascii: "-") {
                negative = self.current == UInt8(ascii: "-")
                self.index += 1
            }
            guard Self.isDigit(self.current) else { return false }
            while let byte = self.current, Self.isDigit(byte) {
                exponent = min(exponent * 10 + Int(byte - UInt8(ascii: "0")), 1_000_000_000)
                self.index += 1
            }
            if negative { exponent = -exponent }
        }
        guard self.binary else { return true }
        // numeric: at most 16,383 digits after the point, and 131,072 before it.
        guard fraction.count - exponent <= 16_383 else { return false }
        let zero = UInt8(ascii: "0")
        if let first = integer.firstIndex(where: { $0 != zero }) {
            return integer.endIndex - first + exponent <= 131_072
        }
        if let first = fraction.firstIndex(where: { $0 != zero }) {
            return -(first - fraction.startIndex) + exponent <= 131_072
        }
        return true  // zero
    }
}
