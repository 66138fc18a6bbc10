import BulkUpdate
import FluentKit
import Foundation

/// How a Fluent driver stores Swift values, so that model values become the ``BulkUpdateValue``s Fluent's own
/// `save` would have written.
enum FluentValueEncoding: Sendable {
    /// fluent-postgres-driver: native types (boolean, uuid, timestamptz, bytea).
    case postgres
    /// fluent-sqlite-driver: booleans as 0 and 1, UUIDs as their `Codable` text (upper case), dates as Unix seconds
    /// (REAL), whatever the column's declared type.
    case sqlite

    /// The value Fluent's input gives for one field.
    func value(_ input: DatabaseQuery.Value) throws(FluentValueError) -> BulkUpdateValue {
        switch input {
        case .null: return .null
        case .enumCase(let name): return .string(name)
        case .bind(let bound): return try self.value(of: bound)
        case .default: throw FluentValueError("has no value: it was neither set nor fetched")
        case .dictionary: throw FluentValueError("is a nested structure, which BulkUpdate cannot write")
        case .array: throw FluentValueError("is an array, which BulkUpdate cannot write")
        case .custom: throw FluentValueError("is a custom SQL expression, which BulkUpdate cannot write")
        }
    }

    /// A bound Swift value: optionals unwrapped, enums by their raw value.
    func value(of bound: Any) throws(FluentValueError) -> BulkUpdateValue {
        if let optional = bound as? any AnyOptionalType {
            guard let wrapped = optional.wrappedValue else { return .null }
            return try self.value(of: wrapped)
        }
        switch bound {
        case let value as String: return .string(value)
        case let value as Bool: return self == .sqlite ? .int(value ? 1 : 0) : .bool(value)
        case let value as Int: return .int(value)
        case let value as Int64: return .int(value)
        case let value as Int32: return .int(value)
        case let value as Int16: return .int(value)
        case let value as Int8: return .int(value)
        case let value as UInt8: return .int(value)
        case let value as UInt16: return .int(value)
        case let value as UInt32: return .int(value)
        case let value as UInt: return try Self.exact(value)
        case let value as UInt64: return try Self.exact(value)
        case let value as Double: return .double(value)
        case let value as Float: return .double(Double(value))
        case let value as UUID: return self == .sqlite ? .string(value.uuidString) : .uuid(value)
        case let value as Date: return self == .sqlite ? .double(value.timeIntervalSince1970) : .date(value)
        case let value as Data: return .bytes([UInt8](value))
        case let value as [UInt8]: return .bytes(value)
        case let value as Decimal: return .string(value.description)
        case let value as any RawRepresentable: return try self.value(of: value.rawValue)
        default:
            throw FluentValueError(
                "has a value of type \(type(of: bound)), which BulkUpdate cannot write (supported: strings, integers,"
                    + " floating-point numbers, Bool, UUID, Date, Data, Decimal, optionals and enums with a String"
                    + " or integer raw value)"
            )
        }
    }

    private static func exact(_ value: some BinaryInteger) throws(FluentValueError) -> BulkUpdateValue {
        guard let exact = Int64(exactly: value) else {
            throw FluentValueError("is \(value), which does not fit a 64-bit signed integer")
        }
        return .int(exact)
    }
}

/// Why one field's value cannot be written: the end of a sentence that starts with the field's name.
struct FluentValueError: Error {
    var reason: String

    init(_ reason: String) { self.reason = reason }
}
