import Engine
import Foundation
import LuaKit
import Repl
import Store
import TestSupport
import Testing

@Suite("rule_eval in the REPL: Lua run as a rule runs")
struct RuleEvalTests {
    static let rules = [
        "s.lua": #"segment "big" { when = function(c) return c.total_spent >= 100 end }"#,
        "c.lua": #"counter "orders_per_card" { on = "Order Completed", key = function(e) return e.properties.card_fingerprint end }"#,
        "l.lua": #"list "vip_emails" { "ana@example.com" }"#,
    ]

    @Test("c is the customer (also by anonymous id), ctx and the rule helpers are there; the REPL's own globals are not")
    func asRule() throws {
        let (repl, transcript) = try ReplSessionTests().session(rules: Self.rules)
        repl.feed(#"send{ anonymousId = "anon-9", event = "Product Viewed", properties = { sku = "S1", category = "skincare", price = 30 } }"#)
        repl.feed(#"send{ userId = "ana", anonymousId = "anon-9", traits = { email = "ana@example.com" } }"#)
        repl.feed(#"send{ userId = "ana", event = "Order Completed", properties = { order_id = "o1", total = 150, card_fingerprint = "fp-1" } }"#)
        transcript.out = ""
        repl.feed(#"rule_eval("c.total_spent, c:in_segment('big'), ctx:count('orders_per_card', 'fp-1')", "anon-9")"#)
        #expect(transcript.out == "150.0\ttrue\t1\n")
        transcript.out = ""
        repl.feed(#"rule_eval("catalog.category('skincare').products, lists.contains('vip_emails', 'ana@example.com'), duration('1h')")"#)
        #expect(transcript.out == "1\ttrue\t3600000\n")
        transcript.out = ""
        repl.feed(#"rule_eval("local spent = c:spent{ within = '30d' }\nreturn spent > 100", "ana")"#)
        #expect(transcript.out == "true\n")
        // Without a customer, c has no history.
        transcript.out = ""
        repl.feed(#"rule_eval("c.orders_count")"#)
        #expect(transcript.out == "0\n")
        #expect(repl.errors == 0, "\(transcript.err)")

        repl.feed(#"rule_eval("advance ~= nil or sent ~= nil")"#)
        #expect(transcript.out.hasSuffix("false\n"), "the REPL's helpers are not rule helpers")
        repl.feed(#"rule_eval("1", "nobody")"#)
        #expect(transcript.err.contains("no customer nobody"))
        repl.feed(#"rule_eval("c.nope.x", "ana")"#)
        #expect(transcript.err.contains("rule_eval:1: attempt to index a nil value (field 'nope')"))
        repl.feed(#"rule_eval("while true do end")"#)
        #expect(transcript.err.contains("instruction") || transcript.err.contains("time"), "the sandbox's limits hold: \(transcript.err)")
        #expect(repl.errors == 3)
        // Nothing was recorded: the counter still has the one order.
        transcript.out = ""
        repl.feed(#"rule_eval("ctx:count('orders_per_card', 'fp-1')")"#)
        #expect(transcript.out == "1\n")
    }
}
