import Foundation
import Policy
import Testing
import SystemTestSupport

@testable import Firewall

/// `NFTablesListing` on a real `nft -j list table inet portcullis` (the ipv4-one-rule golden ruleset,
/// trimmed to three sets, one chain and two rules).
@Suite("nftables JSON listing")
struct NFTablesListingTests {
    static let listing = """
        {"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "portcullis", "handle": 2}},
        {"set": {"family": "inet", "name": "a1_src4", "table": "portcullis", "type": "ipv4_addr", "handle": 3, "elem": ["10.100.0.2", "10.100.0.3"]}},
        {"set": {"family": "inet", "name": "a1_src6", "table": "portcullis", "type": "ipv6_addr", "handle": 4}},
        {"set": {"family": "inet", "name": "a1_ports4", "table": "portcullis", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 5,
          "flags": ["interval"], "elem": [{"concat": ["10.0.0.53", "udp", 53]}, {"concat": ["10.20.1.10", "tcp", 22]}]}},
        {"chain": {"family": "inet", "table": "portcullis", "name": "from_tunnel", "handle": 2}},
        {"rule": {"family": "inet", "table": "portcullis", "chain": "from_tunnel", "handle": 11, "expr": [
          {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@a1_src4"}},
          {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "daddr"}}, {"meta": {"key": "l4proto"}},
            {"payload": {"protocol": "th", "field": "dport"}}]}, "right": "@a1_ports4"}}, {"accept": null}]}},
        {"rule": {"family": "inet", "table": "portcullis", "chain": "from_tunnel", "handle": 15, "expr": [{"drop": null}]}}]}
        """

