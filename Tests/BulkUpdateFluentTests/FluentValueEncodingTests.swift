import BulkUpdate
import FluentKit
import Foundation
import Testing

@testable import BulkUpdateFluent

/// How model values become BulkUpdate values, as each driver stores them: no database. (The statements are
/// `BulkUpdatePostgres`'s and `BulkUpdateSQLite`'s own, tested there.)
@Suite struct FluentValueEncodingTests {
    enum Size: Int, Codable, Sendable { case small = 1, large = 2 }
    enum Mood: String, Codable, Sendable { case happy }

    @Test func valuesAreEncodedAsEachDriverStoresThem() throws {
        let id = UUID(uuidString: "6F1C2B3A-0000-4000-8000-00000000002A")!
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)
        let postgres = FluentValueEncoding.postgres
        let sqlite = FluentValueEncoding.sqlite
        #expect(try postgres.value(.bind(true)) == .bool(true))
        #expect(try sqlite.value(.bind(true)) == .int(1))
        #expect(try postgres.value(.bind(id)) == .uuid(id))
        #expect(try sqlite.value(.bind(id)) == .string("6F1C2B3A-0000-4000-8000-00000000002A"))
        #expect(try postgres.value(.bind(date)) == .date(date))
        #expect(try sqlite.value(.bind(date)) == .double(1_700_000_000.5))
        #expect(try postgres.value(.bind(Optional<String>.none)) == .null)
        #expect(try postgres.value(.bind(Optional<Int>.some(3))) == .int(3))
        #expect(try postgres.value(.null) == .null)
        #expect(try postgres.value(.enumCase("happy")) == .string("happy"))
        #expect(try postgres.value(.bind(Mood.happy)) == .string("happy"))
        #expect(try postgres.value(.bind(Size.large)) == .int(2))
        #expect(try postgres.value(.bind(Decimal(string: "12.50")!)) == .string("12.5"))
        #expect(try postgres.value(.bind(Float(1.5))) == .double(1.5))
        #expect(try postgres.value(.bind(Data([0, 255]))) == .bytes([0, 255]))
        #expect(try postgres.value(.bind(UInt64(7))) == .int(7))
        #expect(throws: FluentValueError.self) { try postgres.value(.bind(UInt64.max)) }
        #expect(throws: FluentValueError.self) { try postgres.value(.bind(["a"])) }
        #expect(throws: FluentValueError.self) { try postgres.value(.default) }
    }
}
