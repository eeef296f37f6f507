import Foundation
import TestSupport
import Testing

@Suite("crescent test: scenario files")
struct TestCommandTests {
    let crescent = Fixtures.crescentExecutable()

    @Test("the shipped rules' scenarios pass")
    func shippedScenarios() throws {
        let result = try Fixtures.run(crescent, ["test"], in: Fixtures.packageRoot)
        #expect(result.status == 0, "\(result.stdoutText)\(result.stderr)")
        #expect(result.stdoutText.contains(" passed, 0 failed, "))
        #expect(result.stdoutText.contains("✔ a reminder an hour after the cart is left, an offer a day later"))
        let unwritable = try Fixtures.run(crescent, ["test", "--junit", "no/such/folder/report.xml"], in: Fixtures.packageRoot)
        #expect(unwritable.status == 1, "a CI that asked for a report must not pass without it")
        #expect(unwritable.stderr.hasPrefix("error: --junit no/such/folder/report.xml: cannot write the report"), "\(unwritable.stderr)")
    }

    @Test("a scenario that moves the clock past ten years fails at once, naming the bound, instead of holding reloads for hours")
    func centuries() throws {
        let dir = try Fixtures.temporaryDirectory(files: [
            "rules/pace.lua": #"schedule "pace" { every = "1h", run = function(ctx, act) end }"#,
            "rules/pace_test.lua": """
                scenario("a decade", function() advance("520w") end)
                scenario("centuries", function() advance("52000w") end)
                """,
            "plugins/.keep": "",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try Fixtures.run(crescent, ["test"], in: dir)
        #expect(result.status == 1)
        #expect(result.stdoutText.contains("✔ a decade"), "\(result.stdoutText)")
        #expect(result.stdoutText.contains("advance: a scenario covers at most 10 years of virtual time"), "\(result.stdoutText)")
    }

    @Test("a scenario that starts by moving the clock runs the schedules due on the way")
    func scheduleBeforeAnyEvent() throws {
        let dir = try Fixtures.temporaryDirectory(files: [
            "rules/pace.lua": #"schedule "pace" { every = "1h", run = function(ctx, act) act:alert{ message = "tick" } end }"#,
            "rules/pace_test.lua": """
                scenario("three hours, three ticks", function()
                  advance("3h")
                  expect(#sent("schedule:pace"), "alerts"):to_be(3)
                end)
                """,
            "plugins/.keep": "",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try Fixtures.run(crescent, ["test"], in: dir)
        #expect(result.status == 0, "\(result.stdoutText)")
        #expect(result.stdoutText.contains("✔ three hours, three ticks"), "\(result.stdoutText)")
    }

    @Test("a scenario whose expectations hold fails when a rule raised an error on its events, naming the rule and the error")
    func ruleErrorsFailTheScenario() throws {
        let dir = try Fixtures.temporaryDirectory(files: [
            "rules/big.lua": """
                segment "big" { when = function(c) return c.total_spent >= 100 end }
                segment "typo" { when = function(c) return c.total_spent > "100" end }
                """,
            "rules/big_test.lua": """
                scenario("a big spender", function()
                  local r = order("ana", "o1", 150)
                  expect(r.entered):to_contain("big")
                end)
                scenario("no event, no error", function() advance("1h") end)
                """,
            "plugins/.keep": "",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try Fixtures.run(crescent, ["test"], in: dir)
        #expect(result.status == 1)
        let out = result.stdoutText
        #expect(out.contains("✘ rules/big_test.lua:1: a big spender"), "\(out)")
        #expect(out.contains("rules raised errors during the scenario: segment:typo (1 time; last: rules/big.lua:2: attempt to compare"), "\(out)")
        #expect(out.contains("✔ no event, no error"), "\(out)")
    }

    @Test("a rule name the rule set does not declare fails the scenario at its line, with a hint, instead of never matching")
    func misspeltRuleNames() throws {
        let dir = try Fixtures.temporaryDirectory(files: [
            "rules/big.lua": """
                segment "big" { when = function(c) return c.total_spent >= 100 end }
                promotion "thanks" { on = "Order Completed", marketing = false, run = function(e, c, act) act:tag("thanked") end }
                """,
            "rules/big_test.lua": """
                scenario("right names", function()
                  local r = order("ana", "o1", 150)
                  expect(r:hit("promotion:thanks")):to_be(true)
                  expect(r:result("segment:big").outcome):to_be("hit")
                  expect(#sent("promotion:thanks")):to_be(1)
                end)
                scenario("a typo", function()
                  local r = order("ana", "o1", 150)
                  expect(r:hit("promotion:thank")):to_be(false)
                end)
                scenario("no kind", function()
                  local r = order("ana", "o1", 150)
                  expect(r:result("big")):to_be(nil)
                end)
                scenario("no such journey", function()
                  expect(journey("ana", "welcome")):to_be(nil)
                end)
                """,
            "plugins/.keep": "",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try Fixtures.run(crescent, ["test"], in: dir)
        #expect(result.status == 1)
        let out = result.stdoutText
        #expect(out.contains("✔ right names"), "\(out)")
        #expect(out.contains("rules/big_test.lua:9: no rule 'promotion:thank' in the rule set: did you mean promotion:thanks?"), "\(out)")
        #expect(out.contains("rules/big_test.lua:13: no rule 'big' in the rule set: did you mean segment:big?"), "\(out)")
        #expect(out.contains("rules/big_test.lua:16: no rule 'journey:welcome' in the rule set"), "\(out)")
        #expect(out.contains("1 passed, 3 failed"), "\(out)")
    }

    @Test("a failing scenario: expected vs got with its line, the last event's explanation, exit 1, JUnit XML")
    func failing() throws {
        let dir = try Fixtures.temporaryDirectory(files: [
            "rules/gold.lua": """
                segment "gold" { when = function(c) log("gold? " .. c.id .. " spent " .. c.total_spent) return c.total_spent >= 500 end }
                """,
            "rules/gold_test.lua": """
                scenario("passes", function()
                  local r = order("ana", "o1", 600)
                  expect(r.entered):to_contain("gold")
                end)
                scenario("fails", function()
                  local r = order("bo", "o2", 100)
                  expect(r.entered, "segments entered"):to_contain("gold")
                end)
                scenario("breaks", function() error("boom") end)
                """,
            "plugins/.keep": "",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try Fixtures.run(crescent, ["test", "--junit", "report.xml"], in: dir)
        #expect(result.status == 1)
        let out = result.stdoutText
        #expect(out.contains("✔ passes"))
        #expect(out.contains("✘ rules/gold_test.lua:5: fails"))
        #expect(out.contains(#"rules/gold_test.lua:7: segments entered: expected something containing "gold", got {}"#), "\(out)")
        #expect(out.contains("last event: Order Completed at 2026-01-01T00:00:00.000Z:"))
        #expect(out.contains("    log:\n      gold? bo spent 100"), "the failing scenario's log lines, for print debugging")
        #expect(!out.contains("gold? ana"), "each scenario's own log")
        #expect(out.contains("rules/gold_test.lua:9: boom"))
        #expect(out.contains("1 passed, 2 failed, 1 files"))
        let xml = try String(contentsOf: dir.appendingPathComponent("report.xml"), encoding: .utf8)
        #expect(xml.contains(#"<testsuite name="rules/gold_test.lua" tests="3" failures="2">"#))
        #expect(xml.contains(#"<testcase classname="rules/gold_test.lua" name="passes""#))
        #expect(xml.contains("<system-out>gold? bo spent 100"))

        let broken = try Fixtures.temporaryDirectory(files: ["rules/x_test.lua": "scenario(", "plugins/.keep": ""])
        defer { try? FileManager.default.removeItem(at: broken) }
        let load = try Fixtures.run(crescent, ["test"], in: broken)
        #expect(load.status == 1)
        #expect(load.stdoutText.contains("✘ rules/x_test.lua:1: (loading the file)"))
        let none = try Fixtures.run(crescent, ["test", "nowhere"], in: broken)
        #expect(none.status == 1)
        #expect(none.stderr.contains("no scenario files"))
    }
}
