import Engine
import Foundation
import Hummingbird
import Reports
import Store

/// `GET /v1/reports/{name}?since=&until=&by=`: a report as JSON (docs/reports.md).
extension AdminAPI {
    func report(_ name: String, since: String?, until: String?, by: String?) throws -> Response {
        guard let report = ReportName(rawValue: name) else {
            return APIProblem(.notFound, "unknown_report",
                              "no report \(name); choose one of \(ReportName.allCases.map(\.rawValue).joined(separator: ", "))").response
        }
        var query = ReportQuery(by: by)
        for (field, text) in [("since", since), ("until", until)] {
            guard let text else { continue }
            guard let time = ReportTime.parse(text) else {
                return APIProblem(.badRequest, "invalid_\(field)", "\(field)=\(text): use an ISO date (2026-03-01) or a duration back from now (30d)").response
            }
            if field == "since" { query.since = time } else { query.until = time }
        }
        do {
            let tables = try Reports(store: gateway.engine.store).run(report, query)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let body = "{\"report\":\"\(report.rawValue)\",\"tables\":" + String(decoding: try encoder.encode(tables), as: UTF8.self) + "}"
            return APIResponse.json(.ok, body)
        } catch let error as ReportError {
            return APIProblem(.badRequest, "invalid_grouping", error.description).response
        }
    }
}
