import Engine
import Foundation
import Store
import TestSupport
import Testing

let abandonedCart = """
    journey "abandoned_cart" {
      on = "Product Added",
      key = function(e) return e.properties.cart_id end,
      exit_on = { "Order Completed" },
      steps = {
        wait "1h",
        send { template = "cart_reminder", name = "reminder" },
        wait { "23h", name = "cool_off" },
        branch {
          when = function(c, j) return c:cart_value(j.key) > 50 end,
          send { template = "cart_discount", coupon = { percent = 10, expires_in = "7d" }, name = "discount" },
          otherwise = { send { template = "cart_last_call", name = "last_call" } },
        },
      },
    }
    """

/// The engine with consent given to `u1` (and `u2`), ready for journeys.
func journeyEngine(_ rules: [String: String], users: [String] = ["u1"]) throws -> Engine {
    let engine = try EngineFixtures.engine(rules: rules)
    for user in users {
        _ = try engine.process(EngineFixtures.identify(user, traits: ["marketing_consent": true], at: "-1m"))
    }
    return engine
}

func added(_ cart: String, price: Double, user: String = "u1", at offset: String) -> Event {
    EngineFixtures.track("Product Added", user: user, ["cart_id": .string(cart), "price": .double(price), "quantity": 1], at: offset)
}

/// Templates of the journey's notify actions, in order.
func templates(_ engine: Engine, _ journey: String = "abandoned_cart", customer: String? = nil) throws -> [String] {
    try EngineFixtures.committed(engine, rule: "journey:\(journey)", action: "notify", customer: customer, field: "template").map(\.value)
}

@Suite("Journeys: entry, waits, exits, branches, keys")
struct JourneyTests {
    @Test("a reminder an hour after Product Added, on virtual time")
    func reminderAfterAnHour() throws {
        let engine = try journeyEngine(["journeys/cart.lua": abandonedCart])
        _ = try engine.process(added("c1", price: 30, at: "0s"))
        try engine.advance(to: EngineFixtures.time("59m"))
        #expect(try templates(engine).isEmpty)
        try engine.advance(to: EngineFixtures.time("1h"))
        #expect(try templates(engine) == ["cart_reminder"])
        let sent = try #require(try engine.store.outbox(rule: "journey:abandoned_cart").first)
        #expect(sent.payload == (try JSONValue.parse(Data(sent.payload.utf8))).jsonText, "canonical JSON")
        #expect(sent.payload.contains(#""key":"c1","step":"reminder","template":"cart_reminder""#))
        let instance = try #require(try engine.store.journeyInstances(customerId: "u1").first)
        #expect(instance.step == "cool_off")
        #expect(instance.wakeAt == EngineFixtures.time("24h"))
    }

