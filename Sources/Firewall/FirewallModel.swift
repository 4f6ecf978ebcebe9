public import Policy

/// One policy rule at the gateway: the tunnel addresses of the users it applies to, where it allows
/// (or denies) them to go, and its verdict. Each becomes one set of source addresses and a few
/// destination sets in nftables (DESIGN.md: one source-address set per compiled rule), so a user's
/// access is the rules their addresses are in, and a change of groups is a few element changes.
public struct FirewallRule: Sendable, Hashable {
    /// What happens to matching traffic.
    public enum Verdict: String, Sendable, Hashable {
        case accept, drop
    }

    /// Stable short name used in set names, e.g. `r3f9a1b20c4d5e6f7`.
    public let id: String
    public let verdict: Verdict
    public var sources: Set<IPPrefix>
    public let access: AccessSet

    public init(id: String, verdict: Verdict, sources: Set<IPPrefix>, access: AccessSet) {
        self.id = id
        self.verdict = verdict
        self.sources = sources
        self.access = access
    }

    /// A stable id for a policy rule: `r` and the 64-bit FNV-1a of its name (unique in a policy),
    /// with the verdict, since one policy rule may both allow and deny.
    public static func id(forRule name: String, verdict: Verdict) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (verdict.rawValue + "\u{1}" + name).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return (verdict == .accept ? "a" : "d") + String(hash, radix: 16)
    }
}

/// Everything Portcullis wants in its nftables table.
public struct FirewallState: Sendable, Hashable {
    public var interfaceName: String
    public var rules: [String: FirewallRule]

    public init(interfaceName: String, rules: [FirewallRule]) {
        self.interfaceName = interfaceName
        self.rules = Dictionary(rules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// This firewall after `changes` (changes to rules it does not have are ignored).
    public func applying(_ changes: [FirewallChange]) -> FirewallState {
        var result = self
        for change in changes {
            switch change {
            case .addSource(let id, let address): result.rules[id]?.sources.insert(address)
            case .removeSource(let id, let address): result.rules[id]?.sources.remove(address)
            }
        }
        return result
    }
}

/// One incremental change: a tunnel address joins or leaves a rule's source set.
public enum FirewallChange: Sendable, Hashable {
    case addSource(ruleID: String, address: IPPrefix)
    case removeSource(ruleID: String, address: IPPrefix)
}
