import Foundation
import Policy
import Testing

@testable import Firewall

@Suite("Ruleset renderer")
struct RulesetRendererTests {
    @Test("render(state) is exactly the golden ruleset", arguments: GoldenCase.all)
    func matchesGolden(testCase: GoldenCase) throws {
        let rendered = RulesetRenderer.render(try testCase.state())
        let golden = try testCase.golden()
        #expect(rendered == golden, "first differing line: \(Self.firstDifference(rendered, golden))")
    }

    @Test("the order classes and sources are given in does not change the ruleset", arguments: GoldenCase.all)
    func orderIndependent(testCase: GoldenCase) throws {
        let reversed = GoldenCase(
            file: testCase.file, interfaceName: testCase.interfaceName,
            classes: testCase.classes.reversed().map { ClassSpec(id: $0.id, sources: $0.sources.reversed(), grants: $0.grants.reversed()) })
        #expect(RulesetRenderer.render(try reversed.state()) == RulesetRenderer.render(try testCase.state()))
    }

    @Test("the interface name is quoted and stripped of anything but letters, digits, '-', '_' and '.'")
    func interfaceNameIsSanitized() {
        let rendered = RulesetRenderer.render(FirewallState(interfaceName: "wg0\"; flush ruleset; \"x", classes: []))
        #expect(rendered.contains("        iifname \"wg0flushrulesetx\" jump from_tunnel\n"))
        #expect(!rendered.contains("flush ruleset"))
    }

    @Test("a class without grants still gets its source sets, and no rule")
    func classWithoutGrants() throws {
        let state = FirewallState(interfaceName: "wg0", classes: [try ClassSpec(id: "c9", sources: ["10.100.0.5/32"], grants: []).make()])
        let rendered = RulesetRenderer.render(state)
        #expect(rendered.contains("    set c9_src4 {\n        type ipv4_addr\n        elements = { 10.100.0.5 }\n    }\n"))
        #expect(rendered.contains("    chain from_tunnel {\n        drop\n    }\n"))
    }

    @Test("the first of two classes with the same id is kept")
    func duplicateClassIDs() throws {
        let first = try ClassSpec(id: "c1", sources: ["10.100.0.2/32"], grants: ["10.0.0.0/8 tcp/22"]).make()
        let second = try ClassSpec(id: "c1", sources: ["10.100.0.3/32"], grants: ["10.0.0.0/8 tcp/80"]).make()
        let state = FirewallState(interfaceName: "wg0", classes: [first, second])
        #expect(state.classes == ["c1": first])
    }

    struct ChangeCase: Sendable, CustomTestStringConvertible {
        let name: String
        let changes: [FirewallChange]
        let expected: String
        var testDescription: String { name }
    }

    static func host(_ text: String) -> IPPrefix {
        // Literal addresses: a typo shows up as a failed comparison with 0.0.0.0/0.
        (try? IPPrefix.parse(text)) ?? .everything(.v4)
    }

    static let changeCases: [ChangeCase] = [
        ChangeCase(
            name: "add an IPv4 source",
            changes: [.addSource(classID: "c1", address: host("10.100.0.9/32"))],
            expected: "add element inet portcullis c1_src4 { 10.100.0.9 }\n"),
        ChangeCase(
            name: "remove an IPv6 source",
            changes: [.removeSource(classID: "c1", address: host("fd00:100::9/128"))],
            expected: "delete element inet portcullis c1_src6 { fd00:100::9 }\n"),
        ChangeCase(
            name: "a move between classes, in the given order",
            changes: [
                .removeSource(classID: "a1", address: host("10.100.0.2/32")),
                .removeSource(classID: "a1", address: host("fd00:100::2/128")),
                .addSource(classID: "b2", address: host("10.100.0.2/32")),
                .addSource(classID: "b2", address: host("fd00:100::2/128")),
            ],
            expected: """
                delete element inet portcullis a1_src4 { 10.100.0.2 }
                delete element inet portcullis a1_src6 { fd00:100::2 }
                add element inet portcullis b2_src4 { 10.100.0.2 }
                add element inet portcullis b2_src6 { fd00:100::2 }

                """),
    ]

