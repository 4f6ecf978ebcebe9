public import Policy

/// Renders Portcullis's nftables table, `inet portcullis`, from the firewall state.
///
/// Layout (DESIGN.md): never a rule per user × destination. Per policy rule, a set of source
/// addresses and sets of destinations; one nftables rule per policy rule and protocol kind matches
/// `saddr @src daddr . l4proto . dport @dst`. Deny rules come first, so a deny beats every allow.
/// Traffic from the tunnel is checked on every packet, so losing access also cuts open connections;
/// only the return direction of forwarded traffic uses connection tracking. Both the `forward` hook
/// (to other hosts) and the `input` hook (to the gateway's own addresses, tunnel and LAN alike) send
/// it through the same chain, so a client reaches the gateway itself only where a policy names one of
/// its addresses. The table is replaced atomically in one transaction.
public enum RulesetRenderer {
    public static let tableName = "portcullis"

    /// The full script for `nft -f`: (re)creates the table atomically.
    public static func render(_ state: FirewallState) -> String {
        var lines: [String] = [
            "table inet \(tableName)",
            "delete table inet \(tableName)",
            "table inet \(tableName) {",
        ]
        // Denies first, then allows; each in id order, so the same state renders the same text.
        let ordered = state.rules.values.sorted { ($0.verdict == .drop ? 0 : 1, $0.id) < ($1.verdict == .drop ? 0 : 1, $1.id) }
        var rules: [String] = []
        for firewallRule in ordered {
            let sets = SetNames(firewallRule.id)
            let verdict = firewallRule.verdict.rawValue
            let sources4 = firewallRule.sources.filter { $0.family == .v4 }.sorted()
            let sources6 = firewallRule.sources.filter { $0.family == .v6 }.sorted()
            lines += set(sets.source4, type: "ipv4_addr", flags: nil, elements: sources4.map(address))
            lines += set(sets.source6, type: "ipv6_addr", flags: nil, elements: sources6.map(address))
            for family in [IPPrefix.Family.v4, .v6] {
                let grants = firewallRule.access.grants.filter { $0.prefix.family == family }
                let (saddr, daddr, addressType) = family == .v4 ? ("ip saddr", "ip daddr", "ipv4_addr") : ("ip6 saddr", "ip6 daddr", "ipv6_addr")
                let source = family == .v4 ? sets.source4 : sets.source6
                let ported = grants.filter { $0.networkProtocol.hasPorts }.map { grant in
                    "\(grant.prefix) . \(grant.networkProtocol.rawValue) . \(grant.ports?.description ?? "0-65535")"
                }
                let icmp = grants.filter { $0.networkProtocol == .icmp }.map { "\($0.prefix) . \(family == .v4 ? "icmp" : "ipv6-icmp")" }
                let other = grants.filter { $0.networkProtocol == .other }.map { "\($0.prefix)" }
                if !ported.isEmpty {
                    let name = sets.destination(family, "ports")
                    lines += set(name, type: "\(addressType) . inet_proto . inet_service", flags: "interval", elements: ported)
                    rules.append("\(saddr) @\(source) \(daddr) . meta l4proto . th dport @\(name) \(verdict)")
                }
                if !icmp.isEmpty {
                    let name = sets.destination(family, "icmp")
                    lines += set(name, type: "\(addressType) . inet_proto", flags: "interval", elements: icmp)
                    rules.append("\(saddr) @\(source) \(daddr) . meta l4proto @\(name) \(verdict)")
                }
                if !other.isEmpty {
                    let name = sets.destination(family, "other")
                    lines += set(name, type: addressType, flags: "interval", elements: other)
                    rules.append("\(saddr) @\(source) meta l4proto != { tcp, udp, icmp, ipv6-icmp } \(daddr) @\(name) \(verdict)")
                }
            }
        }
        let interface = quoted(state.interfaceName)
        lines += [
            "    chain forward {",
            "        type filter hook forward priority filter; policy accept;",
            "        iifname \(interface) jump from_tunnel",
            "        oifname \(interface) ct state established,related accept",
            "        oifname \(interface) drop",
            "    }",
            // WireGuard's own UDP arrives on the physical interface, so this leaves the tunnel up.
            "    chain input {",
            "        type filter hook input priority filter; policy accept;",
            "        iifname \(interface) jump from_tunnel",
            "    }",
            "    chain from_tunnel {",
        ]
        lines += rules.map { "        " + $0 }
        lines += [
            "        drop",
            "    }",
            "}",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The commands for incremental changes, in one transaction.
    public static func render(_ changes: [FirewallChange]) -> String {
        changes.map { change in
            switch change {
            case .addSource(let ruleID, let address):
                "add element inet \(tableName) \(SetNames(ruleID).source(address.family)) { \(Self.address(address)) }"
            case .removeSource(let ruleID, let address):
                "delete element inet \(tableName) \(SetNames(ruleID).source(address.family)) { \(Self.address(address)) }"
            }
        }.joined(separator: "\n") + "\n"
    }

    /// The names of a rule's sets.
    public struct SetNames: Sendable {
        let id: String

        init(_ id: String) {
            self.id = id
        }

        public var source4: String { "\(id)_src4" }
        public var source6: String { "\(id)_src6" }

        public func source(_ family: IPPrefix.Family) -> String {
            family == .v4 ? source4 : source6
        }

        public func destination(_ family: IPPrefix.Family, _ kind: String) -> String {
            "\(id)_\(kind)\(family == .v4 ? "4" : "6")"
        }
    }

    private static func set(_ name: String, type: String, flags: String?, elements: [String]) -> [String] {
        var lines = ["    set \(name) {", "        type \(type)"]
        if let flags { lines.append("        flags \(flags)") }
        if !elements.isEmpty {
            lines.append("        elements = { " + elements.joined(separator: ", ") + " }")
        }
        lines.append("    }")
        return lines
    }

    /// A tunnel address without its /32 or /128, as nftables writes single addresses.
    static func address(_ prefix: IPPrefix) -> String {
        String(prefix.description.split(separator: "/")[0])
    }

    private static func quoted(_ name: String) -> String {
        "\"" + name.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." } + "\""
    }
}
