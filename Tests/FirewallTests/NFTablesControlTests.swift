import Foundation
import Policy
import SystemTestSupport
import Testing

@testable import Firewall

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `NFTablesControl` uses libnftables in-process, and libnftables acts on the network namespace of the
/// calling process. So the test does not run it here: it creates a namespace and starts this same test
/// binary again inside it (`ip netns exec NS <this binary> --filter NFTablesControlChild`), where the
/// child test below drives a real `NFTablesControl`. The child refuses to touch nftables unless it
/// really is in that namespace, so the host's ruleset is never changed.
enum ChildMode {
    static let namespaceVariable = "PORTCULLIS_TEST_NFT_NAMESPACE"
    static let reportVariable = "PORTCULLIS_TEST_NFT_REPORT"

    static var namespace: String? { ProcessInfo.processInfo.environment[namespaceVariable] }
    static var reportPath: String? { ProcessInfo.processInfo.environment[reportVariable] }

    /// Whether this process's network namespace is the named one (same nsfs inode).
    static func isInside(namespace: String) -> Bool {
        var own = stat()
        var named = stat()
        guard stat("/proc/self/ns/net", &own) == 0, stat("/var/run/netns/\(namespace)", &named) == 0 else { return false }
        return own.st_ino == named.st_ino && own.st_dev == named.st_dev
    }

    /// The running test binary, to start again inside the namespace.
    static var executable: String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first
    }
}

@Suite("NFTablesControl (libnftables) in a namespace")
struct NFTablesControlTests {
    @Test(
        "NFTablesControl loads, applies element changes, lists, and refuses bad batches, inside a namespace",
        .enabled(if: Tools.canUseNamespaces, "needs root, ip and nft to run the child test in a network namespace"),
        .enabled(if: ChildMode.namespace == nil, "this is the child process"),
        .timeLimit(.minutes(2)))
    func drivesNFTablesInANamespace() async throws {
        let executable = try #require(ChildMode.executable, "cannot find the test binary to start again")
        try await withTemporaryDirectory { directory in
            let report = directory + "/report"
            try await NetworkNamespace.with(label: "fw") { namespace in
                let child = try await namespace.run(
                    [executable, "--testing-library", "swift-testing", "--filter", "NFTablesControlChild"],
                    environment: [ChildMode.namespaceVariable: namespace.name, ChildMode.reportVariable: report], timeout: 60)
                let output = "status \(child.status)\n\(child.standardOutput)\n\(child.standardError)"
                #expect(child.succeeded, "the child test failed:\n\(output)")
                #expect((try? String(contentsOfFile: report, encoding: .utf8)) == "ran", "the child test did not run:\n\(output)")

                // What the child left behind, seen with the CLI in the same namespace.
                let final = try GoldenCase.named("several-rules")
                let listing = try await namespace.listTable()
                #expect(NFTablesListing.sources(listing) == (try final.expectedSources()))
            }
        }
    }
}

@Suite("NFTablesControlChild")
struct NFTablesControlChild {
    @Test(
        "child: drives NFTablesControl in the namespace its parent made",
        .enabled(if: ChildMode.namespace != nil, "runs only inside the namespace that 'NFTablesControl (libnftables) in a namespace' creates"))
    func child() async throws {
        let namespace = try #require(ChildMode.namespace)
        try #require(ChildMode.isInside(namespace: namespace), "not inside namespace \(namespace): refusing to touch nftables")
        try await exercise()
        if let reportPath = ChildMode.reportPath {
            try "ran".write(toFile: reportPath, atomically: true, encoding: .utf8)
        }
    }

    private func exercise() async throws {
        let control = try NFTablesControl()
        // A fresh namespace has no table.
        #expect(try await control.liveSources() == nil)
        #expect(try await control.liveStructure() == nil)

        let testCase = try GoldenCase.named("several-rules")
        let state = try testCase.state()
        let expected = try testCase.expectedSources()
        try await control.load(state)
        #expect(try await control.liveSources() == expected)
        let structure = try #require(try await control.liveStructure())

        // The structure seen through libnftables is the one the CLI lists.
        let cli = try await Tools.run(try #require(Tools.nft), ["-j", "list", "table", "inet", RulesetRenderer.tableName])
        let cliListing = try #require(try JSONSerialization.jsonObject(with: Data(cli.standardOutput.utf8)) as? [String: Any])
        #expect(NFTablesListing.structure(cliListing) == structure)

        // Element changes: sources follow, the structure does not move. One address joins two rules.
        let changes: [FirewallChange] = [
            .addSource(ruleID: "b2", address: try Parse.prefix("10.100.0.50/32")),
            .removeSource(ruleID: "a1", address: try Parse.prefix("fd00:100::2/128")),
            .addSource(ruleID: "c3", address: try Parse.prefix("fd00:100::77/128")),
            .addSource(ruleID: "c3", address: try Parse.prefix("10.100.0.50/32")),
        ]
        try await control.apply(changes, resulting: state)
        var wanted = expected
        wanted["b2"]?.insert("10.100.0.50")
        wanted["a1"]?.remove("fd00:100::2")
        wanted["c3"]?.formUnion(["fd00:100::77", "10.100.0.50"])
        #expect(try await control.liveSources() == wanted)
        #expect(try await control.liveStructure() == structure)
        try await control.apply([], resulting: state)
        #expect(try await control.liveSources() == wanted)

        // A batch with a change nftables refuses fails as a whole.
        await #expect(throws: FirewallError.self) {
            try await control.apply(
                [
                    .addSource(ruleID: "b2", address: try Parse.prefix("10.100.0.51/32")),
                    .addSource(ruleID: "nope", address: try Parse.prefix("10.100.0.52/32")),
                ], resulting: state)
        }
        #expect(try await control.liveSources() == wanted)

        // Loading another state replaces the table; loading the first one again restores it.
        try await control.load(FirewallState(interfaceName: "wg-corp", rules: []))
        #expect(try await control.liveSources() == [:])
        #expect(try await control.liveStructure() != structure)

        // Deny rules load through libnftables too, and their sets change like the others.
        let denies = try GoldenCase.named("deny-and-allow")
        try await control.load(try denies.state())
        var deniesWanted = try denies.expectedSources()
        #expect(try await control.liveSources() == deniesWanted)
        let quarantine = GoldenCase.PolicyIDs.quarantine
        try await control.apply([.addSource(ruleID: quarantine, address: try Parse.prefix("10.100.0.4/32"))], resulting: try denies.state())
        deniesWanted[quarantine] = ["10.100.0.4"]
        #expect(try await control.liveSources() == deniesWanted)

        try await control.load(state)
        #expect(try await control.liveSources() == expected)
        #expect(try await control.liveStructure() == structure)
    }
}
