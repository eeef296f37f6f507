/// Due times in a binary min-heap, ordered by time then by id, so timers
/// fire in time order and ties in id order (creation order for journey
/// instances). Entries are not removed when their owner moves on; the owner
/// checks each popped entry (lazy deletion).
struct TimerQueue<ID: Comparable> {
    struct Entry: Comparable {
        var at: Int64
        var id: ID
        static func < (a: Entry, b: Entry) -> Bool { a.at != b.at ? a.at < b.at : a.id < b.id }
    }

    private var heap: [Entry] = []

    var count: Int { heap.count }
    var first: Entry? { heap.first }

    mutating func reserve(_ n: Int) { heap.reserveCapacity(n) }

    mutating func insert(at: Int64, id: ID) {
        heap.append(Entry(at: at, id: id))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child] < heap[parent] else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popFirst() -> Entry? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count && heap[left] < heap[smallest] { smallest = left }
                if right < heap.count && heap[right] < heap[smallest] { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
