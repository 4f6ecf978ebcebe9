public import Policy

/// Users who share the same access: the tunnel addresses they send from, and where they may go.
/// One class becomes one set of source addresses and a few destination sets in nftables.
public struct FirewallClass: Sendable, Hashable {
    /// Stable short name used in set names, e.g. `c3f9a1b20`.
    public let id: String
    public var sources: Set<IPPrefix>
    public let access: AccessSet

    public init(id: String, sources: Set<IPPrefix>, access: AccessSet) {
        self.id = id
        self.sources = sources
        self.access = access
    }

    /// A stable id for the set of rules a class stands for: 64-bit FNV-1a of the sorted rule names
    /// (rule names cannot contain the separator, a control character).
    public static func id(forRules names: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in names.sorted().joined(separator: "\u{1}").utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return "c" + String(hash, radix: 16)
    }
}

/// Everything Portcullis wants in its nftables table.
public struct FirewallState: Sendable, Hashable {
    public var interfaceName: String
    public var classes: [String: FirewallClass]

    public init(interfaceName: String, classes: [FirewallClass]) {
        self.interfaceName = interfaceName
        self.classes = Dictionary(classes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// One incremental change: a tunnel address joins or leaves a class's source set.
public enum FirewallChange: Sendable, Hashable {
    case addSource(classID: String, address: IPPrefix)
    case removeSource(classID: String, address: IPPrefix)
}
