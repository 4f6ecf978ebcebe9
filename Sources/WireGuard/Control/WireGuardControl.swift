/// A peer of the gateway's WireGuard interface.
public struct WireGuardPeer: Sendable, Hashable {
    public var publicKey: WireGuardKey
    public var presharedKey: WireGuardKey?
    /// Tunnel addresses as host prefixes, e.g. `10.100.0.7/32`.
    public var allowedIPs: [String]

    public init(publicKey: WireGuardKey, presharedKey: WireGuardKey? = nil, allowedIPs: [String]) {
        self.publicKey = publicKey
        self.presharedKey = presharedKey
        self.allowedIPs = allowedIPs.sorted()
    }
}

/// One change to the interface's peers.
public enum WireGuardPeerChange: Sendable, Hashable {
    /// Adds the peer, or sets its allowed IPs and preshared key if it exists.
    case upsert(WireGuardPeer)
    case remove(WireGuardKey)
}

/// Controls one WireGuard interface. Implementations: the UAPI socket of userspace WireGuard
/// (`wireguard-go`), the `wg` tool for kernel interfaces, and files for `--dry-run`.
public protocol WireGuardControl: Sendable {
    /// The interface's name, e.g. `wg0`.
    var interfaceName: String { get }

    /// Sets the interface's private key and listen port.
    func configure(privateKey: WireGuardKey, listenPort: Int) async throws

    /// The peers the interface has now.
    func peers() async throws -> [WireGuardPeer]

    /// Applies changes in order, many per call.
    func apply(_ changes: [WireGuardPeerChange]) async throws
}

/// A failure to control the interface; the reconciler keeps revocations queued and retries.
public struct WireGuardError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
