package import Foundation

/// Parsers for the text forms of values, matching what PostgreSQL accepts for the common cases.
///
/// Dates are counted in days and timestamps in microseconds since 2000-01-01 00:00 UTC, PostgreSQL's own epoch,
/// so both backends can store them without another conversion.
package enum ValueParsing {
    /// Whether `text` holds a NUL character, which PostgreSQL cannot store in text: one `memchr` over the string's
    /// UTF-8 bytes (a byte-by-byte `contains` on `utf8` cost more than parsing the row).
    package static func containsNUL(_ text: String) -> Bool {
        let found = text.utf8.withContiguousStorageIfAvailable { bytes in
            guard let base = bytes.baseAddress else { return false }
            return memchr(base, 0, bytes.count) != nil
        }
        return found ?? text.utf8.contains(0)
    }

    /// Seconds from 1970-01-01 to 2000-01-01.
    package static let postgresEpochOffset: Int64 = 946_684_800
    /// Days from 1970-01-01 to 2000-01-01.
    package static let postgresEpochDays: Int64 = 10_957

    package static func bool(_ text: String) -> Bool? {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "t", "true", "y", "yes", "on", "1": true
        case "f", "false", "n", "no", "off", "0": false
        default: nil
        }
    }

    package static func int(_ text: Substring) -> Int64? {
        var digits = text
        if let value = digits.withUTF8(Self.plainInteger) { return value }
        if let value = Int64(text) { return value }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return Int64(trimmed)
    }

    /// `[+-]digits` in ASCII that fits Int64, the common case, read without the standard library's generic parser;
    /// `nil` for anything else (which the caller then parses the general way).
    private static func plainInteger(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        var index = 0
        let negative = bytes[0] == UInt8(ascii: "-")
        if negative || bytes[0] == UInt8(ascii: "+") { index = 1 }
        guard index < bytes.count else { return nil }
        var value: Int64 = 0
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) =
                negative
                ? times10.subtractingReportingOverflow(Int64(digit)) : times10.addingReportingOverflow(Int64(digit))
            guard !overflow1 && !overflow2 else { return nil }
            value = next
            index += 1
        }
        return value
    }

    package static func double(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch trimmed.lowercased() {
        case "nan": return .nan
        case "infinity", "+infinity", "inf", "+inf": return .infinity
        case "-infinity", "-inf": return -.infinity
        default: break
        }
        guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && !$0.isLetter || $0 == "e" || $0 == "E" })
        else { return nil }
        return Double(trimmed)
    }

    /// Whether `text` is a numeric literal PostgreSQL's `numeric` accepts: `[+-]digits[.digits][e[+-]digits]`,
    /// or `NaN`, `Infinity`, `-Infinity`.
    package static func isNumeric(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch trimmed.lowercased() {
        case "nan", "infinity", "+infinity", "-infinity": return true
        default: return Self.scanDecimal(trimmed, collectingDigits: false) != nil
        }
    }

    /// Reads `[+-]digits[.digits][e[+-]digits]` (with a digit somewhere before the exponent); `nil` for anything
    /// else. With `collectingDigits`, returns the mantissa's digits and how many of them stand before the decimal
    /// point once the exponent is applied (an exponent past a million counts as a million).
    private static func scanDecimal(_ text: String, collectingDigits: Bool) -> (digits: [UInt8], point: Int)? {
        var bytes = Array(text.utf8)[...]
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            bytes = bytes.dropFirst()
        }
        var digits: [UInt8] = []
        var count = 0
        var point = 0
        while let byte = bytes.first, isDigit(byte) {
            if collectingDigits { digits.append(byte - 48) }
            count += 1
            point += 1
            bytes = bytes.dropFirst()
        }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            while let byte = bytes.first, isDigit(byte) {
                if collectingDigits { digits.append(byte - 48) }
                count += 1
                bytes = bytes.dropFirst()
            }
        }
        guard count > 0 else { return nil }
        if let byte = bytes.first, byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            var negative = false
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                negative = sign == UInt8(ascii: "-")
                bytes = bytes.dropFirst()
            }
            var exponent = 0
            var exponentDigits = 0
            while let byte = bytes.first, isDigit(byte) {
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(byte - 48) }
                exponentDigits += 1
                bytes = bytes.dropFirst()
            }
            guard exponentDigits > 0 else { return nil }
            point += negative ? -exponent : exponent
        }
        return bytes.isEmpty ? (digits, point) : nil
    }

    /// Whether `text` spells an infinity (`Infinity`, `-inf`, …), as opposed to a number too large for a float.
    package static func isInfinity(_ text: String) -> Bool {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf": true
        default: false
        }
    }

    /// Whether the mantissa of a number's text has a digit other than 0 (so a parse to zero is an underflow).
    package static func hasNonzeroDigit(_ text: String) -> Bool {
        for byte in text.utf8 {
            if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { return false }
            if byte >= UInt8(ascii: "1") && byte <= UInt8(ascii: "9") { return true }
        }
        return false
    }

    /// Why a `numeric` literal (one ``isNumeric(_:)`` accepts) does not fit `numeric(precision, scale)`, or `nil`
    /// when it does. As PostgreSQL does, the value is first rounded (half away from zero) to `scale` digits after
    /// the point; it fits when fewer than `precision - scale` digits remain before the point. NaN fits; infinities
    /// do not.
    package static func numericOverflow(_ text: String, precision: Int, scale: Int) -> String? {
        let lowered = text.lowercased()
        if lowered == "nan" { return nil }
        if lowered.hasSuffix("infinity") { return "an infinite value cannot be held" }
        guard var (digits, point) = Self.scanDecimal(text, collectingDigits: true) else { return nil }
        // Leading zeros say nothing about the magnitude.
        while let first = digits.first, first == 0 {
            digits.removeFirst()
            point -= 1
        }
        guard !digits.isEmpty else { return nil }  // zero
        let kept = point + scale  // digits that survive rounding to `scale` places
        if kept < 0 { return nil }  // rounds to zero
        if kept < digits.count {
            var rounded = Array(digits[0..<kept])
            if digits[kept] >= 5 {
                var position = rounded.count - 1
                while position >= 0 && rounded[position] == 9 {
                    rounded[position] = 0
                    position -= 1
                }
                if position >= 0 {
                    rounded[position] += 1
                } else {
                    rounded.insert(1, at: 0)
                    point += 1
                }
            }
            guard rounded.contains(where: { $0 != 0 }) else { return nil }  // rounds to zero
        }
        let allowed = precision - scale
        guard point > allowed else { return nil }
        return "numeric field overflow: \(text) needs \(point) digit\(point == 1 ? "" : "s") before the point after"
            + " rounding to \(scale) decimal\(scale == 1 ? "" : "s"), and the type allows \(max(0, allowed))"
    }

    /// The number of bits in a bit string's text: `0101` or `B0101` (one bit per digit), `X1F` (four per hex digit).
    package static func bitCount(_ text: String) -> Int? {
        var bytes = Array(text.utf8)[...]
        var bitsPerDigit = 1
        if let first = bytes.first {
            if first == UInt8(ascii: "B") || first == UInt8(ascii: "b") {
                bytes = bytes.dropFirst()
            } else if first == UInt8(ascii: "X") || first == UInt8(ascii: "x") {
                bytes = bytes.dropFirst()
                bitsPerDigit = 4
            }
        }
        for byte in bytes {
            if bitsPerDigit == 1 {
                guard byte == UInt8(ascii: "0") || byte == UInt8(ascii: "1") else { return nil }
            } else {
                guard hexValue(byte) != nil else { return nil }
            }
        }
        return bytes.count * bitsPerDigit
    }

    package static func uuid(_ text: String) -> UUID? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let value = UUID(uuidString: trimmed) { return value }
        var hex = trimmed.filter { $0 != "-" }
        if hex.hasPrefix("{") && hex.hasSuffix("}") { hex = String(hex.dropFirst().dropLast()) }
        guard hex.count == 32, hex.allSatisfy(\.isHexDigit) else { return nil }
        var dashed = hex
        for offset in [20, 16, 12, 8] {
            dashed.insert("-", at: dashed.index(dashed.startIndex, offsetBy: offset))
        }
        return UUID(uuidString: dashed)
    }

    /// `\x0a0b…` (PostgreSQL's hex format).
    package static func bytea(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"),
            utf8[1] == UInt8(ascii: "x") || utf8[1] == UInt8(ascii: "X")
        else { return nil }
        let hexDigits = utf8[2...]
        guard hexDigits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hexDigits.count / 2)
        var index = hexDigits.startIndex
        while index < hexDigits.endIndex {
            guard let high = hexValue(hexDigits[index]), let low = hexValue(hexDigits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    /// Whether `text` is one JSON value as PostgreSQL reads it for `jsonb` (`binary`) or `json` (``JSONSyntax``).
    /// Foundation's JSON parser refused numbers beyond a double's range (`1e400`), which both types hold, so a run
    /// that overwrote one could not be reverted.
    package static func isJSON(_ text: String, binary: Bool = true) -> Bool {
        JSONSyntax.isValid(text, binary: binary)
    }

    /// A date or timestamp infinity as PostgreSQL stores it (and as its binary form sends it): `date`'s are the
    /// largest and smallest `Int32`, `timestamp`'s the largest and smallest `Int64`.
    package static let dateInfinity = Int32.max
    package static let dateMinusInfinity = Int32.min
    package static let timestampInfinity = Int64.max
    package static let timestampMinusInfinity = Int64.min

    /// The first day PostgreSQL's `date` and `timestamp` hold, 4714-11-24 BC (Julian day 0), in days since
    /// 2000-01-01; the first day `date` does not hold, 5874898-01-01; the first day `timestamp` does not hold,
    /// 294277-01-01.
    static let firstDay: Int64 = -2_451_545
    static let dateEndDay: Int64 = 2_145_031_949
    static let timestampEndDay: Int64 = 106_751_983

    /// `YYYY-MM-DD` (a year of 4 to 7 digits), `BC` after it for years before 1, or `infinity` / `-infinity` → days
    /// since 2000-01-01 (the infinities as ``dateInfinity`` and ``dateMinusInfinity``), within PostgreSQL's range
    /// (4714-11-24 BC to 5874897-12-31). Without `extended` (SQLite, whose date functions read years 0000 to 9999
    /// and nothing else), only `YYYY-MM-DD` with a year of 4 digits, 0000 included.
    package static func date(_ text: String, extended: Bool = true) -> Int32? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if extended, let sign = Self.infinitySign(trimmed) {
            return sign > 0 ? Self.dateInfinity : Self.dateMinusInfinity
        }
        let (bytes, beforeChrist) = extended ? Self.era(trimmed) : (Array(trimmed.utf8), false)
        guard let (days, end) = parseDate(bytes, beforeChrist: beforeChrist, extended: extended), end == bytes.count,
            days >= Self.firstDay, days < Self.dateEndDay
        else { return nil }
        return Int32(exactly: days)
    }

    /// ISO 8601 or PostgreSQL style, `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|UTC|±HH[:MM[:SS]]][ BC]` (a year of 4
    /// to 7 digits), or `infinity` / `-infinity` → microseconds since 2000-01-01 00:00 (the infinities as
    /// ``timestampInfinity`` and ``timestampMinusInfinity``), within PostgreSQL's range (4714-11-24 00:00 BC to
    /// 294276-12-31 23:59:59.999999). With `withTimeZone`, an offset is applied (none means UTC); without, an offset
    /// is ignored, as PostgreSQL's `timestamp` does. Without `extended` (SQLite), the date as ``date(_:extended:)``
    /// takes it then, and no infinity.
    package static func timestamp(_ text: String, withTimeZone: Bool, extended: Bool = true) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if extended, let sign = Self.infinitySign(trimmed) {
            return sign > 0 ? Self.timestampInfinity : Self.timestampMinusInfinity
        }
        let (bytes, beforeChrist) = extended ? Self.era(trimmed) : (Array(trimmed.utf8), false)
        guard let (days, dateEnd) = parseDate(bytes, beforeChrist: beforeChrist, extended: extended) else {
            return nil
        }
        var index = dateEnd
        var seconds: Int64 = 0
        var micros: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "T") || bytes[index] == UInt8(ascii: " ") {
            index += 1
            guard let hour = number(bytes, index, 2), bytes.count > index + 4, bytes[index + 2] == UInt8(ascii: ":"),
                let minute = number(bytes, index + 3, 2), hour < 24, minute < 60
            else { return nil }
            seconds = Int64(hour * 3600 + minute * 60)
            index += 5
            if index < bytes.count, bytes[index] == UInt8(ascii: ":") {
                guard let second = number(bytes, index + 1, 2), second < 61 else { return nil }
                seconds += Int64(second)
                index += 3
                if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                    index += 1
                    var digits = 0
                    while index < bytes.count, isDigit(bytes[index]) {
                        if digits < 6 {
                            micros = micros * 10 + Int64(bytes[index] - 48)
                        } else if digits == 6 && bytes[index] >= UInt8(ascii: "5") {
                            micros += 1
                        }
                        digits += 1
                        index += 1
                    }
                    guard digits > 0 else { return nil }
                    for _ in Swift.min(digits, 6)..<6 { micros *= 10 }
                }
            }
        }
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
        var offsetSeconds: Int64 = 0
        if index < bytes.count {
            let sign = bytes[index]
            if sign == UInt8(ascii: "Z") || sign == UInt8(ascii: "z") {
                guard index + 1 == bytes.count else { return nil }
            } else if Array(bytes[index...]) == Array("UTC".utf8) {
                // UTC
            } else if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                // ±HH, ±HHMM, ±HH:MM, ±HH:MM:SS (PostgreSQL shows local mean time before 1900 with seconds).
                guard let hours = number(bytes, index + 1, 2) else { return nil }
                var rest = index + 3
                var parts = [hours]
                while rest < bytes.count, parts.count < 3 {
                    if bytes[rest] == UInt8(ascii: ":") { rest += 1 }
                    guard let value = number(bytes, rest, 2), value < 60 else { return nil }
                    parts.append(value)
                    rest += 2
                }
                guard rest == bytes.count else { return nil }
                parts += [0, 0]
                offsetSeconds =
                    Int64(parts[0] * 3600 + parts[1] * 60 + parts[2]) * (sign == UInt8(ascii: "-") ? -1 : 1)
            } else {
                return nil
            }
        }
        if !withTimeZone { offsetSeconds = 0 }
        let total = days * 86_400 + seconds - offsetSeconds
        guard total >= Self.firstDay * 86_400, total < Self.timestampEndDay * 86_400 else { return nil }
        // Rounding at the seventh digit may carry into the next second, past the last one.
        let value = total * 1_000_000 + micros
        return value < Self.timestampEndDay * 86_400_000_000 ? value : nil
    }

    /// `date`'s day since 2000-01-01, within PostgreSQL's range.
    package static func days(from date: Date) -> Int32? {
        let days = (date.timeIntervalSince1970 / 86_400).rounded(.down)
        guard let value = Int64(exactly: days), value - postgresEpochDays >= Self.firstDay,
            value - postgresEpochDays < Self.dateEndDay
        else { return nil }
        return Int32(exactly: value - postgresEpochDays)
    }

    /// `date` in microseconds since 2000-01-01 00:00 UTC, within PostgreSQL's range.
    package static func microseconds(from date: Date) -> Int64? {
        let micros = ((date.timeIntervalSince1970 - Double(postgresEpochOffset)) * 1_000_000).rounded()
        guard let value = Int64(exactly: micros), value >= Self.firstDay * 86_400_000_000,
            value < Self.timestampEndDay * 86_400_000_000
        else { return nil }
        return value
    }

    /// Days since 2000-01-01 → `YYYY-MM-DD`, as PostgreSQL shows it: `YYYY-MM-DD BC` before year 1, `infinity` and
    /// `-infinity`. Without `extended` (SQLite, whose dates are years 0000 to 9999), year 0 is `0000`.
    package static func formatDate(_ days: Int32, extended: Bool = true) -> String {
        if days == Self.dateInfinity { return "infinity" }
        if days == Self.dateMinusInfinity { return "-infinity" }
        let (text, beforeChrist) = Self.calendarDate(Int64(days), extended: extended)
        return beforeChrist ? text + " BC" : text
    }

    /// Days since 2000-01-01 → `YYYY-MM-DD`, the year counted back from 1 BC when it is before 1 and `extended`
    /// (then `beforeChrist`; the era follows the whole value).
    private static func calendarDate(_ days: Int64, extended: Bool) -> (text: String, beforeChrist: Bool) {
        let (year, month, day) = civil(fromDays: days + postgresEpochDays)
        let beforeChrist = extended && year < 1
        return (pad(beforeChrist ? 1 - year : year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2), beforeChrist)
    }

    /// Microseconds since 2000-01-01 → `YYYY-MM-DD HH:MM:SS[.ffffff]` followed by `offset` (`+00`, `Z` or none), as
    /// PostgreSQL shows it: `BC` last before year 1, `infinity` and `-infinity` (without the offset). Without
    /// `extended` (SQLite), year 0 is `0000`.
    package static func formatTimestamp(_ micros: Int64, offset: String = "", extended: Bool = true) -> String {
        if micros == Self.timestampInfinity { return "infinity" }
        if micros == Self.timestampMinusInfinity { return "-infinity" }
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        var (text, beforeChrist) = Self.calendarDate(days, extended: extended)
        text += " " + pad(Int(secondOfDay / 3600), 2) + ":" + pad(Int(secondOfDay / 60 % 60), 2) + ":"
        text += pad(Int(secondOfDay % 60), 2)
        if fraction != 0 { text += "." + pad(Int(fraction), 6) }
        return text + offset + (beforeChrist ? " BC" : "")
    }

    /// `+1` for `infinity` or `+infinity`, `-1` for `-infinity` (any case), `nil` for anything else.
    private static func infinitySign(_ text: String) -> Int? {
        switch text.lowercased() {
        case "infinity", "+infinity": 1
        case "-infinity": -1
        default: nil
        }
    }

    /// The text's bytes without a final era (` BC` or ` AD`, any case), and whether it was BC.
    private static func era(_ text: String) -> ([UInt8], beforeChrist: Bool) {
        var bytes = Array(text.utf8)
        guard bytes.count > 3, bytes[bytes.count - 3] == UInt8(ascii: " ") else { return (bytes, false) }
        let suffix = String(decoding: bytes[(bytes.count - 2)...], as: UTF8.self).uppercased()
        guard suffix == "BC" || suffix == "AD" else { return (bytes, false) }
        bytes.removeLast(3)
        while bytes.last == UInt8(ascii: " ") { bytes.removeLast() }
        return (bytes, suffix == "BC")
    }

    // MARK: Helpers

    /// `YYYY-MM-DD` at the start of `bytes` (a year of 4 to 7 digits from 1, counted back from 1 BC when
    /// `beforeChrist`; without `extended`, of 4 digits from 0) → days since 2000-01-01, and the index after it.
    private static func parseDate(_ bytes: [UInt8], beforeChrist: Bool, extended: Bool) -> (Int64, Int)? {
        var yearDigits = 0
        while yearDigits < bytes.count, isDigit(bytes[yearDigits]) { yearDigits += 1 }
        guard (4...(extended ? 7 : 4)).contains(yearDigits), let written = number(bytes, 0, yearDigits) else {
            return nil
        }
        let start = yearDigits - 4  // the rest as in YYYY-MM-DD
        guard bytes.count >= start + 10, bytes[start + 4] == UInt8(ascii: "-"), bytes[start + 7] == UInt8(ascii: "-"),
            let month = number(bytes, start + 5, 2), let day = number(bytes, start + 8, 2), (1...12).contains(month),
            written >= 1 || !extended
        else { return nil }
        let year = beforeChrist ? 1 - written : written
        guard day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        return (daysFromCivil(year: year, month: month, day: day) - postgresEpochDays, start + 10)
    }

    private static func number(_ bytes: [UInt8], _ start: Int, _ count: Int) -> Int? {
        guard start >= 0, start + count <= bytes.count else { return nil }
        var value = 0
        for index in start..<(start + count) {
            guard isDigit(bytes[index]) else { return nil }
            value = value * 10 + Int(bytes[index] - 48)
        }
        return value
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 65...70: byte - 55
        case 97...102: byte - 87
        default: nil
        }
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civil(fromDays days: Int64) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
