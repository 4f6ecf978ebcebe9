public import Policy
public import Store
public import WireGuard

/// Issuing, revoking and rotating devices on a running server: the store change, then the gateway
/// change through the reconciler before returning (a revocation is gone from the gateway when the
/// call returns).
public struct DeviceService: Sendable {
    public let store: Store
    public let reconciler: Reconciler?
    public let issuer: DeviceIssuer
    private let policy: @Sendable () -> CompiledPolicy?

    public init(store: Store, reconciler: Reconciler?, issuer: DeviceIssuer, policy: @escaping @Sendable () -> CompiledPolicy?) {
        self.store = store
        self.reconciler = reconciler
        self.issuer = issuer
        self.policy = policy
    }

    /// A new device for `userID`: with `publicKey` the user keeps their private key; without it a pair is
    /// generated and the config carries the private key this one time. `keyLifetime` (milliseconds) makes
    /// the key expire and be revoked on time.
    public func issue(
        userID: String, name: String, publicKey: WireGuardKey? = nil, withPresharedKey: Bool = false, keyLifetime: Int64? = nil
    ) async throws -> (device: Device, config: String) {
        let subject = try await subject(of: userID)
        let (device, config) = try await issuer.issue(
            userID: userID, name: name, publicKey: publicKey, withPresharedKey: withPresharedKey,
            keyLifetime: keyLifetime, policy: policy(), subject: subject)
        await reconciler?.usersChanged([userID])
        return (device, config)
    }

    /// Revokes a device at once: its peer and firewall elements are gone when this returns.
    @discardableResult
    public func revoke(deviceID: String) async throws -> Device {
        guard let device = try await store.deleteDevice(id: deviceID) else { throw DeviceError.unknownDevice(deviceID) }
        await reconciler?.usersChanged([device.userID])
        return device
    }

    /// A new key pair for a device (or the given public key); the old key is revoked before this returns.
    /// The preshared key is renewed if the device had one, and the key lifetime starts again.
    public func rotate(deviceID: String, publicKey: WireGuardKey? = nil) async throws -> (device: Device, config: String) {
        guard let current = try await store.device(id: deviceID) else { throw DeviceError.unknownDevice(deviceID) }
        let pair = publicKey == nil ? WireGuardKeyPair.generate() : nil
        guard let newKey = publicKey ?? pair?.publicKey else { throw DeviceError.unknownDevice(deviceID) }
        let (_, rotated) = try await store.rotateDevice(
            id: deviceID, publicKey: newKey.base64, presharedKey: current.presharedKey == nil ? nil : WireGuardKeyPair.presharedKey().base64,
            lifetime: current.expires.map { $0 - current.created })
        await reconciler?.usersChanged([current.userID])
        let subject = try await subject(of: current.userID)
        return (rotated, issuer.config(for: rotated, privateKey: pair?.privateKey, policy: policy(), subject: subject))
    }

    /// What a config for this user routes now (its `AllowedIPs`), by the server's AllowedIPs mode.
    public func routes(of userID: String) async throws -> [String] {
        issuer.allowedIPs(policy: policy(), subject: try await subject(of: userID))
    }

    private func subject(of userID: String) async throws -> PolicySubject? {
        try await store.directory(userIDs: [userID]).first.map { PolicySubject(user: $0.user, groupNames: $0.groupNames) }
    }
}
