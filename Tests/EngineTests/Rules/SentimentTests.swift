import Engine
import Foundation
import Store
import TestSupport
import Testing

@Suite("sentiment(text) for rules")
struct SentimentTests {
    /// Scores texts through a rule that logs `sentiment(e.properties.text)`.
    static func scores(_ texts: [String]) throws -> [Double] {
        let rule = #"promotion "probe" { on = "Probe", marketing = false, when = function(e) log(sentiment(e.properties.text)) return false end, run = function() end }"#
        let engine = try EngineFixtures.engine(rules: ["probe.lua": rule])
        for text in texts { _ = try engine.process(EngineFixtures.track("Probe", ["text": .string(text)])) }
        return engine.log.map { Double($0.split(separator: " ").last.map(String.init) ?? "") ?? .nan }
    }

    @Test("English and Spanish: praise is positive, complaints negative, nothing is 0")
    func polarity() throws {
        let s = try Self.scores([
            "Love it, my skin feels amazing", "Terrible, broke me out, very disappointed",
            "Me encanta, muy buena calidad", "Horrible, no lo recomiendo", "Llegó roto y tarde, muy mal",
            "The parcel arrived on Tuesday", "",
        ])
        #expect(s[0] > 0.5)
        #expect(s[1] < -0.7)
        #expect(s[2] > 0.5)
        #expect(s[3] < -0.5, "horrible, and the recommendation is negated")
        #expect(s[4] < -0.5)
        #expect(s[5] == 0)
        #expect(s[6] == 0)
        #expect(s.allSatisfy { $0 >= -1 && $0 <= 1 })
    }

    @Test("negation flips, intensifiers and exclamation marks strengthen")
    func modifiers() throws {
        let s = try Self.scores(["good", "not good", "very good", "very good!!!", "no me gusta", "me gusta"])
        #expect(s[1] < 0 && s[0] > 0)
        #expect(s[2] > s[0])
        #expect(s[3] > s[2])
        #expect(s[4] < 0 && s[5] > 0)
    }
}
