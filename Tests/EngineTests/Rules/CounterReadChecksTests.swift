import Engine
import Foundation
import Testing
import TestSupport

@Suite("crescent check reads the counters rules ask for")
struct CounterReadChecksTests {
    @Test("a misspelt counter, distinct values of a plain counter and a window past what a counter keeps are warned at the line")
    func counterReads() throws {
        let dir = try Fixtures.temporaryDirectory(files: ["rules/r.lua": """
            counter "orders_per_card" { on = "Order Completed", window = "1d", key = function(e) return e.properties.card_fingerprint end }
            distinct_counter "cards_per_customer" { on = "Order Completed", key = function(e, c) return c.id end,
              value = function(e) return e.properties.card_fingerprint end }
            fraud "velocity" {
              on = "Order Completed",
              score = function(e, c, ctx)
                local a = ctx:count("orders_per_crd", e.properties.card_fingerprint, "1h")
                local b = ctx:count("orders_per_card", e.properties.card_fingerprint, "7d")
                local d = ctx:distinct("orders_per_card", c.id, "1h")
                -- ctx:count("in_a_comment", c.id)
                --[==[ an old version, kept for reference:
                local old = ctx:count("orders_per_crd", c.id) ]] still inside
                ]==] local after = ctx:count("ordrs_per_card", c.id)
                local fine = ctx:count("orders_per_card", e.properties.card_fingerprint, "12h")
                  + ctx:count("orders_per_card", e.properties.card_fingerprint)
                  + ctx:distinct("cards_per_customer", c.id, "30d")
                return 0
              end,
            }
            """])
        defer { try? FileManager.default.removeItem(at: dir) }
        let check = try RuleSetCheck.run(rulesDirectory: dir.appendingPathComponent("rules").path, pluginsDirectory: nil)
        #expect(check.errors.isEmpty, "\(check.errors)")
        #expect(check.warnings.map(\.description) == [
            #"rules/r.lua:7: warning: reads counter "orders_per_crd", which no file declares: it always answers 0 (did you mean "orders_per_card"?)"#,
            #"rules/r.lua:8: warning: asks counter "orders_per_card" for 7d, but it keeps hits for 1d (its window): it counts at most that"#,
            #"rules/r.lua:9: warning: reads distinct values of counter "orders_per_card", which keeps none: it always answers 0 (declare it as a distinct_counter with a 'value')"#,
            #"rules/r.lua:13: warning: reads counter "ordrs_per_card", which no file declares: it always answers 0 (did you mean "orders_per_card"?)"#,
        ], "a window within the kept one, no window, the default 30 days and comments (a block over lines too) are not warned")
    }
}
