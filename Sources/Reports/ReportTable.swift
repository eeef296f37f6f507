import Foundation

/// One value in a report: text, a number, or nothing.
public enum ReportCell: Sendable, Equatable, Codable {
    case text(String)
    case number(Double)
    case empty

    public init(_ value: String?) { self = value.map { .text($0) } ?? .empty }
    public init(_ value: Double?) { self = value.map { .number($0) } ?? .empty }
    public init(_ value: Int?) { self = value.map { .number(Double($0)) } ?? .empty }

    /// The value as a number (nil for text and nothing).
    public var number: Double? { if case .number(let n) = self { return n } else { return nil } }

    /// As printed in tables and CSV: integers without a fraction, others with two decimals.
    public var display: String {
        switch self {
        case .text(let t): return t
        case .empty: return ""
        case .number(let n):
            if n.isNaN || n.isInfinite { return "" }
            return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(format: "%.2f", n)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let t): try container.encode(t)
        case .number(let n): try container.encode(n)
        case .empty: try container.encodeNil()
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .empty } else if let n = try? container.decode(Double.self) { self = .number(n) } else {
            self = .text(try container.decode(String.self))
        }
    }
}

/// A report's table: a title, column names and rows.
public struct ReportTable: Sendable, Codable, Equatable {
    public var title: String
    public var columns: [String]
    public var rows: [[ReportCell]]

    public init(title: String, columns: [String], rows: [[ReportCell]]) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }

    /// The cell of `column` in a row (nil when there is no such column).
    public func value(_ column: String, in row: [ReportCell]) -> ReportCell? {
        columns.firstIndex(of: column).map { row[$0] }
    }

    /// The first row whose first cell shows `key`.
    public func row(_ key: String) -> [ReportCell]? { rows.first { $0.first?.display == key } }

    /// Aligned text for a terminal.
    public var text: String {
        let shown = [columns] + rows.map { $0.map(\.display) }
        var widths = columns.map(\.count)
        for row in shown { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var lines = [title]
        for (n, row) in shown.enumerated() {
            let cells = row.enumerated().map { i, cell -> String in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                let numeric = n > 0 && rows[n - 1][i].number != nil
                return numeric ? pad + cell : cell + pad
            }
            lines.append("  " + cells.joined(separator: "  "))
        }
        if rows.isEmpty { lines.append("  (no data in this period)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// RFC 4180 CSV with a header row.
    public var csv: String {
        func quote(_ s: String) -> String { s.contains(where: { ",\"\n".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        return ([columns.map(quote)] + rows.map { $0.map { quote($0.display) } }).map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
    }
}
