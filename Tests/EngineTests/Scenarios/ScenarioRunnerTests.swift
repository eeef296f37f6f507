import Engine
import Foundation
import TestSupport
import Testing

/// `ScenarioRunner`: scenario files run side by side, each on its own
/// engine and store, and their results come back in the files' order.
@Suite("Scenario runner")
struct ScenarioRunnerTests {
    /// A file whose one scenario orders `total` for the same customer as every
    /// other file and expects exactly its own spend: a store shared between
    /// files would show the others' orders.
    static func file(_ total: Int) -> String {
        """
        scenario("spend \(total)", function()
          order("ana", "o1", \(total))
          expect(customer("ana").total_spent):to_be(\(total))
        end)
        """
    }

    @Test("eight files run side by side: each sees only its own events; results keep the files' order; a broken file is one failure")
    func filesSideBySide() throws {
        var files = ["rules/spend.lua": #"segment "big" { when = function(c) return c.total_spent >= 100 end }"#, "plugins/.keep": ""]
        for n in 1...8 { files["rules/s\(n)_test.lua"] = Self.file(n * 10) }
        files["rules/s9_test.lua"] = "scenario(\"broken\", function() this is not lua end)"
        let root = try Fixtures.temporaryDirectory(files: files)
        defer { try? FileManager.default.removeItem(at: root) }
        let rules = root.appendingPathComponent("rules").path
        let runner = ScenarioRunner(rulesDirectory: rules, pluginsDirectory: root.appendingPathComponent("plugins").path)
        let results = try runner.run(files: ScenarioRunner.files(at: rules))
        #expect(results.map(\.name) == (1...8).map { "spend \($0 * 10)" } + ["(loading the file)"])
        #expect(results.prefix(8).allSatisfy { $0.failure == nil }, "\(results.compactMap(\.failure))")
        #expect(results.last?.failure != nil)
    }
}
