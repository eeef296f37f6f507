import Foundation
import GRDB
import Store

/// The reports Crescent answers from its store (`crescent report NAME`,
/// `GET /v1/reports/{name}`). Each is a few SQL aggregates over indexed
/// tables the engine keeps up to date, so none replays events.
public enum ReportName: String, CaseIterable, Sendable {
    case sales, acquisition, retention, promotions, inventory, consultants, fraud, journeys, competitors, privacy

    /// What `--by` accepts (the first is the default); empty when the report has no grouping.
    public var groupings: [String] {
        switch self {
        case .sales: return ["day", "category", "product", "campaign"]
        case .acquisition: return ["source", "medium", "campaign"]
        case .consultants: return ["consultant", "region"]
        case .inventory: return ["sku", "region"]
        case .competitors: return ["sku", "competitor"]
        default: return []
        }
    }
}

/// The period and grouping of a report. Times are ms since 1970; nil is open.
public struct ReportQuery: Sendable {
    public var since: Int64?
    public var until: Int64?
    public var by: String?

    public init(since: Int64? = nil, until: Int64? = nil, by: String? = nil) {
        self.since = since
        self.until = until
        self.by = by
    }

    var from: Int64 { since ?? Int64.min }
    var to: Int64 { until ?? Int64.max }
}

/// Why a report could not be made.
public struct ReportError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Runs reports over a store.
public struct Reports: Sendable {
    public let store: CrescentStore

    public init(store: CrescentStore) { self.store = store }

    /// The report's tables.
    public func run(_ name: ReportName, _ query: ReportQuery) throws -> [ReportTable] {
        let grouping = query.by ?? name.groupings.first
        if let by = query.by, !name.groupings.contains(by) {
            throw ReportError(name.groupings.isEmpty ? "the \(name.rawValue) report has no --by"
                                                     : "--by \(by): the \(name.rawValue) report groups by \(name.groupings.joined(separator: ", "))")
        }
        return try store.read { db in
            switch name {
            case .sales: return [try sales(db, query, by: grouping!)]
            case .acquisition: return [try acquisition(db, query, by: grouping!)]
            case .retention: return try retention(db, query)
            case .promotions: return [try promotions(db, query)]
            case .inventory: return [try inventory(db, query, by: grouping!)]
            case .consultants: return [try consultants(db, query, by: grouping!)]
            case .fraud: return try fraud(db, query)
            case .journeys: return [try journeys(db)]
            case .competitors: return try competitors(db, query, by: grouping!)
            case .privacy: return try privacy(db, query)
            }
        }
    }

    /// The end of the period: `until`, else the newest order or event.
    func periodEnd(_ db: Database, _ query: ReportQuery) throws -> Int64 {
        if let until = query.until { return until }
        return try Int64.fetchOne(db, sql: "SELECT MAX(timestamp) FROM events") ?? Int64(Date().timeIntervalSince1970 * 1000)
    }

    static func ratio(_ a: Double, _ b: Double) -> ReportCell { b == 0 ? .empty : .number(a / b) }
}

/// A report row from SQL values.
func cells(_ row: Row) -> [ReportCell] {
    (0..<row.count).map { index in
        switch row[index] as DatabaseValue? {
        case .some(let value):
            switch value.storage {
            case .int64(let i): return .number(Double(i))
            case .double(let d): return .number(d)
            case .string(let s): return .text(s)
            case .blob, .null: return .empty
            }
        case .none: return .empty
        }
    }
}
