import FluentKit
import Foundation

enum Status: String, Codable, CaseIterable, Sendable {
    case active, banned, pending
}

enum Level: Int, Codable, Sendable {
    case low = 1, high = 2
}

/// A Vapor-style model with a UUID id, custom field keys, an optional field, enums, dates and timestamps.
final class Account: Model, @unchecked Sendable {
    static let schema = "bu_fluent_accounts"

    @ID var id: UUID?
    @Field(key: "user_name") var username: String
    @OptionalField(key: "email") var email: String?
    @Enum(key: "status") var status: Status
    @Field(key: "level") var level: Level
    @Field(key: "score") var score: Double
    @Field(key: "is_active") var isActive: Bool
    @OptionalField(key: "last_login") var lastLogin: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(id: UUID? = nil, username: String, email: String?, status: Status = .active, level: Level = .low) {
        self.id = id
        self.username = username
        self.email = email
        self.status = status
        self.level = level
        self.score = 0
        self.isActive = true
    }

    static func create(on database: any Database) async throws {
        let status = try await database.enum("bu_fluent_status")
            .case("active").case("banned").case("pending").create()
        try await database.schema(Self.schema)
            .id()
            .field("user_name", .string, .required)
            .field("email", .string)
            .field("status", status, .required)
            .field("level", .int, .required)
            .field("score", .double, .required)
            .field("is_active", .bool, .required)
            .field("last_login", .datetime)
            .field("created_at", .datetime)
            .field("updated_at", .datetime)
            .unique(on: "user_name")
            .create()
    }

    static func drop(on database: any Database) async throws {
        try await database.schema(Self.schema).ignoreExisting().delete()
        try await database.enum("bu_fluent_status").delete()
    }
}

/// A model with a custom integer id the database generates, as Django's `auth_user.id`.
final class Member: Model, @unchecked Sendable {
    static let schema = "bu_fluent_members"

    @ID(custom: "member_id") var id: Int?
    @Field(key: "nick") var nick: String
    @Field(key: "points") var points: Int
    @OptionalField(key: "note") var note: String?

    init() {}

    init(id: Int? = nil, nick: String, points: Int, note: String? = nil) {
        self.id = id
        self.nick = nick
        self.points = points
        self.note = note
    }

    static func create(on database: any Database) async throws {
        try await database.schema(Self.schema)
            .field("member_id", .int, .identifier(auto: true))
            .field("nick", .string, .required)
            .field("points", .int, .required)
            .field("note", .string)
            .create()
    }

    static func drop(on database: any Database) async throws {
        try await database.schema(Self.schema).delete()
    }
}

/// A model whose id is two columns (`@CompositeID`).
final class PlanetTag: Model, @unchecked Sendable {
    static let schema = "bu_fluent_planet_tags"

    final class IDValue: Fields, Hashable, @unchecked Sendable {
        @Field(key: "planet_id") var planetID: Int
        @Field(key: "tag_id") var tagID: Int

        init() {}

        init(planetID: Int, tagID: Int) {
            self.planetID = planetID
            self.tagID = tagID
        }

        static func == (lhs: IDValue, rhs: IDValue) -> Bool {
            lhs.planetID == rhs.planetID && lhs.tagID == rhs.tagID
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(self.planetID)
            hasher.combine(self.tagID)
        }
    }

    @CompositeID var id: IDValue?
    @Field(key: "weight") var weight: Int

    init() {}

    init(planetID: Int, tagID: Int, weight: Int) {
        self.id = IDValue(planetID: planetID, tagID: tagID)
        self.weight = weight
    }

    static func create(on database: any Database) async throws {
        try await database.schema(Self.schema)
            .field("planet_id", .int, .required)
            .field("tag_id", .int, .required)
            .field("weight", .int, .required)
            .compositeIdentifier(over: "planet_id", "tag_id")
            .create()
    }

    static func drop(on database: any Database) async throws {
        try await database.schema(Self.schema).delete()
    }
}

/// A model with a field BulkUpdate cannot write (an array).
final class Tagged: Model, @unchecked Sendable {
    static let schema = "bu_fluent_tagged"

    @ID(custom: "id") var id: Int?
    @Field(key: "tags") var tags: [String]

    init() {}

    init(id: Int?, tags: [String]) {
        self.id = id
        self.tags = tags
    }
}

/// A `@Group` of fields stored as `to_street`, `to_city`.
final class Address: Fields, @unchecked Sendable {
    @Field(key: "street") var street: String
    @OptionalField(key: "city") var city: String?

    init() {}
}

/// A model with a `@Group` and a `@Parent`.
final class Parcel: Model, @unchecked Sendable {
    static let schema = "bu_fluent_parcels"

    @ID(custom: "id", generatedBy: .user) var id: Int?
    @Group(key: "to") var destination: Address
    @Parent(key: "member_id") var member: Member

    init() {}

    init(id: Int, street: String, city: String?, memberID: Int) {
        self.id = id
        self.destination.street = street
        self.destination.city = city
        self.$member.id = memberID
    }

    static func create(on database: any Database) async throws {
        try await database.schema(Self.schema)
            .field("id", .int, .identifier(auto: false))
            .field("to_street", .string, .required)
            .field("to_city", .string)
            .field("member_id", .int, .required)
            .create()
    }

    static func drop(on database: any Database) async throws {
        try await database.schema(Self.schema).delete()
    }
}

enum Size: String, Codable, CaseIterable, Sendable {
    case small, large
}

/// A `@Group` holding an `@Enum`, stored as `box_size`, `box_label`.
final class Box: Fields, @unchecked Sendable {
    @Enum(key: "size") var size: Size
    @Field(key: "label") var label: String

    init() {}
}

/// A model with every other kind of property BulkUpdateFluent writes: `@OptionalEnum`, `@OptionalParent`, an
/// `@Enum` inside a `@Group`, and an update timestamp.
final class Shipment: Model, @unchecked Sendable {
    static let schema = "bu_fluent_shipments"

    @ID(custom: "id", generatedBy: .user) var id: Int?
    @Field(key: "note") var note: String
    @OptionalField(key: "memo") var memo: String?
    @Enum(key: "size") var size: Size
    @OptionalEnum(key: "wrap") var wrap: Size?
    @Parent(key: "sender_id") var sender: Member
    @OptionalParent(key: "courier_id") var courier: Member?
    @Group(key: "box") var box: Box
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(id: Int, senderID: Int) {
        self.id = id
        self.note = "note \(id)"
        self.memo = "memo \(id)"
        self.size = .small
        self.wrap = .large
        self.$sender.id = senderID
        self.$courier.id = nil
        self.box.size = .small
        self.box.label = "box \(id)"
    }

    static func create(on database: any Database) async throws {
        let size = try await database.enum("bu_fluent_size").case("small").case("large").create()
        try await database.schema(Self.schema)
            .field("id", .int, .identifier(auto: false))
            .field("note", .string, .required)
            .field("memo", .string)
            .field("size", size, .required)
            .field("wrap", size)
            .field("sender_id", .int, .required)
            .field("courier_id", .int)
            .field("box_size", size, .required)
            .field("box_label", .string, .required)
            .field("updated_at", .datetime)
            .create()
    }

    static func drop(on database: any Database) async throws {
        try await database.schema(Self.schema).ignoreExisting().delete()
        try await database.enum("bu_fluent_size").delete()
    }
}
