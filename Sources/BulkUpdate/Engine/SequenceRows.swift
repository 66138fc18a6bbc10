/// Presents a synchronous sequence of rows as an `AsyncSequence`, so the engine has one input path.
package struct SequenceRows<Base: Sequence>: AsyncSequence where Base.Element == BulkUpdateRow {
    package typealias Element = BulkUpdateRow
    package typealias Failure = Never

    let base: Base

    package init(_ base: Base) { self.base = base }

    package struct AsyncIterator: AsyncIteratorProtocol, SynchronousRows {
        var base: Base.Iterator

        package mutating func nextRow() -> BulkUpdateRow? { self.base.next() }

        package mutating func next() async -> BulkUpdateRow? { self.base.next() }

        package mutating func next(isolation actor: isolated (any Actor)?) async -> BulkUpdateRow? {
            self.base.next()
        }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: self.base.makeIterator()) }
}

/// An iterator of rows that never waits: the router reads it in a plain loop instead of one asynchronous call per
/// row (whose frame and executor check cost as much as checking the row). Files and collections are read so.
package protocol SynchronousRows {
    mutating func nextRow() throws -> BulkUpdateRow?
}
