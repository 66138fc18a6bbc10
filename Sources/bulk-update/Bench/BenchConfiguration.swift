import BulkUpdate

/// One thing `bench` times: a floor done inside the database, or a BulkUpdate run with one strategy, worker count
/// and chunk size.
enum BenchConfiguration: Hashable, Sendable {
    /// `UPDATE … SET username = upper(username)` as one statement: the database's own cost of the change.
    case floor
    /// The floor split into this many concurrent statements on disjoint key ranges.
    case parallelFloor(workers: Int)
    /// The update through BulkUpdate's public API.
    case bulkUpdate(strategy: BulkUpdateOptions.Strategy, workers: Int, chunkSize: Int, atomic: Bool = false)

    /// The configurations of one bench run, in the order they are run (and reported) in every round:
    ///
    /// 1. the floor, and the parallel floor at every worker count above one where writers run concurrently;
    /// 2. `caseWhen` with `caseWhenChunkSize` and 1 worker (what Django's `bulk_update(batch_size=1000)` sends),
    ///    then at every worker count above one (what a process pool of Django workers sends);
    /// 3. every other strategy at every worker count, with `chunkSize`.
    static func plan(
        strategies: [BulkUpdateOptions.Strategy],
        workerCounts: [Int],
        chunkSize: Int,
        caseWhenChunkSize: Int,
        concurrentWriters: Bool,
        atomic: [BulkUpdateOptions.Strategy] = []
    ) -> [BenchConfiguration] {
        var list: [BenchConfiguration] = [.floor]
        if concurrentWriters {
            for workers in workerCounts where workers > 1 { list.append(.parallelFloor(workers: workers)) }
        }
        if strategies.contains(.caseWhen) {
            list.append(.bulkUpdate(strategy: .caseWhen, workers: 1, chunkSize: caseWhenChunkSize))
            for workers in workerCounts where workers > 1 {
                list.append(.bulkUpdate(strategy: .caseWhen, workers: workers, chunkSize: caseWhenChunkSize))
            }
        }
        for strategy in strategies where strategy != .caseWhen {
            for workers in workerCounts {
                list.append(.bulkUpdate(strategy: strategy, workers: workers, chunkSize: chunkSize))
            }
        }
        for strategy in atomic {
            for workers in workerCounts {
                list.append(.bulkUpdate(strategy: strategy, workers: workers, chunkSize: chunkSize, atomic: true))
            }
        }
        var seen = Set<BenchConfiguration>()
        return list.filter { seen.insert($0).inserted }
    }

    /// A stable identifier for JSON: `floor`, `parallelFloor-w2`, `unnest-c10000-w2`.
    var id: String {
        switch self {
        case .floor: "floor"
        case .parallelFloor(let workers): "parallelFloor-w\(workers)"
        case .bulkUpdate(let strategy, let workers, let chunkSize, let atomic):
            "\(strategy)\(atomic ? "-atomic" : "")-c\(chunkSize)-w\(workers)"
        }
    }

    var kind: String {
        switch self {
        case .floor: "floor"
        case .parallelFloor: "parallelFloor"
        case .bulkUpdate: "bulkUpdate"
        }
    }

    var isFloor: Bool {
        if case .bulkUpdate = self { return false }
        return true
    }

    var strategy: BulkUpdateOptions.Strategy? {
        if case .bulkUpdate(let strategy, _, _, _) = self { return strategy }
        return nil
    }

    var workers: Int {
        switch self {
        case .floor: 1
        case .parallelFloor(let workers): workers
        case .bulkUpdate(_, let workers, _, _): workers
        }
    }

    var chunkSize: Int? {
        if case .bulkUpdate(_, _, let chunkSize, _) = self { return chunkSize }
        return nil
    }

    /// What was run: `unnest, chunk 10000, 2 workers`.
    var title: String {
        switch self {
        case .floor: "floor, 1 statement"
        case .parallelFloor(let workers): "parallel floor, \(workers) statements"
        case .bulkUpdate(let strategy, let workers, let chunkSize, let atomic):
            "\(strategy)\(atomic ? " atomic" : ""), chunk \(chunkSize), \(workers) worker\(workers == 1 ? "" : "s")"
        }
    }

    /// What it stands for: the floor's statement, `Django bulk_update(batch_size=1000)`, `SQLite: 1 writer`; `nil`
    /// for plain BulkUpdate runs.
    func note(concurrentWriters: Bool, caseWhenChunkSize: Int) -> String? {
        var notes: [String] = []
        switch self {
        case .floor: notes.append("UPDATE … SET username = upper(username)")
        case .parallelFloor: notes.append("the same on disjoint key ranges, concurrently")
        case .bulkUpdate: break
        }
        if case .bulkUpdate(let strategy, let workers, let chunkSize, _) = self {
            if strategy == .caseWhen, chunkSize == caseWhenChunkSize {
                notes.append(
                    workers == 1 ? "Django bulk_update(batch_size=\(chunkSize))" : "the process-pool approach"
                )
            }
            if workers > 1, !concurrentWriters { notes.append("SQLite: 1 writer") }
        }
        return notes.isEmpty ? nil : notes.joined(separator: "; ")
    }

    /// The title with its note in parentheses, as the Markdown table shows it.
    func label(concurrentWriters: Bool, caseWhenChunkSize: Int) -> String {
        guard let note = self.note(concurrentWriters: concurrentWriters, caseWhenChunkSize: caseWhenChunkSize) else {
            return self.title
        }
        return "\(self.title) (\(note))"
    }
}
