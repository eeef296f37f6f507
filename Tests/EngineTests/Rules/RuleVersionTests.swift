import Engine
import Foundation
import Store
import TestSupport
import Testing

/// A rule set's version is a hash of its files' contents and their names
/// from the rule and plugin folders down, whatever path the folders were given by.
@Suite("Rule set versions")
struct RuleVersionTests {
    static let rules = ["rules/promotions/hello.lua": #"promotion "hello" { on = "Signed Up", run = function(e, c, act) act:notify{ template = "hi" } end }"#]
    static let plugin = "local M = {} function M.greet() return 'hi' end return M"

    static func version(_ folder: URL, relative: Bool = false) throws -> String {
        var rules = folder.appendingPathComponent("rules").path, plugins = folder.appendingPathComponent("plugins").path
        if relative {
            let here = FileManager.default.currentDirectoryPath
            let up = String(repeating: "../", count: here.split(separator: "/").count)
            rules = up + String(rules.dropFirst())
            plugins = up + String(plugins.dropFirst())
        }
        return try Engine(store: try CrescentStore(), rulesDirectory: rules, pluginsDirectory: plugins).rules.version
    }

    @Test("the same files in two folders, one given by a relative path, make the same version; an edited plugin another")
    func sameFilesSameVersion() throws {
        let a = try Fixtures.temporaryDirectory(files: Self.rules.merging(["plugins/greet.lua": Self.plugin]) { a, _ in a })
        let b = try Fixtures.temporaryDirectory(files: Self.rules.merging(["plugins/greet.lua": Self.plugin]) { a, _ in a })
        let c = try Fixtures.temporaryDirectory(files: Self.rules.merging(["plugins/greet.lua": Self.plugin + "\n"]) { a, _ in a })
        defer { for folder in [a, b, c] { try? FileManager.default.removeItem(at: folder) } }
        let first = try Self.version(a)
        #expect(try Self.version(b, relative: true) == first)
        #expect(try Self.version(c) != first)
    }
}
