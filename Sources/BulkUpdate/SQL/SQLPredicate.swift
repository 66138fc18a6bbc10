/// Checks a caller's SQL predicate (``BulkUpdateOptions/condition``) before it goes into a statement.
///
/// The predicate is the caller's own SQL and is sent as written, inside `AND (…)` after the key match. What is
/// checked here is that it stays there: every parenthesis it closes it opened, and it holds no `;` (a second
/// statement) and no comment (which would hide the rest of the statement). Quoted text (`'…'`, `"…"`, `$$…$$`,
/// `E'…'`) is skipped. Whether the database accepts it is checked by running it once on no rows.
package enum SQLPredicate {
    package static func check(_ predicate: String) throws(BulkUpdateError) {
        func refuse(_ reason: String) -> BulkUpdateError {
            BulkUpdateError(.configuration, "the condition \(SQLText.literal(predicate)) \(reason)")
        }
        guard !predicate.allSatisfy(\.isWhitespace) else { throw refuse("is empty") }
        let characters = Array(predicate.unicodeScalars)
        var depth = 0
        var index = 0
        while index < characters.count {
            let character = characters[index]
            switch character {
            case "'", "\"":
                // A quoted string or identifier; a doubled quote stays inside it. E'…' strings may escape a quote
                // with a backslash.
                let escapes = character == "'" && index > 0 && "eE".unicodeScalars.contains(characters[index - 1])
                index += 1
                while index < characters.count {
                    if escapes && characters[index] == "\\" {
                        index += 2
                        continue
                    }
                    if characters[index] == character {
                        if index + 1 < characters.count && characters[index + 1] == character {
                            index += 2
                            continue
                        }
                        break
                    }
                    index += 1
                }
                guard index < characters.count else { throw refuse("has an unterminated quote") }
            case "$":
                // A dollar-quoted string: $$…$$ or $tag$…$tag$ (a parameter $1 has a digit after the dollar).
                var end = index + 1
                while end < characters.count, characters[end] == "_" || characters[end].properties.isAlphabetic {
                    end += 1
                }
                if end < characters.count && characters[end] == "$" {
                    let tag = Array(characters[index...end])
                    var search = end + 1
                    var found = false
                    while search + tag.count <= characters.count {
                        if Array(characters[search..<(search + tag.count)]) == tag {
                            found = true
                            break
                        }
                        search += 1
                    }
                    guard found else { throw refuse("has an unterminated dollar quote") }
                    index = search + tag.count - 1
                }
            case "(":
                depth += 1
            case ")":
                depth -= 1
                guard depth >= 0 else { throw refuse("closes a parenthesis it did not open") }
            case ";":
                throw refuse("holds a ';': it must be one expression")
            case "-" where index + 1 < characters.count && characters[index + 1] == "-",
                "/" where index + 1 < characters.count && characters[index + 1] == "*":
                throw refuse("holds a comment")
            default:
                break
            }
            index += 1
        }
        guard depth == 0 else { throw refuse("leaves a parenthesis open") }
    }
}
