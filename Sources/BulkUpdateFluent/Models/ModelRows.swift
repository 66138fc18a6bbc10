import BulkUpdate
import FluentKit
import Foundation

/// Fluent models turned into a bulk update: the table, key and set columns from the model's metadata, one row per
/// model, and what to hand back to the models once the rows are written.
struct ModelRows<M: Model> {
    /// `"space"."schema"`, from ``Model/schema`` and ``Model/space``.
    let table: String
    /// The id's column(s): one for `@ID`, several for `@CompositeID`.
    let keyColumns: [String]
    /// The named properties' columns, then those of the `@Timestamp(on: .update)` properties being touched.
    let setColumns: [String]
    /// One row per model, in order; its line is the model's position from 1.
    let rows: [BulkUpdateRow]

    private let models: [M]
    /// Per model, the properties written, in the order of `propertyColumns`: `models.count × propertyColumns.count`.
    private let written: [any AnyDatabaseProperty]
    /// The columns of each written property, in the order its values sit in `setColumns`.
    private let propertyColumns: [[String]]
    /// Per model, the value of every set column as Fluent gave it: `models.count × setColumns.count`.
    private let savedValues: [DatabaseQuery.Value]
    /// Per model, the value of every key column as Fluent gave it: `models.count × keyColumns.count`.
    private let keyValues: [DatabaseQuery.Value]
    private let isComposite: Bool

    /// Reads every model through Fluent's property metadata.
    ///
    /// - Parameters:
    ///   - properties: The named properties of a model, in the order they were named.
    ///   - touchTimestamps: Whether to set `@Timestamp(on: .update)` properties not named in `properties` to `now`
    ///     on models whose named properties have changes pending.
    /// - Throws: ``BulkUpdateError`` with code `.input` or `.configuration`, naming the model and the field.
    init(
        models: [M],
        properties: [(M) -> any AnyDatabaseProperty],
        touchTimestamps: Bool,
        now: Date,
        encoding: FluentValueEncoding
    ) throws(BulkUpdateError) {
        self.table = BulkUpdateTableName(schema: M.space, name: M.schema).quoted
        self.models = models
        guard !properties.isEmpty else {
            throw BulkUpdateError(.configuration, "name at least one field of \(M.self) to update")
        }

        // Columns, from a blank model: the same metadata Fluent's queries use.
        let blank = M()
        let keyColumns = blank._$idKeys.map(\.description)
        self.keyColumns = keyColumns
        var propertyColumns = properties.map { $0(blank).keys.map(\.description) }
        for columns in propertyColumns {
            if let key = columns.first(where: keyColumns.contains) {
                throw BulkUpdateError(
                    .configuration,
                    "\(M.self).\(key) is part of the model's id and cannot be updated",
                    column: key
                )
            }
        }
        let named = Set(propertyColumns.joined())
        var timestampIndices: [Int] = []
        if touchTimestamps {
            for (index, property) in blank.properties.enumerated() {
                guard let timestamp = property as? any TouchableTimestamp, timestamp.trigger == .update else {
                    continue
                }
                let columns = timestamp.keys.map(\.description)
                guard !columns.contains(where: named.contains) else { continue }  // named: the caller's value wins
                timestampIndices.append(index)
                propertyColumns.append(columns)
            }
        }
        self.propertyColumns = propertyColumns
        let setColumns = Array(propertyColumns.joined())
        self.setColumns = setColumns

        let isComposite = M.IDValue.self is any Fields.Type
        self.isComposite = isComposite
        let collector = FieldValueCollector()
        var rows: [BulkUpdateRow] = []
        rows.reserveCapacity(models.count)
        var written: [any AnyDatabaseProperty] = []
        written.reserveCapacity(models.count * propertyColumns.count)
        var savedValues: [DatabaseQuery.Value] = []
        var keyValues: [DatabaseQuery.Value] = []
        keyValues.reserveCapacity(models.count * keyColumns.count)
        savedValues.reserveCapacity(models.count * setColumns.count)
        var values: [BulkUpdateValue] = []

        for (index, model) in models.enumerated() {
            let line = index + 1
            values.removeAll(keepingCapacity: true)

            // The key: the id's column(s).
            guard let id = model.id else {
                throw BulkUpdateError(
                    .input,
                    "model \(line) (\(M.self)) has no id; only models stored in the database can be updated",
                    inputLine: line
                )
            }
            if isComposite, let fields = id as? any Fields {
                collector.reset()
                FetchedInput.input(fields, to: collector)
                for column in keyColumns {
                    let value = collector.value(for: column) ?? .default
                    keyValues.append(value)
                    values.append(try Self.convert(value, encoding, column: column, id: id, line: line))
                }
            } else {
                keyValues.append(.bind(id))
                values.append(try Self.convert(.bind(id), encoding, column: keyColumns[0], id: id, line: line))
            }

            // The properties written: the named ones, then the update timestamps.
            let firstWritten = written.count
            for property in properties { written.append(property(model)) }
            if !timestampIndices.isEmpty {
                let detector = PendingChangeDetector()
                for property in written[firstWritten...] { property.input(to: detector) }
                let all = model.properties
                for position in timestampIndices {
                    let timestamp = all[position] as! any TouchableTimestamp
                    // Like `save`: only a model with changes pending gets a new update time.
                    if detector.hasChanges { timestamp.touch(date: now) }
                    written.append(timestamp)
                }
            }

            // Their values, as Fluent's input gives them.
            for (offset, property) in written[firstWritten...].enumerated() {
                collector.reset()
                FetchedInput.input(property, to: collector)
                for column in propertyColumns[offset] {
                    let value = collector.value(for: column) ?? .default
                    savedValues.append(value)
                    values.append(try Self.convert(value, encoding, column: column, id: id, line: line))
                }
            }
            rows.append(BulkUpdateRow(values, line: line))
        }
        self.rows = rows
        self.written = written
        self.savedValues = savedValues
        self.keyValues = keyValues
    }

