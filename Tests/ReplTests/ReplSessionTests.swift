import Engine
import Foundation
import LuaKit
import Repl
import Store
import TestSupport
import Testing

@Suite("REPL session and value printer")
struct ReplSessionTests {
    final class Transcript {
        var out = ""
        var err = ""
    }

    func session(rules: [String: String] = ["s.lua": #"segment "big" { when = function(c) return c.total_spent >= 100 end }"#])
        throws -> (ReplSession, Transcript) {
        var files: [String: String] = ["plugins/.keep": ""]
        for (path, text) in rules { files["rules/" + path] = text }
        let root = try Fixtures.temporaryDirectory(files: files)
        let rulesDir = root.appendingPathComponent("rules").path, plugins = root.appendingPathComponent("plugins").path
        let engine = try Engine(store: try CrescentStore(), rulesDirectory: rulesDir, pluginsDirectory: plugins)
        let transcript = Transcript()
        let session = try ReplSession(engine: engine, rulesDirectory: rulesDir, pluginsDirectory: plugins,
                                      clock: EngineFixtures.time(), output: { transcript.out += $0 }, errorOutput: { transcript.err += $0 })
        return (session, transcript)
    }

    @Test("an unfinished chunk waits for the next line, with the continuation prompt")
    func multiLine() throws {
        let (repl, transcript) = try session()
        repl.feed("local t = {")
        #expect(repl.isIncomplete)
        #expect(repl.prompt.contains("...>"))
        repl.feed("  a = 1,")
        repl.feed("}")
        #expect(!repl.isIncomplete)
        repl.feed("total = 0")
        repl.feed("for i = 1, 4 do total = total + i end")
        repl.feed("total")
        #expect(transcript.out == "10\n")
        #expect(repl.errors == 0)
    }

    @Test("syntax and runtime errors are counted and name the input; the session goes on")
    func errors() throws {
        let (repl, transcript) = try session()
        repl.feed("1 +* 2")
        repl.feed("error('boom')")
        repl.feed("'after'")
        #expect(repl.errors == 2)
        #expect(transcript.err.contains("stdin:1:"))
        #expect(transcript.err.contains("boom"))
        #expect(transcript.out == "after\n")
    }

    @Test("send runs the pipeline and explains it; customer reads the store; the sandbox still holds")
    func helpers() throws {
        let (repl, transcript) = try session()
        repl.feed(#"send{ userId = "ana", event = "Order Completed", properties = { order_id = "o1", total = 150 } }"#)
        #expect(transcript.out.contains("hit segment:big (entered)"))
        #expect(transcript.out.contains(#"entered = { "big" }"#))
        transcript.out = ""
        repl.feed(#"customer("ana").total_spent"#)
        #expect(transcript.out == "150.0\n")
        transcript.out = ""
        repl.feed("rules()")
        #expect(transcript.out.contains("  segment:big  hits 1, 1 run ("), "hits and time per rule: \(transcript.out)")
        transcript.out = ""
        repl.feed("io")
        repl.feed("os.execute")
        #expect(transcript.out.hasSuffix("nil\nnil\n"), "no io, no os.execute in the REPL either")
    }

    @Test("advance moves the clock; past ten years from the start it is refused and the clock stays")
    func advanceBound() throws {
        let (repl, transcript) = try session()
        repl.feed(#"advance("2d")"#)
        #expect(transcript.out.contains("timers fired"), "\(transcript.out)")
        repl.feed(#"advance("400000d")"#)
        #expect(repl.errors == 1)
        #expect(transcript.err.contains("advance: the REPL covers at most 10 years of virtual time from its start"), "\(transcript.err)")
        transcript.out = ""
        repl.feed(#"advance("1h")"#)
        #expect(transcript.out.contains("now \(Timestamps.iso(EngineFixtures.time() + 2 * 86_400_000 + 3_600_000))"), "\(transcript.out)")
    }

    @Test("the first advance runs every schedule due since the session started, with no event sent before")
    func firstAdvanceRunsSchedules() throws {
        let (repl, transcript) = try session(rules: ["pace.lua": #"schedule "pace" { every = "1h", run = function(ctx, act) end }"#])
        repl.feed(#"advance("1d")"#)
        #expect(transcript.out.contains(": 0 timers fired, 24 schedules run"), "\(transcript.out)")
        transcript.out = ""
        repl.feed(#"advance("2h")"#)
        #expect(transcript.out.contains(": 0 timers fired, 2 schedules run"), "\(transcript.out)")
    }

    @Test("customer() of an anonymous id that identified gives the customer it joined")
    func customerFollowsTheMerge() throws {
        let (repl, transcript) = try session()
        repl.feed(#"send{ anonymousId = "anon-1", event = "Order Completed", properties = { order_id = "o1", total = 120 } }"#)
        repl.feed(#"send{ type = "identify", anonymousId = "anon-1", userId = "zoe" }"#)
        transcript.out = ""
        repl.feed(#"customer("anon-1").id, customer("anon-1").total_spent, customer("zoe").total_spent"#)
        #expect(transcript.out == "zoe\t120.0\t120.0\n", "\(transcript.out)")
    }

    @Test("customer() shows consent, when they were seen and where they came from: what decides whether a rule may fire")
    func customerShowsConsentAndTouches() throws {
        let (repl, transcript) = try session()
        repl.feed(#"send{ userId = "ana", traits = { marketing_consent = false }, context = { campaign = { source = "newsletter", medium = "email" } } }"#)
        repl.feed(#"send{ userId = "ana", event = "Order Completed", properties = { order_id = "o1", total = 20 } }"#)
        transcript.out = ""
        repl.feed(#"local c = customer("ana"); return c.consent.marketing, c.first_touch.source, c.last_order_at, c.first_seen"#)
        let at = Timestamps.iso(EngineFixtures.time())
        #expect(transcript.out == "false\tnewsletter\t\(at)\t\(at)\n", "\(transcript.out)")
        #expect(repl.errors == 0)
    }

    @Test("tables print with sorted keys, nested and indented when long")
    func printer() {
        #expect(ValuePrinter.show(.table(["b": 1, "a": .array([1, 2])])) == "{ a = { 1, 2 }, b = 1 }")
        #expect(ValuePrinter.show(.table(["with space": "x"])) == #"{ ["with space"] = "x" }"#)
        #expect(ValuePrinter.show(.number(2.5)) == "2.5")
        #expect(ValuePrinter.show("line\n") == #""line\n""#)
        let long = ValuePrinter.show(.table(["description": .string(LuaString(String(repeating: "x", count: 80))), "n": 1]))
        #expect(long.hasPrefix("{\n  description = "))
        #expect(long.hasSuffix("\n  n = 1,\n}"))
    }
}
