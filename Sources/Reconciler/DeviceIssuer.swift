public import Policy
public import Store
public import WireGuard

/// Issues devices and renders their wg-quick configs.
public struct DeviceIssuer: Sendable {
    /// What a config's `AllowedIPs` routes through the tunnel.
    public enum AllowedIPsMode: String, Sendable, CaseIterable {
        /// Every prefix any policy names (default): stable when the user's groups change; the gateway
        /// enforces per user.
        case resources
        /// Only what this user may reach now.
        case user
        /// Everything: `0.0.0.0/0, ::/0`.
        case full
    }

    public let store: Store
    public let configuration: GatewayConfiguration
    public let gatewayPublicKey: WireGuardKey
    public var allowedIPsMode: AllowedIPsMode = .resources
    /// The key lifetime (milliseconds) of a device issued without one, e.g. through an enrollment link;
    /// nil: such keys do not expire.
    public var defaultKeyLifetime: Int64?

    public init(store: Store, configuration: GatewayConfiguration, gatewayPublicKey: WireGuardKey) {
        self.store = store
        self.configuration = configuration
        self.gatewayPublicKey = gatewayPublicKey
    }

    /// A new device with a fresh tunnel address. Without `publicKey`, a key pair is generated here and
    /// its private key is returned in the config, this one time, and not stored. Without `keyLifetime`,
    /// the key gets ``defaultKeyLifetime``.
    public func issue(
        userID: String, name: String, publicKey: WireGuardKey? = nil, withPresharedKey: Bool = false, keyLifetime: Int64? = nil,
        policy: CompiledPolicy?, subject: PolicySubject?
    ) async throws -> (device: Device, config: String) {
        let pair = publicKey == nil ? WireGuardKeyPair.generate() : nil
        let devicePublicKey = publicKey ?? pair?.publicKey
        guard let devicePublicKey else { throw WireGuardError("no public key") }
        let presharedKey = withPresharedKey ? WireGuardKeyPair.presharedKey() : nil
        let pool = configuration.pool
        let device = try await store.createDevice(
            Store.NewDevice(
                userID: userID, name: name, publicKey: devicePublicKey.base64, presharedKey: presharedKey?.base64,
                lifetime: keyLifetime ?? defaultKeyLifetime),
            firstIndex: pool.firstDeviceIndex, capacity: pool.capacity, quarantine: Int64(configuration.addressQuarantine) * 1000
        ) { index in
            let (address4, address6) = pool.addresses(at: index)
            return (address4.description, address6?.description)
        }
        return (device, config(for: device, privateKey: pair?.privateKey, policy: policy, subject: subject))
    }

    /// The wg-quick config of a device; the private key only when it was just generated.
    public func config(for device: Device, privateKey: WireGuardKey?, policy: CompiledPolicy?, subject: PolicySubject?) -> String {
        ClientConfig(
            privateKey: privateKey,
            addresses: [device.address4, device.address6].compactMap { $0 },
            dns: configuration.dns,
            gatewayPublicKey: gatewayPublicKey,
            presharedKey: device.presharedKey.flatMap(WireGuardKey.init(base64:)),
            endpoint: configuration.endpoint,
            allowedIPs: allowedIPs(policy: policy, subject: subject)
        ).render()
    }

    func allowedIPs(policy: CompiledPolicy?, subject: PolicySubject?) -> [String] {
        switch allowedIPsMode {
        case .full:
            return ["0.0.0.0/0", "::/0"]
        case .resources:
            return (policy?.allowedDestinationPrefixes ?? []).map(\.description)
        case .user:
            guard let policy, let subject else { return [] }
            return policy.access(for: subject, at: Reconciler.now()).allowedIPs.map(\.description)
        }
    }
}
