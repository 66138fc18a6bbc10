/// A statement, or a piece of one, as a value: every statement of every module is built with it and becomes text in
/// one place per driver (``rendered(parameter:)``).
///
/// What goes into it is typed, so nothing reaches the text by concatenation:
/// - text written in this package's source (keywords, operators), as string literals: `"UPDATE "`;
/// - identifiers (tables, columns, schemas, savepoints), quoted by ``SQLIdentifier/quote(_:)`` when rendered:
///   `\(identifier: name)`;
/// - type names as the catalog spells them (`character varying`, `"Mood"`, already quoted by the server):
///   `\(type: column.type.sqlName)`;
/// - parameters, numbered from 1, with the type the driver casts them to, if any: `\(parameter: 1, type: "int8")`;
/// - numbers the program chose (a `LIMIT`): `\(integer: 10)`;
/// - string constants the program chose, for statements that take no parameters (`COMMENT ON … IS`), quoted with
///   their quotes doubled: `\(literal: mark)` (standard SQL strings: a backslash is an ordinary character, as in
///   PostgreSQL with `standard_conforming_strings`, its default, and in SQLite; never pass input text);
/// - and, for text from anywhere else, the escape ``unsafeRaw(_:)``, named so that every use stands out.
///
/// ```swift
/// let sql: SQL = "SELECT \(identifier: "id") FROM \(table) WHERE \(identifier: "id") = \(parameter: 1)"
/// ```
/// `SQL` is deliberately not `Equatable`: compare statements by their rendered text, since a string literal would
/// otherwise become an `SQL` of one text part and compare unequal to the same statement built with identifiers.
package struct SQL: Sendable, ExpressibleByStringInterpolation {
    /// One typed piece of a statement.
    package enum Part: Sendable, Hashable {
        case text(String)
        case identifier(String)
        case type(String)
        case parameter(Int, type: String?)
        case integer(Int)
        case literal(String)
    }

    package private(set) var parts: [Part]

    package init(parts: [Part] = []) {
        self.parts = parts
    }

    package init(stringLiteral text: String) {
        self.parts = text.isEmpty ? [] : [.text(text)]
    }

    package init(stringInterpolation: StringInterpolation) {
        self.parts = stringInterpolation.parts
    }

    package struct StringInterpolation: StringInterpolationProtocol {
        var parts: [Part] = []

        package init(literalCapacity: Int, interpolationCount: Int) {
            self.parts.reserveCapacity(2 * interpolationCount + 1)
        }

        package mutating func appendLiteral(_ literal: String) {
            if !literal.isEmpty { self.parts.append(.text(literal)) }
        }

        package mutating func appendInterpolation(_ sql: SQL) {
            self.parts.append(contentsOf: sql.parts)
        }

        package mutating func appendInterpolation(identifier name: String) {
            self.parts.append(.identifier(name))
        }

        package mutating func appendInterpolation(type name: String) {
            self.parts.append(.type(name))
        }

        package mutating func appendInterpolation(parameter number: Int, type: String? = nil) {
            self.parts.append(.parameter(number, type: type))
        }

        package mutating func appendInterpolation(integer value: Int) {
            self.parts.append(.integer(value))
        }

        package mutating func appendInterpolation(literal text: String) {
            self.parts.append(.literal(text))
        }
    }

    /// An identifier: `"user name"`.
    package static func identifier(_ name: String) -> SQL {
        SQL(parts: [.identifier(name)])
    }

    /// Parameter `number` (from 1), cast to `type` where the driver casts parameters.
    package static func parameter(_ number: Int, type: String? = nil) -> SQL {
        SQL(parts: [.parameter(number, type: type)])
    }

    /// Text that is not this package's own literal SQL, taken as it is. The escape hatch: every use must say where
    /// the text comes from and why it is safe (a user's own SQL, documented as such).
    package static func unsafeRaw(_ text: String) -> SQL {
        SQL(parts: [.text(text)])
    }

    /// `items` with `separator` between them: `"a", "b"`.
    package static func list(_ items: some Sequence<SQL>, separator: SQL = ", ") -> SQL {
        var result = SQL()
        for (index, item) in items.enumerated() {
            if index > 0 { result.append(separator) }
            result.append(item)
        }
        return result
    }

    package var isEmpty: Bool { self.parts.isEmpty }

    package mutating func append(_ other: SQL) {
        self.parts.append(contentsOf: other.parts)
    }

    package static func + (lhs: SQL, rhs: SQL) -> SQL {
        var result = lhs
        result.append(rhs)
        return result
    }

    package static func += (lhs: inout SQL, rhs: SQL) {
        lhs.append(rhs)
    }

    /// The statement's text: the one place SQL becomes a string. Each driver says how it writes a parameter (number,
    /// cast type): `$3::int8`, `?3`.
    package func rendered(parameter: (Int, String?) -> String) -> String {
        var text = ""
        text.reserveCapacity(self.parts.count * 8)
        for part in self.parts {
            switch part {
            case .text(let literal): text += literal
            case .identifier(let name): text += SQLIdentifier.quote(name)
            case .type(let name): text += name
            case .parameter(let number, let type): text += parameter(number, type)
            case .integer(let value): text += String(value)
            case .literal(let value):
                text +=
                    "'" + value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'"
            }
        }
        return text
    }
}
