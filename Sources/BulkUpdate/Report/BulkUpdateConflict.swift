/// A row a guarded run left alone because one of its expected columns (``BulkUpdateOptions/expectedColumns``) no
/// longer held the value the input expected: someone else changed it.
public struct BulkUpdateConflict: Sendable, Codable, Equatable {
    /// The row's key, as SQL-like text (`42`, `(1, 'a')`).
    public var key: String
    /// The key's values as the database writes them as text, one per key column.
    public var keyValues: [String?]
    /// The expected column whose value differed.
    public var column: String
    /// The value the input expected, as the database writes it as text; `nil` for NULL.
    public var expected: String?
    /// The value the row held, as the database writes it as text; `nil` for NULL.
    public var actual: String?

    package init(key: String, keyValues: [String?], column: String, expected: String?, actual: String?) {
        self.key = key
        self.keyValues = keyValues
        self.column = column
        self.expected = expected
        self.actual = actual
    }
}
