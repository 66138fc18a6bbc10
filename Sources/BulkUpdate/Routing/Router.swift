import AsyncAlgorithms

/// Reads the input once, checks every row, and hands full chunks to the worker that owns each key.
///
/// Each worker has an unbuffered channel, so the router waits while a worker is busy with the chunk before:
/// memory stays at about two chunks per worker however large the input is.
///
/// Rows are checked straight into typed columns. With one worker they go into its chunk; with several, into a
/// small batch whose rows are then moved to their workers' chunks in input order, so every chunk holds the same
/// rows as if each row had been placed on its own. Rows a validation pass checked and kept arrive as such batches.
struct Router {
    let plan: UpdatePlan
    let channels: [AsyncChannel<Chunk>]
    let state: RunState
    let sizer: ChunkSizer

    /// Rows checked before they are moved to their workers' chunks (several workers only).
    static let batchSize = 1_024

    /// Routes every row of `input`, counting the rows read in `position` (also when it throws).
    func route<Rows: AsyncSequence>(_ input: RowInput<Rows>, count position: inout Int) async throws
    where Rows.Element == BulkUpdateRow {
        var builders = Builders(plan: self.plan, workers: self.channels.count)
        position = 0
        switch input {
        case .checked(let batches):
            for batch in batches {
                position += batch.count
                guard try await self.distribute(batch, to: &builders) else { return }
            }
        case .rows(let rows):
            guard try await self.route(rows, to: &builders, count: &position) else { return }
        }
        for chunk in builders.chunks where chunk.count > 0 {
            guard try await self.send(chunk) else { return }
        }
    }

    /// Checks and routes every row; `false` when the run has failed and routing should stop.
    private func route<Rows: AsyncSequence>(_ rows: Rows, to builders: inout Builders, count position: inout Int)
        async throws -> Bool
    where Rows.Element == BulkUpdateRow {
        let workers = self.channels.count
        // Read once: `self.plan` inside the loop was copied (and released) for every row.
        let plan = self.plan
        let expected = plan.options.expectedRows
        let sizer = self.sizer
        // The single worker's limit, read again every 256 rows and when reached (an adaptive size changes while the
        // chunk fills): not a lock per row.
        var limit = sizer.limit(worker: 0, chunk: 0)
        var batch = Chunk(plan: plan, worker: 0, number: 0, capacity: workers > 1 ? Self.batchSize : 0)
        /// Checks one row into the chunk of the only worker, or into the batch; whether that is now full.
        func add(_ row: BulkUpdateRow) throws -> Bool {
            if let expected, position == expected {
                throw BulkUpdateError.tooManyRows(expected: expected)
            }
            position += 1
            if workers == 1 {
                try builders.chunks[0].append(row, line: row.line ?? position, plan: plan)
                let count = builders.chunks[0].count
                if count & 255 == 0 || count >= limit { limit = sizer.limit(worker: 0, chunk: builders.numbers[0]) }
                return count >= limit
            }
            try batch.append(row, line: row.line ?? position, plan: plan)
            return batch.count >= Self.batchSize
        }
        /// Sends the full chunks, after moving the batch's rows to their workers' chunks.
        func flush() async throws -> Bool {
            guard workers > 1 else { return try await self.sendIfFull(0, of: &builders) }
            defer { batch.removeAll() }
            return try await self.distribute(batch, to: &builders)
        }
        var iterator = rows.makeAsyncIterator()
        do {
            if var synchronous = iterator as? any SynchronousRows {
                while let row = try synchronous.nextRow() {
                    if try add(row) { guard try await flush() else { return false } }
                }
            } else {
                while let row = try await iterator.next() {
                    if try add(row) { guard try await flush() else { return false } }
                }
            }
        } catch {
            // The chunks the rows before this one filled are sent, as if each row had been placed on its own; the
            // row's error is the one reported, even if sending them fails or is cancelled.
            _ = try? await flush()
            throw error
        }
        return try await flush()
    }

    /// The workers' chunks being filled, and how many each worker has sent.
    private struct Builders {
        let plan: UpdatePlan
        var chunks: [Chunk]
        var numbers: [Int]

        init(plan: UpdatePlan, workers: Int) {
            self.plan = plan
            self.chunks = (0..<workers).map {
                Chunk(plan: plan, worker: $0, number: 0, capacity: plan.options.chunkSize)
            }
            self.numbers = [Int](repeating: 0, count: workers)
        }

        /// Takes worker `worker`'s chunk and starts its next one.
        mutating func take(_ worker: Int) -> Chunk {
            self.numbers[worker] += 1
            let full = self.chunks[worker]
            self.chunks[worker] = Chunk(
                plan: self.plan,
                worker: worker,
                number: self.numbers[worker],
                capacity: self.plan.options.chunkSize
            )
            return full
        }
    }

    /// Moves `batch`'s rows to their workers' chunks in input order, sending each chunk that fills; `false` when the
    /// run has failed and routing should stop.
    private func distribute(_ batch: Chunk, to builders: inout Builders) async throws -> Bool {
        let workers = self.channels.count
        var rowsOf = [[Int]](repeating: [], count: workers)
        for row in 0..<batch.count { rowsOf[Int(batch.hashes[row] % UInt64(workers))].append(row) }
        for worker in 0..<workers {
            var rest = rowsOf[worker][...]
            while !rest.isEmpty {
                let limit = self.sizer.limit(worker: worker, chunk: builders.numbers[worker])
                let part = rest.prefix(max(1, limit - builders.chunks[worker].count))
                builders.chunks[worker].append(from: batch, rows: part)
                rest = rest.dropFirst(part.count)
                guard try await self.sendIfFull(worker, of: &builders) else { return false }
            }
        }
        return true
    }

    private func sendIfFull(_ worker: Int, of builders: inout Builders) async throws -> Bool {
        let limit = self.sizer.limit(worker: worker, chunk: builders.numbers[worker])
        guard builders.chunks[worker].count >= limit else { return true }
        return try await self.send(builders.take(worker))
    }

    /// Sends a chunk; `false` when the run has failed and routing should stop.
    private func send(_ chunk: Chunk) async throws -> Bool {
        self.state.read(chunk.count)
        await self.channels[chunk.worker].send(chunk)
        try Task.checkCancellation()
        guard !self.state.isEnding else {
            self.state.leaveRowsUnwritten()
            return false
        }
        return true
    }
}
