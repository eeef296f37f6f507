import HeapModule

/// Due times in a min-heap (swift-collections' `Heap`), ordered by time then
/// by id, so timers fire in time order and ties in id order (creation order
/// for journey instances). Entries are not removed when their owner moves
/// on; the owner checks each popped entry (lazy deletion).
struct TimerQueue<ID: Comparable> {
    /// One due time and whose it is.
    struct Entry: Comparable {
        var at: Int64
        var id: ID
        static func < (a: Entry, b: Entry) -> Bool { a.at != b.at ? a.at < b.at : a.id < b.id }
    }

    private var heap = Heap<Entry>()

    var count: Int { heap.count }
    var first: Entry? { heap.min }

    mutating func reserve(_ n: Int) { heap.reserveCapacity(n) }

    mutating func insert(at: Int64, id: ID) { heap.insert(Entry(at: at, id: id)) }

    mutating func popFirst() -> Entry? { heap.popMin() }
}
