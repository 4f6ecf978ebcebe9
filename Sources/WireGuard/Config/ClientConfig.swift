/// A user's wg-quick configuration: their interface and the gateway as their one peer.
public struct ClientConfig: Sendable {
    public var privateKey: WireGuardKey?
    public var addresses: [String]
    public var dns: [String]
    public var gatewayPublicKey: WireGuardKey
    public var presharedKey: WireGuardKey?
    public var endpoint: String
    public var allowedIPs: [String]
    public var persistentKeepalive: Int = 25

    public init(
        privateKey: WireGuardKey?, addresses: [String], dns: [String], gatewayPublicKey: WireGuardKey, presharedKey: WireGuardKey? = nil,
        endpoint: String, allowedIPs: [String]
    ) {
        self.privateKey = privateKey
        self.addresses = addresses
        self.dns = dns
        self.gatewayPublicKey = gatewayPublicKey
        self.presharedKey = presharedKey
        self.endpoint = endpoint
        self.allowedIPs = allowedIPs
    }

    /// The wg-quick text. Without a private key (the user brought their own) the line says where it goes.
    public func render() -> String {
        var lines = ["[Interface]"]
        if let privateKey {
            lines.append("PrivateKey = \(privateKey.base64)")
        } else {
            lines.append("# PrivateKey = <the private key that matches the public key you registered>")
        }
        lines.append("Address = \(addresses.joined(separator: ", "))")
        if !dns.isEmpty { lines.append("DNS = \(dns.joined(separator: ", "))") }
        lines += ["", "[Peer]", "PublicKey = \(gatewayPublicKey.base64)"]
        if let presharedKey { lines.append("PresharedKey = \(presharedKey.base64)") }
        lines.append("Endpoint = \(endpoint)")
        lines.append("AllowedIPs = \(allowedIPs.joined(separator: ", "))")
        lines.append("PersistentKeepalive = \(persistentKeepalive)")
        return lines.joined(separator: "\n") + "\n"
    }
}
