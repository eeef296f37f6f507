import ArgumentParser
import Engine
import Foundation

/// `crescent test [PATH]`: runs scenario files against the rules.
struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run scenario tests (*_test.lua) against the rules; exit 1 when one fails."
    )

    @Argument(help: "A scenario file, or a folder searched for *_test.lua (default: the rules folder).")
    var path: String?

    @OptionGroup var folders: RuleFolders

    @Option(help: "Also write the results as JUnit XML to this file.")
    var junit: String?

    func run() throws {
        let target = path ?? folders.rules
        let files = ScenarioRunner.files(at: target)
        if files.isEmpty {
            StandardStreams.writeError("error: no scenario files (*_test.lua) at \(target)\n")
            throw ExitCode(1)
        }
        let runner = ScenarioRunner(rulesDirectory: folders.rules, pluginsDirectory: try folders.pluginsFolder())
        let results = try runner.run(files: files)
        var out = ""
        for result in results {
            if let failure = result.failure {
                out += "✘ \(result.file):\(result.line): \(result.name)\n    \(failure)\n"
                if !result.lastEvent.isEmpty { out += "    last event: " + result.lastEvent.joined(separator: "\n    ") + "\n" }
                if !result.log.isEmpty { out += "    log:\n" + result.log.map { "      \($0)\n" }.joined() }
            } else {
                out += "✔ \(result.name)  (\(result.file))\n"
            }
        }
        let failed = results.filter { $0.failure != nil }.count
        out += "\(results.count - failed) passed, \(failed) failed, \(files.count) files\n"
        StandardStreams.write(Array(out.utf8))
        if let junit {
            do {
                try Self.junit(results).write(toFile: junit, atomically: true, encoding: .utf8)
            } catch {
                StandardStreams.writeError("error: --junit \(junit): cannot write the report (\((error as NSError).localizedDescription))\n")
                throw ExitCode(1)
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }

    static func junit(_ results: [ScenarioResult]) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
        for (file, cases) in Dictionary(grouping: results, by: \.file).sorted(by: { $0.key < $1.key }) {
            let failures = cases.filter { $0.failure != nil }.count
            xml += "  <testsuite name=\"\(escape(file))\" tests=\"\(cases.count)\" failures=\"\(failures)\">\n"
            for c in cases {
                xml += "    <testcase classname=\"\(escape(file))\" name=\"\(escape(c.name))\" time=\"\(String(format: "%.3f", c.seconds))\""
                if let failure = c.failure {
                    xml += ">\n      <failure message=\"\(escape(failure))\">\(escape(c.lastEvent.joined(separator: "\n")))</failure>\n"
                    if !c.log.isEmpty { xml += "      <system-out>\(escape(c.log.joined(separator: "\n")))</system-out>\n" }
                    xml += "    </testcase>\n"
                } else {
                    xml += "/>\n"
                }
            }
            xml += "  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }
}
