import AsyncAlgorithms

/// Reads the input once, checks every row, and hands full chunks to the worker that owns each key.
///
/// Each worker has an unbuffered channel, so the router waits while a worker is busy with the chunk before:
/// memory stays at about two chunks per worker however large the input is.
struct Router {
    let plan: UpdatePlan
    let channels: [AsyncChannel<Chunk>]
    let state: RunState

    /// Routes every row, counting the rows read in `position` (also when it throws).
    func route<Rows: AsyncSequence>(_ rows: Rows, count position: inout Int) async throws
    where Rows.Element == BulkUpdateRow {
        let workers = self.channels.count
        let chunkSize = self.plan.options.chunkSize
        let keyCount = self.plan.keyColumns.count
        var numbers = [Int](repeating: 0, count: workers)
        var builders = (0..<workers).map {
            Chunk(plan: self.plan, worker: $0, number: 0, capacity: chunkSize)
        }
        var cells: [Cell] = []
        cells.reserveCapacity(self.plan.columns.count)
        position = 0
        // Read once: `self.plan` inside the loop was copied (and released) for every row.
        let plan = self.plan
        let expected = plan.options.expectedRows
        /// Puts one row in its worker's chunk; the full chunk, if this row filled one.
        func add(_ row: BulkUpdateRow) throws -> Chunk? {
            if let expected, position == expected {
                throw BulkUpdateError.tooManyRows(expected: expected)
            }
            position += 1
            try RowChecker.check(row, line: row.line ?? position, plan: plan, into: &cells)
            let hash = KeyHash.hash(cells[0..<keyCount])
            let worker = Int(hash % UInt64(workers))
            builders[worker].append(cells, line: row.line ?? position, hash: hash)
            guard builders[worker].count >= chunkSize else { return nil }
            numbers[worker] += 1
            let full = builders[worker]
            builders[worker] = Chunk(plan: plan, worker: worker, number: numbers[worker], capacity: chunkSize)
            return full
        }
        var iterator = rows.makeAsyncIterator()
        if var synchronous = iterator as? any SynchronousRows {
            while let row = try synchronous.nextRow() {
                if let full = try add(row) { guard try await self.send(full) else { return } }
            }
        } else {
            while let row = try await iterator.next() {
                if let full = try add(row) { guard try await self.send(full) else { return } }
            }
        }
        for chunk in builders where chunk.count > 0 {
            guard try await self.send(chunk) else { return }
        }
    }

    /// Sends a chunk; `false` when the run has failed and routing should stop.
    private func send(_ chunk: Chunk) async throws -> Bool {
        self.state.read(chunk.count)
        await self.channels[chunk.worker].send(chunk)
        try Task.checkCancellation()
        return !self.state.hasFailed
    }
}
