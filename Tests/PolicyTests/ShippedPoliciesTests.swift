import Foundation
import Testing
@testable import Policy

/// The policies the repository ships in `policies/` load without errors and pass their own tests.
struct ShippedPoliciesTests {
    /// `policies/` at the repository root, found from this file's path.
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // PolicyTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // the repository
        .appendingPathComponent("policies").path

    static func load() throws -> PolicyLoader.Result {
        try #require(FileManager.default.fileExists(atPath: directory), "no policy folder at \(directory)")
        return PolicyLoader.load(directory: directory)
    }

    @Test func loadWithoutErrorsOrWarnings() throws {
        let result = try Self.load()
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description).joined(separator: "\n"))")
        let policy = try #require(result.policy)
        #expect(!policy.files.isEmpty)
        #expect(!policy.rules.isEmpty)
        #expect(!policy.tests.isEmpty)
        #expect(policy.files.allSatisfy { $0.name.hasPrefix(Self.directory + "/") }, "diagnostics name the files by path")
    }

    @Test func everyShippedTestPasses() throws {
        let policy = CompiledPolicy(try #require(try Self.load().policy))
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        let outcomes = PolicyTestRunner.run(policy, at: now)
        #expect(outcomes.count == policy.policy.tests.count)
        for outcome in outcomes {
            #expect(outcome.passed, "\(outcome.test.name) (\(outcome.test.location)): \(outcome.failures.joined(separator: "; "))")
        }
    }

    /// Reading the files in another order gives the same access to every test's user.
    @Test func fileOrderDoesNotMatter() throws {
        let policy = try #require(try Self.load().policy)
        let forward = CompiledPolicy(policy)
        let backward = try compilePolicy(policy.files.reversed().map { ($0.name, $0.contents) })
        for test in policy.tests {
            let now = test.at ?? 0
            #expect(forward.access(for: test.subject, at: now).isEquivalent(to: backward.access(for: test.subject, at: now)), "\(test.name)")
        }
    }
}
