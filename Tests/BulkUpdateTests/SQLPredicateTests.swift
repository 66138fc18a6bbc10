import Testing

@testable import BulkUpdate

/// The check that keeps a caller's condition inside its parentheses.
@Suite("SQLPredicate")
struct SQLPredicateTests {
    @Test(
        "accepted: quoted text may hold parentheses, semicolons and dashes",
        arguments: [
            "t.status = 'active'", "(t.a = 1 OR t.b = 2) AND t.c IS NULL", "t.note <> ')--;/*'",
            "t.\"odd)name\" = 1", "t.s = 'it''s'", "t.s = E'a\\'b)'", "t.s = $$)--;$$", "t.s = $x$ ) $x$",
            "t.n - 1 > 0", "t.a / 2 = 1", "t.id = ANY('{1,2}')",
        ]
    )
    func accepted(_ condition: String) throws {
        try SQLPredicate.check(condition)
    }

    @Test(
        "refused: a parenthesis closed before it opened or left open, a semicolon, a comment, an open quote, nothing",
        arguments: [
            ("t.a = 1) OR (1 = 1", "closes a parenthesis"), ("(t.a = 1", "leaves a parenthesis open"),
            ("t.a = 1; DELETE FROM t", "holds a ';'"), ("t.a = 1 -- rest", "holds a comment"),
            ("t.a = 1 /* x */", "holds a comment"), ("t.s = 'open", "unterminated quote"),
            ("t.s = $$open", "unterminated dollar quote"), ("  ", "is empty"),
        ]
    )
    func refused(_ condition: String, _ reason: String) {
        #expect {
            try SQLPredicate.check(condition)
        } throws: { error in
            (error as? BulkUpdateError).map { $0.code == .configuration && $0.message.contains(reason) } == true
        }
    }
}
