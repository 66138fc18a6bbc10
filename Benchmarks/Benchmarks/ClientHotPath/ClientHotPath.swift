// The client-side hot path of a bulk update, without a database, on 1,000,000 rows shaped like the users scenario
// (`id,username` → `USER_<id>`) per iteration: reading them from CSV; checking every row against the plan; then
// routing the checked rows to workers by key hash, gathering them into columnar chunks and sorting each chunk, as the
// engine's Router and Worker do before a chunk is handed to the database.
//
// The code measured is the library's own (`DelimitedReader`, `Chunk` and its typed columns, `KeyHash`),
// compiled from this repository's sources; only the loop of the last benchmark is repeated here, because `Router`
// and `Worker` also own channels and database calls. Not measured: the database driver's encoding of a chunk
// (PostgresNIO binds, COPY text), the channels between router and workers, and the round trips.
import Benchmark
import BulkUpdate
import Foundation

let rowCount = 1_000_000
let chunkSize = 10_000
let workerCount = 2

/// The users scenario's change file, written once to a temporary directory (the page cache keeps it in memory).
let csvPath: String = {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("bulk-update-benchmark-users-\(rowCount).csv").path
    if !FileManager.default.fileExists(atPath: path) {
        var text = "id,username\n"
        text.reserveCapacity(rowCount * 20)
        for id in 1...rowCount { text += "\(id),USER_\(id)\n" }
        try! Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
    return path
}()

/// Rows as a library user builds them: an integer key and a string.
let typedRows: [BulkUpdateRow] = (1...rowCount).map { BulkUpdateRow([.int($0), .string("USER_\($0)")]) }

/// Rows as the CSV reader produces them: every value text, parsed against the column type when checked.
let textRows: [BulkUpdateRow] = (1...rowCount).map {
    BulkUpdateRow([.string(String($0)), .string("USER_\($0)")], line: $0 + 1)
}

/// The plan the engine would make for `UPDATE users SET username … WHERE id …` on PostgreSQL's `auth_user`.
let plan: UpdatePlan = {
    let table = TableSchema(
        name: BulkUpdateTableName(name: "users"),
        columns: [
            ColumnSchema(name: "id", type: ColumnType(kind: .int32, sqlName: "integer"), isNullable: false),
            ColumnSchema(
                name: "username",
                type: ColumnType(
                    kind: .text,
                    sqlName: "character varying",
                    displayName: "character varying(150)",
                    maximumLength: 150
                ),
                isNullable: false
            ),
        ],
        primaryKey: ["id"],
        uniqueKeys: [["id"], ["username"]]
    )
    return try! UpdatePlan(
        table: table,
        keyColumns: nil,
        setColumns: ["username"],
        options: BulkUpdateOptions(workers: workerCount, chunkSize: chunkSize)
    )
}()

/// The engine's per-row check, exactly as the validation pass and the Router run it: `Chunk.append` checks the
/// number of values, every value's type and length against its column and NULLs, and puts each value straight into
/// its typed column; the batch is emptied every 10,000 rows, as the validation pass empties its batch. Returns the
/// rows checked.
func check(_ rows: [BulkUpdateRow]) throws -> Int {
    var batch = Chunk(plan: plan, worker: 0, number: 0, capacity: 10_000)
    for (position, row) in rows.enumerated() {
        try batch.append(row, line: row.line ?? position + 1, plan: plan)
        if batch.count == 10_000 { batch.removeAll() }
    }
    return rows.count
}

/// The typed rows checked once into batches of 1,024 rows (as the Router checks them with several workers), for
/// `chunk(_:)`.
let checkedBatches: [Chunk] = {
    var batches: [Chunk] = []
    var batch = Chunk(plan: plan, worker: 0, number: 0, capacity: 1_024)
    for (position, row) in typedRows.enumerated() {
        try! batch.append(row, line: position + 1, plan: plan)
        if batch.count == 1_024 {
            batches.append(batch)
            batch = Chunk(plan: plan, worker: 0, number: 0, capacity: 1_024)
        }
    }
    if batch.count > 0 { batches.append(batch) }
    return batches
}()

/// What the Router and the Workers do with checked rows before the database sees them: move each batch's rows to
/// their workers' columnar chunks by key hash, in input order; per full chunk, sort by key and de-duplicate, and
/// remember every key's fingerprint (so keys repeated across chunks are counted). Returns the rows kept.
func chunk(_ batches: [Chunk]) -> Int {
    var builders = (0..<workerCount).map { Chunk(plan: plan, worker: $0, number: 0, capacity: chunkSize) }
    var numbers = [Int](repeating: 0, count: workerCount)
    var seen = (0..<workerCount).map { _ in Set<UInt64>() }
    var kept = 0
    func finish(_ chunk: inout Chunk) {
        blackHole(chunk.sortAndDeduplicate())
        for row in 0..<chunk.count { seen[chunk.worker].insert(chunk.hashes[row]) }
        kept += chunk.count
    }
    for batch in batches {
        var rowsOf = [[Int]](repeating: [], count: workerCount)
        for row in 0..<batch.count { rowsOf[Int(batch.hashes[row] % UInt64(workerCount))].append(row) }
        for worker in 0..<workerCount {
            var rest = rowsOf[worker][...]
            while !rest.isEmpty {
                let part = rest.prefix(chunkSize - builders[worker].count)
                builders[worker].append(from: batch, rows: part)
                rest = rest.dropFirst(part.count)
                if builders[worker].count >= chunkSize {
                    numbers[worker] += 1
                    var full = builders[worker]
                    builders[worker] = Chunk(plan: plan, worker: worker, number: numbers[worker], capacity: chunkSize)
                    finish(&full)
                }
            }
        }
    }
    for index in builders.indices where builders[index].count > 0 { finish(&builders[index]) }
    return kept
}

let benchmarks: @Sendable () -> Void = {
    var metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident]
    // Hardware instruction counts need perf events (`perf stat -e instructions true` must work); many virtual
    // machines and containers do not have them, so they are asked for explicitly.
    if ProcessInfo.processInfo.environment["BULK_UPDATE_BENCHMARK_INSTRUCTIONS"] != nil {
        metrics.append(.instructions)
    }
    Benchmark.defaultConfiguration = .init(
        metrics: metrics,
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(10),
        maxIterations: 10
    )

    Benchmark(
        "CSV: read 1,000,000 rows (id,username) into BulkUpdateRows",
        closure: { benchmark in
            var reader = try DelimitedReader(source: ByteSource(path: csvPath), delimiter: DelimitedReader.comma)
            var count = 0
            while let record = try reader.next() {
                blackHole(BulkUpdateRow(record.fields, line: record.line))
                count += 1
            }
            precondition(count == rowCount)
        },
        setup: { _ = csvPath }
    )

    Benchmark(
        "Check: 1,000,000 typed rows (int, string) against the plan",
        closure: { benchmark in
            let checked = try check(typedRows)
            precondition(checked == rowCount)
        },
        setup: { _ = typedRows.count + plan.columns.count }
    )

    Benchmark(
        "Check: 1,000,000 text rows (as read from CSV) against the plan",
        closure: { benchmark in
            let checked = try check(textRows)
            precondition(checked == rowCount)
        },
        setup: { _ = textRows.count + plan.columns.count }
    )

    Benchmark(
        "Chunk: move 1,000,000 checked rows to 2 workers' chunks of 10,000 and sort each",
        closure: { benchmark in precondition(chunk(checkedBatches) == rowCount) },
        setup: { _ = checkedBatches.count }
    )
}