    /// Hands the written values back to every model, as `save` does after its UPDATE: the written properties hold
    /// them as stored values, with no change pending. Changes to properties that were not written stay pending.
    ///
    /// - Parameter allRowsFound: Whether every model's row was found. Then every model is known to exist, and its
    ///   id is handed back too (a model built with the id of an existing row becomes one `save` updates).
    func markSaved(allRowsFound: Bool) throws {
        let perModel = self.propertyColumns.count
        let valuesPerModel = self.setColumns.count
        for (index, model) in self.models.enumerated() {
            var position = index * valuesPerModel
            for offset in 0..<perModel {
                let columns = self.propertyColumns[offset]
                var values: [(key: String, value: DatabaseQuery.Value)] = []
                values.reserveCapacity(columns.count)
                for column in columns {
                    values.append((column, self.savedValues[position]))
                    position += 1
                }
                try self.written[index * perModel + offset].output(from: SavedFieldValues(values: values))
            }
            // A fetched model already exists with its id saved; a model built with the id of an existing row
            // (never fetched) becomes one, with its id no longer pending, when every row was found.
            if allRowsFound && !model._$idExists {
                let first = index * self.keyColumns.count
                let id = SavedFieldValues(
                    values: self.keyColumns.indices.map { (self.keyColumns[$0], self.keyValues[first + $0]) }
                )
                if self.isComposite, let fields = model.id as? any Fields {
                    try fields.output(from: id)
                    model._$idExists = true
                } else {
                    try model._$id.output(from: id)  // also marks the model as existing, as `save` does
                }
            }
        }
    }

    private static func convert(
        _ value: DatabaseQuery.Value,
        _ encoding: FluentValueEncoding,
        column: String,
        id: M.IDValue,
        line: Int
    ) throws(BulkUpdateError) -> BulkUpdateValue {
        do {
            return try encoding.value(value)
        } catch {
            throw BulkUpdateError(
                .input,
                "\(M.self) field \"\(column)\" of the model with id \(Self.describe(id)) \(error.reason)",
                inputLine: line,
                column: column,
                key: Self.describe(id)
            )
        }
    }

    /// An id for messages: `42`, `'6f1c…'`, or `(planet_id: 1, tag_id: 2)` for a composite id.
    static func describe(_ id: M.IDValue) -> String {
        guard let fields = id as? any Fields else { return String(describing: id) }
        let collector = FieldValueCollector()
        fields.input(to: collector)
        return "(" + collector.pairs.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
    }
}
