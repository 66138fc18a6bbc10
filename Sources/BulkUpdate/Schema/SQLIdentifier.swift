/// The one place identifiers become SQL text.
package enum SQLIdentifier {
    /// Wraps an identifier in double quotes, doubling any double quote inside.
    package static func quote(_ identifier: String) -> String {
        "\"" + identifier.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }
}
