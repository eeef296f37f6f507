import Engine
import Foundation
import Testing

@Suite("Parsing JSON into JSONValue")
struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

    @Test("objects nested in objects and arrays keep each their own fields")
    func nesting() throws {
        let value = try parse("""
            {"a":1,"b":{"c":{"d":[{"e":2},{},{"f":{"g":3}}]},"h":4},"i":[{"j":5}],"k":{}}
            """)
        #expect(value == .object([
            "a": .int(1),
            "b": .object(["c": .object(["d": .array([.object(["e": .int(2)]), .object([:]), .object(["f": .object(["g": .int(3)])])])]),
                          "h": .int(4)]),
            "i": .array([.object(["j": .int(5)])]),
            "k": .object([:]),
        ]))
    }

    @Test("a repeated key keeps its last value, at every depth")
    func repeatedKeys() throws {
        let value = try parse(#"{"x":1,"y":{"z":1,"z":2},"x":3}"#)
        #expect(value == .object(["x": .int(3), "y": .object(["z": .int(2)])]))
    }

    @Test("malformed objects fail with the byte offset, and the parser can be used again")
    func failures() throws {
        do {
            _ = try parse(#"{"a":{"b":1,}}"#)
            Issue.record("a trailing comma was accepted")
        } catch {
            #expect("\(error)" == "expected a string key at byte 12")
        }
        #expect(throws: (any Error).self) { try parse(#"{"a" 1}"#) }
        #expect(throws: (any Error).self) { try parse(#"{"a":[{"b":1}"#) }
        #expect(try parse(#"{"a":{"b":1}}"#) == .object(["a": .object(["b": .int(1)])]))
    }
}
