import Foundation
import Store
import TestSupport
import Testing

/// `crescent serve` refusing to start, driven as a user does.
@Suite("crescent serve: starting")
struct ServeCommandTests {
    let crescent = Fixtures.crescentExecutable()

    @Test("an address already in use is named, with what to do, and the exit status is 1")
    func addressInUse() throws {
        // Another process's socket, listening on a free port of the loopback address.
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(socket >= 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                Glibc.bind(socket, generic, length) == 0 && listen(socket, 1) == 0 && getsockname(socket, generic, &length) == 0
            }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Bounded: a server that did start would be stopped after a minute (status 124).
        let serving = try Fixtures.run(URL(fileURLWithPath: "/usr/bin/timeout"), ["60", crescent.path, "serve", "--port", "\(port)", "--db", dir.appendingPathComponent("s.db").path, "--no-watch"],
                                       in: Fixtures.packageRoot, environment: ["CRESCENT_WRITE_KEYS": "wk"])
        #expect(serving.status == 1)
        #expect(serving.stderr.contains("error: cannot listen on 127.0.0.1:\(port): the address is in use (another server? --port 0 picks a free port)"),
                "\(serving.stderr)")
    }

    @Test("a database another process's engine holds is refused by serve, replay and repl, naming the holder; readers go on")
    func databaseInUse() throws {
        let dir = try Fixtures.temporaryDirectory(files: ["e.ndjson": #"{"type":"track","event":"Page Viewed","userId":"u1","messageId":"a"}"# + "\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("shop.db").path
        // The replay fills the database first, then ends and lets it go.
        let first = try Fixtures.run(crescent, ["replay", dir.appendingPathComponent("e.ndjson").path, "--db", db], in: Fixtures.packageRoot)
        #expect(first.status == 0, "\(first.stderr)")
        // This process stands for a running server.
        let holder = try DatabaseOwnership(database: db, holder: "crescent serve on 127.0.0.1:8080")
        let expected = "error: \(db) is in use by another crescent process (pid \(getpid()): crescent serve on 127.0.0.1:8080, since "
        let attempts: [[String]] = [
            ["replay", dir.appendingPathComponent("e.ndjson").path, "--db", db],
            ["repl", "--db", db],
            ["serve", "--port", "0", "--db", db, "--no-watch"],
        ]
        for arguments in attempts {
            // Bounded: a server that did start would be stopped after a minute (status 124).
            let result = try Fixtures.run(URL(fileURLWithPath: "/usr/bin/timeout"), ["60", crescent.path] + arguments,
                                          in: Fixtures.packageRoot, environment: ["CRESCENT_WRITE_KEYS": "wk"], input: "1\n")
            #expect(result.status == 1, "\(arguments[0]): \(result.stderr)")
            #expect(result.stderr.contains(expected), "\(arguments[0]): \(result.stderr)")
        }
        let report = try Fixtures.run(crescent, ["report", "sales", "--db", db], in: Fixtures.packageRoot)
        #expect(report.status == 0, "reports only read: \(report.stderr)")
        withExtendedLifetime(holder) {}
    }
}
