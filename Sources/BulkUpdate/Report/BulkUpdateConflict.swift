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

    private enum CodingKeys: String, CodingKey { case key, keyValues, column, expected, actual }

    // NULL is written as `null`, not left out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.key, forKey: .key)
        try container.encode(self.keyValues, forKey: .keyValues)
        try container.encode(self.column, forKey: .column)
        try container.encode(self.expected, forKey: .expected)
        try container.encode(self.actual, forKey: .actual)
    }
}
