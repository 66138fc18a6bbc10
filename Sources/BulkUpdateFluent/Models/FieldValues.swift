import FluentKit
import Foundation

/// Collects what properties hand Fluent's input: every key with its value, unmodified values included (the same
/// values `save` would send for a new row).
final class FieldValueCollector: DatabaseInput {
    private(set) var pairs: [(key: String, value: DatabaseQuery.Value)] = []

    // See `DatabaseInput.wantsUnmodifiedKeys`.
    var wantsUnmodifiedKeys: Bool { true }

    // See `DatabaseInput.set(_:at:)`.
    func set(_ value: DatabaseQuery.Value, at key: FieldKey) {
        self.pairs.append((key.description, value))
    }

    /// Forgets what was collected, keeping the storage.
    func reset() {
        self.pairs.removeAll(keepingCapacity: true)
    }

    /// The value collected for the column `key`.
    func value(for key: String) -> DatabaseQuery.Value? {
        self.pairs.last { $0.key == key }?.value
    }
}

/// Tells whether properties have changes pending: Fluent's input asks only for changed values by default.
final class PendingChangeDetector: DatabaseInput {
    private(set) var hasChanges = false

    // See `DatabaseInput.set(_:at:)`.
    func set(_ value: DatabaseQuery.Value, at key: FieldKey) {
        self.hasChanges = true
    }
}

/// The values just written for one property, handed back to it as if read from the database: the same step
/// Fluent's `save` takes after its UPDATE (its internal `SavedInput`), which makes the property's value its
/// stored value and clears its pending change.
struct SavedFieldValues: DatabaseOutput {
    let values: [(key: String, value: DatabaseQuery.Value)]

    // See `DatabaseOutput.schema(_:)`.
    func schema(_ schema: String) -> any DatabaseOutput { self }

    // See `DatabaseOutput.contains(_:)`.
    func contains(_ key: FieldKey) -> Bool {
        self.find(key) != nil
    }

    // See `DatabaseOutput.decodeNil(_:)`.
    func decodeNil(_ key: FieldKey) throws -> Bool {
        switch try self.require(key) {
        case .null: return true
        case .bind(let bound): return (bound as? any AnyOptionalType).map { $0.wrappedValue == nil } ?? false
        default: return false
        }
    }

    // See `DatabaseOutput.decode(_:as:)`.
    func decode<T: Decodable>(_ key: FieldKey, as type: T.Type) throws -> T {
        let value = try self.require(key)
        switch value {
        case .bind(let bound):
            if let typed = bound as? T { return typed }
        case .enumCase(let name):
            if let typed = name as? T { return typed }
        case .null:
            if let optional = T.self as? any AnyOptionalType.Type, let none = optional.nil as? T { return none }
        default:
            break
        }
        throw FluentError.invalidField(
            name: key.description,
            valueType: T.self,
            error: DecodingError.typeMismatch(
                T.self,
                .init(codingPath: [], debugDescription: "the written value \(value) is not a \(T.self)")
            )
        )
    }

    var description: String {
        "values written by bulkUpdate for " + self.values.map(\.key).joined(separator: ", ")
    }

    private func find(_ key: FieldKey) -> DatabaseQuery.Value? {
        let name = key.description
        return self.values.first { $0.key == name }?.value
    }

    private func require(_ key: FieldKey) throws -> DatabaseQuery.Value {
        guard let value = self.find(key) else { throw FluentError.missingField(name: key.description) }
        return value
    }
}

/// `@Timestamp` properties, whatever their format, seen through what bulk updates need.
protocol TouchableTimestamp: AnyDatabaseProperty {
    var trigger: TimestampTrigger { get }
    func touch(date: Date?)
}

extension TimestampProperty: TouchableTimestamp {}

/// Hands a property's value to `input` as `save` would for a new row, fetched values included.
///
/// Fluent's `EnumProperty` and `OptionalEnumProperty` (fluent-kit 1.57.0) ignore a fetched value when the input
/// asks for unmodified keys: they read only the pending `field.inputValue` and send `.default` without one. Their
/// underlying `field`, a `FieldProperty`, does send its fetched value. So enums answer through their field, and a
/// `@Group` walks its own fields the same way (it holds enums of its own); every other property answers itself.
enum FetchedInput {
    static func input(_ property: any AnyProperty, to input: any DatabaseInput) {
        switch property {
        case let carrier as any FetchedValueInput: carrier.inputIncludingFetched(to: input)
        case let property as any AnyDatabaseProperty: property.input(to: input)
        default: break
        }
    }

    /// Every property of `fields` (a composite id, a group's value).
    static func input(_ fields: any Fields, to input: any DatabaseInput) {
        for property in fields.properties { Self.input(property, to: input) }
    }
}

/// A property whose own `input(to:)` drops fetched values (see ``FetchedInput``).
protocol FetchedValueInput {
    func inputIncludingFetched(to input: any DatabaseInput)
}

extension EnumProperty: FetchedValueInput {
    func inputIncludingFetched(to input: any DatabaseInput) {
        self.field.input(to: input)
    }
}

extension OptionalEnumProperty: FetchedValueInput {
    func inputIncludingFetched(to input: any DatabaseInput) {
        self.field.input(to: input)
    }
}

extension GroupProperty: FetchedValueInput {
    func inputIncludingFetched(to input: any DatabaseInput) {
        // The prefix GroupProperty gives its fields' keys: `box` + `_` + `size`.
        guard let value = self.value else { return }
        FetchedInput.input(value, to: input.prefixed(by: .prefix(self.key, .string("_"))))
    }
}
