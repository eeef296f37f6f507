import Foundation
import Store
import TestSupport
import Testing

@Suite("One engine per database")
struct DatabaseOwnershipTests {
    @Test("a second claim on a database is refused and names the holder; released, the database can be claimed again")
    func exclusive() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("shop.db").path
        var first: DatabaseOwnership? = try DatabaseOwnership(database: path, holder: "crescent serve on 127.0.0.1:8080")
        #expect(throws: DatabaseInUse.self) { try DatabaseOwnership(database: path, holder: "crescent replay") }
        do {
            _ = try DatabaseOwnership(database: path, holder: "crescent replay")
        } catch let error as DatabaseInUse {
            #expect(error.description.hasPrefix("\(path) is in use by another crescent process (pid \(getpid()): crescent serve on 127.0.0.1:8080, since "),
                    "\(error)")
        }
        // Another database in the same folder is free.
        _ = try DatabaseOwnership(database: dir.appendingPathComponent("other.db").path, holder: "crescent replay")
        withExtendedLifetime(first) {}
        first = nil
        let again = try DatabaseOwnership(database: path, holder: "crescent replay")
        #expect(again.lockFile == path + "-lock")
    }
}