    @Test("render(changes) is exactly one element command per change", arguments: changeCases)
    func rendersChanges(testCase: ChangeCase) {
        #expect(RulesetRenderer.render(testCase.changes) == testCase.expected)
    }

    @Test("set names follow the class id, the family and the kind")
    func setNames() {
        let names = RulesetRenderer.SetNames("c42")
        #expect(names.source4 == "c42_src4")
        #expect(names.source6 == "c42_src6")
        #expect(names.source(.v6) == "c42_src6")
        #expect(names.destination(.v4, "ports") == "c42_ports4")
        #expect(names.destination(.v6, "icmp") == "c42_icmp6")
    }

    static func firstDifference(_ one: String, _ other: String) -> String {
        let (a, b) = (one.split(separator: "\n", omittingEmptySubsequences: false), other.split(separator: "\n", omittingEmptySubsequences: false))
        for index in 0..<max(a.count, b.count) {
            let left = index < a.count ? String(a[index]) : "<none>"
            let right = index < b.count ? String(b[index]) : "<none>"
            if left != right { return "line \(index + 1): rendered '\(left)', golden '\(right)'" }
        }
        return "none"
    }
}

@Suite("Firewall class ids")
struct FirewallClassIDTests {
    struct Known: Sendable, CustomTestStringConvertible {
        let rules: [String]
        let id: String
        var testDescription: String { rules.joined(separator: "+") }
    }

    /// FNV-1a 64 of the sorted names joined by U+0001, in hex (computed independently).
    static let known: [Known] = [
        Known(rules: ["a"], id: "caf63dc4c8601ec8c"),
        Known(rules: ["a", "b"], id: "ce5d6bb19042a894f"),
        Known(rules: ["a", "b", "c"], id: "c3c1ca108752cc8eb"),
        Known(rules: ["everyone-basics"], id: "c6601862cd558f61c"),
        Known(rules: ["engineers-use-git-and-ci", "engineers-read-monitoring"], id: "ccff7213456969260"),
    ]

    @Test("ids are stable across runs and releases", arguments: known)
    func stable(known: Known) {
        #expect(FirewallClass.id(forRules: known.rules) == known.id)
    }

    @Test("ids do not depend on the order of the rules", arguments: known)
    func orderIndependent(known: Known) {
        #expect(FirewallClass.id(forRules: known.rules.reversed()) == known.id)
        #expect(FirewallClass.id(forRules: known.rules.shuffled()) == known.id)
    }

    @Test("different rule combinations get different ids that are valid nftables set-name prefixes")
    func distinctAndValid() {
        let combinations = [["a"], ["b"], ["a", "b"], ["ab"], ["a", "c"], ["b", "c"], ["a", "b", "c"], ["engineering"], ["finance"]]
        let ids = combinations.map(FirewallClass.id(forRules:))
        #expect(Set(ids).count == combinations.count)
        for id in ids {
            #expect(id.first == "c")
            #expect(id.count <= 17)  // "c" and at most 16 hex digits: set names stay short
            #expect(id.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) })
        }
    }
}

@Suite("Dry-run firewall")
struct DryRunFirewallTests {
    @Test("DryRunFirewall writes the ruleset, and reports sources and structure as the live table would")
    func reportsWhatItWrote() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/nftables.conf"
            let firewall = DryRunFirewall(path: path)
            #expect(try await firewall.liveSources() == nil)
            #expect(try await firewall.liveStructure() == nil)

            let testCase = try #require(GoldenCase.all.last)
            let state = try testCase.state()
            try await firewall.load(state)
            #expect(
                try String(contentsOfFile: path, encoding: .utf8) == "# Dry run: the nftables ruleset Portcullis would load.\n"
                    + (try testCase.golden()))
            #expect(try await firewall.liveSources() == (try testCase.expectedSources()))
            let structure = try await firewall.liveStructure()

            let added = try Parse.prefix("10.100.0.50/32")
            var next = state
            next.classes["b2"]?.sources.insert(added)
            try await firewall.apply([.addSource(classID: "b2", address: added)], resulting: next)
            #expect(try await firewall.liveSources()?["b2"] == ["10.100.0.7", "10.100.0.50"])
            #expect(try await firewall.liveStructure() == structure)
        }
    }
}
