public import Firewall
public import Policy
import SCIM
public import Store
public import WireGuard

/// What the gateway should have: a peer per device of every active user (unexpired keys), and each
/// device's tunnel addresses in the source sets of the policy rules its user matches.
///
/// Pure: computed from the directory, the devices and the policy, so that later a `portcullis agent`
/// on another gateway can compute it from the controller's data too.
public struct DesiredState: Sendable, Equatable {
    /// A peer and whom it belongs to.
    public struct Peer: Sendable, Hashable {
        public let peer: WireGuardPeer
        public let userID: String
        public let deviceID: String
        /// The tunnel addresses, as host prefixes.
        public let addresses: [IPPrefix]
    }

    public var peers: [WireGuardKey: Peer] = [:]
    /// Every rule in force (even those no device is in yet, so that membership changes are only
    /// element changes), with the addresses of the devices whose users it applies to.
    public var rules: [String: FirewallRule] = [:]
    /// The ids of the firewall rules each user is in.
    public var rulesOfUser: [String: [String]] = [:]
    /// The policy rule's name of each firewall rule id.
    public var ruleNames: [String: String] = [:]

    public init() {}

    /// The desired state of the given users: everything when `entries` is the whole directory.
    public static func compute(
        entries: [Store.DirectoryEntry], devices: [Device], policy: CompiledPolicy?, at now: Int64
    ) -> DesiredState {
        var state = DesiredState()
        var firewallRules: [Int: [String]] = [:]
        for (index, rule) in (policy?.rules ?? []).enumerated() where rule.isActive(at: now) {
            for (verdict, access) in [(FirewallRule.Verdict.drop, rule.deny), (.accept, rule.allow)] where !access.isEmpty {
                let id = FirewallRule.id(forRule: rule.name, verdict: verdict)
                state.rules[id] = FirewallRule(id: id, verdict: verdict, sources: [], access: access)
                state.ruleNames[id] = rule.name
                firewallRules[index, default: []].append(id)
            }
        }
        let devicesByUser = Dictionary(grouping: devices, by: \.userID)
        for entry in entries {
            let subject = PolicySubject(user: entry.user, groupNames: entry.groupNames)
            guard subject.active else { continue }
            let userDevices = (devicesByUser[entry.user.id] ?? []).filter { device in device.expires.map { $0 > now } ?? true }
            guard !userDevices.isEmpty else { continue }
            for device in userDevices {
                guard let peer = peer(for: device) else { continue }
                state.peers[peer.peer.publicKey] = peer
            }
            guard let policy else { continue }
            let ids = policy.matchingRules(for: subject, at: now).flatMap { firewallRules[$0] ?? [] }
            guard !ids.isEmpty else { continue }
            state.rulesOfUser[entry.user.id] = ids
            let addresses = userDevices.flatMap(addresses(of:))
            for id in ids {
                state.rules[id]?.sources.formUnion(addresses)
            }
        }
        return state
    }

    /// The WireGuard peer of a device, or nil if its stored key is malformed.
    static func peer(for device: Device) -> Peer? {
        guard let key = WireGuardKey(base64: device.publicKey) else { return nil }
        let addresses = addresses(of: device)
        return Peer(
            peer: WireGuardPeer(publicKey: key, presharedKey: device.presharedKey.flatMap(WireGuardKey.init(base64:)), allowedIPs: addresses.map(\.description)),
            userID: device.userID, deviceID: device.id, addresses: addresses)
    }

    static func addresses(of device: Device) -> [IPPrefix] {
        [device.address4, device.address6].compactMap { $0 }.compactMap { try? IPPrefix.parse($0) }
    }
}
