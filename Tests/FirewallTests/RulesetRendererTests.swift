import Foundation
import Policy
import Testing
import SystemTestSupport

@testable import Firewall

@Suite("Ruleset renderer")
struct RulesetRendererTests {
    @Test("render(state) is exactly the golden ruleset", arguments: GoldenCase.all)
    func matchesGolden(testCase: GoldenCase) throws {
        let rendered = RulesetRenderer.render(try testCase.state())
        let golden = try testCase.golden()
        #expect(rendered == golden, "first differing line: \(Self.firstDifference(rendered, golden))")
    }

    @Test("the order rules and sources are given in does not change the ruleset", arguments: GoldenCase.all)
    func orderIndependent(testCase: GoldenCase) throws {
        let reversed = GoldenCase(
            file: testCase.file, interfaceName: testCase.interfaceName,
            rules: testCase.rules.reversed().map {
                RuleSpec(id: $0.id, verdict: $0.verdict, sources: $0.sources.reversed(), grants: $0.grants.reversed())
            })
        #expect(RulesetRenderer.render(try reversed.state()) == RulesetRenderer.render(try testCase.state()))
    }

    @Test("the interface name is quoted and stripped of anything but letters, digits, '-', '_' and '.'")
    func interfaceNameIsSanitized() {
        let rendered = RulesetRenderer.render(FirewallState(interfaceName: "wg0\"; flush ruleset; \"x", rules: []))
        #expect(Self.chainRules(rendered, chain: "forward").contains("iifname \"wg0flushrulesetx\" jump from_tunnel"))
        #expect(Self.chainRules(rendered, chain: "input").contains("iifname \"wg0flushrulesetx\" jump from_tunnel"))
        #expect(!rendered.contains("flush ruleset"))
    }

