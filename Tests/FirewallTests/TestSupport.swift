import Foundation
import Policy
import SystemTestSupport
import Testing

@testable import Firewall

extension Tools {
    static let nft = find("nft")

    /// Whether rulesets can be tried in a namespace: root, `ip` and `nft`.
    static var canUseNamespaces: Bool { isRoot && ip != nil && nft != nil }
}

/// Every nftables command of these tests runs inside a namespace, never on the host.
extension NetworkNamespace {
    /// `nft -f -` with `script` inside the namespace; fails the test if nftables refuses it.
    func nft(script: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        let result = try await run(["nft", "-f", "-"], input: script)
        try #require(result.succeeded, "nft refused the script: \(result.standardError)\n\(script)", sourceLocation: sourceLocation)
    }

    /// `nft -j list table inet portcullis` inside the namespace, parsed.
    func listTable(sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let result = try await run(["nft", "-j", "list", "table", "inet", RulesetRenderer.tableName])
        try #require(result.succeeded, "nft list failed: \(result.standardError)", sourceLocation: sourceLocation)
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
        return try #require(object as? [String: Any], "the listing is not a JSON object", sourceLocation: sourceLocation)
    }
}

enum Parse {
    static func prefix(_ text: String) throws -> IPPrefix {
        try IPPrefix.parse(text)
    }

    /// A grant written `10.0.0.0/24 tcp/22`, `10.0.0.0/24 tcp` (every port), `... icmp` or `... other`.
    static func grant(_ text: String) throws -> AccessGrant {
        let parts = text.split(separator: " ").map(String.init)
        try #require(parts.count == 2, "write a grant as PREFIX SPEC: \(text)")
        let prefix = try IPPrefix.parse(parts[0])
        if parts[1] == "other" { return AccessGrant(prefix: prefix, networkProtocol: .other, ports: nil) }
        let spec = try PortSpec.parse(parts[1])
        let part = try #require(spec.parts.first, "no protocol in \(text)")
        try #require(spec.parts.count == 1, "one protocol per grant: \(text)")
        return AccessGrant(prefix: prefix, networkProtocol: part.0, ports: part.1)
    }
}

/// A firewall rule written as text, so tables of firewall states stay readable.
struct RuleSpec: Sendable {
    let id: String
    let verdict: FirewallRule.Verdict
    let sources: [String]
    let grants: [String]

    init(id: String, verdict: FirewallRule.Verdict = .accept, sources: [String], grants: [String]) {
        self.id = id
        self.verdict = verdict
        self.sources = sources
        self.grants = grants
    }

    func make() throws -> FirewallRule {
        FirewallRule(id: id, verdict: verdict, sources: Set(try sources.map(Parse.prefix)), access: AccessSet(try grants.map(Parse.grant)))
    }
}

/// A firewall state and the golden file with its ruleset.
struct GoldenCase: Sendable, CustomTestStringConvertible {
    let file: String
    let interfaceName: String
    let rules: [RuleSpec]

    var testDescription: String { file }

    func state() throws -> FirewallState {
        FirewallState(interfaceName: interfaceName, rules: try rules.map { try $0.make() })
    }

