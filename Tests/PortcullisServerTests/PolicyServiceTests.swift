import Foundation
import Logging
import Policy
import PortcullisServer
import Testing

/// The running server's policy: reload on change, refusal of broken or failing versions, expiry.
@Suite("Policy service", .serialized)
struct PolicyServiceTests {
    static let logger = Logger(label: "policy-service-tests") { _ in SwiftLogNoOpLogHandler() }

    static let base = """
        resources:
          git: { hosts: [10.20.1.10/32], ports: [tcp/22] }
          db: { hosts: [10.30.0.0/24], ports: [tcp/5432] }
        rules:
          - name: engineers-git
            groups: [Engineering]
            allow: [{ to: git }]
        tests:
          - name: engineers reach git
            user: { groups: [Engineering] }
            allow: [git:tcp/22]
        """

    /// A policy folder in a temporary directory, removed afterwards.
    final class Folder: Sendable {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-policies-\(UUID().uuidString)").path

        init(_ files: [String: String]) throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for (name, contents) in files { try write(name, contents) }
        }

        func write(_ name: String, _ contents: String) throws {
            try contents.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static let engineer = PolicySubject(userName: "ada", groups: ["Engineering"])

    @Test func aValidFolderIsInForceAtStart() throws {
        let folder = try Folder(["a.yaml": Self.base])
        let service = PolicyService(directory: folder.path, logger: Self.logger)
        #expect(service.current?.number == 1)
        #expect(service.lastAttempt?.accepted == true)
        #expect(service.current?.hash.hasPrefix("sha256:") == true)
        #expect(!service.access(for: Self.engineer).isEmpty)
        #expect(service.access(for: PolicySubject(userName: "bob", groups: ["Sales"])).isEmpty)
    }

    @Test func aBrokenFileIsRefusedAndThePreviousVersionStays() throws {
        let folder = try Folder(["a.yaml": Self.base])
        let service = PolicyService(directory: folder.path, logger: Self.logger)
        let before = try #require(service.current)
        try folder.write("b.yaml", "rules:\n  - name: x\n    groups: [X]\n    allow: [{ to: nowhere }]\n")
        let attempt = service.reloadNow()
        #expect(!attempt.accepted)
        #expect(attempt.errors.map(\.description) == ["\(folder.path)/b.yaml:4:19: error: unknown resource 'nowhere'; known resources: db, git"])
        #expect(service.current?.number == before.number)
        #expect(service.current?.hash == before.hash)
        #expect(!service.access(for: Self.engineer).isEmpty)
    }

    @Test func aVersionWhoseTestsFailIsRefused() throws {
        let folder = try Folder(["a.yaml": Self.base])
        let service = PolicyService(directory: folder.path, logger: Self.logger)
        try folder.write(
            "b.yaml",
            """
            rules:
              - name: no-engineers-on-git
                groups: [Engineering]
                deny: [{ to: git }]
            """)
        let attempt = service.reloadNow()
        #expect(!attempt.accepted)
        #expect(attempt.testFailures.map(\.test.name) == ["engineers reach git"])
        #expect(service.current?.number == 1)
        #expect(!service.access(for: Self.engineer).isEmpty)
    }

    @Test func anAcceptedChangeGetsTheNextVersionAndIsAnnounced() async throws {
        let folder = try Folder(["a.yaml": Self.base])
        let service = PolicyService(directory: folder.path, logger: Self.logger)
        let changes = service.changes()
        try folder.write("a.yaml", Self.base.replacingOccurrences(of: "[Engineering]", with: "[Engineering, SRE]"))
        service.reloadNow()
        #expect(service.current?.number == 2)
        var iterator = changes.makeAsyncIterator()
        #expect(await iterator.next() == .reloaded(version: 2))
        #expect(!service.access(for: PolicySubject(userName: "sam", groups: ["SRE"])).isEmpty)
        // Reloading identical files changes nothing.
        service.reloadNow()
        #expect(service.current?.number == 2)
    }

    @Test func theRunningServiceNoticesFileChangesAndReloadRequests() async throws {
        let folder = try Folder(["a.yaml": Self.base])
        let service = PolicyService(directory: folder.path, logger: Self.logger)
        let running = Task { try await service.run() }
        defer { running.cancel() }
        try folder.write("b.yaml", "rules:\n  - name: sre\n    groups: [SRE]\n    allow: [{ to: db }]\n")
        #expect(try await waitUntil(seconds: 5) { service.current?.number == 2 })

        // A reload request (what SIGHUP sends) reloads at once, without waiting for the file poll.
        try folder.write("c.yaml", "rules:\n  - name: sales\n    groups: [Sales]\n    allow: [{ to: git }]\n")
        service.requestReload()
        #expect(try await waitUntil(seconds: 0.9) { service.current?.number == 3 })
    }

    @Test func accessEndsAtTheRulesUntilNotAtTheNextReload() async throws {
        let until = Date().addingTimeInterval(1.2)
        let stamp = ISO8601DateFormatter().string(from: until.addingTimeInterval(1).addingTimeInterval(-1))
        let folder = try Folder([
            "a.yaml": """
            resources:
              db: { hosts: [10.30.0.0/24], ports: [tcp/5432] }
            rules:
              - name: oncall-db
                groups: [SRE-Oncall]
                allow: [{ to: db }]
                until: \(stamp)
            """
        ])
        let expiry = try #require(ISO8601DateFormatter().date(from: stamp))
        let service = PolicyService(directory: folder.path, logger: Self.logger)
        let oncall = PolicySubject(userName: "sam", groups: ["SRE-Oncall"])
        #expect(!service.access(for: oncall).isEmpty)
        let changes = service.changes()
        let running = Task { try await service.run() }
        defer { running.cancel() }
        var iterator = changes.makeAsyncIterator()
        let change = await iterator.next()
        let announcedAt = Date()
        #expect(change == .expired(rules: ["oncall-db"]))
        #expect(announcedAt >= expiry)
        #expect(announcedAt.timeIntervalSince(expiry) < 0.5, "announced \(announcedAt.timeIntervalSince(expiry)) s late")
        #expect(service.access(for: oncall).isEmpty)
        #expect(service.current?.number == 1, "no reload was needed")
    }

    @Test func aMissingFolderLeavesNoPolicyInForce() {
        let service = PolicyService(directory: "/nonexistent/portcullis-policies", logger: Self.logger)
        #expect(service.current == nil)
        #expect(service.lastAttempt?.accepted == false)
        #expect(service.access(for: Self.engineer).isEmpty)
    }
}

/// Polls `condition` every 20 ms for up to `seconds`.
func waitUntil(seconds: Double, _ condition: () -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