    @Test("the input hook sends what the tunnel sends the gateway itself through the same checks, and nothing else", arguments: GoldenCase.all)
    func inputHookChecksTunnelTraffic(testCase: GoldenCase) throws {
        let rendered = RulesetRenderer.render(try testCase.state())
        let interface = "\"\(testCase.interfaceName)\""
        // Only packets from the tunnel are checked: WireGuard's own UDP arrives on another interface.
        #expect(
            Self.chainRules(rendered, chain: "input") == [
                "type filter hook input priority filter; policy accept;",
                "iifname \(interface) jump from_tunnel",
            ])
        // The chain both hooks jump to ends in drop, so the gateway is closed unless a rule names it.
        #expect(Self.chainRules(rendered).last == "drop")
        #expect(Self.chainRules(rendered, chain: "forward").first { $0.hasPrefix("iifname") } == "iifname \(interface) jump from_tunnel")
    }

    @Test("a rule without grants still gets its source sets, and no nftables rule", arguments: [FirewallRule.Verdict.accept, .drop])
    func ruleWithoutGrants(verdict: FirewallRule.Verdict) throws {
        let rule = try RuleSpec(id: "a9", verdict: verdict, sources: ["10.100.0.5/32"], grants: []).make()
        let rendered = RulesetRenderer.render(FirewallState(interfaceName: "wg0", rules: [rule]))
        #expect(rendered.contains("    set a9_src4 {\n        type ipv4_addr\n        elements = { 10.100.0.5 }\n    }\n"))
        #expect(rendered.contains("    set a9_src6 {\n        type ipv6_addr\n    }\n"))
        #expect(rendered.contains("    chain from_tunnel {\n        drop\n    }\n"))
    }

    @Test("a rule no one is in still has its empty source sets, its destination sets and its nftables rules")
    func ruleWithoutMembers() throws {
        let rule = try RuleSpec(id: "a7", sources: [], grants: ["10.30.0.0/24 tcp/5432", "2001:db8:30::/48 icmp"]).make()
        let rendered = RulesetRenderer.render(FirewallState(interfaceName: "wg0", rules: [rule]))
        #expect(rendered.contains("    set a7_src4 {\n        type ipv4_addr\n    }\n"))
        #expect(rendered.contains("    set a7_src6 {\n        type ipv6_addr\n    }\n"))
        #expect(rendered.contains("        elements = { 10.30.0.0/24 . tcp . 5432 }\n"))
        #expect(
            Self.chainRules(rendered) == [
                "ip saddr @a7_src4 ip daddr . meta l4proto . th dport @a7_ports4 accept",
                "ip6 saddr @a7_src6 ip6 daddr . meta l4proto @a7_icmp6 accept",
                "drop",
            ])
    }

    /// A rule with every kind of destination in both families.
    static let everyKind = ["10.20.0.0/16 tcp/22", "10.0.0.53/32 udp/53", "10.40.0.0/16 icmp", "10.21.0.0/16 other", "2001:db8:20::/48 tcp/22",
        "2001:db8:1::/48 icmp", "2001:db8:2::/48 other"]

    @Test("every nftables rule of a firewall rule ends with the rule's verdict", arguments: [FirewallRule.Verdict.accept, .drop])
    func verdictOnEveryRule(verdict: FirewallRule.Verdict) throws {
        let rule = try RuleSpec(id: "r1", verdict: verdict, sources: ["10.100.0.2/32"], grants: Self.everyKind).make()
        let rules = Self.chainRules(RulesetRenderer.render(FirewallState(interfaceName: "wg0", rules: [rule])))
        #expect(
            rules == [
                "ip saddr @r1_src4 ip daddr . meta l4proto . th dport @r1_ports4 \(verdict.rawValue)",
                "ip saddr @r1_src4 ip daddr . meta l4proto @r1_icmp4 \(verdict.rawValue)",
                "ip saddr @r1_src4 meta l4proto != { tcp, udp, icmp, ipv6-icmp } ip daddr @r1_other4 \(verdict.rawValue)",
                "ip6 saddr @r1_src6 ip6 daddr . meta l4proto . th dport @r1_ports6 \(verdict.rawValue)",
                "ip6 saddr @r1_src6 ip6 daddr . meta l4proto @r1_icmp6 \(verdict.rawValue)",
                "ip6 saddr @r1_src6 meta l4proto != { tcp, udp, icmp, ipv6-icmp } ip6 daddr @r1_other6 \(verdict.rawValue)",
                "drop",
            ])
    }

    @Test("drop rules come before every accept rule whatever their ids, each group in id order, then the final drop")
    func denyBeforeAllow() throws {
        // Ids chosen so that id order alone would interleave the verdicts.
        let specs = [
            RuleSpec(id: "m5", verdict: .accept, sources: ["10.100.0.2/32"], grants: ["10.20.0.0/16 tcp/22"]),
            RuleSpec(id: "z9", verdict: .drop, sources: ["10.100.0.2/32"], grants: ["10.20.99.0/24 tcp/22"]),
            RuleSpec(id: "a0", verdict: .accept, sources: ["10.100.0.3/32"], grants: ["10.0.0.53/32 udp/53"]),
            RuleSpec(id: "b1", verdict: .drop, sources: [], grants: ["10.0.0.0/8 icmp"]),
        ]
        let expected = [
            "ip saddr @b1_src4 ip daddr . meta l4proto @b1_icmp4 drop",
            "ip saddr @z9_src4 ip daddr . meta l4proto . th dport @z9_ports4 drop",
            "ip saddr @a0_src4 ip daddr . meta l4proto . th dport @a0_ports4 accept",
            "ip saddr @m5_src4 ip daddr . meta l4proto . th dport @m5_ports4 accept",
            "drop",
        ]
        // Every order of the rules gives the same chain and the same sets, in the same order.
        var rendered: Set<String> = []
        for order in Self.permutations(specs) {
            let text = RulesetRenderer.render(FirewallState(interfaceName: "wg0", rules: try order.map { try $0.make() }))
            #expect(Self.chainRules(text) == expected)
            #expect(Self.setNames(text).map { String($0.prefix(2)) }.uniqued() == ["b1", "z9", "a0", "m5"])
            rendered.insert(text)
        }
        #expect(rendered.count == 1)
    }

    @Test("the golden deny-and-allow ruleset drops before it accepts")
    func goldenDenyBeforeAllow() throws {
        let rules = Self.chainRules(try GoldenCase.named("deny-and-allow").golden())
        let verdicts = rules.map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(verdicts == Array(repeating: "drop", count: 6) + Array(repeating: "accept", count: 3) + ["drop"])
        #expect(rules.last == "drop")
    }

    @Test("an address in several rules is in each rule's source set")
    func addressInSeveralRules() throws {
        let shared = ["10.100.0.2/32", "fd00:100::2/128"]
        let state = FirewallState(
            interfaceName: "wg0",
            rules: [
                try RuleSpec(id: "a1", sources: shared + ["10.100.0.3/32"], grants: ["10.20.0.0/16 tcp/22"]).make(),
                try RuleSpec(id: "a2", sources: shared, grants: ["10.0.0.53/32 udp/53"]).make(),
                try RuleSpec(id: "d3", verdict: .drop, sources: shared, grants: ["10.20.99.0/24 tcp/22"]).make(),
            ])
        let rendered = RulesetRenderer.render(state)
        #expect(rendered.contains("    set a1_src4 {\n        type ipv4_addr\n        elements = { 10.100.0.2, 10.100.0.3 }\n    }\n"))
        for id in ["a2", "d3"] {
            #expect(rendered.contains("    set \(id)_src4 {\n        type ipv4_addr\n        elements = { 10.100.0.2 }\n    }\n"))
        }
        for id in ["a1", "a2", "d3"] {
            #expect(rendered.contains("    set \(id)_src6 {\n        type ipv6_addr\n        elements = { fd00:100::2 }\n    }\n"))
        }
    }

    @Test("the first of two rules with the same id is kept")
    func duplicateRuleIDs() throws {
        let first = try RuleSpec(id: "a1", sources: ["10.100.0.2/32"], grants: ["10.0.0.0/8 tcp/22"]).make()
        let second = try RuleSpec(id: "a1", verdict: .drop, sources: ["10.100.0.3/32"], grants: ["10.0.0.0/8 tcp/80"]).make()
        let state = FirewallState(interfaceName: "wg0", rules: [first, second])
        #expect(state.rules == ["a1": first])
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
            changes: [.addSource(ruleID: "a1", address: host("10.100.0.9/32"))],
            expected: "add element inet portcullis a1_src4 { 10.100.0.9 }\n"),
        ChangeCase(
            name: "remove an IPv6 source",
            changes: [.removeSource(ruleID: "a1", address: host("fd00:100::9/128"))],
            expected: "delete element inet portcullis a1_src6 { fd00:100::9 }\n"),
        ChangeCase(
            name: "a deny rule's set changes like any other",
            changes: [.addSource(ruleID: "d4ea87e9b684e12e7", address: host("10.100.0.9/32"))],
            expected: "add element inet portcullis d4ea87e9b684e12e7_src4 { 10.100.0.9 }\n"),
        ChangeCase(
            name: "one address joins several rules' sets",
            changes: [
                .addSource(ruleID: "a1", address: host("10.100.0.2/32")),
                .addSource(ruleID: "b2", address: host("10.100.0.2/32")),
                .addSource(ruleID: "d3", address: host("10.100.0.2/32")),
            ],
            expected: """
                add element inet portcullis a1_src4 { 10.100.0.2 }
                add element inet portcullis b2_src4 { 10.100.0.2 }
                add element inet portcullis d3_src4 { 10.100.0.2 }

                """),
        ChangeCase(
            name: "a move from one rule's sets to another's, in the given order",
            changes: [
                .removeSource(ruleID: "a1", address: host("10.100.0.2/32")),
                .removeSource(ruleID: "a1", address: host("fd00:100::2/128")),
                .addSource(ruleID: "b2", address: host("10.100.0.2/32")),
                .addSource(ruleID: "b2", address: host("fd00:100::2/128")),
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

    @Test("set names follow the rule id, the family and the kind")
    func setNames() {
        let names = RulesetRenderer.SetNames("a42")
        #expect(names.source4 == "a42_src4")
        #expect(names.source6 == "a42_src6")
        #expect(names.source(.v6) == "a42_src6")
        #expect(names.destination(.v4, "ports") == "a42_ports4")
        #expect(names.destination(.v6, "icmp") == "a42_icmp6")
    }

    /// The lines of a chain (by default `from_tunnel`), in order, without indentation.
    static func chainRules(_ ruleset: String, chain: String = "from_tunnel") -> [String] {
        let lines = ruleset.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: "    chain \(chain) {") else { return [] }
        return lines[(start + 1)...].prefix { $0 != "    }" }.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The names of the sets, in the order they are declared.
    static func setNames(_ ruleset: String) -> [String] {
        ruleset.split(separator: "\n").compactMap { line in
            line.hasPrefix("    set ") ? String(line.dropFirst("    set ".count).dropLast(" {".count)) : nil
        }
    }

    static func permutations<T>(_ items: [T]) -> [[T]] {
        guard items.count > 1 else { return [items] }
        return items.indices.flatMap { index in
            var rest = items
            let item = rest.remove(at: index)
            return permutations(rest).map { [item] + $0 }
        }
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

extension Array where Element: Hashable {
    /// The elements without repeats, in first-seen order.
    func uniqued() -> [Element] {
        var seen: Set<Element> = []
        return filter { seen.insert($0).inserted }
    }
}

@Suite("Firewall rule ids")
struct FirewallRuleIDTests {
    struct Known: Sendable, CustomTestStringConvertible {
        let rule: String
        let verdict: FirewallRule.Verdict
        let id: String
        var testDescription: String { "\(verdict.rawValue) \(rule)" }
    }

    /// "a" (accept) or "d" (drop) and the FNV-1a 64 of "<verdict>\u{1}<rule name>", in hex without
    /// leading zeros (computed independently).
    static let known: [Known] = [
        Known(rule: "a", verdict: .accept, id: "acb7ace532d71911b"),
        Known(rule: "a", verdict: .drop, id: "d51d84bf545cf70e2"),
        Known(rule: "engineers-ssh", verdict: .accept, id: "a6a8b49450d26b741"),
        Known(rule: "engineers-ssh", verdict: .drop, id: "d686e8422bcc6a970"),
        Known(rule: "contractors-no-ssh", verdict: .drop, id: "d9c9ca221ca46660"),
        Known(rule: "quarantine", verdict: .drop, id: "d4ea87e9b684e12e7"),
        Known(rule: "everyone-dns", verdict: .accept, id: "a4d8758a2306a403"),
        Known(rule: "finance-erp", verdict: .accept, id: "a4a4b91e88e71c246"),
        Known(rule: "Payroll Admins", verdict: .accept, id: "a9fa6338f1ae3d40b"),
    ]

    @Test("ids are stable across runs and releases", arguments: known)
    func stable(known: Known) {
        #expect(FirewallRule.id(forRule: known.rule, verdict: known.verdict) == known.id)
    }

    @Test("the allow and the deny part of one policy rule get different ids, not only a different first letter")
    func verdictInTheHash() {
        for name in ["a", "engineers-ssh", "no-contractors-on-production", "Payroll Admins"] {
            let accept = FirewallRule.id(forRule: name, verdict: .accept)
            let drop = FirewallRule.id(forRule: name, verdict: .drop)
            #expect(accept.first == "a")
            #expect(drop.first == "d")
            #expect(accept.dropFirst() != drop.dropFirst())
        }
    }

    @Test("different rules get different ids that are valid nftables set-name prefixes")
    func distinctAndValid() {
        let names = ["a", "b", "ab", "a b", "engineering", "finance", "engineers-ssh", "engineers-ssh ", "Engineers-ssh", "x.y_z"]
        let ids = names.flatMap { name in [FirewallRule.id(forRule: name, verdict: .accept), FirewallRule.id(forRule: name, verdict: .drop)] }
        #expect(Set(ids).count == names.count * 2)
        for id in ids {
            #expect(id.first == "a" || id.first == "d")
            #expect(id.count <= 17)  // one letter and at most 16 hex digits: set names stay short
            #expect(id.dropFirst().allSatisfy { $0.isHexDigit && ($0.isNumber || $0.isLowercase) })
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

            let testCase = try GoldenCase.named("several-rules")
            let state = try testCase.state()
            try await firewall.load(state)
            #expect(
                try String(contentsOfFile: path, encoding: .utf8) == "# Dry run: the nftables ruleset Portcullis would load.\n"
                    + (try testCase.golden()))
            #expect(try await firewall.liveSources() == (try testCase.expectedSources()))
            let structure = try await firewall.liveStructure()

            // One address joins two rules' sets: it is reported in both, and the structure stays.
            let added = try Parse.prefix("10.100.0.50/32")
            var next = state
            next.rules["b2"]?.sources.insert(added)
            next.rules["c3"]?.sources.insert(added)
            try await firewall.apply([.addSource(ruleID: "b2", address: added), .addSource(ruleID: "c3", address: added)], resulting: next)
            #expect(try await firewall.liveSources()?["b2"] == ["10.100.0.7", "10.100.0.50"])
            #expect(try await firewall.liveSources()?["c3"] == ["10.100.0.50"])
            #expect(try await firewall.liveStructure() == structure)
        }
    }

    @Test("DryRunFirewall writes deny rules as drop rules before the accept rules")
    func writesDenies() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/nftables.conf"
            let firewall = DryRunFirewall(path: path)
            let testCase = try GoldenCase.named("deny-and-allow")
            try await firewall.load(try testCase.state())
            #expect(
                try String(contentsOfFile: path, encoding: .utf8) == "# Dry run: the nftables ruleset Portcullis would load.\n"
                    + (try testCase.golden()))
            #expect(try await firewall.liveSources() == (try testCase.expectedSources()))
            #expect(try await firewall.liveSources()?[GoldenCase.PolicyIDs.quarantine] == [], "a rule no one is in is still listed")
        }
    }
}
