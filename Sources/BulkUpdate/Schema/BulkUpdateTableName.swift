/// A table name as written in SQL: `users`, `public.users`, or quoted parts such as
/// `"My Schema"."Order ""Lines"""`.
///
/// Unquoted parts are folded to lower case, as PostgreSQL does; quoted parts are taken exactly.
public struct BulkUpdateTableName: Sendable, Hashable, CustomStringConvertible {
    /// The schema, when the name was qualified.
    public var schema: String?
    /// The table's own name.
    public var name: String

    /// Creates a name from its exact parts (no quoting, no case folding).
    public init(schema: String? = nil, name: String) {
        self.schema = schema
        self.name = name
    }

    /// Parses a name written as in SQL.
    ///
    /// - Throws: ``BulkUpdateError`` with code ``BulkUpdateError/Code-swift.struct/schema`` naming the position
    ///   of the problem, for an empty part, an unterminated quote or more than two parts.
    public init(parsing text: String) throws(BulkUpdateError) {
        var parts: [String] = []
        var current = ""
        var index = text.startIndex
        var partStarted = false
        func fail(_ why: String) -> BulkUpdateError {
            BulkUpdateError(.schema, "table name \(SQLText.literal(text)) is not valid: \(why)")
        }
        while index < text.endIndex {
            let character = text[index]
            if character == "\"" {
                guard !partStarted && current.isEmpty else { throw fail("a quote may only start a part") }
                var closed = false
                index = text.index(after: index)
                while index < text.endIndex {
                    if text[index] == "\"" {
                        let next = text.index(after: index)
                        if next < text.endIndex && text[next] == "\"" {
                            current.append("\"")
                            index = text.index(after: next)
                            continue
                        }
                        closed = true
                        index = next
                        break
                    }
                    current.append(text[index])
                    index = text.index(after: index)
                }
                guard closed else { throw fail("a quoted part is not closed") }
                guard !current.isEmpty else { throw fail("a quoted part is empty") }
                partStarted = true
                if index < text.endIndex && text[index] != "." {
                    throw fail("expected '.' after a quoted part")
                }
                continue
            }
            if character == "." {
                guard partStarted || !current.isEmpty else { throw fail("a part is empty") }
                parts.append(current)
                current = ""
                partStarted = false
                index = text.index(after: index)
                continue
            }
            guard !partStarted else { throw fail("expected '.' after a quoted part") }
            if character.isWhitespace { throw fail("unquoted names cannot contain spaces") }
            current.append(contentsOf: character.lowercased())
            index = text.index(after: index)
        }
        guard partStarted || !current.isEmpty else { throw fail("a part is empty") }
        parts.append(current)
        switch parts.count {
        case 1: self.init(name: parts[0])
        case 2: self.init(schema: parts[0], name: parts[1])
        default: throw fail("expected table or schema.table")
        }
    }

    /// The name as SQL: each part an identifier.
    package var sql: SQL {
        guard let schema = self.schema else { return .identifier(self.name) }
        return "\(identifier: schema).\(identifier: self.name)"
    }

    /// The name in SQL, each part quoted: `"public"."users"`.
    public var quoted: String {
        if let schema { return SQLIdentifier.quote(schema) + "." + SQLIdentifier.quote(self.name) }
        return SQLIdentifier.quote(self.name)
    }

    public var description: String {
        if let schema { return "\(schema).\(self.name)" }
        return self.name
    }
}
