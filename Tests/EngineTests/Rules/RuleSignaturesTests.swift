import Engine
import Foundation
import Testing
import TestSupport

@Suite("crescent check reads the parameters rule functions declare")
struct RuleSignaturesTests {
    private func warnings(_ source: String) throws -> [String] {
        let dir = try Fixtures.temporaryDirectory(files: ["rules/r.lua": source])
        defer { try? FileManager.default.removeItem(at: dir) }
        let check = try RuleSetCheck.run(rulesDirectory: dir.appendingPathComponent("rules").path, pluginsDirectory: nil)
        #expect(check.errors.isEmpty, "\(check.errors)")
        return check.warnings.map(\.description)
    }

    @Test("a segment written as when(e, c) gets the customer as e and nil as c: warned at the function's line")
    func segmentWithEventParameter() throws {
        let found = try warnings("""
            segment "big_spenders" {
              description = "spent a lot",
              when = function(e, c)
                return c.total_spent > 500
              end,
            }
            """)
        #expect(found == [
            #"rules/r.lua:3: warning: segment "big_spenders": when is called as when(c): 'e' receives the customer, not the event; 'c' is always nil"#,
        ])
    }

    @Test("a promotion's when(c), a run with a parameter too many, a schedule's run(act) and a journey step's when(e, c) are each warned")
    func eachKindOfFunction() throws {
        let found = try warnings("""
            promotion "p" {
              on = "Order Completed",
              when = function(c) return c.total_spent > 100 end,
              run = function(e, c, act, extra) end,
            }
            schedule "s" { every = "1h", run = function(act) end }
            journey "j" {
              on = "Order Completed",
              steps = {
                branch { when = function(e, c) return true end, wait "1h" },
                send { channel = "email", template = "x", data = function(c, j, e) return {} end },
              },
            }
            """)
        #expect(found == [
            #"rules/r.lua:3: warning: promotion "p": when is called as when(e, c, ctx): 'c' receives the event, not the customer"#,
            #"rules/r.lua:4: warning: promotion "p": run is called as run(e, c, act): 'extra' is always nil"#,
            #"rules/r.lua:6: warning: schedule "s": run is called as run(ctx, act): 'act' receives the context, not the actions"#,
            #"rules/r.lua:10: warning: journey "j": step "branch_1"'s when is called as when(c, j, e): 'e' receives the customer, not the event; 'c' receives the journey instance, not the customer"#,
        ], "\(found)")
    }

    @Test("fewer parameters than passed, other names, `...` and the documented forms are not warned")
    func acceptedForms() throws {
        let found = try warnings("""
            segment "a" { when = function(customer) return customer.orders_count > 0 end }
            segment "b" { when = function(x) return x.orders_count > 1 end }
            promotion "p" { on = "Order Completed", when = function(e) return e.order ~= nil end, run = function(...) end }
            fraud "f" { on = "Order Completed", score = function(event, customer, context) return 0 end }
            counter "n" { on = "Order Completed", key = function(_, c) return c.id end }
            """)
        #expect(found.isEmpty, "\(found)")
    }

    @Test("a misspelt field of the customer or the event is warned at the line that reads it, with the field meant")
    func misspeltFields() throws {
        let found = try warnings("""
            segment "big_spenders" {
              when = function(customer)
                return customer.total_spnt > 500 and customer.orders_count > 1 -- customer.in_a_comment
              end,
            }
            promotion "p" {
              on = "Order Completed",
              when = function(e, c) return e.propeties.total > 10 and c:spent{ within = "7d" } > 0 and c.lifetime_value > 0 end,
              run = function(e, c, act) c.flagged = true; act:tag("x") end,
            }
            fraud "f" { on = "Order Completed", score = function(e, c) return c.flagged and 10 or 0, e.message_id end }
            segment "recent_big_order" {
              when = function(c)
                for _, c in ipairs(c.orders) do if c.total > 500 and c.at > 0 then return true end end
                return false
              end,
            }
            """)
        #expect(found == [
            #"rules/r.lua:3: warning: segment "big_spenders": reads customer.total_spnt, which a customer does not have (did you mean total_spent?)"#,
            #"rules/r.lua:8: warning: promotion "p": reads e.propeties, which an event does not have (did you mean properties?)"#,
        ], "a field some rule sets (c.flagged), a method, a comment and a name declared again (for _, c in) are not flagged: \(found)")
    }

    @Test("e.order read by a rule listening only to events that carry no order is warned; on order events and in journey steps it is not")
    func orderOnOtherEvents() throws {
        let found = try warnings("""
            promotion "big_checkout" {
              on = "Checkout Started",
              when = function(e) return e.order.total > 500 end,
              run = function(e, c, act) act:tag("big") end,
            }
            promotion "big_order" { on = { "Checkout Started", "Order Completed" }, when = function(e) return e.order ~= nil end, run = function() end }
            journey "after_checkout" {
              on = "Checkout Started",
              steps = { wait "1d", branch { when = function(c, j, e) return e ~= nil and e.order ~= nil end, wait "1h" } },
            }
            """)
        #expect(found == [
            #"rules/r.lua:3: warning: promotion "big_checkout": reads e.order, which is nil on 'Checkout Started' (only order events and fraud reviews naming an order carry one)"#,
        ], "\(found)")
    }

    @Test("text inside strings and comments (long ones over lines too) is not read as code; a -- inside a string hides nothing")
    func quotedStrings() throws {
        let found = try warnings("""
            promotion "p" {
              on = "Order Completed",
              when = function(e, c) return c.orders_count > 0 end,
              run = function(e, c, act)
                act:notify("email", { text = "see c.total_spnt and e.propeties -- it's \\"c.nope\\"" }); return c.lifetime_valu
              end,
            }
            segment "s" {
              when = function(c)
                local note = [[ c.in_long_string ]] --[[ c.in_a_block
                  comment over lines: c.total_spnt ]] return c.orders_count > 0 and c.total_spnt_after > 0
              end,
            }
            """)
        #expect(found == [
            #"rules/r.lua:5: warning: promotion "p": reads c.lifetime_valu, which a customer does not have (did you mean lifetime_value?)"#,
            #"rules/r.lua:11: warning: segment "s": reads c.total_spnt_after, which a customer does not have"#,
        ], "\(found)")
    }
}
