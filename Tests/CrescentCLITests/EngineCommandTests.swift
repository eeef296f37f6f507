import Foundation
import Store
import TestSupport
import Testing

/// `crescent check`, `replay`, `explain` and `generate`, driven as a user does.
@Suite("crescent check, replay, explain, generate")
struct EngineCommandTests {
    let crescent = Fixtures.crescentExecutable()

    @Test("check passes the shipped rules and reports problems as path:line: message")
    func check() throws {
        let ok = try Fixtures.run(crescent, ["check"], in: Fixtures.packageRoot)
        #expect(ok.status == 0, "\(ok.stdoutText) \(ok.stderr)")
        #expect(ok.stdoutText.hasPrefix("ok: "))
        let dir = try Fixtures.temporaryDirectory(files: [
            "rules/a.lua": "segment \"x\" {\n  whne = function(c) return true end,\n}",
            "rules/b.lua": "promotion \"p\" { on = \"Order Complete\", run = function() end }\npromotion \"p\" { on = \"Order Completed\", run = function() end }",
            "rules/c.lua": "local x = = 1",
            "rules/d.lua": "promotion \"opened\" { on = \"Email Opened\", run = function() end }\npromotion \"typo\" { on = \"Email Openned\", run = function() end }"
                + "\npromotion \"spend\" { on = { \"Ad Spend\", \"Unsubscribed\", \"Segment Consent Preference Updated\" }, run = function() end }",
            "rules/e.lua": """
                list "blocked_ips" {}
                fraud "ip" { on = "Order Completed", score = function(e, c, ctx)
                  -- lists.contains("in_a_comment", e.properties.ip) is not a read
                  if lists.contains("blocked_ips", e.context.ip) or ctx:in_list('blocked_ip', e.context.ip) then return 90 end
                end }
                """,
            "rules/f.lua": """
                fraud_policy { on = { "Order Completed" } }
                fraud "at_checkout" { on = "Checkout Started", score = function() return 10 end }
                fraud "both" { on = { "Order Completed", "Checkout Started" }, score = function() return 10 end }
                fraud "at_order" { on = "Order Completed", score = function() return 10 end }
                segment "vip" { when = function(c) return c.total_spent > 1000 end }
                segment "maybe_vip" { mode = "shadow", when = function(c) return c.total_spent > 500 end }
                journey "welcome_vip" { segment = "vip", steps = { tag "vip" } }
                journey "welcome_vipp" { segment = "vipp", steps = { tag "vip" } }
                journey "welcome_maybe" { segment = "maybe_vip", steps = { tag "vip" } }
                """,
            "rules/g.lua": """
                promotion "tier" { on = "Segment Entered", run = function() end,
                  when = function(e, c) return e.properties.segment == "vipp" or c:in_segment("vip") end }
                -- c:in_segment("in_a_comment")
                promotion "gold_only" { on = "Order Completed", when = function(e, c) return c.segments.Gold end, run = function() end }
                """,
            "rules/h1.lua": #"promotion "weekly" { on = "Product Viewed", limit = { cooldown = "1 week" }, run = function() end }"#,
            "rules/h2.lua": #"promotion "twice" { on = "Product Viewed", limit = { per_customer = "two" }, run = function() end }"#,
            "rules/h3.lua": #"promotion "typo" { on = "Product Viewed", limit = { cooldwn = "7d" }, run = function() end }"#,
            "rules/h4.lua": #"counter "c" { on = "Order Completed", window = "a day", key = function(e) return e.user_id end }"#,
            "rules/h5.lua": #"promotion "ok" { on = "Product Viewed", limit = { cooldown = 3600, per_day = 10 }, run = function() end }"#,
            "rules/h6.lua": """
                promotion "per_cart" { on = "Product Added", key = function(e) return e.properties.cart_id end, run = function() end }
                promotion "once_per_cart" { on = "Product Added", key = function(e) return e.properties.cart_id end,
                  limit = { per_customer = 1 }, run = function() end }
                """,
            "plugins/util.lua": "return {",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = try Fixtures.run(crescent, ["check"], in: dir)
        #expect(bad.status == 1)
        let lines = bad.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("rules/a.lua:1: segment \"x\": unknown field 'whne'") })
        #expect(lines.contains("rules/b.lua:1: warning: promotion \"p\" listens to 'Order Complete', which is not a known event name (did you mean 'Order Completed'?)"))
        #expect(lines.contains { $0.hasPrefix("rules/b.lua:2: warning: promotion \"p\" is declared again") })
        #expect(!lines.contains { $0.hasPrefix("rules/d.lua:1:") }, "Email Opened is Segment's e-mail spec (the tracking pixel)")
        #expect(!lines.contains { $0.hasPrefix("rules/d.lua:3:") }, "the acquisition report's Ad Spend, the e-mail spec's Unsubscribed, Segment's consent event")
        #expect(lines.contains("rules/d.lua:2: warning: promotion \"typo\" listens to 'Email Openned', which is not a known event name (did you mean 'Email Opened'?)"))
        let listWarnings = lines.filter { $0.hasPrefix("rules/e.lua") }
        #expect(listWarnings == ["rules/e.lua:4: warning: reads list \"blocked_ip\", which no file declares: it holds only what the admin API adds (declare it, even empty, with list \"blocked_ip\" {}) (did you mean \"blocked_ips\"?)"],
                "a typo of a declared list is flagged; the declared one and a comment are not: \(listWarnings)")
        let reachability = lines.filter { $0.hasPrefix("rules/f.lua") }
        #expect(reachability == [
            "rules/f.lua:2: warning: fraud \"at_checkout\" can never fire: it listens to 'Checkout Started', and the fraud_policy decides only on 'Order Completed'",
            "rules/f.lua:3: warning: fraud \"both\" never runs for 'Checkout Started': the fraud_policy decides only on 'Order Completed'",
            "rules/f.lua:8: warning: journey \"welcome_vipp\" starts when a customer enters segment \"vipp\", which no file declares: it never starts (did you mean \"vip\"?)",
            "rules/f.lua:9: warning: journey \"welcome_maybe\" starts when a customer enters segment \"maybe_vip\", which is in shadow mode: its would-be entries start no journey",
        ], "\(reachability)")
        #expect(lines.filter { $0.hasPrefix("rules/g.lua") } == [
            "rules/g.lua:2: warning: reads segment \"vipp\", which no file declares: no customer is ever in it (did you mean \"vip\"?)",
            "rules/g.lua:4: warning: reads segment \"Gold\", which no file declares: no customer is ever in it",
        ], "a misspelt segment is flagged; a declared one and a comment are not")
        // A limit the engine could not read would silently not apply: an error, not a default.
        #expect(lines.contains(#"rules/h1.lua:1: promotion "weekly": limit.cooldown must be a duration like "7d" or "12h", not "1 week""#))
        #expect(lines.contains(#"rules/h2.lua:1: promotion "twice": limit.per_customer must be a number, not "two""#))
        #expect(lines.contains(#"rules/h3.lua:1: promotion "typo": unknown limit 'cooldwn' (per_customer, per_day, cooldown)"#))
        #expect(lines.contains(#"rules/h4.lua:1: counter "c": window must be a duration like "1d", not "a day""#))
        #expect(!lines.contains { $0.hasPrefix("rules/h5.lua") }, "a cooldown in seconds is a duration")
        #expect(lines.filter { $0.hasPrefix("rules/h6.lua") } == [
            #"rules/h6.lua:1: warning: promotion "per_cart" has a 'key' but no per_customer or cooldown limit for it to count by: it changes nothing"#,
        ])
        #expect(lines.contains { $0.hasPrefix("rules/c.lua:1: unexpected symbol") })
        #expect(lines.contains { $0.hasPrefix("plugins/util.lua:1:") })
    }

    @Test("run from elsewhere, commands find the plugins beside the rules folder; a --plugins folder that is missing is an error")
    func pluginsBesideRules() throws {
        let shop = try Fixtures.temporaryDirectory(files: [
            "shop/rules/tiers.lua": "local tiers = require(\"tiers\")\nsegment \"big\" { when = function(c) return tiers.big(c) end }",
            "shop/plugins/tiers.lua": "return { big = function(c) return c.total_spent > 100 end }",
            "elsewhere/.keep": "",
        ])
        defer { try? FileManager.default.removeItem(at: shop) }
        let elsewhere = shop.appendingPathComponent("elsewhere")
        let found = try Fixtures.run(crescent, ["check", "--rules", "../shop/rules"], in: elsewhere)
        #expect(found.status == 0, "\(found.stdoutText) \(found.stderr)")
        #expect(found.stdoutText.hasPrefix("ok: 1 declarations"))
        let missing = try Fixtures.run(crescent, ["check", "--rules", "../shop/rules", "--plugins", "nowhere"], in: elsewhere)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("--plugins nowhere: no such folder"))
        let serving = try Fixtures.run(crescent, ["serve", "--rules", "../shop/rules", "--plugins", "nowhere", "--port", "0"], in: elsewhere)
        #expect(serving.status == 1, "the server does not start without the plugins its rules need")
        #expect(serving.stderr.contains("--plugins nowhere: no such folder"))
    }

    @Test("replay prints a summary, --json the same as JSON; explain shows every rule's result")
    func replayAndExplain() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("t.db").path
        let events = dir.appendingPathComponent("e.ndjson").path
        let generated = try Fixtures.run(crescent, ["generate", "--events", "1500", "--seed", "3", "-o", events])
        #expect(generated.status == 0)
        // Without -o the events go to standard output (the same bytes), the summary to standard error.
        let piped = try Fixtures.run(crescent, ["generate", "--events", "1500", "--seed", "3"], in: dir)
        #expect(piped.stdout == FileManager.default.contents(atPath: events))
        #expect(piped.stderr.hasPrefix("wrote ") && piped.stderr.contains("to standard output"))
        let nowhere = try Fixtures.run(crescent, ["generate", "--events", "10", "-o", "no/such/folder/e.ndjson"], in: dir)
        #expect(nowhere.status == 1)
        #expect(nowhere.stderr == "error: no/such/folder/e.ndjson: no such folder no/such/folder\n", "\(nowhere.stderr)")
        let replay = try Fixtures.run(crescent, ["replay", events, "--db", db, "--json"], in: Fixtures.packageRoot)
        #expect(replay.status == 0, "\(replay.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: replay.stdout) as? [String: Any])
        for key in ["events", "events_per_second", "decisions", "rule_hits", "actions", "segments", "errors"] {
            #expect(summary[key] != nil, "missing \(key)")
        }
        #expect((summary["events"] as? Int ?? 0) > 1400)
        let decisions = try #require(summary["decisions"] as? [String: Int])
        #expect(Set(decisions.keys) == ["allow", "review", "block"])
        // Time per rule: every fraud rule ran on every order; a segment that stayed unchanged did not run.
        let ruleTime = try #require(summary["rule_time"] as? [String: [String: Int]])
        let orders = decisions.values.reduce(0, +)
        #expect(ruleTime["fraud:card_velocity"]?["evaluations"] == orders)
        #expect((ruleTime["segment:bronze"]?["evaluations"] ?? 0) < (summary["events"] as? Int ?? 0))
        #expect(ruleTime.values.allSatisfy { ($0["micros"] ?? -1) >= 0 })
        // Time by event name: every processed event counted once under its name, each name's time measured.
        let eventTime = try #require(summary["event_time"] as? [String: [String: Int]])
        #expect(eventTime.values.reduce(0) { $0 + ($1["events"] ?? 0) } == summary["events"] as? Int)
        #expect(eventTime["Order Completed"]?["events"] == ruleTime["fraud:card_velocity"]?["evaluations"])
        #expect(eventTime["Order Completed"].map { ($0["micros"] ?? 0) > 0 } == true)
        #expect(eventTime.values.allSatisfy { ($0["micros"] ?? -1) >= 0 && ($0["events"] ?? 0) > 0 })

        let fresh = dir.appendingPathComponent("text.db").path
        let printed = try Fixtures.run(crescent, ["replay", events, "--db", fresh], in: Fixtures.packageRoot).stdoutText
        #expect(printed.contains("  rule time   (the 5 slowest in all; every rule's with --json)\n"))
        #expect(printed.contains(" runs, "), "\(printed)")
        #expect(printed.contains("  event time  (the 5 costliest event names in all; every one's with --json)\n"))
        #expect(printed.contains("  Inventory Updated  (1200 events, "), "\(printed)")

        let text = try Fixtures.run(crescent, ["replay", events, "--db", db], in: Fixtures.packageRoot)
        #expect(text.stdoutText.contains("0 processed"), "a second replay changes nothing")

        let line = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n").first { $0.contains("Order Completed") }
        let order = try JSONSerialization.jsonObject(with: Data(try #require(line).utf8)) as? [String: Any]
        let messageId = try #require(order?["messageId"] as? String)
        let explain = try Fixtures.run(crescent, ["explain", messageId, "--db", db])
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdoutText.contains("event     Order Completed (track)"))
        #expect(explain.stdoutText.contains("fraud:card_velocity"))
        #expect(explain.stdoutText.contains("decision  allow") || explain.stdoutText.contains("decision  review")
                || explain.stdoutText.contains("decision  block"))
        // An analyst has the order id: every decided event about the order, with its message id.
        let orderId = try #require((order?["properties"] as? [String: Any])?["order_id"] as? String)
        let byOrder = try Fixtures.run(crescent, ["explain", orderId, "--db", db])
        #expect(byOrder.status == 0, "\(byOrder.stderr)")
        #expect(byOrder.stdoutText.hasPrefix("order     \(orderId): "), "\(byOrder.stdoutText)")
        #expect(byOrder.stdoutText.contains("message   \(messageId)\nevent     Order Completed (track)"))
        #expect(byOrder.stdoutText.contains("fraud:card_velocity") && byOrder.stdoutText.contains("decision  "))
        // A customer's recent events and what one rule did with each: the order shows the fraud rule's answer.
        let user = try #require(order?["userId"] as? String ?? order?["anonymousId"] as? String)
        let history = try Fixtures.run(crescent, ["explain", "--customer", user, "--rule", "fraud:card_velocity", "--db", db])
        #expect(history.status == 0, "\(history.stderr)")
        let orderLine = try #require(history.stdoutText.split(separator: "\n").first { $0.contains(messageId) })
        #expect(orderLine.contains("Order Completed") && (orderLine.hasSuffix("  miss") || orderLine.contains("  hit")), "\(orderLine)")
        // Only the events the rule ran on are listed (orders, for a fraud rule); the others are counted.
        let listed = history.stdoutText.split(separator: "\n").filter { $0.hasPrefix("20") }
        #expect(!listed.isEmpty && listed.allSatisfy { $0.contains("  Order Completed  ") }, "\(history.stdoutText)")
        let stored = try CrescentStore(path: db).recentEvents(customerId: user, limit: 5_000)
        let others = stored.filter { $0.name != "Order Completed" }.count
        if others > 0 { #expect(history.stdoutText.contains("(\(others) other event\(others == 1 ? "" : "s") it does not listen to left out)")) }
        let newestOrder = try Fixtures.run(crescent, ["explain", "--customer", user, "--rule", "fraud:card_velocity", "--limit", "1", "--db", db])
        #expect(newestOrder.stdoutText.split(separator: "\n").filter { $0.hasPrefix("20") }.count == 1, "\(newestOrder.stdoutText)")
        let unknownRule = try Fixtures.run(crescent, ["explain", "--customer", user, "--rule", "fraud:card_velocit", "--db", db])
        #expect(unknownRule.stderr.contains("no rule set that judged these events has a rule 'fraud:card_velocit' (did you mean fraud:card_velocity?)"),
                "\(unknownRule.stderr)")
        let both = try Fixtures.run(crescent, ["explain", messageId, "--customer", user, "--db", db])
        #expect(both.status != 0 && both.stderr.contains("give a messageId or an order id, or --customer ID"))
        let missing = try Fixtures.run(crescent, ["explain", "nope", "--db", db])
        #expect(missing.status == 1 && missing.stderr.contains("no event with messageId 'nope', and no decision about an order 'nope'"))
    }

    @Test("replay reports malformed lines by number, and --strict stops")
    func replayBadLines() throws {
        let dir = try Fixtures.temporaryDirectory(files: ["e.ndjson": """
            {"type":"track","event":"Page Viewed","userId":"u1","messageId":"a"}
            not json
            """])
        defer { try? FileManager.default.removeItem(at: dir) }
        let events = dir.appendingPathComponent("e.ndjson").path
        let db = dir.appendingPathComponent("t.db").path
        let lenient = try Fixtures.run(crescent, ["replay", events, "--db", db], in: Fixtures.packageRoot)
        #expect(lenient.status == 0)
        #expect(lenient.stderr.contains("e.ndjson:2: malformed JSON"))
        let strict = try Fixtures.run(crescent, ["replay", events, "--db", db + "2", "--strict"], in: Fixtures.packageRoot)
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("line 2: malformed JSON"))
    }

    @Test("replay writes the engine's log to standard error: rules' log(...) and rules disabled after repeated errors")
    func replayLog() throws {
        let dir = try Fixtures.temporaryDirectory(files: [
            "rules/loud.lua": """
                segment "loud" { when = function(c) log("looked at", c.id) return false end }
                segment "fragile" { when = function(c) error("no data") end }
                """,
            "plugins/.keep": "",
            "e.ndjson": (1...12).map { #"{"type":"track","event":"Page Viewed","userId":"u\#($0)","messageId":"m\#($0)"}"# }
                .joined(separator: "\n"),
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let replay = try Fixtures.run(crescent, ["replay", "e.ndjson", "--db", "t.db", "--json"], in: dir)
        #expect(replay.status == 0, "\(replay.stderr)")
        let lines = replay.stderr.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasPrefix("looked at u") }.count == 12)
        #expect(lines.contains("looked at u7"))
        #expect(lines.contains { $0.hasPrefix("segment:fragile disabled after 10 consecutive errors") && $0.contains("no data") })
        // The summary says which rule failed, how, and that it stopped running.
        let summary = try JSONSerialization.jsonObject(with: replay.stdout) as? [String: Any]
        #expect(summary?["rule_errors"] as? [String: Int] == ["segment:fragile": 10])
        #expect((summary?["rule_last_errors"] as? [String: String])?["segment:fragile"]?.contains("rules/loud.lua:2: no data") == true)
        #expect(summary?["disabled_rules"] as? [String] == ["segment:fragile"])
        let text = try Fixtures.run(crescent, ["replay", "e.ndjson", "--db", "t2.db"], in: dir)
        #expect(text.stdoutText.contains("      10  segment:fragile  (disabled after repeated errors; last: rules/loud.lua:2: no data)"),
                "\(text.stdoutText)")
    }

    @Test("replay names what is wrong with its inputs", arguments: [
        (["replay", "examples/events.ndjson", "--rules", "no-such-rules"], "no-such-rules: no such rules folder"),
        (["replay", "examples"], "examples: is a folder, not an events file"),
        (["replay", "missing.ndjson"], "missing.ndjson: no such file"),
        (["replay", "examples/events.ndjson", "--db", "/proc/none/x.db"], "/proc/none/x.db: cannot open the database"),
        (["replay", "examples/events.ndjson", "--shards", "0"], "--shards must be between 1 and 256"),
    ])
    func replayInputErrors(arguments: [String], message: String) throws {
        let result = try Fixtures.run(crescent, arguments, in: Fixtures.packageRoot)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }
}
