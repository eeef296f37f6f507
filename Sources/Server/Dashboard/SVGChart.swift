import Foundation

/// Charts drawn on the server as inline SVG (no script, no CDN: the
/// dashboard works offline). Every bar carries its label and value as data
/// attributes, so tests and scrapers read the numbers the chart shows.
enum SVGChart {
    /// Horizontal bars, one per item, longest first as given.
    static func bars(_ id: String, _ items: [(label: String, value: Double)], unit: String = "", width: Int = 520) -> String {
        guard !items.isEmpty else { return "<p class=\"empty\" id=\"\(id)\">no data yet</p>" }
        let rowHeight = 24, labelWidth = 170, valueWidth = 90
        let barSpace = Double(width - labelWidth - valueWidth)
        let maximum = max(items.map(\.value).filter(\.isFinite).max() ?? 1, 1e-9)
        var svg = "<svg id=\"\(id)\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(items.count * rowHeight + 4)\" role=\"img\">"
        for (index, item) in items.enumerated() {
            let y = index * rowHeight + 2
            let length = max(1, Int(barSpace * fraction(item.value, of: maximum)))
            svg += "<g class=\"bar\" data-label=\"\(escape(item.label))\" data-value=\"\(number(item.value))\">"
            svg += "<text x=\"0\" y=\"\(y + 16)\" class=\"label\">\(escape(String(item.label.prefix(24))))</text>"
            svg += "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(length)\" height=\"\(rowHeight - 6)\" rx=\"3\"></rect>"
            svg += "<text x=\"\(labelWidth + length + 6)\" y=\"\(y + 16)\" class=\"value\">\(escape(number(item.value) + unit))</text></g>"
        }
        return svg + "</svg>"
    }

    /// A sparkline of recent values (oldest first).
    static func sparkline(_ id: String, _ values: [Double], width: Int = 520, height: Int = 60) -> String {
        let maximum = max(values.filter(\.isFinite).max() ?? 1, 1)
        let step = values.count > 1 ? Double(width) / Double(values.count - 1) : 0
        let points = values.enumerated().map { i, v in
            "\(Int(Double(i) * step)),\(height - 2 - Int(Double(height - 4) * fraction(v, of: maximum)))"
        }.joined(separator: " ")
        return "<svg id=\"\(id)\" class=\"chart spark\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\">"
            + "<polyline fill=\"none\" stroke-width=\"2\" points=\"\(points)\"></polyline></svg>"
    }

    /// Where `value` falls between 0 and `maximum` (a finite maximum of the
    /// finite values), from 0 to 1: an infinite sum draws full, not-a-number empty.
    static func fraction(_ value: Double, of maximum: Double) -> Double {
        guard !value.isNaN else { return 0 }
        return min(1, max(0, value / maximum))
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.2f", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
