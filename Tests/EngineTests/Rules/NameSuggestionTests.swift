@testable import Engine
import Testing

@Suite("Did you mean ...?")
struct NameSuggestionTests {
    @Test("a typo gets the nearest known name; another name, or a tie, gets none")
    func closest() {
        #expect(NameSuggestion.closest(to: "Order Complete", among: KnownEvents.names) == "Order Completed")
        #expect(NameSuggestion.closest(to: "order completed", among: KnownEvents.names) == "Order Completed", "case is ignored")
        #expect(NameSuggestion.closest(to: "Refund Issued", among: KnownEvents.names) == nil, "a different event, not a typo")
        #expect(NameSuggestion.closest(to: "gol", among: ["gold", "goal"]) == nil, "two equally near: no guess")
        #expect(NameSuggestion.closest(to: "golld", among: ["gold", "silver"]) == "gold")
        #expect(NameSuggestion.hint(for: "blocked_ip", among: ["blocked_ips"], quote: "\"") == #" (did you mean "blocked_ips"?)"#)
        #expect(NameSuggestion.hint(for: "x", among: [String]()) == "")
    }
}
