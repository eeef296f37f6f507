@testable import Engine
import Testing

/// The compact explanation stored with every event reads back as written.
@Suite("Stored explanations")
struct ExplanationTextTests {
    @Test("every outcome, scores, awkward reasons and answers kept unchanged read back as written")
    func roundTrip() throws {
        let rules = ["fraud:velocity", "segment:gold", "promotion:welcome", "segment:at_risk"]
        let index = Dictionary(uniqueKeysWithValues: rules.enumerated().map { ($0.element, $0.offset) })
        let results = [
            RuleResult(rule: "fraud:velocity", kind: "fraud", outcome: .hit, score: 42.5, reason: "3 orders \"fast\"\n", micros: 17),
            RuleResult(rule: "fraud:velocity", kind: "fraud", outcome: .miss, score: 0, micros: 0),
            RuleResult(rule: "segment:gold", kind: "segment", outcome: .hit, reason: RuleResult.unchanged),
            RuleResult(rule: "segment:at_risk", kind: "segment", outcome: .miss, reason: RuleResult.unchanged),
            RuleResult(rule: "segment:gold", kind: "segment", outcome: .shadowHit, reason: RuleResult.unchanged),
            RuleResult(rule: "segment:at_risk", kind: "segment", outcome: .hit, reason: "entered", micros: 1_234_567),
            RuleResult(rule: "promotion:welcome", kind: "promotion", outcome: .suppressed, reason: "no marketing consent"),
            RuleResult(rule: "promotion:welcome", kind: "promotion", outcome: .error, reason: "rules/x.lua:3: boom ✗", micros: 5),
            RuleResult(rule: "promotion:welcome", kind: "promotion", outcome: .disabled, score: -7),
        ]
        let text = RuleResult.compactText(results, index: index)
        #expect(text.hasPrefix("[[0,\"h\",17,42.5,"))
        #expect(text.contains("[1,\"H\",0]") && text.contains("[3,\"M\",0]") && text.contains("[1,\"W\",0]"))
        #expect(try RuleResult.decodeCompact(text, rules: rules) == results)
        let unknown = RuleResult(rule: "segment:gone", kind: "segment", outcome: .miss, micros: 3)
        #expect(try RuleResult.decodeCompact(RuleResult.compactText([unknown], index: index), rules: rules)
            == [RuleResult(rule: "unknown:-1", kind: "unknown", outcome: .miss, micros: 3)])
    }
}