    static func parse(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("sources are the elements of the _src4 and _src6 sets, by rule id")
    func sources() throws {
        #expect(NFTablesListing.sources(try Self.parse(Self.listing)) == ["a1": ["10.100.0.2", "10.100.0.3"]])
    }

    @Test("structure has one line per set, chain and rule, without handles")
    func structureLines() throws {
        let structure = NFTablesListing.structure(try Self.parse(Self.listing))
        #expect(structure.split(separator: "\n").count == 6)
        #expect(!structure.contains("handle"))
        #expect(!structure.contains("10.100.0.2"))
        #expect(structure.contains("10.20.1.10"))
    }

    struct Edit: Sendable, CustomTestStringConvertible {
        let name: String
        let from: String
        let to: String
        let changesStructure: Bool
        let sources: [String: Set<String>]
        var testDescription: String { name }
    }

    static let edits: [Edit] = [
        Edit(
            name: "new handles", from: #""handle": 11"#, to: #""handle": 99"#, changesStructure: false, sources: ["a1": ["10.100.0.2", "10.100.0.3"]]),
        Edit(
            name: "a source element changed", from: #""10.100.0.3""#, to: #""10.100.0.9""#, changesStructure: false,
            sources: ["a1": ["10.100.0.2", "10.100.0.9"]]),
        Edit(
            name: "an IPv6 source element appeared", from: #""type": "ipv6_addr", "handle": 4"#,
            to: #""type": "ipv6_addr", "handle": 4, "elem": ["fd00::2"]"#,
            changesStructure: false, sources: ["a1": ["10.100.0.2", "10.100.0.3", "fd00::2"]]),
        Edit(name: "a destination element changed", from: "22]", to: "23]", changesStructure: true, sources: ["a1": ["10.100.0.2", "10.100.0.3"]]),
        Edit(
            name: "a rule's verdict changed from accept to drop", from: #"{"accept": null}]}}"#, to: #"{"drop": null}]}}"#, changesStructure: true,
            sources: ["a1": ["10.100.0.2", "10.100.0.3"]]),
        Edit(
            name: "a rule now accepts", from: #"[{"drop": null}]"#, to: #"[{"accept": null}]"#, changesStructure: true,
            sources: ["a1": ["10.100.0.2", "10.100.0.3"]]),
    ]

    @Test("structure ignores handles and source elements, and sees any other change", arguments: edits)
    func structureChanges(edit: Edit) throws {
        try #require(Self.listing.contains(edit.from), "the edit does not apply")
        let original = try Self.parse(Self.listing)
        let edited = try Self.parse(Self.listing.replacingOccurrences(of: edit.from, with: edit.to))
        #expect((NFTablesListing.structure(edited) != NFTablesListing.structure(original)) == edit.changesStructure)
        #expect(NFTablesListing.sources(edited) == edit.sources)
    }

    @Test("a listing without sets has no sources")
    func emptyListing() throws {
        #expect(NFTablesListing.sources(try Self.parse(#"{"nftables": []}"#)).isEmpty)
        #expect(NFTablesListing.structure(try Self.parse(#"{"nftables": []}"#)).isEmpty)
    }
}

/// The golden rulesets loaded with the real `nft -f` in a network namespace made for each test, and
/// read back with `nft -j list` through `NFTablesListing`. Every nft command runs through
/// `ip netns exec`, so the host's nftables are never touched.
@Suite("nftables in a namespace (nft CLI)")
struct NFTablesNamespaceTests {
    @Test(
        "a golden ruleset loads, lists back its sources, and keeps its structure through element changes and a reload",
        .enabled(if: Tools.canUseNamespaces, "needs root, ip and nft to load rulesets in a network namespace"),
        arguments: GoldenCase.all)
    func goldenLoadsAndListsBack(testCase: GoldenCase) async throws {
        let golden = try testCase.golden()
        let state = try testCase.state()
        let expected = try testCase.expectedSources()
        try await NetworkNamespace.with(label: "fw") { namespace in
            try await namespace.nft(script: golden)
            let loaded = try await namespace.listTable()
            #expect(NFTablesListing.sources(loaded) == expected)
            let structure = NFTablesListing.structure(loaded)
            #expect(structure.contains(#""name":"from_tunnel""#))
            // Both hooks, and both send what comes from the tunnel to the per-rule checks.
            for hook in ["forward", "input"] {
                let chain = Self.chain(loaded, named: hook)
                #expect(chain?["hook"] as? String == hook)
                #expect(chain?["policy"] as? String == "accept")
                #expect(Self.chainRules(loaded, chain: hook).first == "jump")
            }
            #expect(Self.chainRules(loaded, chain: "input").count == 1)
            #expect(structure.split(separator: "\n").filter { $0.hasPrefix("set ") }.count == Self.setCount(golden))

            // A second load replaces the table (the `table`/`delete table` preamble).
            try await namespace.nft(script: RulesetRenderer.render(state))
            #expect(NFTablesListing.structure(try await namespace.listTable()) == structure)

            // The first accept rule and the first drop rule: the same address joins both sets, then
            // leaves them with one original source of each.
            let ids = [FirewallRule.Verdict.accept, .drop].compactMap { verdict in
                state.rules.values.filter { $0.verdict == verdict }.map(\.id).sorted().first
            }
            guard !ids.isEmpty else { return }
            let added = [try Parse.prefix("10.100.99.1/32"), try Parse.prefix("fd00:100::99:1/128")]
            try await namespace.nft(script: RulesetRenderer.render(ids.flatMap { id in added.map { .addSource(ruleID: id, address: $0) } }))
            let afterAdd = try await namespace.listTable()
            #expect(NFTablesListing.structure(afterAdd) == structure)
            var wanted = expected
            for id in ids { wanted[id, default: []].formUnion(["10.100.99.1", "fd00:100::99:1"]) }
            #expect(NFTablesListing.sources(afterAdd) == wanted)

            // Take the added ones and one original source out again.
            var removals: [FirewallChange] = []
            for id in ids {
                removals += added.map { FirewallChange.removeSource(ruleID: id, address: $0) }
                if let original = state.rules[id]?.sources.sorted().first {
                    removals.append(.removeSource(ruleID: id, address: original))
                    wanted[id]?.remove(RulesetRenderer.address(original))
                }
                wanted[id]?.subtract(["10.100.99.1", "fd00:100::99:1"])
            }
            try await namespace.nft(script: RulesetRenderer.render(removals))
            let afterRemove = try await namespace.listTable()
            #expect(NFTablesListing.structure(afterRemove) == structure)
            #expect(NFTablesListing.sources(afterRemove) == wanted)
        }
    }

    @Test(
        "the live chain keeps the rendered order: every drop rule before the accept rules, then the final drop",
        .enabled(if: Tools.canUseNamespaces, "needs root, ip and nft to load rulesets in a network namespace"))
    func liveChainDropsFirst() async throws {
        let testCase = try GoldenCase.named("deny-and-allow")
        let golden = try testCase.golden()
        // From the rendered text: each rule's source set and verdict.
        let rendered = RulesetRendererTests.chainRules(golden).map { line -> String in
            let words = line.split(separator: " ")
            let source = words.first { $0.hasPrefix("@") && $0.contains("_src") }.map { String($0.dropFirst()) }
            return (source.map { $0 + " " } ?? "") + (words.last.map(String.init) ?? "")
        }
        try #require(rendered.count == 10)
        try await NetworkNamespace.with(label: "fw") { namespace in
            try await namespace.nft(script: golden)
            let live = Self.chainRules(try await namespace.listTable(), chain: "from_tunnel")
            #expect(live == rendered)
            let verdicts = live.map { $0.split(separator: " ").last.map(String.init) ?? "" }
            #expect(verdicts == Array(repeating: "drop", count: 6) + Array(repeating: "accept", count: 3) + ["drop"])
            #expect(live.prefix(6).allSatisfy { $0.hasPrefix("d") }, "the first six rules match deny rules' source sets")
        }
    }

    /// A chain's own entry in a JSON listing (type, hook, priority, policy).
    static func chain(_ listing: [String: Any], named name: String) -> [String: Any]? {
        (listing["nftables"] as? [[String: Any]] ?? []).lazy.compactMap { $0["chain"] as? [String: Any] }.first { $0["name"] as? String == name }
    }

    /// A chain's rules from a JSON listing, in listing order: "<source set> <verdict>" (only the
    /// verdict for a rule without a source set).
    static func chainRules(_ listing: [String: Any], chain: String) -> [String] {
        (listing["nftables"] as? [[String: Any]] ?? []).compactMap { item -> String? in
            guard let rule = item["rule"] as? [String: Any], rule["chain"] as? String == chain,
                let expressions = rule["expr"] as? [[String: Any]], let verdict = expressions.last?.keys.first
            else { return nil }
            let source = expressions.lazy.compactMap { expression -> String? in
                guard let match = expression["match"] as? [String: Any], let right = match["right"] as? String,
                    right.hasPrefix("@"), right.contains("_src")
                else { return nil }
                return String(right.dropFirst())
            }.first
            return (source.map { $0 + " " } ?? "") + verdict
        }
    }

    @Test(
        "structure notices a rule or a destination element added behind Portcullis's back",
        .enabled(if: Tools.canUseNamespaces, "needs root, ip and nft to load rulesets in a network namespace"))
    func structureNoticesTampering() async throws {
        let testCase = try #require(GoldenCase.all.first { $0.file == "ipv4-one-rule" })
        try await NetworkNamespace.with(label: "fw") { namespace in
            try await namespace.nft(script: try testCase.golden())
            let structure = NFTablesListing.structure(try await namespace.listTable())

            try await namespace.nft(script: "insert rule inet portcullis from_tunnel accept\n")
            #expect(NFTablesListing.structure(try await namespace.listTable()) != structure)

            try await namespace.nft(script: try testCase.golden())
            #expect(NFTablesListing.structure(try await namespace.listTable()) == structure)
            try await namespace.nft(script: "add element inet portcullis a1_ports4 { 10.30.0.0/24 . tcp . 5432 }\n")
            #expect(NFTablesListing.structure(try await namespace.listTable()) != structure)

            // Opening the gateway itself to the tunnel, by an accept before the jump or by emptying the input chain.
            try await namespace.nft(script: try testCase.golden())
            try await namespace.nft(script: "insert rule inet portcullis input iifname \"wg0\" tcp dport 22 accept\n")
            #expect(NFTablesListing.structure(try await namespace.listTable()) != structure)
            try await namespace.nft(script: try testCase.golden())
            try await namespace.nft(script: "flush chain inet portcullis input\n")
            #expect(NFTablesListing.structure(try await namespace.listTable()) != structure)
        }
    }

    @Test(
        "element changes for a rule the table does not have are refused, and nothing of the batch is applied",
        .enabled(if: Tools.canUseNamespaces, "needs root, ip and nft to load rulesets in a network namespace"))
    func refusedBatchIsAtomic() async throws {
        let testCase = try #require(GoldenCase.all.first { $0.file == "ipv4-one-rule" })
        try await NetworkNamespace.with(label: "fw") { namespace in
            try await namespace.nft(script: try testCase.golden())
            let script = RulesetRenderer.render([
                .addSource(ruleID: "a1", address: try Parse.prefix("10.100.0.50/32")),
                .addSource(ruleID: "nope", address: try Parse.prefix("10.100.0.51/32")),
            ])
            let result = try await namespace.run(["nft", "-f", "-"], input: script)
            #expect(!result.succeeded)
            #expect(NFTablesListing.sources(try await namespace.listTable()) == (try testCase.expectedSources()))
        }
    }

    static func setCount(_ ruleset: String) -> Int {
        ruleset.split(separator: "\n").filter { $0.hasPrefix("    set ") }.count
    }
}