    /// The golden ruleset, from the test bundle.
    func golden() throws -> String {
        let url = try #require(
            Bundle.module.url(forResource: file, withExtension: "nft", subdirectory: "Golden"), "Golden/\(file).nft is not in the test bundle")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The source addresses per rule as nftables lists them (no /32, /128).
    func expectedSources() throws -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for spec in rules {
            result[spec.id] = Set(try spec.sources.map { RulesetRenderer.address(try Parse.prefix($0)) })
        }
        return result
    }

    static func named(_ file: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> GoldenCase {
        try #require(all.first { $0.file == file }, "no golden case \(file)", sourceLocation: sourceLocation)
    }

    /// Ids of the policy rules in `deny-and-allow`, as `FirewallRule.id(forRule:verdict:)` makes them
    /// (checked in `FirewallRuleIDTests`).
    enum PolicyIDs {
        static let engineersSSHAllow = "a6a8b49450d26b741"
        static let engineersSSHDeny = "d686e8422bcc6a970"
        static let contractorsNoSSH = "d9c9ca221ca46660"
        static let quarantine = "d4ea87e9b684e12e7"
        static let everyoneDNS = "a4d8758a2306a403"
    }

    static let all: [GoldenCase] = [
        GoldenCase(file: "empty", interfaceName: "wg0", rules: []),
        GoldenCase(
            file: "ipv4-one-rule", interfaceName: "wg0",
            rules: [
                RuleSpec(
                    id: "a1", sources: ["10.100.0.3/32", "10.100.0.2/32"],
                    grants: ["10.20.1.10/32 tcp/443", "10.0.0.53/32 udp/53", "10.20.1.10/32 tcp/22", "10.40.0.0/16 icmp", "10.21.0.0/16 other"])
            ]),
        GoldenCase(
            file: "ipv6-one-rule", interfaceName: "wg0",
            rules: [
                RuleSpec(
                    id: "a6", sources: ["fd00:100::a/128", "fd00:100::2/128"],
                    grants: [
                        "2001:db8:20::10/128 tcp/22", "2001:db8:20::10/128 tcp/443", "2001:db8:0:53::53/128 udp/53", "2001:db8:1::/48 icmp",
                        "2001:db8:2::/48 other",
                    ])
            ]),
        // Allows only, one with no members: in id order.
        GoldenCase(
            file: "several-rules", interfaceName: "wg-corp",
            rules: [
                RuleSpec(id: "c3", sources: [], grants: ["0.0.0.0/0 icmp", "::/0 icmp"]),
                RuleSpec(
                    id: "a1", sources: ["fd00:100::3/128", "10.100.0.3/32", "fd00:100::2/128", "10.100.0.2/32"],
                    grants: ["2001:db8:20::10/128 tcp/22", "10.20.1.10/32 tcp/22"]),
                RuleSpec(
                    id: "b2", sources: ["10.100.0.7/32"], grants: ["10.22.0.0/24 udp/5000-5010", "10.21.0.0/16 tcp", "10.22.0.0/24 tcp/8000-8100"]),
            ]),
        // A policy's rules with their real ids: alice (.2) and carol (.3) in Engineering, carol a
        // contractor, dave (.4, IPv4 only) in DNS only; no one in quarantine. Denies (drop) come
        // first whatever their ids, then allows; each group in id order.
        GoldenCase(
            file: "deny-and-allow", interfaceName: "wg0",
            rules: [
                RuleSpec(
                    id: PolicyIDs.everyoneDNS, sources: ["10.100.0.4/32", "fd00:100::3/128", "10.100.0.3/32", "fd00:100::2/128", "10.100.0.2/32"],
                    grants: ["10.0.0.53/32 udp/53"]),
                RuleSpec(
                    id: PolicyIDs.engineersSSHAllow, sources: ["10.100.0.2/32", "fd00:100::2/128", "10.100.0.3/32", "fd00:100::3/128"],
                    grants: ["10.20.0.0/16 tcp/22", "2001:db8:20::/48 tcp/22"]),
                RuleSpec(
                    id: PolicyIDs.engineersSSHDeny, verdict: .drop, sources: ["10.100.0.2/32", "fd00:100::2/128", "10.100.0.3/32", "fd00:100::3/128"],
                    grants: ["10.20.99.0/24 tcp/22"]),
                RuleSpec(
                    id: PolicyIDs.contractorsNoSSH, verdict: .drop, sources: ["10.100.0.3/32", "fd00:100::3/128"],
                    grants: ["10.20.0.0/16 tcp/22", "2001:db8:20::/48 tcp/22"]),
                RuleSpec(id: PolicyIDs.quarantine, verdict: .drop, sources: [], grants: ["10.0.0.0/8 other", "0.0.0.0/0 icmp", "::/0 icmp"]),
            ]),
    ]
}
