/// "Did you mean ...?" for a name that matches nothing: the closest known
/// name by edit distance (ignoring case), when it is close enough to be a
/// typo rather than another name.
public enum NameSuggestion {
    /// The known name nearest to `name`, if within a typo's distance (a
    /// quarter of the name's length, at least 2); nil when none is, or when
    /// two are equally near.
    public static func closest(to name: String, among known: some Sequence<String>) -> String? {
        let target = Array(name.lowercased())
        let limit = max(2, target.count / 4)
        var best: (name: String, distance: Int)?
        var tied = false
        for candidate in known where candidate != name {
            let distance = editDistance(target, Array(candidate.lowercased()), limit: limit)
            guard distance <= limit else { continue }
            if let current = best, distance == current.distance {
                if candidate != current.name { tied = true }
            } else if best == nil || distance < best!.distance {
                best = (candidate, distance)
                tied = false
            }
        }
        return tied ? nil : best?.name
    }

    /// Appends `(did you mean X?)`, quoted as `quote` quotes, when there is a suggestion.
    public static func hint(for name: String, among known: some Sequence<String>, quote: String = "'") -> String {
        closest(to: name, among: known).map { " (did you mean \(quote)\($0)\(quote)?)" } ?? ""
    }

    /// Levenshtein distance, giving up (returning `limit + 1`) once it must exceed `limit`.
    static func editDistance(_ a: [Character], _ b: [Character], limit: Int) -> Int {
        if abs(a.count - b.count) > limit { return limit + 1 }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var rowBest = current[0]
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                rowBest = min(rowBest, current[j])
            }
            if rowBest > limit { return limit + 1 }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