    @Test("durations run together add up: a wait of 1h30m, a window of 1d12h")
    func compoundDurations() throws {
        let engine = try journeyEngine(["journeys/cart.lua": abandonedCart.replacingOccurrences(of: #"wait "1h","#, with: #"wait "1h30m","#),
                                        "segments/s.lua": #"segment "viewer" { when = function(c) return c:count{ event = "Product Added", within = "1d12h" } >= 1 end }"#])
        #expect(engine.problems.isEmpty, "\(engine.problems)")
        _ = try engine.process(added("c1", price: 30, at: "0s"))
        try engine.advance(to: EngineFixtures.time("1h29m"))
        #expect(try templates(engine).isEmpty)
        try engine.advance(to: EngineFixtures.time("1h30m"))
        #expect(try templates(engine) == ["cart_reminder"])
        #expect(try engine.store.segments(of: "u1") == ["viewer"])
        #expect(DurationText.milliseconds("2d12h") == 216_000_000 && DurationText.milliseconds("1h-30m") == nil)
        #expect(DurationText.milliseconds("1h30") == nil, "a number without its unit after a part is not a duration")
    }

    @Test("no reminder when the order arrives at 59 minutes; the exit reason is kept")
    func orderBeforeTheReminder() throws {
        let engine = try journeyEngine(["journeys/cart.lua": abandonedCart])
        _ = try engine.process(added("c1", price: 30, at: "0s"))
        let outcome = try engine.process(EngineFixtures.order("o1", total: 30, at: "59m", ["cart_id": "c1"]))
        #expect(outcome.result("journey:abandoned_cart")?.reason == "exit_on: Order Completed")
        try engine.advance(to: EngineFixtures.time("3d"))
        #expect(try templates(engine).isEmpty)
        let instance = try #require(try engine.store.journeyInstances(customerId: "u1").first)
        #expect(instance.status == "exited")
        #expect(instance.exitReason == "exit_on: Order Completed")
    }

    @Test("an order from before the cart journey began (history arriving late) does not end it; a new one does")
    func lateHistoryLeavesJourneysAlone() throws {
        let engine = try journeyEngine(["journeys/cart.lua": abandonedCart])
        _ = try engine.process(added("c1", price: 30, at: "10m"))
        let late = try engine.process(EngineFixtures.order("o0", total: 30, at: "5m"))
        #expect(late.result("journey:abandoned_cart") == nil, "\(late.results)")
        try engine.advance(to: EngineFixtures.time("1h10m"))
        #expect(try templates(engine) == ["cart_reminder"])
        let now = try engine.process(EngineFixtures.order("o1", total: 30, at: "2h"))
        #expect(now.result("journey:abandoned_cart")?.reason == "exit_on: Order Completed")
    }

    @Test("the branch picks the discount by cart value", arguments: [(80.0, "cart_discount"), (20.0, "cart_last_call")])
    func discountBranch(price: Double, expected: String) throws {
        let engine = try journeyEngine(["journeys/cart.lua": abandonedCart])
        _ = try engine.process(added("c1", price: price, at: "0s"))
        try engine.advance(to: EngineFixtures.time("2d"))
        #expect(try templates(engine) == ["cart_reminder", expected])
        let coupons = try engine.store.outbox(rule: "journey:abandoned_cart").filter { $0.action == "coupon" }
        #expect(coupons.count == (expected == "cart_discount" ? 1 : 0))
        let instance = try #require(try engine.store.journeyInstances(customerId: "u1").first)
        #expect(instance.status == "completed", "\(instance.exitReason ?? "")")
    }

    @Test("two carts are two independent instances; an order for one cart ends only that one")
    func twoCarts() throws {
        let engine = try journeyEngine(["journeys/cart.lua": abandonedCart])
        _ = try engine.process(added("c1", price: 10, at: "0s"))
        _ = try engine.process(added("c2", price: 10, at: "10m"))
        _ = try engine.process(added("c1", price: 5, at: "20m")) // same cart: no second instance
        _ = try engine.process(EngineFixtures.order("o1", total: 10, at: "30m", ["cart_id": "c2"]))
        try engine.advance(to: EngineFixtures.time("2h"))
        try engine.flush()
        let instances = try engine.store.journeyInstances(customerId: "u1").sorted { $0.key < $1.key }
        #expect(instances.map(\.key) == ["c1", "c2"])
        #expect(instances.map(\.status) == ["active", "exited"])
        let reminders = try engine.store.outbox(rule: "journey:abandoned_cart").filter { $0.action == "notify" }
        #expect(reminders.count == 1)
        #expect(reminders.first?.payload.contains("\"key\":\"c1\"") == true)
    }

    @Test("exit_on ends an instance in the middle of a long wait")
    func exitMidWait() throws {
        let engine = try journeyEngine(["journeys/cart.lua": abandonedCart])
        _ = try engine.process(added("c1", price: 10, at: "0s"))
        try engine.advance(to: EngineFixtures.time("5h")) // reminder sent, now in the 23 h wait
        _ = try engine.process(EngineFixtures.order("o1", total: 10, at: "6h", ["cart_id": "c1"]))
        try engine.advance(to: EngineFixtures.time("3d"))
        #expect(try templates(engine) == ["cart_reminder"])
        let instance = try #require(try engine.store.journeyInstances(customerId: "u1").first)
        #expect(instance.exitReason == "exit_on: Order Completed")
        #expect(instance.step == "cool_off")
    }

    static let checkout = """
        journey "checkout_nudge" {
          on = "Cart Viewed",
          goal = "Order Completed",
          steps = {
            wait_until { "Checkout Started", timeout = "2h", on_timeout = "nudge", name = "await_checkout" },
            send { template = "thanks_for_checking_out" },
            exit "checked out",
            send { template = "come_back", name = "nudge" },
          },
        }
        """

    @Test("wait_until: the event arrives in time")
    func waitUntilArrives() throws {
        let engine = try journeyEngine(["journeys/checkout.lua": Self.checkout])
        _ = try engine.process(EngineFixtures.track("Cart Viewed", at: "0s"))
        let outcome = try engine.process(EngineFixtures.track("Checkout Started", at: "30m"))
        #expect(outcome.result("journey:checkout_nudge")?.reason == "await_checkout: Checkout Started arrived")
        try engine.advance(to: EngineFixtures.time("1d"))
        #expect(try templates(engine, "checkout_nudge") == ["thanks_for_checking_out"])
        #expect(try engine.store.journeyInstances(customerId: "u1").first?.exitReason == "checked out")
    }

    @Test("wait_until: the timeout goes to its step")
    func waitUntilTimesOut() throws {
        let engine = try journeyEngine(["journeys/checkout.lua": Self.checkout])
        _ = try engine.process(EngineFixtures.track("Cart Viewed", at: "0s"))
        try engine.advance(to: EngineFixtures.time("1h59m"))
        #expect(try templates(engine, "checkout_nudge").isEmpty)
        _ = try engine.process(EngineFixtures.track("Checkout Started", at: "3h")) // too late: already timed out
        #expect(try templates(engine, "checkout_nudge") == ["come_back"])
        #expect(try engine.store.journeyInstances(customerId: "u1").first?.status == "completed")
    }

    @Test("a goal event marks the instance converted")
    func goalConverts() throws {
        let engine = try journeyEngine(["journeys/checkout.lua": Self.checkout])
        _ = try engine.process(EngineFixtures.track("Cart Viewed", at: "0s"))
        _ = try engine.process(EngineFixtures.order("o1", total: 10, at: "10m"))
        try engine.flush()
        let instance = try #require(try engine.store.journeyInstances(customerId: "u1").first)
        #expect(instance.converted)
        #expect(instance.exitReason == "goal: Order Completed")
        let report = try #require(try engine.store.journeyReports().first)
        #expect(report.converted == 1)
        #expect(report.exits["goal: Order Completed"] == 1)
    }

    @Test("re-entry waits for reenter_after; no consent means no message, with the reason counted")
    func reentryAndConsent() throws {
        let rules = """
            journey "welcome" {
              on = "Signed Up", reenter_after = "7d",
              steps = { send { template = "welcome" } },
            }
            """
        let engine = try journeyEngine(["journeys/welcome.lua": rules], users: ["u1"])
        _ = try engine.process(EngineFixtures.track("Signed Up", at: "0s"))
        let again = try engine.process(EngineFixtures.track("Signed Up", at: "1d"))
        #expect(again.result("journey:welcome")?.outcome == .suppressed)
        _ = try engine.process(EngineFixtures.track("Signed Up", at: "8d"))
        _ = try engine.process(EngineFixtures.track("Signed Up", user: "u2", at: "8d")) // u2 gave no consent
        #expect(try templates(engine, "welcome", customer: "u1") == ["welcome", "welcome"])
        #expect(try templates(engine, "welcome", customer: "u2").isEmpty)
        let steps = try #require(try engine.store.journeyReports().first?.steps.first)
        #expect(steps.counts["sent"] == 2)
        #expect(steps.counts["suppressed"] == 1)
    }

    @Test("a broken branch ends that instance with the error, and the engine goes on")
    func brokenBranch() throws {
        let rules = """
            journey "fragile" {
              on = "Cart Viewed",
              steps = { wait "1h", branch { when = function(c) return c.nothing.here end, send { template = "x" } } },
            }
            """
        let engine = try journeyEngine(["journeys/fragile.lua": rules])
        _ = try engine.process(EngineFixtures.track("Cart Viewed", at: "0s"))
        try engine.advance(to: EngineFixtures.time("2h"))
        try engine.flush()
        let instance = try #require(try engine.store.journeyInstances(customerId: "u1").first)
        #expect(instance.status == "exited")
        #expect(instance.exitReason?.contains("error in branch_1") == true)
        #expect(engine.stats["journey:fragile"]?.errors == 1)
    }
}

@Suite("Journeys: a send step's data from a function")
struct JourneySendDataTests {
    static let rules = """
        journey "cart" {
          on = "Product Added",
          key = function(e) return e.properties.cart_id end,
          steps = {
            wait "1h",
            send {
              template = "cart_reminder", name = "reminder", coupon = { percent = 5 },
              data = function(c, j, e)
                if j.vars.trigger.sku == "BAD" then return c.nothing.here end
                if j.vars.trigger.sku == "ODD" then return "text" end
                return { cart = j.key, value = c:cart_value(j.key), sku = j.vars.trigger.sku, woke_by = e.name }
              end,
            },
          },
        }
        """

    @Test("data(c, j, e) is called when the message goes: the cart, its value, the entry event, the timer")
    func dataFromAFunction() throws {
        let engine = try journeyEngine(["journeys/cart.lua": Self.rules])
        _ = try engine.process(EngineFixtures.track("Product Added", ["cart_id": "c1", "sku": "SKU-7", "price": 20, "quantity": 2], at: "0s"))
        try engine.advance(to: EngineFixtures.time("1h"))
        try engine.flush()
        let sent = try #require(try engine.store.outbox(rule: "journey:cart").first { $0.action == "notify" })
        let data = try #require(try JSONValue.parse(Data(sent.payload.utf8))["data"])
        #expect(data["cart"]?.stringValue == "c1")
        #expect(data["value"]?.doubleValue == 40)
        #expect(data["sku"]?.stringValue == "SKU-7")
        #expect(data["woke_by"]?.stringValue == "Journey Timer")
        #expect(data["coupon"]?.stringValue?.hasPrefix("CR-") == true, "the coupon joins what the function returned")
        #expect(sent.consentPurpose == "marketing", "delivery checks the consent again")
    }

    @Test("a data function that fails, or answers no table, ends that instance with the error: no message, no coupon",
          arguments: ["BAD", "ODD"])
    func failingData(sku: String) throws {
        let engine = try journeyEngine(["journeys/cart.lua": Self.rules])
        _ = try engine.process(EngineFixtures.track("Product Added", ["cart_id": "c1", "sku": .string(sku), "price": 20], at: "0s"))
        _ = try engine.process(EngineFixtures.track("Product Added", ["cart_id": "c2", "sku": "SKU-1", "price": 20], at: "1m"))
        try engine.advance(to: EngineFixtures.time("2h"))
        try engine.flush()
        let outbox = try engine.store.outbox(rule: "journey:cart")
        #expect(outbox.map(\.action).sorted() == ["coupon", "notify"], "only the healthy cart's message and coupon")
        let broken = try #require(try engine.store.journeyInstances(customerId: "u1").first { $0.key == "c1" })
        #expect(broken.status == "exited")
        let reason = broken.exitReason ?? ""
        #expect(reason.hasPrefix("error in reminder: "), "\(reason)")
        #expect(reason.contains(sku == "BAD" ? "nothing" : "data must return a table, not a string"), "\(reason)")
        #expect(engine.stats["journey:cart"]?.errors == 1)
    }

    @Test("data that is neither a table nor a function is refused with the file and line")
    func badDataField() throws {
        let engine = try EngineFixtures.engine(rules: ["journeys/bad.lua": """
            journey "j" { on = "Cart Viewed", steps = { send { template = "a", data = "hello" } } }
            """])
        let problem = try #require(engine.problems.first { $0.severity == .error })
        #expect(problem.file == "rules/journeys/bad.lua" && problem.line == 1)
        #expect(problem.message.contains("send: data must be a table or a function(c, j, e) returning one"), "\(problem.message)")
    }
}

@Suite("Journeys: declaration problems name the file and line")
struct JourneyProblemTests {
    @Test("bad journeys and messaging are reported, and the good ones still load", arguments: [
        ("journey \"j\" { on = \"Cart Viewed\", steps = { wait \"soon\" } }", "wait: invalid duration \"soon\""),
        ("journey \"j\" { on = \"Cart Viewed\", steps = {} }", "needs steps"),
        ("journey \"j\" { steps = { wait \"1h\" } }", "needs a trigger"),
        ("journey \"j\" { on = \"Cart Viewed\", steps = { wait_until { \"Checkout Started\", timeout = \"1h\", on_timeout = \"nope\" } } }",
         "on_timeout names no step"),
        ("journey \"j\" { on = \"Cart Viewed\", steps = { send { template = \"a\", name = \"x\" }, send { template = \"b\", name = \"x\" } } }",
         "two steps are named \"x\""),
        ("journey \"j\" { on = \"Cart Viewed\", steps = { send { tempalte = \"a\" } } }", "unknown field 'tempalte'"),
        ("journey \"j\" { on = \"Cart Viewed\", cap = { max = 0 }, steps = { send { template = \"a\" } } }", "cap must look like"),
        ("messaging { quiet_hours = { from = \"9pm\", to = \"8am\" } }", "quiet_hours must look like"),
        ("messaging { timezone = \"Mars/Olympus\" }", "unknown timezone"),
    ])
    func problems(source: String, message: String) throws {
        let engine = try EngineFixtures.engine(rules: ["journeys/bad.lua": source, "journeys/good.lua": abandonedCart])
        let problem = try #require(engine.problems.first { $0.severity == .error })
        #expect(problem.file == "rules/journeys/bad.lua")
        #expect(problem.line == 1)
        #expect(problem.message.contains(message), "\(problem.message)")
        _ = try engine.process(EngineFixtures.track("Product Added", ["cart_id": "c1"], at: "0s"))
        #expect(try engine.journeyInstanceCount() == 1)
    }
}
