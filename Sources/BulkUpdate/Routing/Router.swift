import AsyncAlgorithms

/// Reads the input once, checks every row, and hands full chunks to the worker that owns each key.
///
/// Each worker has an unbuffered channel, so the router waits while a worker is busy with the chunk before:
/// memory stays at about two chunks per worker however large the input is.
///
/// Rows are checked straight into typed columns. With one worker they go into its chunk; with several, into a
/// small batch whose rows are then moved to their workers' chunks in input order, so every chunk holds the same
/// rows as if each row had been placed on its own.
struct Router {
    let plan: UpdatePlan
    let channels: [AsyncChannel<Chunk>]
    let state: RunState

    /// Rows checked before they are moved to their workers' chunks (several workers only).
    static let batchSize = 1_024

    /// Routes every row, counting the rows read in `position` (also when it throws).
    func route<Rows: AsyncSequence>(_ rows: Rows, count position: inout Int) async throws
    where Rows.Element == BulkUpdateRow {
        let workers = self.channels.count
        let chunkSize = self.plan.options.chunkSize
        var numbers = [Int](repeating: 0, count: workers)
        var builders = (0..<workers).map {
            Chunk(plan: self.plan, worker: $0, number: 0, capacity: chunkSize)
        }
        position = 0
        // Read once: `self.plan` inside the loop was copied (and released) for every row.
        let plan = self.plan
        let expected = plan.options.expectedRows
        var batch = Chunk(plan: plan, worker: 0, number: 0, capacity: workers > 1 ? Self.batchSize : 0)
        /// Checks one row into the chunk of the only worker, or into the batch.
        func add(_ row: BulkUpdateRow) throws {
            if let expected, position == expected {
                throw BulkUpdateError.tooManyRows(expected: expected)
            }
            position += 1
            if workers == 1 {
                try builders[0].append(row, line: row.line ?? position, plan: plan)
            } else {
                try batch.append(row, line: row.line ?? position, plan: plan)
            }
        }
        /// Whether a chunk or the batch is full and ``distribute()`` should run.
        func isFull() -> Bool {
            workers == 1 ? builders[0].count >= chunkSize : batch.count >= Self.batchSize
        }
        /// Sends the full chunks, after moving the batch's rows to their workers' chunks; `false` when the run has
        /// failed and routing should stop.
        func distribute(final: Bool) async throws -> Bool {
            if workers > 1 {
                var rowsOf = [[Int]](repeating: [], count: workers)
                for row in 0..<batch.count { rowsOf[Int(batch.hashes[row] % UInt64(workers))].append(row) }
                for worker in 0..<workers {
                    var rest = rowsOf[worker][...]
                    while !rest.isEmpty {
                        let part = rest.prefix(chunkSize - builders[worker].count)
                        builders[worker].append(from: batch, rows: part)
                        rest = rest.dropFirst(part.count)
                        guard try await sendIfFull(worker) else { return false }
                    }
                }
                batch.removeAll()
            } else {
                guard try await sendIfFull(0) else { return false }
            }
            guard final else { return true }
            for chunk in builders where chunk.count > 0 {
                guard try await self.send(chunk) else { return false }
            }
            return true
        }
        func sendIfFull(_ worker: Int) async throws -> Bool {
            guard builders[worker].count >= chunkSize else { return true }
            numbers[worker] += 1
            let full = builders[worker]
            builders[worker] = Chunk(plan: plan, worker: worker, number: numbers[worker], capacity: chunkSize)
            return try await self.send(full)
        }
        var iterator = rows.makeAsyncIterator()
        do {
            if var synchronous = iterator as? any SynchronousRows {
                while let row = try synchronous.nextRow() {
                    try add(row)
                    if isFull() { guard try await distribute(final: false) else { return } }
                }
            } else {
                while let row = try await iterator.next() {
                    try add(row)
                    if isFull() { guard try await distribute(final: false) else { return } }
                }
            }
        } catch {
            // The chunks the rows before this one filled are sent, as if each row had been placed on its own.
            _ = try await distribute(final: false)
            throw error
        }
        _ = try await distribute(final: true)
    }

    /// Sends a chunk; `false` when the run has failed and routing should stop.
    private func send(_ chunk: Chunk) async throws -> Bool {
        self.state.read(chunk.count)
        await self.channels[chunk.worker].send(chunk)
        try Task.checkCancellation()
        return !self.state.hasFailed
    }
}
