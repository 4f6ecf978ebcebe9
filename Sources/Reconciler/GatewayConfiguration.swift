public import Policy

/// How the gateway is set up and what client configs say about it.
public struct GatewayConfiguration: Sendable {
    /// WireGuard interface name.
    public var interfaceName: String = "wg0"
    /// UDP port WireGuard listens on.
    public var listenPort: Int = 51820
    /// Tunnel addresses for devices; the gateway takes the first host address.
    public var pool: AddressPool
    /// `HOST:PORT` clients connect to, written into their configs.
    public var endpoint: String = "vpn.example.com:51820"
    /// DNS servers written into client configs.
    public var dns: [String] = []
    /// How long a freed tunnel address rests before reuse, in seconds.
    public var addressQuarantine: Int = 3600
    /// How often the gateway is compared with the desired state, in seconds.
    public var driftInterval: Int = 30
    /// Apply to files under the data folder instead of the kernel.
    public var dryRun: Bool = false

    public init(pool: AddressPool) {
        self.pool = pool
    }
}

/// The tunnel address pool: IPv4, and optionally IPv6. Device `n` (from 2) gets the `n`-th host
/// address of each; index 1 is the gateway's own.
public struct AddressPool: Sendable, Hashable {
    public let v4: IPPrefix
    public let v6: IPPrefix?

    /// The default pool: `10.100.0.0/16`, IPv4 only.
    public static let standard = AddressPool(v4: IPPrefix(family: .v4, address: 0x0A64_0000, length: 16), v6: nil)

    public init(v4: IPPrefix, v6: IPPrefix?) {
        self.v4 = v4
        self.v6 = v6
    }

    /// Parses `CIDR[,CIDR6]`.
    public static func parse(_ text: String) throws -> AddressPool {
        let parts = text.split(separator: ",").map { String($0.filter { !$0.isWhitespace }) }
        var v4: IPPrefix?
        var v6: IPPrefix?
        for part in parts {
            let prefix = try IPPrefix.parse(part)
            switch prefix.family {
            case .v4 where v4 == nil: v4 = prefix
            case .v6 where v6 == nil: v6 = prefix
            default: throw PoolError("the pool has two \(prefix.family == .v4 ? "IPv4" : "IPv6") prefixes: \(text)")
            }
        }
        guard let v4 else { throw PoolError("the pool needs an IPv4 prefix, e.g. 10.100.0.0/16") }
        guard v4.length <= 30 else { throw PoolError("the IPv4 pool \(v4) is too small; use /30 or larger") }
        if let v6, v6.length > 126 { throw PoolError("the IPv6 pool \(v6) is too small") }
        return AddressPool(v4: v4, v6: v6)
    }

    /// The first index a device may get.
    public var firstDeviceIndex: Int { 2 }

    /// How many device indices the pool has (limited by the smaller family; broadcast excluded).
    public var capacity: Int {
        let hostBits4 = 32 - v4.length
        let v4Count = (1 << hostBits4) - 2 - 1  // without network, broadcast and the gateway
        guard let v6 else { return v4Count }
        let hostBits6 = 128 - v6.length
        let v6Count = hostBits6 >= 62 ? Int.max : (1 << hostBits6) - 2
        return min(v4Count, v6Count)
    }

    /// The addresses of pool index `index`, as host prefixes.
    public func addresses(at index: Int) -> (IPPrefix, IPPrefix?) {
        let address4 = IPPrefix(family: .v4, address: v4.address + UInt128(index), length: 32)
        let address6 = v6.map { IPPrefix(family: .v6, address: $0.address + UInt128(index), length: 128) }
        return (address4, address6)
    }

    /// The gateway's own addresses with the pool's prefix lengths, for the interface.
    public var gatewayInterfaceAddresses: [String] {
        let (address4, address6) = addresses(at: 1)
        var result = [IPAddressFormatting.address(address4) + "/\(v4.length)"]
        if let address6, let v6 { result.append(IPAddressFormatting.address(address6) + "/\(v6.length)") }
        return result
    }
}

/// Why a pool setting is wrong.
public struct PoolError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Addresses without their prefix length.
public enum IPAddressFormatting {
    public static func address(_ prefix: IPPrefix) -> String {
        String(prefix.description.split(separator: "/")[0])
    }
}
