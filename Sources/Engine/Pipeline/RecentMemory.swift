/// A map that keeps what was used recently, in bounded memory: entries live
/// in two generations; when the current one holds `generationSize` entries,
/// the previous one is dropped (handed to `onDrop`) and the current one
/// takes its place. A key read from the previous generation moves back to
/// the current one, so anything touched within the last `generationSize`
/// new keys stays.
///
/// The shared state keeps message ids, counter hits and identities in these:
/// what was dropped is in the store (it was written at least a generation
/// of keys ago, long committed), so a miss after the first drop
/// (``hasDropped``) reads the store instead of meaning "unknown".
struct RecentMap<Key: Hashable, Value> {
    private var current: [Key: Value] = [:]
    private var previous: [Key: Value] = [:]
    /// Keys per generation: at most twice as many are held.
    let generationSize: Int
    /// True once a generation was dropped: a miss may then be a forgotten key.
    private(set) var hasDropped = false

    init(generationSize: Int) {
        precondition(generationSize > 0, "a generation holds at least one key")
        self.generationSize = generationSize
    }

    /// Entries held now (both generations).
    var count: Int { current.count + previous.count }

    /// The value of a key, moving it to the current generation when it was in the previous one.
    mutating func value(_ key: Key, onDrop: ([Key: Value]) -> Void = { _ in }) -> Value? {
        if let value = current[key] { return value }
        guard let value = previous.removeValue(forKey: key) else { return nil }
        set(key, value, onDrop: onDrop)
        return value
    }

    /// Whether the key is held, without moving it.
    func contains(_ key: Key) -> Bool { current[key] != nil || previous[key] != nil }

    /// Sets a key's value in the current generation; may drop the previous generation.
    mutating func set(_ key: Key, _ value: Value, onDrop: ([Key: Value]) -> Void = { _ in }) {
        if current.updateValue(value, forKey: key) == nil {
            previous.removeValue(forKey: key)
            if current.count >= generationSize { rotate(onDrop) }
        }
    }

    /// Changes a held value in place (moving it to the current generation); false when the key is not held.
    @discardableResult
    mutating func modify(_ key: Key, onDrop: ([Key: Value]) -> Void = { _ in }, _ body: (inout Value) -> Void) -> Bool {
        if current[key] != nil {
            body(&current[key]!)
            return true
        }
        guard var value = previous.removeValue(forKey: key) else { return false }
        body(&value)
        set(key, value, onDrop: onDrop)
        return true
    }

    /// Forgets a key in both generations, returning its value.
    @discardableResult
    mutating func remove(_ key: Key) -> Value? {
        current.removeValue(forKey: key) ?? previous.removeValue(forKey: key)
    }

    /// Forgets every key whose value matches.
    mutating func removeAll(where matches: (Key, Value) -> Bool) {
        current = current.filter { !matches($0.key, $0.value) }
        previous = previous.filter { !matches($0.key, $0.value) }
    }

    private mutating func rotate(_ onDrop: ([Key: Value]) -> Void) {
        if !previous.isEmpty {
            hasDropped = true
            onDrop(previous)
        }
        previous = current
        current = Dictionary(minimumCapacity: generationSize)
    }
}

/// A Bloom filter over strings in a fixed number of bits: "maybe seen" or
/// "certainly not". Holds the message ids that ``RecentMap`` dropped, so
/// only a possible duplicate costs a store read.
struct StringBloomFilter {
    private var words: [UInt64]
    private let mask: Int

    /// `bits` rounded up to a power of two (at least 64).
    init(bits: Int) {
        var size = 64
        while size < bits { size <<= 1 }
        words = Array(repeating: 0, count: size / 64)
        mask = size - 1
    }

    private func positions(_ text: String) -> [Int] {
        var first = Hasher()
        first.combine(text)
        var second = Hasher()
        second.combine(0x9E37_79B9_7F4A_7C15 as UInt64)
        second.combine(text)
        let a = first.finalize(), b = second.finalize() | 1
        return (0..<4).map { (a &+ $0 &* b) & mask }
    }

    mutating func insert(_ text: String) {
        for bit in positions(text) { words[bit >> 6] |= 1 << UInt64(bit & 63) }
    }

    func mightContain(_ text: String) -> Bool {
        positions(text).allSatisfy { words[$0 >> 6] & (1 << UInt64($0 & 63)) != 0 }
    }
}
