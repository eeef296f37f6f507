/// The numeric fields of Segment's e-commerce spec (totals, prices,
/// quantities), which SDKs sometimes send as strings.
///
/// A string that is a finite number becomes that number, on any event and in
/// each item of `properties.products`; an empty one is as no amount (`null`). On the spec's commerce events (orders,
/// checkouts, products, carts, coupons) such a field must be a number: text
/// that is none (`"abc"`, `"1,234.50"`, `"NaN"`, `"Infinity"`), a boolean, an
/// object or an array is refused with the field named. Read as no amount, it
/// would have passed a fraud rule's threshold unseen (an order of `"1.234,50"`
/// is no high-value first order at 0). Other events keep such text as it is:
/// a survey's `"value": "yes"` is not an amount.
enum Amounts {
    /// Numeric e-commerce properties that SDKs sometimes send as strings.
    static let keys: Set<String> = [
        "total", "revenue", "subtotal", "value", "price", "quantity", "amount", "discount", "shipping", "tax",
        "rating", "position", "quantity_on_hand",
    ]

    /// The spec's commerce events, whose amounts must be numbers.
    static func mustBeNumbers(in event: String) -> Bool {
        ["Order ", "Checkout ", "Product ", "Cart ", "Coupon ", "Payment Info Entered"].contains { event.hasPrefix($0) }
    }

    /// `properties` with numeric strings made numbers (items of `products` included).
    static func normalized(_ properties: [String: JSONValue], event: String) throws(NormalizationError) -> [String: JSONValue] {
        let strict = mustBeNumbers(in: event)
        var properties = try normalizedFields(properties, path: "properties", strict: strict)
        if case .array(let items)? = properties["products"] {
            var normalizedItems = items
            for (index, item) in items.enumerated() {
                guard case .object(let fields) = item else { continue }
                normalizedItems[index] = .object(try normalizedFields(fields, path: "properties.products[\(index)]", strict: strict))
            }
            properties["products"] = .array(normalizedItems)
        }
        return properties
    }

    private static func normalizedFields(_ fields: [String: JSONValue], path: String,
                                         strict: Bool) throws(NormalizationError) -> [String: JSONValue] {
        var fields = fields
        for key in keys {
            guard let value = fields[key] else { continue }
            switch value {
            case .int, .null:
                continue
            case .double(let number):
                if strict && !number.isFinite { throw refusal(path, key, "is not a finite number") }
            case .string(let text):
                if let number = number(text) {
                    fields[key] = number
                } else if text.trimmingCharacters(in: .whitespaces).isEmpty {
                    fields[key] = .null // a form's empty field: no amount given
                } else if strict {
                    throw refusal(path, key, "is not a number ('\(text.prefix(40))')")
                }
            case .bool, .object, .array:
                if strict { throw refusal(path, key, "is not a number") }
            }
        }
        return fields
    }

    /// The number a string spells (`"49.90"`, `" 2 "`), finite; nil for anything else.
    static func number(_ text: String) -> JSONValue? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let number = Double(trimmed), number.isFinite,
              trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }) else { return nil }
        return number == number.rounded() && abs(number) < 1e15 && !trimmed.contains(".")
            ? .int(Int64(number)) : .double(number)
    }

    private static func refusal(_ path: String, _ key: String, _ message: String) -> NormalizationError {
        NormalizationError(field: "\(path).\(key)", message: message)
    }
}
