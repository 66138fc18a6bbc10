import Synchronization

/// How many rows each worker's next chunk holds: ``BulkUpdateOptions/chunkSize`` always, or, in an adaptive run
/// (``BulkUpdateOptions/targetChunkDuration``), a size each worker scales after every chunk towards the target
/// time. The router cuts chunks by it; the worker reports how long each chunk took.
///
/// A resumed adaptive run cuts every chunk its journal holds at the journaled size, so the chunks are the same as
/// before and are recognised and skipped; each worker then adapts from the size of its last journaled chunk.
final class ChunkSizer: Sendable {
    private let fixed: Int?
    private let target: Double
    private let control: BulkUpdateControl
    private let journaled: @Sendable (RunJournal.Entry) -> Int?
    private let sizes: Mutex<[Double]>

    init(
        options: BulkUpdateOptions,
        control: BulkUpdateControl,
        journaled: @escaping @Sendable (RunJournal.Entry) -> Int?
    ) {
        let bounds = BulkUpdateOptions.adaptiveChunkSizes
        self.fixed = options.targetChunkDuration == nil ? options.chunkSize : nil
        self.target = options.targetChunkDuration.map(BulkUpdateEngine.seconds) ?? 1
        self.control = control
        self.journaled = journaled
        let start = Double(min(max(options.chunkSize, bounds.lowerBound), bounds.upperBound))
        self.sizes = Mutex([Double](repeating: start, count: options.workers))
    }

    /// The size at which chunk `number` of `worker` is cut.
    func limit(worker: Int, chunk number: Int) -> Int {
        if let fixed { return fixed }
        if let journaled = self.journaled(RunJournal.Entry(worker: worker, chunk: number)) {
            // Adapt from here once the journaled chunks are behind.
            self.sizes.withLock { $0[worker] = Double(journaled) }
            return journaled
        }
        return Int(self.sizes.withLock { $0[worker] }.rounded())
    }

    /// Scales `worker`'s size by how long a chunk of `rows` rows took against the target: proportionally, at most
    /// ×1.5 up and ÷4 down, unchanged within 10 % of the target; halved after a retry.
    func written(worker: Int, rows: Int, seconds: Double, retried: Bool) {
        guard self.fixed == nil, rows > 0 else { return }
        let target = self.control.changedTargetChunkSeconds ?? self.target
        let bounds = BulkUpdateOptions.adaptiveChunkSizes
        self.sizes.withLock { sizes in
            var size = Double(rows)
            if retried {
                size /= 2
            } else {
                let ratio = target / max(seconds, 0.000_1)
                if ratio < 0.9 || ratio > 1.1 { size *= min(max(ratio, 0.25), 1.5) }
            }
            sizes[worker] = min(max(size, Double(bounds.lowerBound)), Double(bounds.upperBound))
        }
    }
}
