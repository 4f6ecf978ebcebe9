public import Firewall
public import Policy
import SCIM
public import Store
public import WireGuard

/// What the gateway should have: a peer per device of every active user (unexpired keys), and each
/// device's tunnel addresses in the source set of its user's access class.
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
    /// Access classes by id, with the addresses of the devices whose users are in them.
    public var classes: [String: FirewallClass] = [:]
    /// The class of every user who has one.
    public var classOfUser: [String: String] = [:]

    public init() {}

    /// The desired state of the given users: everything when `entries` is the whole directory.
    public static func compute(
        entries: [Store.DirectoryEntry], devices: [Device], policy: CompiledPolicy?, at now: Int64
    ) -> DesiredState {
        var state = DesiredState()
        let devicesByUser = Dictionary(grouping: devices, by: \.userID)
        var classByRules: [[Int]: String] = [:]
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
            let rules = policy.matchingRules(for: subject, at: now)
            guard !rules.isEmpty else { continue }
            let classID: String
            if let known = classByRules[rules] {
                classID = known
            } else {
                let access = policy.access(ofRules: rules)
                guard !access.isEmpty else { continue }
                classID = FirewallClass.id(forRules: rules.map { policy.rules[$0].name })
                classByRules[rules] = classID
                state.classes[classID] = FirewallClass(id: classID, sources: [], access: access)
            }
            state.classOfUser[entry.user.id] = classID
            for device in userDevices {
                state.classes[classID]?.sources.formUnion(addresses(of: device))
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
