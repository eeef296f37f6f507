import Engine
import Foundation
import TestSupport
import Testing

@Suite("Card numbers sent by mistake are masked")
struct CardNumbersTests {
    @Test("card numbers whole, in groups, inside text and as JSON numbers keep only their first six and last four digits",
          arguments: [
              ("4111111111111111", "411111******1111"),
              ("4111 1111 1111 1111", "411111******1111"),
              ("card 5500-0000-0000-0004 exp 12/28", "card 550000******0004 exp 12/28"),
              ("Amex 378282246310005.", "Amex 378282*****0005."),
              ("2026-01-04 4111 1111 1111 1111 cvv 123", "2026-01-04 411111******1111 cvv 123"),
              ("2223000048410010", "222300******0010"),
          ])
    func masked(_ text: String, _ expected: String) {
        #expect(CardNumbers.masked(text) == expected)
    }

    @Test("what is not a card is left alone: failing Luhn, timestamps, ids, phone numbers, digits inside words",
          arguments: ["4111111111111112", "1767225600000", "order-1234567890123", "+34 612 345 678",
                      "SKU4111111111111111", "41111111111111119999", "9111111111111111", "short 4111"])
    func untouched(_ text: String) {
        #expect(CardNumbers.masked(text) == nil)
    }

    @Test("the normalizer masks every field before anything reads it, and says where")
    func normalized() throws {
        let message = try JSONValue.parse(Data(#"""
            {"type": "track", "event": "Order Completed", "userId": "ana", "messageId": "m1",
             "properties": {"order_id": "o1", "card_number": "4111111111111111", "pan": 5555555555554444,
                            "products": [{"sku": "A", "note": "gift, paid by 4012 8888 8888 1881"}], "created_at": 1767225600000},
             "context": {"traits": {"card": "6011111111111117"}}}
            """#.utf8))
        let event = try Normalizer.normalize(message, now: 0)
        #expect(event.properties["card_number"] == .string("411111******1111"))
        #expect(event.properties["pan"] == .string("555555******4444"), "a JSON number becomes masked text")
        guard case .array(let products)? = event.properties["products"] else { Issue.record("no products"); return }
        #expect(products.first?["note"] == .string("gift, paid by 401288******1881"))
        #expect(event.properties["created_at"] == .int(1767225600000))
        #expect(event.traits["card"] == .string("601111******1117"))
        #expect(event.maskedCardNumbers == ["context.traits.card", "properties.card_number", "properties.pan", "properties.products[0].note"])
        #expect(!event.json.jsonText.contains("4111111111111111"))
        let clean = try Normalizer.normalize(try JSONValue.parse(Data(#"{"type":"track","event":"X","userId":"a"}"#.utf8)), now: 0)
        #expect(clean.maskedCardNumbers.isEmpty)
    }
}
