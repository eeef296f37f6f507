import GRDB

/// One stored version of the rule set.
public struct RulesetVersion: Sendable, Equatable {
    public var version: String
    /// When it was first loaded (ms).
    public var loadedAt: Int64
    /// Rule file path (`rules/...`) → source.
    public var sources: String
    /// Rule ids, JSON array.
    public var rules: String
    /// Decisions made under it.
    public var decisions: Int
}

extension CrescentStore {
    /// Every rule set version ever loaded, oldest first, with how many decisions each made.
    public func rulesetHistory() throws -> [RulesetVersion] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.version, r.loaded_at, r.sources, r.rules,
                       (SELECT COUNT(*) FROM decisions d WHERE d.ruleset_version = r.version) AS decisions
                FROM rulesets r ORDER BY r.loaded_at, r.rowid
                """).map {
                RulesetVersion(version: $0["version"], loadedAt: $0["loaded_at"], sources: $0["sources"], rules: $0["rules"],
                               decisions: $0["decisions"])
            }
        }
    }
}
